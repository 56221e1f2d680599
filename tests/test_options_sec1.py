"""Typed options of the performance and fairness sections (``auditkit.inputs.options``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest

from auditkit.exceptions import ParameterError
from auditkit.inputs.context import AuditConfig, AuditContext, Predictions
from auditkit.inputs.options import CommonOptions, known_options, validate_options
from auditkit.sections._fairness_evidence import DEFAULT_PERMUTATIONS
from auditkit.sections.fairness import FairnessOptions, FairnessSection
from auditkit.sections.performance import PerformanceOptions

FAIRNESS_DEFAULTS = {
    "fairness_gap_threshold": 0.1,
    "n_permutations": DEFAULT_PERMUTATIONS,
    "mitigation": True,
    "roc_auc_by_group": True,
    "custom_metrics": None,
}


def _ctx(options: dict[str, Any] | None = None, n: int = 200, seed: int = 0) -> AuditContext:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    yp = np.where(rng.random(n) < 0.8, y, 1 - y)
    score = np.clip(0.5 * yp + 0.5 * rng.random(n), 0.0, 1.0)
    pred = Predictions(
        y_true=y.astype(np.int64), y_pred=yp.astype(np.int64),
        y_proba=np.c_[1 - score, score], classes=("0", "1"), pos_label=1, has_scores=True,
    )  # fmt: skip
    cfg = AuditConfig(sections=("fairness",), n_boot=20, options=options or {})
    sens = pd.DataFrame({"g": np.where(rng.random(n) < 0.5, "a", "b")})
    return AuditContext(config=cfg, predictions=pred, sensitive=sens)


def test_fairness_options_are_registered_with_their_defaults() -> None:
    known = known_options()
    for name, default in FAIRNESS_DEFAULTS.items():
        assert name in known, name
        spec = known[name]
        assert spec.default == default
        assert "fairness" in spec.owners
        assert spec.doc.endswith(".")
    assert {f.name for f in dataclasses.fields(FairnessOptions)} == set(FAIRNESS_DEFAULTS)
    assert known["custom_metrics"].kind == "any"
    assert known["n_permutations"].kind == "int"
    assert known["fairness_gap_threshold"].kind == "float"
    assert known["mitigation"].kind == known["roc_auc_by_group"].kind == "bool"
    # the options shared with other sections are declared once, in CommonOptions
    assert {"four_fifths_threshold", "subject"}.isdisjoint(
        f.name for f in dataclasses.fields(FairnessOptions)
    )
    assert FairnessOptions.owner == "fairness"


def test_performance_options_are_registered_and_declare_no_api_option() -> None:
    assert PerformanceOptions.owner == "performance"
    assert PerformanceOptions.specs() == []  # log_loss, auc_bins are the API's
    assert dataclasses.is_dataclass(PerformanceOptions)
    with pytest.raises(dataclasses.FrozenInstanceError):
        PerformanceOptions().owner = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n_permutations", 0),
        ("n_permutations", -5),
        ("n_permutations", 2.5),
        ("n_permutations", "many"),
        ("n_permutations", True),
        ("fairness_gap_threshold", 1.5),
        ("fairness_gap_threshold", -0.1),
        ("fairness_gap_threshold", "0.1"),
        ("fairness_gap_threshold", float("nan")),
        ("mitigation", "yes"),
        ("mitigation", 1),
        ("roc_auc_by_group", None),
    ],
)
def test_wrong_type_or_range_names_the_option(name: str, value: Any) -> None:
    with pytest.raises(ParameterError, match=name):
        validate_options({name: value})


def test_valid_values_are_converted() -> None:
    out = validate_options(
        {"n_permutations": np.int64(300), "fairness_gap_threshold": 0, "mitigation": False}
    )
    assert out == {"n_permutations": 300, "fairness_gap_threshold": 0.0, "mitigation": False}
    assert type(out["n_permutations"]) is int
    assert type(out["fairness_gap_threshold"]) is float
    f = lambda y, p: 0.0  # noqa: E731
    assert validate_options({"custom_metrics": {"m": f}}) == {"custom_metrics": {"m": f}}
    assert validate_options({"custom_metrics": None}) == {"custom_metrics": None}


def test_options_for_fills_defaults() -> None:
    opts = _ctx().options_for(FairnessOptions)
    assert {k: getattr(opts, k) for k in FAIRNESS_DEFAULTS} == FAIRNESS_DEFAULTS
    common = _ctx().options_for(CommonOptions)
    assert common.four_fifths_threshold == 0.8 and common.subject == "people"
    assert _ctx().options_for(PerformanceOptions) == PerformanceOptions()


def test_options_for_takes_given_values_and_ignores_other_sections_keys() -> None:
    ctx = _ctx({"n_permutations": 300, "mitigation": False, "subject": "applicants", "cv": 3})
    opts = ctx.options_for(FairnessOptions)
    assert opts.n_permutations == 300 and opts.mitigation is False
    assert opts.fairness_gap_threshold == 0.1
    assert ctx.options_for(CommonOptions).subject == "applicants"
    assert ctx.options_for(FairnessOptions) is opts  # cached


def test_fairness_section_reads_the_typed_options() -> None:
    res = FairnessSection().run(
        _ctx({"n_permutations": 200, "mitigation": False, "four_fifths_threshold": 0.9})
    )
    assert res.info["four_fifths_threshold"] == 0.9
    assert res.info["mitigation"] == {
        "status": "skipped",
        "reason": "turned off (options mitigation=False)",
    }
    no_auc = FairnessSection().run(
        _ctx({"n_permutations": 200, "mitigation": False, "roc_auc_by_group": False})
    )
    assert not any(m.name == "roc_auc" and m.group is not None for m in no_auc.metrics)
    assert any(m.name == "roc_auc" and m.group is not None for m in res.metrics)


def test_section_still_refuses_a_bad_permutation_count_without_validation() -> None:
    with pytest.raises(ParameterError, match="n_permutations"):
        FairnessSection().run(_ctx({"n_permutations": 0}))
