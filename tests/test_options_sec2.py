"""Typed options of the explainability, privacy and stability sections (and the fold options)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from auditkit.exceptions import ParameterError
from auditkit.explanation import METHODS
from auditkit.inputs.context import AuditConfig, AuditContext, Predictions
from auditkit.inputs.options import CommonOptions, SectionOptions, known_options, validate_options
from auditkit.sections._folds import FoldOptions
from auditkit.sections.explainability import ExplainOptions
from auditkit.sections.privacy import PrivacyOptions

CLASSES = (ExplainOptions, PrivacyOptions, FoldOptions)

#: Every option of these sections with its default (the values the sections used before).
DEFAULTS: dict[str, Any] = {
    "explain_method": None,
    "explain_max_rows": None,
    "explain_n_steps": None,
    "explain_rows": None,
    "explain_n_errors": 5,
    "explain_per_class": 2,
    "explain_memory_mb": None,
    "explain_devices": None,
    "explain_proxy_auc": 0.7,
    "explain_proxy_share": 0.05,
    "explain_profile_threshold": 0.1,
    "explain_flip_threshold": 0.01,
    "explain_sanity_threshold": 0.5,
    "explain_sanity_rows": None,
    "privacy_max_rows": 10000,
    "privacy_population": 5000,
    "membership_reference": True,
    "rmia_offline_a": 0.3,
    "cv": 5,
    "fold_threads": None,
}

BAD: list[tuple[str, Any]] = [
    ("explain_method", "shap"),
    ("explain_method", 3),
    ("explain_max_rows", 0),
    ("explain_max_rows", 2.5),
    ("explain_n_steps", 0),
    ("explain_n_steps", "16"),
    ("explain_n_errors", -1),
    ("explain_per_class", True),
    ("explain_memory_mb", 0),
    ("explain_memory_mb", "lots"),
    ("explain_devices", 0),
    ("explain_proxy_auc", 1.5),
    ("explain_proxy_share", -0.1),
    ("explain_profile_threshold", "0.1"),
    ("explain_flip_threshold", float("nan")),
    ("explain_sanity_threshold", -2),
    ("explain_sanity_rows", 0),
    ("privacy_max_rows", 0),
    ("privacy_population", 1.0),
    ("membership_reference", 1),
    ("membership_reference", "yes"),
    ("rmia_offline_a", 2),
    ("cv", 1),
    ("cv", 101),
    ("cv", "5"),
    ("cv", True),
    ("fold_threads", 0),
]


def context(options: dict[str, Any] | None = None) -> AuditContext:
    """A small context built directly (no up-front check of the options)."""
    y = np.array([0, 1, 1, 0])
    preds = Predictions(y_true=y, y_pred=y, y_proba=None, classes=("0", "1"), pos_label=1)
    return AuditContext(
        config=AuditConfig(sections=(), options=dict(options or {})), predictions=preds
    )


def test_the_dataclasses_register_every_option() -> None:
    known = known_options()
    names = [s.name for cls in CLASSES for s in cls.specs()]
    assert sorted(names) == sorted(DEFAULTS)
    for cls in CLASSES:
        assert issubclass(cls, SectionOptions) and dataclasses.is_dataclass(cls)
        assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        for spec in cls.specs():
            assert known[spec.name] == spec
            assert spec.default == DEFAULTS[spec.name]
            assert spec.doc.endswith(".") and len(spec.doc) > 20
    assert known["cv"].owners == ("privacy, stability",)
    assert known["explain_method"].choices == METHODS
    assert known["explain_proxy_auc"].low == 0.0 and known["explain_proxy_auc"].high == 1.0


@pytest.mark.parametrize(("name", "bad"), BAD)
def test_a_bad_value_is_refused_naming_the_option(name: str, bad: Any) -> None:
    with pytest.raises(ParameterError, match=f"option '{name}'"):
        validate_options({name: bad})
    cls = next(c for c in CLASSES if name in {s.name for s in c.specs()})
    with pytest.raises(ParameterError, match=f"option '{name}'"):
        context({name: bad}).options_for(cls)


def test_options_for_fills_the_defaults() -> None:
    ctx = context()
    for cls in CLASSES:
        opts = ctx.options_for(cls)
        assert opts == cls()
        assert {f.name: getattr(opts, f.name) for f in dataclasses.fields(cls)} == {
            s.name: DEFAULTS[s.name] for s in cls.specs()
        }
    assert ctx.options_for(CommonOptions).four_fifths_threshold == 0.8


def test_options_for_reads_and_converts_the_given_values() -> None:
    ctx = context({"cv": np.int64(3), "explain_proxy_auc": 1, "membership_reference": False})
    folds = ctx.options_for(FoldOptions)
    assert folds.cv == 3 and type(folds.cv) is int and folds.fold_threads is None
    assert ctx.options_for(ExplainOptions).explain_proxy_auc == 1.0
    assert ctx.options_for(PrivacyOptions).membership_reference is False
    assert ctx.options_for(FoldOptions) is folds  # cached


@pytest.mark.parametrize("rows", [3, [0, 2], (1,), np.array([1, 2])])
def test_explain_rows_takes_a_row_or_rows(rows: Any) -> None:
    assert "explain_rows" in validate_options({"explain_rows": rows})


def test_the_sections_read_no_untyped_option() -> None:
    root = Path(__file__).parents[1] / "auditkit" / "sections"
    files = ["explainability.py", "privacy.py", "stability.py", "_folds.py", "_mia.py"]
    files += [p.name for p in root.glob("_explain_*.py")] + [
        p.name for p in root.glob("_privacy_*.py")
    ]
    for name in files:
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        calls = [
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "option"
        ]
        assert not calls, f"{name} reads ctx.option(...) at lines {calls}"
