"""Qualitative model-card fields: read, validate and normalise ``--card-info card.yaml``.

The fields follow the spirit of Google's Model Card Toolkit (``model_details`` and
``considerations``): what the model is for and not for, who owns it, its licence, its limits.
:func:`load_card_info` accepts a YAML (or JSON) file or a mapping and returns a plain dict with
canonical field names, ready for ``AuditResult.card_info``. Errors name the file, the field and,
for lists, the entry; an unknown field is an error with a did-you-mean, so a typo never makes a
field silently disappear from the card. The renderers show every field of
:data:`CARD_INFO_FIELDS`, with "not provided" for the missing ones, and escape every string.

The file is read as written (see :mod:`auditkit._core.parsing`): every value is text except
``null`` / ``~`` / an empty value (the field is not provided) and ``true``/``false`` (refused in
text fields), so ``version: 2.10`` is ``"2.10"`` and ``010`` is ``"010"`` (YAML 1.2 core schema,
numbers and dates kept as text). A key given twice, an alias (``*name``), a tag such as
``!!binary``, values nested more than 32 levels deep, and a file over 1 MB (or not a regular
file) are refused, naming the file and the line.

Example file::

    version: "2.1"
    overview: Predicts whether a census respondent earns more than $50K.
    intended_use: Teaching material for fairness audits.
    intended_users: [data-science students, auditors]
    out_of_scope_uses:
      - Decisions about real people (credit, hiring, housing).
    limitations: Trained on the 1994 US census; binary sex only.
    ethical_considerations:
      - name: Historical bias in the labels.
        mitigation: Report group metrics with intervals; do not deploy.
    tradeoffs: A lower threshold raises recall for everyone and the selection-rate gap.
    risk_management: Risks reviewed quarterly by the model-risk board (EU AI Act Art. 9).
    data_governance: Training data from the 1994 census; examined for bias (Art. 10).
    human_oversight: An analyst reviews every adverse decision and can override it (Art. 14).
    record_keeping: Every decision is logged with the model version for 10 years (Art. 12).
    post_market_monitoring: Monthly audit of logged decisions; drift alerts (Art. 72).
    owners:
      - {name: Jane Doe, contact: jane@example.org}
    license: apache-2.0
    references:
      - https://archive.ics.uci.edu/dataset/2/adult
      - {title: Model Cards for Model Reporting, url: "https://arxiv.org/abs/1810.03993"}
    citation: Doe, J. (2024). The adult-mlp audit.
    tags: [tabular, census]
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._core.validation import did_you_mean, format_available
from ..exceptions import DataValidationError

__all__ = ["CARD_INFO_FIELDS", "FIELD_TITLES", "NOT_PROVIDED", "load_card_info"]

#: Canonical fields in the order the cards show them, with their kind: ``text`` (a string or a
#: list of strings), ``string`` (one string), ``strings`` (a list of short strings), ``owners``,
#: ``references``, ``considerations``.
CARD_INFO_FIELDS: dict[str, str] = {
    "version": "string",
    "overview": "text",
    "intended_use": "text",
    "intended_users": "text",
    "out_of_scope_uses": "text",
    "limitations": "text",
    "ethical_considerations": "considerations",
    "tradeoffs": "text",
    "risk_management": "text",
    "data_governance": "text",
    "human_oversight": "text",
    "record_keeping": "text",
    "post_market_monitoring": "text",
    "owners": "owners",
    "license": "string",
    "references": "references",
    "citation": "text",
    "tags": "strings",
}

#: Headings of the fields in the cards.
FIELD_TITLES: dict[str, str] = {
    "version": "Model version",
    "overview": "Overview",
    "intended_use": "Intended use",
    "intended_users": "Intended users",
    "out_of_scope_uses": "Out-of-scope uses and users",
    "limitations": "Limitations",
    "ethical_considerations": "Ethical considerations",
    "tradeoffs": "Trade-offs",
    "risk_management": "Risk management",
    "data_governance": "Data governance",
    "human_oversight": "Human oversight",
    "record_keeping": "Record-keeping",
    "post_market_monitoring": "Post-market monitoring",
    "owners": "Owners",
    "license": "Licence",
    "references": "References",
    "citation": "Citation",
    "tags": "Tags",
}

#: What the cards show for a field the card-info file does not give.
NOT_PROVIDED = "not provided"

#: Other accepted spellings (Model Card Toolkit names, British spelling) -> canonical field.
ALIASES: dict[str, str] = {
    "licence": "license",
    "description": "overview",
    "use_cases": "intended_use",
    "users": "intended_users",
    "out_of_scope": "out_of_scope_uses",
    "trade_offs": "tradeoffs",
    "ethical": "ethical_considerations",
}

_MAX_TEXT = 20_000  # characters of one string; longer text belongs in a linked document


def load_card_info(source: str | os.PathLike[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """Read and validate qualitative model-card fields.

    Parameters
    ----------
    source : str, path-like, mapping or None
        A YAML (or JSON) file holding a mapping of field names to values, or the mapping itself.
        None gives an empty dict. Fields: ``version``, ``overview``, ``intended_use``,
        ``intended_users``, ``out_of_scope_uses``, ``limitations``, ``ethical_considerations``
        (strings or ``{name, mitigation}``), ``tradeoffs``, ``owners`` (names or
        ``{name, contact}``), ``license``, ``references`` (URLs, text, or ``{title, url}``),
        ``citation``, ``tags``. ``licence``, ``description``, ``users``, ``use_cases``,
        ``out_of_scope`` and ``trade_offs`` are accepted as other spellings.

    Returns
    -------
    dict
        Canonical field names in the order of :data:`CARD_INFO_FIELDS`, only the fields given.
        Text fields are a string or a list of strings; ``owners`` a list of
        ``{"name", "contact"}``; ``references`` a list of ``{"title", "url"}``;
        ``ethical_considerations`` a list of ``{"name", "mitigation"}`` (missing parts None).

    Raises
    ------
    DataValidationError
        When the file is missing or not YAML, or a field is unknown or of the wrong shape; the
        message names the file, the field and the entry.

    Examples
    --------
    >>> info = load_card_info({"licence": "mit", "owners": ["Jane Doe"]})
    >>> info["license"], info["owners"]
    ('mit', [{'name': 'Jane Doe', 'contact': None}])
    """
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return _validate(source, "Card info")
    if isinstance(source, (str, os.PathLike)):
        lines: dict[str, int] = {}
        data = _read(Path(source), lines)
        return _validate(data, f"Card-info file {Path(source).name}", lines)
    raise DataValidationError(
        "card_info must be a mapping of model-card fields or the path of a YAML file; "
        f"got {type(source).__name__}."
    )


def _read(path: Path, key_lines: dict[str, int] | None = None) -> Any:
    from .._core.parsing import ConfigError, load_yaml, read_config

    what = f"Card-info file {path.name}"
    try:
        raw = read_config(path, what)
    except FileNotFoundError as exc:
        raise DataValidationError(f"Card-info file {str(path)!r} does not exist.") from exc
    except IsADirectoryError as exc:
        raise DataValidationError(
            f"Card-info file {str(path)!r} is a folder, not a file."
        ) from exc
    except ConfigError as exc:
        raise DataValidationError(f"{exc.message}.") from exc
    except OSError as exc:
        raise DataValidationError(
            f"Cannot read card-info file {path.name}: {exc.strerror or exc}"
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataValidationError(f"{what}, line {line}: not UTF-8 text.") from exc
    try:
        data = load_yaml(text, key_lines=key_lines)
    except ConfigError as exc:
        raise DataValidationError(f"{what}{exc.where()}: {exc.message}.") from exc
    return {} if data is None else data


def _validate(data: Any, where: str, lines: Mapping[str, int] | None = None) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise DataValidationError(
            f"{where} must be a mapping of field names to values (for example "
            f"'intended_use: ...'); got {_kind(data)}."
        )
    known = list(CARD_INFO_FIELDS)
    found: dict[str, Any] = {}
    spelled: dict[str, str] = {}

    def line(key: str) -> str:  # ", line N" when the value came from a file
        return f", line {lines[key]}" if lines and key in lines else ""

    for key, value in data.items():
        if not isinstance(key, str):
            raise DataValidationError(f"{where}: field names must be text; got {key!r}.")
        canon = ALIASES.get(key, key)
        if canon not in CARD_INFO_FIELDS:
            raise DataValidationError(
                f"{where}{line(key)}: unknown field {key!r}"
                f"{did_you_mean(key, known + list(ALIASES))}; fields: {format_available(known)}."
            )
        if canon in spelled:
            raise DataValidationError(
                f"{where}{line(key)}: field {canon!r} is given twice (as {spelled[canon]!r} and "
                f"{key!r})."
            )
        spelled[canon] = key
        found[canon] = value
    out: dict[str, Any] = {}
    for name, kind in CARD_INFO_FIELDS.items():
        if name not in found or found[name] is None:
            continue
        at = f"{where}{line(spelled[name])}: field {spelled[name]!r}"
        value = _PARSERS[kind](found[name], at)
        if value not in ("", [], None):
            out[name] = value
    return out


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _scalar(value: Any, at: str) -> str:
    """Return the text of a YAML scalar (numbers and dates become text); else raise."""
    if isinstance(value, bool):
        raise DataValidationError(f"{at} must be text; got {value!r}.")
    if isinstance(value, (str, int, float, _dt.date)):
        text = str(value).strip()
        if len(text) > _MAX_TEXT:
            raise DataValidationError(
                f"{at} is {len(text):,} characters long; the limit is {_MAX_TEXT:,} (link a "
                "longer document under references)."
            )
        return text
    raise DataValidationError(f"{at} must be text; got {_kind(value)}.")


def _string(value: Any, at: str) -> str:
    return _scalar(value, at)


def _text(value: Any, at: str) -> str | list[str]:
    if isinstance(value, list):
        items = [_scalar(v, f"{at}, entry {i}") for i, v in enumerate(value, start=1)]
        return [s for s in items if s]
    return _scalar(value, at)


def _strings(value: Any, at: str) -> list[str]:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [s for s in (_scalar(value, at),) if s]
    if not isinstance(value, list):
        raise DataValidationError(f"{at} must be a list of text; got {_kind(value)}.")
    items = [_scalar(v, f"{at}, entry {i}") for i, v in enumerate(value, start=1)]
    return [s for s in items if s]


def _entries(value: Any, at: str) -> list[tuple[str, Any]]:
    if isinstance(value, (str, Mapping)):
        return [(at, value)]
    if not isinstance(value, list):
        raise DataValidationError(f"{at} must be a list; got {_kind(value)}.")
    return [(f"{at}, entry {i}", v) for i, v in enumerate(value, start=1)]


def _record(
    value: Any, at: str, keys: tuple[str, ...], required: tuple[str, ...]
) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise DataValidationError(
            f"{at} must be text or a mapping with {', '.join(repr(k) for k in keys)}; "
            f"got {_kind(value)}."
        )
    for k in value:
        if k not in keys:
            raise DataValidationError(
                f"{at}: unknown key {k!r}{did_you_mean(str(k), keys)}; keys: {', '.join(keys)}."
            )
    rec = {k: (_scalar(value[k], f"{at}, key {k!r}") if value.get(k) is not None else None)
           for k in keys}  # fmt: skip
    for k in required:
        if not rec[k]:
            raise DataValidationError(f"{at} needs a {k!r}.")
    return {k: (v or None) for k, v in rec.items()}


def _owners(value: Any, at: str) -> list[dict[str, Any]]:
    out = []
    for where, v in _entries(value, at):
        if isinstance(v, Mapping):
            out.append(_record(v, where, ("name", "contact"), ("name",)))
        else:
            name = _scalar(v, where)
            if name:
                out.append({"name": name, "contact": None})
    return out


def _is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://")) and " " not in text


def _references(value: Any, at: str) -> list[dict[str, Any]]:
    out = []
    for where, v in _entries(value, at):
        if isinstance(v, Mapping):
            rec = _record(v, where, ("title", "url"), ())
            if not rec["title"] and not rec["url"]:
                raise DataValidationError(f"{where} needs a 'title' or a 'url'.")
            out.append(rec)
        else:
            text = _scalar(v, where)
            if text:
                out.append({"title": None, "url": text} if _is_url(text)
                           else {"title": text, "url": None})  # fmt: skip
    return out


def _considerations(value: Any, at: str) -> list[dict[str, Any]]:
    out = []
    for where, v in _entries(value, at):
        if isinstance(v, Mapping):
            out.append(_record(v, where, ("name", "mitigation"), ("name",)))
        else:
            text = _scalar(v, where)
            if text:
                out.append({"name": text, "mitigation": None})
    return out


_PARSERS: dict[str, Any] = {
    "string": _string,
    "text": _text,
    "strings": _strings,
    "owners": _owners,
    "references": _references,
    "considerations": _considerations,
}
