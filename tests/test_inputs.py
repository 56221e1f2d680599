"""The inputs of an audit: labels, outcome semantics, groups, weights, ceilings (issues 14, 18).

Fairlearn is the oracle for the label conventions (single-label logs, ``pos_label`` by value
across int, float and bool); the parameters are checked where they land (the ``Predictions``
and ``AuditConfig`` the sections read, and the result's data block); the refusals are checked
for their message and their speed.
"""

from __future__ import annotations

import functools
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from fairlearn import metrics as flm
from fairlearn.metrics import MetricFrame

import auditkit
from auditkit import _api
from auditkit._core.limits import DEFAULT_MAX_GROUPS
from auditkit.cli import main
from auditkit.exceptions import AuditkitError, DataValidationError, ParameterError
from auditkit.inputs.encode import MAX_LABEL_CHARS, log_labels, match_label, sensitive_frame

RATES = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "true_negative_rate",
)
TOL = 1e-12


def _fl(y_true: Any, y_pred: Any, sf: Any, pos: Any) -> MetricFrame:
    metrics: dict[str, Any] = {m: functools.partial(getattr(flm, m), pos_label=pos) for m in RATES}
    metrics["accuracy"] = skm.accuracy_score
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MetricFrame(metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=sf)


def _values(result: Any) -> dict[tuple[Any, ...], float]:
    """Per-group and overall values of the fairness section: (name, group or None) -> value."""
    sec = next(s for s in result.sections if s.name == "fairness")
    assert sec.status == "ok", sec.reason
    out: dict[tuple[Any, ...], float] = {}
    for m in sec.metrics:
        d = m.to_dict()
        if d.get("method") is not None or d.get("label") is not None or d.get("agg"):
            continue
        group = tuple(d["group"]) if d.get("group") is not None else None
        out.setdefault((d["name"], group), d["value"])
    return out


def _assert_equal_fairlearn(result: Any, mf: MetricFrame) -> None:
    vals = _values(result)
    for name in (*RATES, "accuracy"):
        assert abs(vals[(name, None)] - float(mf.overall[name])) <= TOL, name
        for g, v in mf.by_group[name].items():
            got = vals[(name, (str(g),))]
            assert abs(got - float(v)) <= TOL, (name, g, got, v)


class _Spy:
    """Record the context the sections read (the real run goes on unchanged)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ctx: Any = None
        real = _api.run_sections

        def spy(ctx: Any) -> Any:
            self.ctx = ctx
            return real(ctx)

        monkeypatch.setattr(_api, "run_sections", spy)


# ------------------------------------------------------------- B: labels as Fairlearn has them
@pytest.mark.parametrize("seed", range(12))
def test_single_label_logs_equal_fairlearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 300))
    kind = ["int1", "int0", "float1", "float0", "bool1", "bool0"][seed % 6]
    value: Any = {"int1": 1, "int0": 0, "float1": 1.0, "float0": 0.0, "bool1": True,
                  "bool0": False}[kind]  # fmt: skip
    y_true = np.full(n, value)
    # decisions: the same single label, or both labels
    y_pred = y_true.copy() if seed % 2 else np.where(rng.random(n) < 0.5, y_true, 1 - y_true)
    if kind.startswith("bool"):
        y_pred = y_pred.astype(bool)
    g = rng.choice(["a", "b", "c"], n)
    res = auditkit.audit_predictions(
        y_true, y_pred, sensitive_features=g, sections=["fairness"], n_boot=0
    )
    pos = True if kind.startswith("bool") else 1
    assert res.data["positive_class"] in ("1", "1.0", "True")
    assert not any(c.startswith("not ") for c in res.data["classes"])
    _assert_equal_fairlearn(res, _fl(y_true, y_pred, g, pos))


@pytest.mark.parametrize("seed", range(12))
def test_pos_label_by_value_equals_fairlearn(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(40, 400))
    z_true, z_pred = rng.random(n) < 0.4, rng.random(n) < 0.5
    kind = ["float", "bool", "int"][seed % 3]
    if kind == "float":
        y_true, y_pred = z_true.astype(np.float64), z_pred.astype(np.float64)
    elif kind == "bool":
        y_true, y_pred = z_true, z_pred
    else:
        y_true, y_pred = z_true.astype(np.int64), z_pred.astype(np.int64)
    given = [1, 1.0, True, "1", np.int64(1)][seed % 5]
    if kind == "bool" and given == "1":
        given = "True"
    g = pd.Series(rng.choice(["x", "y"], n), name="grp")
    res = auditkit.audit_predictions(
        y_true, y_pred, sensitive_features=g, sections=["fairness"], n_boot=0, pos_label=given
    )
    fl_pos = True if kind == "bool" else 1
    _assert_equal_fairlearn(res, _fl(y_true, y_pred, g, fl_pos))
    # pos_label=0 is the other class, by value as well
    res0 = auditkit.audit_predictions(
        y_true, y_pred, sensitive_features=g, sections=["fairness"], n_boot=0, pos_label=0
    )
    _assert_equal_fairlearn(res0, _fl(y_true, y_pred, g, False if kind == "bool" else 0))


def test_match_label_rules() -> None:
    assert match_label(np.array([0.0, 1.0]), 1) == 1
    assert match_label(np.array([False, True]), 1) == 1
    assert match_label(np.array([0, 1]), True) == 1
    assert match_label(np.array([0.0, 1.0]), "1") == 1
    assert match_label(np.array([False, True]), "true") == 1
    assert match_label(np.array(["no", "yes"], dtype=object), "yes") == 1
    assert match_label(np.array(["no", "yes"], dtype=object), 1) is None
    assert match_label(np.array([0, 1]), ">50K", names=("<=50K", ">50K")) == 1


def test_errors_name_the_function_called() -> None:
    y = np.array([0, 1, 1, 0] * 10)
    g = np.array(["a", "b"] * 20)
    with pytest.raises(ParameterError, match=r"'pos_label' parameter of audit_predictions"):
        auditkit.audit_predictions(y, y, sensitive_features=g, pos_label=7, n_boot=0)
    with pytest.raises(ParameterError, match=r"'max_groups' parameter of audit_predictions"):
        auditkit.audit_predictions(y, y, sensitive_features=g, max_groups=0)


def test_single_label_without_a_0_1_meaning_asks_for_pos_label() -> None:
    y = np.array(["yes"] * 40)
    g = np.array(["a", "b"] * 20)
    with pytest.raises(DataValidationError, match=r"single label 'yes'.*pos_label"):
        auditkit.audit_predictions(y, y, sensitive_features=g, n_boot=0)
    res = auditkit.audit_predictions(
        y, y, sensitive_features=g, n_boot=0, sections=["fairness"], pos_label="yes"
    )
    assert res.data["positive_class"] == "yes"
    assert _values(res)[("selection_rate", None)] == 1.0
    res = auditkit.audit_predictions(
        y, y, sensitive_features=g, n_boot=0, sections=["fairness"],
        label_names={"yes": "approved", "no": "denied"},
    )  # fmt: skip
    assert res.data["classes"] == ["no", "yes"]
    assert res.data["label_names"] == {"no": "denied", "yes": "approved"}


def test_scores_given_as_decisions_are_refused_at_once() -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    y_true = (rng.random(n) < 0.3).astype(np.int64)
    y_pred = rng.random(n)  # scores in the decision column
    g = rng.choice(["a", "b"], n)
    t0 = time.perf_counter()
    with pytest.raises(AuditkitError, match=r"y_pred holds .* non-integer values.*y_score"):
        auditkit.audit_predictions(y_true, y_pred, sensitive_features=g)
    assert time.perf_counter() - t0 < 1.0
    # the case: 300 rows (it ran for tens of minutes)
    t0 = time.perf_counter()
    with pytest.raises(DataValidationError, match="y_score"):
        auditkit.audit_predictions(y_true[:300], y_pred[:300], sensitive_features=g[:300])
    assert time.perf_counter() - t0 < 1.0


def test_continuous_target_is_refused_at_once() -> None:
    rng = np.random.default_rng(1)
    n = 100_000
    y = rng.normal(size=n)
    g = rng.choice(["a", "b"], n)
    t0 = time.perf_counter()
    with pytest.raises(DataValidationError, match="continuous.*task='classification'"):
        auditkit.audit_predictions(
            y, y + rng.normal(size=n), sensitive_features=g, task="classification"
        )
    assert time.perf_counter() - t0 < 1.0


def test_class_ceiling_and_its_override() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 12, 600)
    g = rng.choice(["a", "b"], 600)
    with pytest.raises(DataValidationError, match=r"12 distinct labels.*max_classes=12"):
        auditkit.audit_predictions(y, y, sensitive_features=g, max_classes=10, n_boot=0)
    res = auditkit.audit_predictions(
        y, y, sensitive_features=g, max_classes=12, n_boot=0, sections=["fairness"]
    )
    assert len(res.data["classes"]) == 12


# --------------------------------------------------------------- C: label sets that disagree
def test_labels_differing_in_case_are_refused_with_both_sets() -> None:
    y_true = np.array(["yes", "no"] * 30)
    y_pred = np.array(["Yes", "No", "No"] * 20)
    g = np.array(["a", "b", "c"] * 20)
    with pytest.raises(DataValidationError) as err:
        auditkit.audit_predictions(y_true, y_pred, sensitive_features=g, n_boot=0)
    msg = str(err.value)
    assert "differ only in case" in msg and "'no', 'yes'" in msg and "'No', 'Yes'" in msg
    assert "label_map" in msg
    res = auditkit.audit_predictions(
        y_true, y_pred, sensitive_features=g, n_boot=0, sections=["fairness"],
        label_map={"Yes": "yes", "No": "no"}, pos_label="yes",
    )  # fmt: skip
    mapped = np.where(y_pred == "Yes", "yes", "no")
    _assert_equal_fairlearn(res, _fl(y_true, mapped, g, "yes"))


def test_label_sets_sharing_no_value_are_refused() -> None:
    y_true = np.array(["approved", "denied"] * 20)
    y_pred = np.array(["A", "D"] * 20)
    g = np.array(["a", "b"] * 20)
    with pytest.raises(DataValidationError, match=r"share no value.*'approved', 'denied'.*'A'"):
        auditkit.audit_predictions(y_true, y_pred, sensitive_features=g, n_boot=0)
    with pytest.raises(ParameterError, match="label_map of audit_predictions names"):
        auditkit.audit_predictions(
            y_true, y_pred, sensitive_features=g, n_boot=0, label_map={"Z": "approved"}
        )
    # 0/1 logs whose two columns happen to hold one value each are fine
    res = auditkit.audit_predictions(
        np.zeros(40), np.ones(40), sensitive_features=g, n_boot=0, sections=["fairness"]
    )
    assert _values(res)[("selection_rate", None)] == 1.0


def test_cli_label_map(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {"y": ["yes", "no"] * 30, "d": ["Yes", "No", "No"] * 20, "g": ["a", "b", "c"] * 20}
    )
    path = tmp_path / "log.csv"
    df.to_csv(path, index=False)
    base = [
        "audit",
        "--predictions",
        str(path),
        "--y-true",
        "y",
        "--y-pred",
        "d",
        "--sensitive",
        "g",
        "--sections",
        "fairness",
        "--n-boot",
        "0",
        "--no-progress",
    ]
    assert main([*base, "--out", str(tmp_path / "a")]) == 2
    assert main([*base, "--out", str(tmp_path / "b"), "--label-map", "Yes=yes,No=no"]) == 0


# ---------------------------------------------------------------- A: the public parameters
def test_outcome_semantics_reach_the_context(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _Spy(monkeypatch)
    rng = np.random.default_rng(3)
    n = 300
    y_true = (rng.random(n) < 0.4).astype(np.float64)
    y_pred = (rng.random(n) < 0.5).astype(np.float64)
    race = rng.choice(["A", "B", "C"], n)
    w = rng.random(n) * 3
    res = auditkit.audit_predictions(
        y_true, y_pred, sensitive_features={"race": race}, sections=["fairness"], n_boot=0,
        label_names={0: "low risk", 1: "high risk"}, favourable="low risk",
        reference_groups={"race": "B"}, sample_weight=w,
    )  # fmt: skip
    p = spy.ctx.predictions
    assert p.classes == ("0.0", "1.0") and p.label_names == ("low risk", "high risk")
    assert p.favourable == 0 and p.favourable_index == 0 and p.pos_label == 1
    assert p.sample_weight.dtype == np.float64 and np.array_equal(p.sample_weight, w)
    assert spy.ctx.config.reference_groups == {"race": "B"}
    assert res.data["label_names"] == {"0.0": "low risk", "1.0": "high risk"}
    assert res.data["favourable_class"] == "0.0"
    assert res.data["reference_groups"] == {"race": "B"}
    # favourable by value; label names as a list
    auditkit.audit_predictions(
        y_true, y_pred, sensitive_features=race, sections=["fairness"], n_boot=0,
        favourable=0, label_names=["no", "yes"],
    )  # fmt: skip
    assert spy.ctx.predictions.favourable == 0
    assert spy.ctx.predictions.label_names == ("no", "yes")


def test_audit_takes_the_same_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.linear_model import LogisticRegression

    spy = _Spy(monkeypatch)
    rng = np.random.default_rng(4)
    n = 300
    X = pd.DataFrame({"x": rng.normal(size=n), "sex": rng.choice(["F", "M"], n)})
    y = (X["x"] + rng.normal(size=n) > 0).astype(np.int64)
    est = LogisticRegression().fit(X[["x"]], y)
    w = rng.integers(1, 4, n)
    auditkit.audit(
        lambda frame: est.predict_proba(frame[["x"]]), X, y, sensitive_features=["sex"],
        sections=["fairness"], n_boot=0, label_names={1: "approved", 0: "denied"},
        favourable="approved", reference_groups={"sex": "F"}, sample_weight=w,
    )  # fmt: skip
    p = spy.ctx.predictions
    assert p.label_names == ("denied", "approved") and p.favourable == 1
    assert p.sample_weight.dtype == np.float64 and np.array_equal(p.sample_weight, w)
    assert spy.ctx.config.reference_groups == {"sex": "F"}
    with pytest.raises(ParameterError, match="'sample_weight' parameter of audit"):
        auditkit.audit(est, X[["x"]], y, sensitive_features=X["sex"], sample_weight="w")


def test_favourable_unknown_lists_labels_and_names() -> None:
    y = np.array([0, 1] * 20)
    g = np.array(["a", "b"] * 20)
    with pytest.raises(ParameterError) as err:
        auditkit.audit_predictions(
            y, y, sensitive_features=g, label_names={0: "low risk", 1: "high risk"},
            favourable="medium",
        )  # fmt: skip
    msg = str(err.value)
    assert "'favourable' parameter of audit_predictions" in msg
    assert "0, 1" in msg and "'low risk', 'high risk'" in msg and "'medium'" in msg
    with pytest.raises(ParameterError, match=r"label_names .* names the label 5"):
        auditkit.audit_predictions(y, y, sensitive_features=g, label_names={5: "x"})
    with pytest.raises(ParameterError, match="gives the name 'x' to two classes"):
        auditkit.audit_predictions(y, y, sensitive_features=g, label_names={0: "x", 1: "x"})


def test_reference_groups_are_validated() -> None:
    y = np.array([0, 1] * 30)
    sf = pd.DataFrame({"race": ["A", "B", "C"] * 20, "sex": ["F", "M"] * 30})
    with pytest.raises(ParameterError, match=r"'age', which is not a sensitive.*'race', 'sex'"):
        auditkit.audit_predictions(y, y, sensitive_features=sf, reference_groups={"age": "x"})
    with pytest.raises(ParameterError, match=r"group 'Z' of 'race' does not occur.*'A', 'B'"):
        auditkit.audit_predictions(y, y, sensitive_features=sf, reference_groups={"race": "Z"})
    # an int group given for int labels, matched with the frame's strings
    res = auditkit.audit_predictions(
        y, y, sensitive_features={"k": np.array([1, 2] * 30)}, reference_groups={"k": 2},
        sections=["fairness"], n_boot=0,
    )  # fmt: skip
    assert res.data["reference_groups"] == {"k": "2"}


@pytest.mark.parametrize(
    ("weight", "pattern"),
    [
        (np.r_[np.ones(39), np.nan], r"missing or infinite.*row 39"),
        (np.r_[np.ones(39), np.inf], r"missing or infinite.*row 39"),
        (np.r_[np.ones(5), -0.5, np.ones(34)], r"negative weight.*-0.5.*row 5"),
        (np.zeros(40), "Every sample_weight of audit_predictions is 0"),
        (np.ones(39), "has 39 values but the data has 40 rows"),
        (np.array(["a"] * 40), "must hold numbers"),
    ],
)
def test_sample_weight_is_checked(weight: Any, pattern: str) -> None:
    y = np.array([0, 1] * 20)
    g = np.array(["a", "b"] * 20)
    with pytest.raises(DataValidationError, match=pattern):
        auditkit.audit_predictions(y, y, sensitive_features=g, sample_weight=weight)


def test_sample_weight_column_of_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spy = _Spy(monkeypatch)
    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {
            "y": rng.integers(0, 2, 80),
            "d": rng.integers(0, 2, 80),
            "g": rng.choice(["a", "b"], 80),
            "w": rng.integers(0, 5, 80) + 0.5,
        }
    )
    res = auditkit.audit_predictions(
        data=df, y_true="y", y_pred="d", sensitive_features="g", sample_weight="w",
        sections=["fairness"], n_boot=0,
    )  # fmt: skip
    assert np.array_equal(spy.ctx.predictions.sample_weight, df["w"].to_numpy())
    assert res.data["sample_weight"] == "column 'w'"
    path = tmp_path / "log.csv"
    df.to_csv(path, index=False)
    args = ["audit", "--predictions", str(path), "--y-true", "y", "--y-pred", "d",
            "--sensitive", "g", "--sections", "fairness", "--n-boot", "0", "--no-progress",
            "--sample-weight", "w", "--labels", "0=denied,1=approved", "--favourable",
            "approved", "--reference", "g=b", "--out", str(tmp_path / "o")]  # fmt: skip
    assert main(args) == 0
    assert np.array_equal(spy.ctx.predictions.sample_weight, df["w"].to_numpy())
    assert spy.ctx.predictions.label_names == ("denied", "approved")
    assert spy.ctx.predictions.favourable == 1
    assert spy.ctx.config.reference_groups == {"g": "b"}
    assert main([*args[:-2], "--sample-weight", "nope", "--out", str(tmp_path / "p")]) == 2


# ------------------------------------------------------------------------ groups and ceilings
def test_group_ceiling_refuses_a_free_text_column_fast(tmp_path: Path, capsys: Any) -> None:
    rng = np.random.default_rng(6)
    n = 100_000
    df = pd.DataFrame({"y": rng.integers(0, 2, n), "d": rng.integers(0, 2, n),
                       "id": np.arange(n)})  # fmt: skip
    path = tmp_path / "log.csv"
    df.to_csv(path, index=False)
    assert path.stat().st_size < 1.5e6
    t0 = time.perf_counter()
    code = main(["audit", "--predictions", str(path), "--y-true", "y", "--y-pred", "d",
                 "--sensitive", "id", "--out", str(tmp_path / "o"), "--no-progress"])  # fmt: skip
    assert time.perf_counter() - t0 < 10
    assert code == 2
    err = capsys.readouterr().err
    assert "'id'" in err and "100,000" in err and f"{DEFAULT_MAX_GROUPS:,}" in err
    assert "--max-groups" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_group_ceiling_refuses_millions_of_ids_before_pandas(
    tmp_path: Path, capsys: Any, suffix: str
) -> None:
    """1,000,000 distinct ids: refused from a few Arrow batches, not after reading the file."""
    from _limits import peak_kb, reset_peak

    n = 1_000_000
    df = pd.DataFrame({"y": np.zeros(n, np.int8), "d": np.ones(n, np.int8),
                       "id": np.arange(n).astype(str)})  # fmt: skip
    path = tmp_path / f"log{suffix}"
    df.to_parquet(path) if suffix == ".parquet" else df.to_csv(path, index=False)
    del df
    reset_peak()
    before = peak_kb()
    t0 = time.perf_counter()
    code = main(["audit", "--predictions", str(path), "--y-true", "y", "--y-pred", "d",
                 "--sensitive", "id", "--out", str(tmp_path / "o"), "--no-progress"])  # fmt: skip
    assert time.perf_counter() - t0 < 10
    grown_mb = (peak_kb() - before) / 1024
    assert code == 2 and grown_mb < 300
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'id'" in err and "--max-groups" in err
    assert not (tmp_path / "o").exists()


def test_group_ceiling_override_and_intersections() -> None:
    rng = np.random.default_rng(7)
    n = 2000
    y = rng.integers(0, 2, n)
    sf = pd.DataFrame({"a": rng.integers(0, 40, n), "b": rng.integers(0, 40, n)})
    with pytest.raises(DataValidationError, match=r"'a' has 40 distinct.*max_groups=40"):
        auditkit.audit_predictions(y, y, sensitive_features=sf[["a"]], max_groups=30)
    with pytest.raises(DataValidationError, match=r"a × b has .* non-empty groups"):
        auditkit.audit_predictions(y, y, sensitive_features=sf, max_groups=40)
    with pytest.raises(DataValidationError, match=r"'a' has 40 distinct"):
        auditkit.audit(
            lambda X: np.full((len(X), 2), 0.5), sf, y, sensitive_features=["a"], max_groups=5
        )


def test_long_group_labels_are_kept_once(tmp_path: Path) -> None:
    long = "x" * 1_000_000
    g = np.array([long, "short"] * 50, dtype=object)
    y = np.array([0, 1, 1, 0] * 25)
    res = auditkit.audit_predictions(y, y, sensitive_features={"g": g}, n_boot=10)
    text = auditkit.to_json(res)
    assert text.count(long) == 1  # the full text, once: data.group_labels
    full = res.data["group_labels"]["g"]
    (short,) = full
    assert full[short] == long and len(short) < MAX_LABEL_CHARS
    assert len(text) < 1_300_000
    groups = {tuple(m.group) for s in res.sections for m in s.metrics if m.group}
    assert (short,) in groups
    # the reference group may be named by its full text
    res = auditkit.audit_predictions(
        y, y, sensitive_features={"g": g}, n_boot=0, reference_groups={"g": long},
        sections=["fairness"],
    )  # fmt: skip
    assert res.data["reference_groups"] == {"g": short}


def test_non_scalar_sensitive_column_is_a_data_error(tmp_path: Path, capsys: Any) -> None:
    df = pd.DataFrame({"y": [0, 1] * 20, "d": [1, 1, 0, 0] * 10,
                       "tags": [["a", "b"], ["c"]] * 20})  # fmt: skip
    path = tmp_path / "log.parquet"
    df.to_parquet(path)
    code = main(
        [
            "audit",
            "--predictions",
            str(path),
            "--y-true",
            "y",
            "--y-pred",
            "d",
            "--sensitive",
            "tags",
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "'tags'" in err and "non-scalar" in err and "Traceback" not in err
    with pytest.raises(DataValidationError, match=r"'tags' holds non-scalar"):
        auditkit.audit_predictions(data=df, y_true="y", y_pred="d", sensitive_features="tags")


def test_sensitive_frame_is_vectorised_and_equal_to_string_forms() -> None:
    rng = np.random.default_rng(8)
    n = 5000
    cols = {
        "int": rng.integers(-3, 12, n),
        "float": rng.choice([0.5, 1.0, 2.25], n),
        "bool": rng.random(n) < 0.5,
        "obj": np.asarray(rng.choice(["b", "a", "c"], n), dtype=object),
        "mixed": np.asarray([1, "1", "x", 2.5] * (n // 4), dtype=object),
        "cat": pd.Categorical(rng.choice(["z", "y"], n), categories=["z", "y", "unused"]),
    }
    out = sensitive_frame(pd.DataFrame(cols), None, n)
    assert out is not None
    for c, v in cols.items():
        want = [str(x.item() if hasattr(x, "item") else x) for x in np.asarray(v).tolist()]
        assert out.frame[c].tolist() == want, c
        assert out.groups[c] == sorted(set(want)), c


def test_log_labels_has_no_per_row_python() -> None:
    # 1e6 string labels encode in well under the time a per-row loop takes (~0.5 s)
    rng = np.random.default_rng(9)
    n = 1_000_000
    y = pd.Series(rng.choice(["no", "yes"], n), dtype="str")
    t0 = time.perf_counter()
    labels = log_labels(y, y, pos_label="yes")
    assert time.perf_counter() - t0 < 0.5
    assert labels.classes == ("no", "yes")
    assert np.array_equal(labels.y_true, (y == "yes").to_numpy().astype(np.int64))


def test_predictions_json_round_trip_keeps_new_data_fields() -> None:
    y = np.array([0, 1] * 20)
    res = auditkit.audit_predictions(
        y, y, sensitive_features=np.array(["a", "b"] * 20), n_boot=0, sections=["fairness"],
        label_names={0: "no", 1: "yes"}, favourable=1,
    )  # fmt: skip
    back = json.loads(auditkit.to_json(res))
    assert back["data"]["label_names"] == {"0": "no", "1": "yes"}
    assert back["data"]["favourable_class"] == "1"


@pytest.mark.parametrize("seed", range(6))
def test_weighted_public_values_equal_fairlearn(seed: int) -> None:
    """``sample_weight`` end to end against ``MetricFrame(sample_params=...)``."""
    rng = np.random.default_rng(300 + seed)
    n = int(rng.integers(50, 400))
    y_true = (rng.random(n) < 0.4).astype(np.int64)
    y_pred = (rng.random(n) < 0.5).astype(np.int64)
    g = rng.choice(["a", "b", "c"], n)
    w = rng.integers(0, 4, n) * rng.random(n)
    res = auditkit.audit_predictions(
        y_true, y_pred, sensitive_features=g, sample_weight=w, sections=["fairness"], n_boot=0
    )
    metrics: dict[str, Any] = {m: functools.partial(getattr(flm, m), pos_label=1) for m in RATES}
    metrics["accuracy"] = skm.accuracy_score
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf = MetricFrame(
            metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=g,
            sample_params={m: {"sample_weight": w} for m in metrics},
        )  # fmt: skip
    _assert_equal_fairlearn(res, mf)
