"""Membership-inference attack scores and ROC arithmetic, against scikit-learn and brute force."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from auditkit.sections._mia import (
    attack_metrics,
    bootstrap_attack_metrics,
    bootstrap_attack_values,
    dp_advantage_bound,
    dp_auc_bound,
    loss_attack_scores,
    per_sample_loss,
    reference_attack_scores,
    roc_curve_points,
    roc_on_grid,
)


def _random_scores(seed, *, ties):
    rng = np.random.default_rng(seed)
    n_in, n_out = rng.integers(5, 300, size=2)
    shift = rng.uniform(-0.5, 1.5)
    s_in = rng.normal(shift, 1.0, size=n_in)
    s_out = rng.normal(0.0, 1.0, size=n_out)
    if ties:  # coarse scores give many ties within and across the two sets
        s_in, s_out = np.round(s_in, 1), np.round(s_out, 1)
    return s_in, s_out


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("ties", [False, True])
def test_attack_metrics_match_sklearn(seed, ties):
    s_in, s_out = _random_scores(seed, ties=ties)
    y = np.r_[np.ones(len(s_in)), np.zeros(len(s_out))]
    s = np.r_[s_in, s_out]
    got = attack_metrics(s_in, s_out, fprs=(0.01, 0.05, 0.2))
    assert got["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert got["advantage"] == pytest.approx(np.max(tpr - fpr), abs=1e-12)
    for a in (0.01, 0.05, 0.2):
        assert got[f"tpr_at_{a:g}"] == pytest.approx(np.max(tpr[fpr <= a]), abs=1e-12)
    curve = roc_curve_points(s_in, s_out)
    np.testing.assert_allclose(curve.fpr, fpr)
    np.testing.assert_allclose(curve.tpr, tpr)


@pytest.mark.parametrize("seed", range(5))
def test_bootstrap_values_equal_explicit_resamples(seed):
    """Counting resampled rows per tie group gives the metrics of the resampled rows."""
    s_in, s_out = _random_scores(seed, ties=True)
    got = bootstrap_attack_values(
        s_in, s_out, n_boot=6, rng=np.random.default_rng(seed), fprs=(0.01, 0.1), batch=6
    )
    rng = np.random.default_rng(seed)  # the documented draw order of one batch
    idx_in = rng.integers(0, len(s_in), size=(6, len(s_in)))
    idx_out = rng.integers(0, len(s_out), size=(6, len(s_out)))
    for b in range(6):
        want = attack_metrics(s_in[idx_in[b]], s_out[idx_out[b]], fprs=(0.01, 0.1))
        for k, v in want.items():
            assert got[k][b] == pytest.approx(v, abs=1e-12)


def test_bootstrap_intervals():
    s_in, s_out = _random_scores(3, ties=False)
    point = attack_metrics(s_in, s_out)
    ci = bootstrap_attack_metrics(s_in, s_out, n_boot=300, rng=np.random.default_rng(0))
    assert set(ci) == set(point)
    for k, (lo, hi) in ci.items():
        assert lo <= hi
        assert lo - 0.05 <= point[k] <= hi + 0.05
    again = bootstrap_attack_metrics(s_in, s_out, n_boot=300, rng=np.random.default_rng(0))
    assert again == ci
    narrow = bootstrap_attack_metrics(
        s_in, s_out, n_boot=300, rng=np.random.default_rng(0), ci_level=0.5
    )
    assert narrow["auc"][1] - narrow["auc"][0] < ci["auc"][1] - ci["auc"][0]
    assert bootstrap_attack_metrics(s_in, s_out, n_boot=0, rng=np.random.default_rng(0)) == {}


def test_attack_metrics_need_both_sets():
    with pytest.raises(ValueError, match="at least one member"):
        attack_metrics(np.array([]), np.array([0.1]))


def test_loss_scores():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [1.0, 0.0]])
    y = np.array([0, 0, 1])
    loss = per_sample_loss(proba, y)
    np.testing.assert_allclose(loss[:2], [-np.log(0.9), -np.log(0.2)])
    assert np.isfinite(loss[2]) and loss[2] == pytest.approx(-np.log(1e-12))
    np.testing.assert_allclose(loss_attack_scores(proba, y), -loss)


@pytest.mark.parametrize("seed", range(5))
def test_reference_scores_equal_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, n_pop, k, a, gamma = 40, 30, 3, 0.3, 1.5
    p_t = rng.uniform(0.01, 1, n)
    p_r = rng.uniform(0.01, 1, n)
    ref = rng.integers(0, k, n)
    pz_t = rng.uniform(0.01, 1, n_pop)
    pz_r = rng.uniform(0.01, 1, (k, n_pop))
    got = reference_attack_scores(p_t, p_r, ref, pz_t, pz_r, offline_a=a, gamma=gamma)
    for i in range(n):
        rx = p_t[i] / ((1 + a) / 2 * p_r[i] + (1 - a) / 2)
        rz = pz_t / ((1 + a) / 2 * pz_r[ref[i]] + (1 - a) / 2)
        assert got[i] == pytest.approx(np.mean(rx / rz > gamma), abs=1e-12)


def test_reference_scores_at_chance_only_with_out_references():
    """With one "out" reference per candidate, members and non-members are exchangeable when
    the target never saw either: chance. Scoring members against a reference that trained on
    them (the leak the issue warns about) separates the two sets although the target knows
    nothing, so the attack would report a membership signal that is not the target's."""
    rng = np.random.default_rng(0)
    n, k = 2000, 5
    # True-class probabilities: the target and "out" references see fresh rows the same way;
    # an "in" reference is confident on the rows it trained on.
    p_target_in = rng.beta(5, 2, n)
    p_target_out = rng.beta(5, 2, n)
    p_out_ref_in = rng.beta(5, 2, n)
    p_out_ref_out = rng.beta(5, 2, n)
    p_in_ref_members = np.clip(rng.beta(5, 2, n) + 0.3, 0, 1)
    pop_t = rng.beta(5, 2, 1500)
    pop_r = rng.beta(5, 2, (k, 1500))
    ref_in = rng.integers(0, k, n)
    ref_out = rng.integers(0, k, n)
    fair_in = reference_attack_scores(p_target_in, p_out_ref_in, ref_in, pop_t, pop_r)
    fair_out = reference_attack_scores(p_target_out, p_out_ref_out, ref_out, pop_t, pop_r)
    assert abs(attack_metrics(fair_in, fair_out)["auc"] - 0.5) < 0.03
    leaky_in = reference_attack_scores(p_target_in, p_in_ref_members, ref_in, pop_t, pop_r)
    assert abs(attack_metrics(leaky_in, fair_out)["auc"] - 0.5) > 0.1


def test_roc_on_grid_is_a_step_curve():
    s_in, s_out = _random_scores(1, ties=False)
    curve = roc_curve_points(s_in, s_out)
    grid = np.linspace(0, 1, 51)
    t = roc_on_grid(curve, grid)
    assert np.all(np.diff(t) >= 0) and t[-1] == 1.0
    for g, v in zip(grid, t):
        assert v == pytest.approx(np.max(curve.tpr[curve.fpr <= g + 1e-12]))


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0, 3.0, 8.0])
def test_dp_bounds(eps):
    e = np.exp(eps)
    assert dp_auc_bound(eps) == pytest.approx(e / (1 + e))
    # the numerical integral of the trade-off curve agrees with the closed form as delta -> 0
    assert dp_auc_bound(eps, 1e-12) == pytest.approx(e / (1 + e), abs=1e-4)
    assert dp_auc_bound(eps, 1e-3) >= dp_auc_bound(eps)
    assert dp_advantage_bound(eps) == pytest.approx((e - 1) / (e + 1))
    assert dp_advantage_bound(eps, 0.01) == pytest.approx(min(1.0, (e - 1 + 0.02) / (e + 1)))
    with pytest.raises(ValueError):
        dp_auc_bound(-1.0)
