"""Options and helpers shared by ``auditkit audit`` on logs and on every kind of model."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..exceptions import DataValidationError, ParameterError
from ..inputs import DEFAULT_MAX_CLASSES, DEFAULT_MAX_GROUPS, parse_pairs
from ..result import AuditResult

#: Suffixes of a --data file (anything else that does not exist may be a bundled dataset).
TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".gz")


def _explain_rows(args: argparse.Namespace) -> dict[str, list[int]]:
    """Return ``{"explain_rows": [...]}`` from ``--explain-rows`` (empty when not given)."""
    rows = split_list(getattr(args, "explain_rows", None), option="--explain-rows")
    if not rows:
        return {}
    try:
        values = [int(r) for r in rows]
    except ValueError as exc:
        raise ParameterError(
            f"--explain-rows takes comma-separated row numbers; got {args.explain_rows!r}."
        ) from exc
    if min(values) < 0:
        raise ParameterError(f"--explain-rows takes row numbers >= 0; got {min(values)}.")
    return {"explain_rows": values}


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the audit options of ``--target-unit`` and ``--timings`` (those given)."""
    out: dict[str, Any] = {}
    unit = getattr(args, "target_unit", None)
    if unit is not None:
        out["target_unit"] = unit
    if getattr(args, "timings", False):
        out["timings"] = True
    return out


def split_list(text: str | None, *, option: str) -> list[str] | None:
    """Split ``"a, b"`` into ``["a", "b"]``; None stays None."""
    if text is None:
        return None
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise ParameterError(f"{option} needs at least one name; got {text!r}.")
    return items


def _existing_file(path: str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise ParameterError(f"{what} {path!r} does not exist.")
    if p.is_dir():
        raise ParameterError(f"{what} {path!r} is a folder, not a file.")
    from ..data import check_regular_file

    return check_regular_file(p, what)  # a FIFO or a device is refused before it is opened


def _common_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    from ..policy import Policy

    policy = Policy.from_toml(args.policy) if args.policy else None  # fail early on a bad file
    return {
        "sections": split_list(args.sections, option="--sections"),
        "policy": policy,
        "n_boot": args.n_boot,
        "ci_level": args.ci_level,
        "random_state": args.seed,
        "show_progress": not args.no_progress,
        "pos_label": args.pos_label,
        "min_group_size": args.min_group_size,
        "label_names": parse_pairs(getattr(args, "labels", None), option="--labels"),
        "favourable": getattr(args, "favourable", None),
        "reference_groups": _references(getattr(args, "reference", None)),
        "max_groups": getattr(args, "max_groups", DEFAULT_MAX_GROUPS),
        "max_classes": getattr(args, "max_classes", DEFAULT_MAX_CLASSES),
        "task": getattr(args, "task", "auto"),
    }


def _references(items: list[str] | None) -> dict[str, str] | None:
    """Parse ``--reference race=B --reference sex=F`` (or ``race=B,sex=F``) into a dict."""
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        for k, v in (parse_pairs(item, option="--reference") or {}).items():
            if k in out:
                raise ParameterError(f"--reference gives {k!r} more than once.")
            out[k] = v
    return out


def _check_text_column(given: str | None, own: str, X: Any, data_file: Path) -> None:
    """Refuse a table without the text column (``--text-column``, else the checkpoint's own)."""
    from ..data import did_you_mean, format_available

    column = given if given is not None else own
    names = [str(c) for c in X.columns]
    if column in names:
        return
    whose = "" if given is not None else " (the checkpoint's own text column)"
    hint = "" if given is not None else "; name the column that holds the texts with --text-column"
    raise DataValidationError(
        f"Text column {column!r}{whose} not found in {data_file.name}"
        f"{did_you_mean(column, names)}; available: {format_available(names)}{hint}."
    )


def class_codes(y: Any, class_names: Sequence[str]) -> Any:
    """Map labels written as the checkpoint's class names (``">50K"``) to class indices.

    Labels that are not all class names (for example indices already) are returned unchanged.
    """
    import numpy as np
    import pandas as pd

    arr = np.asarray(y)
    if arr.dtype.kind not in "OUS" or not class_names:
        return y
    lookup = {str(c): i for i, c in enumerate(class_names)}
    try:
        codes, uniq = pd.factorize(arr)  # only the distinct labels are read in Python
    except TypeError:
        return y
    mapped = [lookup.get(str(v).strip(), -1) for v in np.asarray(uniq, dtype=object).tolist()]
    if codes.size and (codes.min() < 0 or min(mapped, default=0) < 0):
        return y
    return np.asarray(mapped, dtype=np.int64)[codes]


def _with_file(result: AuditResult, block: str, path: Path, key: str = "file") -> AuditResult:
    """Record an input file's name and sha256 in the result's ``model`` or ``data`` block."""
    info = dict(getattr(result, block))
    info[key] = path.name
    from ..data import sha256_file

    info[f"{key}_sha256"] = sha256_file(path)
    if block == "model":
        return dataclasses.replace(result, model=info)
    return dataclasses.replace(result, data=info)
