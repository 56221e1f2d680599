"""Deterministic JSON for audit results, validated against the schema shipped in the package.

Float policy: every float is rounded to 10 significant digits when it is written (and only
then), so last-bit noise from thread counts or summation order does not change the bytes.
Keys are sorted, separators fixed, NaN and infinities are refused (they are ``null`` with a
reason in the result model already).
"""

from __future__ import annotations

import json
import math
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .._core.io import atomic_write_text, current_file
from ..exceptions import DataValidationError
from .records import SCHEMA_VERSION, AuditResult

SIGNIFICANT_DIGITS = 10


def _round(x: Any) -> Any:
    if isinstance(x, bool) or x is None:
        return x
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        return float(f"{x:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_round(v) for v in x]
    return x


#: Characters json.dumps(ensure_ascii=False) leaves raw that a terminal or an editor would act on
#: (DEL, C1 controls, line/paragraph separators, bidirectional controls); C0 it escapes itself.
_JSON_HIDDEN = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def dumps(data: dict[str, Any]) -> str:
    r"""Serialise plain data deterministically with the float policy.

    Text stays UTF-8 except control and bidirectional characters, written as JSON escapes
    (``\u202e``): they can only occur inside strings, so the parsed values are unchanged.
    """
    text = json.dumps(_round(data), sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False)
    return _JSON_HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@lru_cache(maxsize=1)
def result_schema() -> dict[str, Any]:
    """Return the JSON Schema of audit results shipped inside the package."""
    text = resources.files("auditkit.result.schema").joinpath("audit_result.v1.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


_METRIC_STR = ("section", "name")
_METRIC_OPTIONAL_STR = ("input_feature", "attack", "label", "method", "reason", "unit")
_METRIC_KEYS = frozenset(
    ("section", "name", "feature", "group", "value", "ci", "n", "fold", "flags")
    + _METRIC_OPTIONAL_STR
)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _strlist_or_none(x: Any) -> bool:
    return x is None or (
        isinstance(x, list) and len(x) >= 1 and all(isinstance(v, str) for v in x)
    )


def _plainly_valid_metric(m: Any) -> bool:
    """Return True when metric record ``m`` surely follows the schema's ``metric`` definition.

    A fast check for the bulk of a large result (jsonschema takes about 0.3 ms a record); it
    accepts only what the schema accepts, and anything it does not accept is left to
    jsonschema, which gives the exact message.
    """
    if type(m) is not dict or not _METRIC_KEYS.issuperset(m):
        return False
    if not all(isinstance(m.get(k), str) for k in _METRIC_STR):
        return False
    if "feature" not in m or "group" not in m or "value" not in m or "ci" not in m:
        return False
    if not (_strlist_or_none(m["feature"]) and _strlist_or_none(m["group"])):
        return False
    if not (m["value"] is None or _number(m["value"])):
        return False
    ci = m["ci"]
    if not (ci is None or (isinstance(ci, list) and len(ci) == 2 and all(map(_number, ci)))):
        return False
    n = m.get("n", -1)
    if not (n is None or (type(n) is int and n >= 0)):
        return False
    fold = m.get("fold", 0)
    if not (type(fold) is int and fold >= 0):
        return False
    flags = m.get("flags", [])
    if not (isinstance(flags, list) and all(isinstance(f, str) for f in flags)):
        return False
    return all(isinstance(m[k], str) for k in _METRIC_OPTIONAL_STR if k in m)


@lru_cache(maxsize=1)
def _validators() -> tuple[Any, Any]:
    """Jsonschema validators: the whole document minus the metric records, and one record."""
    import jsonschema

    schema = result_schema()
    rest = {
        **schema,
        "properties": {**schema["properties"], "metrics": {"type": "array"}},
    }
    record = {"$defs": schema["$defs"], **schema["$defs"]["metric"]}
    return jsonschema.Draft202012Validator(rest), jsonschema.Draft202012Validator(record)


def validate_dict(data: dict[str, Any], *, source: str = "audit result") -> None:
    """Raise :class:`DataValidationError` if ``data`` does not follow the shipped JSON Schema."""
    rest, record = _validators()
    errors = list(rest.iter_errors(data))
    metrics = data.get("metrics") if isinstance(data, dict) else None
    if isinstance(metrics, list):
        for i, m in enumerate(metrics):
            if _plainly_valid_metric(m):
                continue
            for e in record.iter_errors(m):
                e.path.extendleft([i, "metrics"])  # extendleft reverses: metrics/i/...
                errors.append(e)
    errors = sorted(errors, key=lambda e: list(map(str, e.path)))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.path) or "(top level)"
        raise DataValidationError(
            f"{source} does not follow the audit schema at {where}: {e.message[:300]}"
        )


def to_json(result: AuditResult) -> str:
    """Return the audit result as deterministic JSON text that validates against the schema."""
    data = result.to_dict()
    validate_dict(data)
    return dumps(data) + "\n"


def write_json(result: AuditResult, path: str | os.PathLike[str]) -> Path:
    """Write :func:`to_json` output atomically to ``path``."""
    return atomic_write_text(path, to_json(result))


def migrate(data: dict[str, Any], *, source: str = "Audit result") -> dict[str, Any]:
    """Bring an older result document to the current schema version (1.0 is the first)."""
    version = str(data.get("schema_version", ""))
    major = version.split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        raise DataValidationError(
            f"{source}: audit result schema version {version!r} is not supported by this auditkit "
            f"(it reads {SCHEMA_VERSION}); upgrade auditkit."
        )
    return data


def load_result(path: str | os.PathLike[str]) -> AuditResult:
    """Read an ``audit.json`` written by auditkit, validate it and return the result.

    When the writer of the folder's outputs was killed after committing a new set (see
    :func:`auditkit._core.io.atomic_write_set`), the new, committed ``audit.json`` is read.

    Raises
    ------
    DataValidationError
        When the file is missing, not JSON, or does not follow the schema (the message names
        the file and the place).
    """
    p = Path(path)
    try:
        current = current_file(p)
        if current.exists() and not current.is_file() and not current.is_dir():
            raise DataValidationError(
                f"Audit result {str(p)!r} is not a regular file (a pipe, a device or a socket)."
            )
        text = current.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DataValidationError(f"Audit result {str(p)!r} does not exist.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"Cannot read audit result {str(p)!r}: {exc}") from exc
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DataValidationError(f"{p.name} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DataValidationError(f"{p.name} must hold a JSON object, not {type(data).__name__}.")
    _check_surrogates(data, text, p.name)
    data = migrate(data, source=p.name)
    validate_dict(data, source=p.name)
    return result_from_dict(data, source=p.name)


#: A ``\\uD800``-``\\uDFFF`` escape not preceded by an escaped backslash.
_SURROGATE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _check_surrogates(data: Any, text: str, name: str) -> None:
    r"""Refuse strings holding a lone surrogate (an escape such as ``\ud800`` without its pair).

    JSON may spell one, but no UTF-8 text can hold it: the cards could not be written.
    """
    if "\\u" not in text or _SURROGATE_ESCAPE.search(text) is None:
        return
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        where, x = stack.pop()
        if isinstance(x, dict):
            for k, v in x.items():
                stack.append((f"{where}/{k}", k))
                stack.append((f"{where}/{k}", v))
        elif isinstance(x, list):
            stack.extend((f"{where}/{i}", v) for i, v in enumerate(x))
        elif isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError as exc:
                line = _lone_surrogate_line(text)
                at = f", line {line}" if line is not None else ""
                raise DataValidationError(
                    f"{name}{at}: the string at {where.lstrip('/') or '(top level)'} holds a "
                    f"lone surrogate (U+{ord(x[exc.start]):04X}), which is not text; "
                    "the file was not written by auditkit or was altered."
                ) from None


def _lone_surrogate_line(text: str) -> int | None:
    for m in _SURROGATE_ESCAPE.finditer(text):
        hi = m.group()[-4:].lower()
        end = m.end()
        nxt = text[end : end + 6].lower()
        if hi[1] in "89ab" and re.fullmatch(r"\\ud[c-f][0-9a-f]{2}", nxt):
            continue  # a high surrogate with its low pair
        start = m.start()
        if hi[1] in "cdef" and re.fullmatch(
            r"\\ud[89ab][0-9a-f]{2}", text[start - 6 : start].lower()
        ):
            continue  # the low half of a pair
        return text.count("\n", 0, start) + 1
    return None


def result_from_dict(data: dict[str, Any], *, source: str = "audit result") -> AuditResult:
    """Rebuild a result from validated plain data, naming ``source`` on failure."""
    try:
        return AuditResult.from_dict(data)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataValidationError(f"{source} is not a valid audit result: {exc!r}") from exc
