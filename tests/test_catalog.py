"""The metric catalog is the one source of truth: registry, lights, glossary and policy read it."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import numpy as np
import pytest

import auditkit._core.catalog as cat
from auditkit._core.catalog import (
    CATALOG,
    DEFAULT_THRESHOLDS,
    GROUP_METRICS,
    base_metrics,
    direction,
    evidence_word,
    harm,
    spec,
)
from auditkit.report._glossary import METRIC_DEFINITIONS, metric_definition
from auditkit.result.lights import DIRECTIONS

#: Names another helper adds to the metric registry at the same time (issue 14, part 7).
NEW_NAMES = (
    "false_omission_rate", "false_discovery_rate", "balanced_accuracy", "roc_auc",
    "average_odds_difference", "equalized_odds_difference", "equalized_odds_ratio",
    *(f"{m}_{d}" for m in ("false_omission_rate", "false_discovery_rate", "balanced_accuracy",
                           "roc_auc") for d in ("difference", "ratio")),
)  # fmt: skip


def test_catalog_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(cat.__file__).read_text())
    mods = [
        (n.module or "") if isinstance(n, ast.ImportFrom) else a.name
        for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
        for a in n.names
    ]  # fmt: skip
    heavy = [m for m in mods if m.split(".")[0] not in
             ("__future__", "collections", "dataclasses", "typing", "math")]  # fmt: skip
    assert heavy == [] and not any(isinstance(n, ast.ImportFrom) and n.level for n in
                                   ast.walk(tree))  # fmt: skip


def test_every_entry_is_complete() -> None:
    for name, s in CATALOG.items():
        assert s.name == name and s.direction in ("higher", "lower", "descriptive")
        assert s.description.endswith((".", "?")) and s.unit and s.kind and s.words, name
        if s.kind == "disparity_difference" and name.endswith("_difference"):
            assert s.direction == "lower", name
        if s.kind == "disparity_ratio":
            assert s.direction == "higher", name
        for b in s.base:
            assert b in CATALOG, (name, b)
    for m in GROUP_METRICS:
        assert f"{m}_difference" in CATALOG and base_metrics(f"{m}_difference") == (m,)


def test_new_metrics_of_issue_14_are_catalogued() -> None:
    for name in NEW_NAMES:
        assert spec(name) is not None, name
    assert direction("false_omission_rate") is False and direction("roc_auc") is True
    assert base_metrics("equalized_odds_difference") == ("true_positive_rate",
                                                         "false_positive_rate")  # fmt: skip
    assert "to_reference" in CATALOG["false_positive_rate_difference"].description


def test_the_metric_registry_agrees_with_the_catalog() -> None:
    from auditkit.metrics.definitions import METRICS

    for name in METRICS.names():
        info, s = METRICS.get(name), spec(name)
        assert s is not None, f"{name} is registered but not catalogued"
        assert info.greater_is_better == s.greater_is_better, name
        assert info.description == s.description, name


def test_lights_and_glossary_read_the_catalog() -> None:
    assert {n: s.greater_is_better for n, s in CATALOG.items()} == DIRECTIONS
    assert {n: s.description for n, s in CATALOG.items()} == METRIC_DEFINITIONS
    assert metric_definition("accuracy_std") == spec("accuracy_std").description  # type: ignore[union-attr]
    assert direction("accuracy_std") is False and direction("accuracy_mean") is None
    assert direction("unknown_thing_ratio") is True and direction("unknown_gap") is False


def test_thresholds_have_sources_and_consistent_bounds() -> None:
    for t in DEFAULT_THRESHOLDS:
        assert spec(t.metric) is not None and t.source and t.label, t
        up = t.up()
        assert up is not None
        assert (t.pass_at >= t.fail_at) if up else (t.pass_at <= t.fail_at), t
    four = [t for t in DEFAULT_THRESHOLDS if t.option == "four_fifths_threshold"]
    assert four and all(t.bounds({"four_fifths_threshold": 0.7}) == (0.7, 0.7) for t in four)
    assert all(t.bounds({}) == (0.8, 0.8) for t in four)


@pytest.mark.parametrize("seed", range(10))
def test_harm_against_a_direct_reading(seed: int) -> None:
    """A gap to the reference harms one of the two groups whichever way it points: |g - r| for
    a difference, min(r, 1/r) for a ratio, for every base metric; the interval maps with it."""
    rng = np.random.default_rng(seed)
    for base, _ in itertools.product(("false_positive_rate", "true_positive_rate",
                                      "selection_rate"), range(30)):  # fmt: skip
        g, r = rng.uniform(0.01, 1, size=2)
        lo, hi = sorted(rng.uniform(-1, 1, size=2))
        v, ci, better_up = harm(f"{base}_difference", g - r, (lo, hi))
        assert better_up is False and v == pytest.approx(abs(g - r))
        mapped = np.abs(np.linspace(lo, hi, 201))
        assert ci[0] == pytest.approx(mapped.min(), abs=0.02)  # type: ignore[index]
        assert ci[1] == pytest.approx(mapped.max(), abs=0.02)  # type: ignore[index]
        v, ci, better_up = harm(f"{base}_ratio", g / r, (0.5, 1.5))
        want = min(g / r, r / g)
        assert better_up is True and v == pytest.approx(want)
        assert ci[0] <= min(want, ci[1]) or not (0.5 <= g / r <= 1.5)  # type: ignore[index]


def test_holm_against_its_definition() -> None:
    from auditkit.metrics.evidence import holm

    rng = np.random.default_rng(0)
    for _ in range(50):
        p = rng.uniform(0, 0.2, size=int(rng.integers(1, 8))).tolist()
        adj = holm(p)
        order = np.argsort(p, kind="stable")
        m = len(p)
        for rank, i in enumerate(order):
            want = max(min(1.0, (m - k) * p[order[k]]) for k in range(rank + 1))
            assert adj[i] == pytest.approx(want)
        # Holm rejects at alpha exactly when the step-down procedure does
        alpha = 0.05
        reject = np.zeros(m, bool)
        for k, i in enumerate(order):
            if p[i] <= alpha / (m - k):
                reject[i] = True
            else:
                break
        assert [a <= alpha for a in adj] == reject.tolist()


def test_evidence_words() -> None:
    assert [evidence_word(p) for p in (0.0005, 0.005, 0.03, 0.2)] == [
        "strong", "moderate", "weak", "none"]  # fmt: skip
    assert evidence_word(None) is None
    assert evidence_word(0.03, ci_level=0.99) == "none"  # alpha follows the interval level
