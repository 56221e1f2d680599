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
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .._io import atomic_write_text
from ..exceptions import DataValidationError
from ._model import SCHEMA_VERSION, AuditResult

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


def dumps(data: dict[str, Any]) -> str:
    """Serialise plain data deterministically with the float policy."""
    return json.dumps(_round(data), sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False)


@lru_cache(maxsize=1)
def result_schema() -> dict[str, Any]:
    """Return the JSON Schema of audit results shipped inside the package."""
    text = resources.files("auditkit.report.schema").joinpath("audit_result.v1.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_dict(data: dict[str, Any], *, source: str = "audit result") -> None:
    """Raise :class:`DataValidationError` if ``data`` does not follow the shipped JSON Schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(result_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
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

    Raises
    ------
    DataValidationError
        When the file is missing, not JSON, or does not follow the schema (the message names
        the file and the place).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
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
    data = migrate(data, source=p.name)
    validate_dict(data, source=p.name)
    return result_from_dict(data, source=p.name)


def result_from_dict(data: dict[str, Any], *, source: str = "audit result") -> AuditResult:
    """Rebuild a result from validated plain data, naming ``source`` on failure."""
    try:
        return AuditResult.from_dict(data)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataValidationError(f"{source} is not a valid audit result: {exc!r}") from exc
