"""Every metric, disparity and calibration value of a batch of dense tables, vectorised."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .definitions import RATE_METRICS
from .table import Key, Undefined, _Grouping, _Table

_BINARY_RATES = tuple(m.name for m in RATE_METRICS)
_MULTICLASS_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")
_RATE_SPEC = {m.name: (m.numerator or (), m.denominator or ()) for m in RATE_METRICS}


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(num / den, dtype=np.float64)


def _rate(num: np.ndarray, den: np.ndarray, n: np.ndarray, undefined: Undefined) -> np.ndarray:
    r = np.where(den > 0, _safe_div(num, den), 0.0 if undefined == "zero" else np.nan)
    return np.where(n > 0, r, np.nan)


def _between(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mx = np.fmax.reduce(v, axis=-1)
    mn = np.fmin.reduce(v, axis=-1)
    return mx - mn, _safe_div(mn, mx)


def _to_overall(v: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.fmax.reduce(np.abs(v - o[..., None]), axis=-1)
    r = _safe_div(v, o[..., None])
    with np.errstate(divide="ignore"):
        r = np.where(r > 1, 1.0 / r, r)
    return d, np.fmin.reduce(r, axis=-1)


def _py_max2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Python's ``max([a, b])`` element-wise (``b`` only when ``b > a``)."""
    return np.where(b > a, b, a)


def _py_min2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Python's ``min([a, b])`` element-wise (``b`` only when ``b < a``)."""
    return np.where(b < a, b, a)


def _binary_cells(cm: np.ndarray, pos: int) -> dict[str, np.ndarray]:
    neg = 1 - pos
    return {
        "tn": cm[..., neg, neg], "fp": cm[..., neg, pos],
        "fn": cm[..., pos, neg], "tp": cm[..., pos, pos],
    }  # fmt: skip


def _ovr_cells(cm: np.ndarray, c: int) -> dict[str, np.ndarray]:
    tp = cm[..., c, c]
    fp = cm[..., :, c].sum(axis=-1) - tp
    fn = cm[..., c, :].sum(axis=-1) - tp
    n = cm.sum(axis=(-1, -2))
    return {"tn": n - tp - fp - fn, "fp": fp, "fn": fn, "tp": tp}


def _rates(
    cells: dict[str, np.ndarray], n: np.ndarray, names: Sequence[str], undefined: Undefined
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    vals, dens = {}, {}
    for name in names:
        num_c, den_c = _RATE_SPEC[name]
        num = sum(cells[c] for c in num_c)
        den = sum(cells[c] for c in den_c)
        vals[name] = _rate(np.asarray(num), np.asarray(den), n, undefined)
        dens[name] = np.asarray(den)
    return vals, dens


def _balanced_accuracy(cm: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present in ``y_true`` (scikit-learn's definition).

    A class is present when its row of the (weighted) confusion table sums to more than 0,
    as ``balanced_accuracy_score`` drops the classes whose recall is 0/0.
    """
    row = cm.sum(axis=-1)
    diag = np.diagonal(cm, axis1=-2, axis2=-1)
    present = row > 0
    rec = np.where(present, _safe_div(diag, row), 0.0)
    return _safe_div(rec.sum(axis=-1), present.sum(axis=-1).astype(np.float64))


def _nanmean2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of ``a`` and ``b`` skipping NaN (pandas' ``Series.mean``; NaN when both are)."""
    ok_a, ok_b = ~np.isnan(a), ~np.isnan(b)
    total = np.where(ok_a, a, 0.0) + np.where(ok_b, b, 0.0)
    return _safe_div(total, ok_a.astype(np.float64) + ok_b)


def _evaluate(
    tab: _Table,
    groupings: Sequence[_Grouping],
    counts: np.ndarray,
    s_sum: np.ndarray | None,
    undefined: Undefined,
    with_denominators: bool = False,
    weights: np.ndarray | None = None,
) -> tuple[dict[Key, np.ndarray], dict[Key, np.ndarray]]:
    """Every quantity for a batch of tables ``counts`` of shape (nb, G, K, K, B).

    With ``weights`` (sums of sample weights per cell, same shape) every rate, accuracy and
    calibration value is a ratio of weight sums, ``count`` stays the number of rows, a group
    whose weights sum to 0 counts as empty (NaN), and the denominators (for the small-group
    flags) stay numbers of rows.
    """
    out: dict[Key, np.ndarray] = {}
    dens: dict[Key, np.ndarray] = {}
    nb, g, k, _, b = counts.shape
    weighted = weights is not None
    c = (counts if weights is None else weights).astype(np.float64)
    flat = c.reshape(nb, g, k * k * b)
    rows_flat = counts.reshape(nb, g, k * k * b).astype(np.float64) if weighted else flat
    s_flat = None if s_sum is None else s_sum.reshape(nb, g, k * k * b)
    calib = tab.pos is not None and s_sum is not None

    def group_values(
        cfull: np.ndarray, sfull: np.ndarray | None, rows_cm: np.ndarray | None,
        feats: tuple[str, ...] | None,
    ) -> dict[tuple[str, int | None], np.ndarray]:  # fmt: skip
        """Values of ``cfull`` (..., K, K, B); denominators (rows) into ``dens``."""
        cm = cfull.sum(axis=-1)
        n = cm.sum(axis=(-1, -2))
        vals: dict[tuple[str, int | None], np.ndarray] = {}
        keep_dens = with_denominators and feats is not None
        if tab.pos is None:
            vals[("accuracy", None)] = _rate(np.trace(cm, axis1=-2, axis2=-1), n, n, undefined)
            if keep_dens:
                n_rows = n if rows_cm is None else rows_cm.sum(axis=(-1, -2))
                dens[Key("accuracy", feats, None, "group")] = n_rows[0]
        for label, cells, names in _views(cm, tab.pos, k):
            rv, dd = _rates(cells, n, names, undefined)
            if keep_dens and rows_cm is not None:
                r_cells = (
                    _binary_cells(rows_cm, tab.pos)
                    if tab.pos is not None
                    else _ovr_cells(rows_cm, label)  # type: ignore[arg-type]
                )
                _, dd = _rates(r_cells, rows_cm.sum(axis=(-1, -2)), names, undefined)
            for name, v in rv.items():
                vals[(name, label)] = v
                if keep_dens:
                    dens[Key(name, feats, label, "group")] = dd[name][0]
        vals[("balanced_accuracy", None)] = np.where(n > 0, _balanced_accuracy(cm), np.nan)
        if calib:
            assert sfull is not None and tab.pos is not None
            for name, v in _calibration(cfull, sfull, n, tab.pos).items():
                vals[(name, None)] = v
        return vals

    # overall
    c_all = flat.sum(axis=1).reshape(nb, k, k, b)
    n_all = rows_flat.sum(axis=(1, 2))
    out[Key("count", None, None, "overall")] = n_all
    s_all = None if s_flat is None else s_flat.sum(axis=1).reshape(nb, k, k, b)
    overall = group_values(c_all, s_all, None, None)
    overall[("count", None)] = n_all
    if weighted:
        out[Key("weight_sum", None, None, "overall")] = flat.sum(axis=(1, 2))
    for (name, label), v in overall.items():
        out[Key(name, None, label, "overall")] = v

    for grouping in groupings:
        feats = grouping.features
        cg = grouping.aggregate(flat)
        ng = cg.shape[1]
        cg4 = cg.reshape(nb, ng, k, k, b)
        sg = None if s_flat is None else grouping.aggregate(s_flat).reshape(nb, ng, k, k, b)
        rows_cm = None
        if weighted:
            rg = grouping.aggregate(rows_flat).reshape(nb, ng, k, k, b)
            rows_cm = rg.sum(axis=-1)
            out[Key("count", feats, None, "group")] = rows_cm.sum(axis=(-1, -2))
            out[Key("weight_sum", feats, None, "group")] = cg.sum(axis=-1)
        else:
            out[Key("count", feats, None, "group")] = cg.sum(axis=-1)
        groupvals = group_values(cg4, sg, rows_cm, feats)
        _add_disparities(out, feats, groupvals, overall)
        if tab.pos is not None:
            _add_fairlearn_disparities(out, feats, groupvals[("selection_rate", None)])
    return out, dens


def _views(
    cm: np.ndarray, pos: int | None, k: int
) -> list[tuple[int | None, dict[str, np.ndarray], Sequence[str]]]:
    """Return the confusion cells to take rates from: binary, or one-vs-rest per class."""
    if pos is not None:
        return [(None, _binary_cells(cm, pos), _BINARY_RATES)]
    return [(ci, _ovr_cells(cm, ci), _MULTICLASS_RATES) for ci in range(k)]


def _calibration(cb: np.ndarray, sb: np.ndarray, n: np.ndarray, pos: int) -> dict[str, np.ndarray]:
    """Mean score, base rate and expected calibration error from counts and score sums."""
    pos_bin = cb[..., pos, :, :].sum(axis=-2)
    s_bin = sb.sum(axis=(-3, -2))
    nn = np.where(n > 0, n, np.nan)
    return {
        "mean_score": s_bin.sum(axis=-1) / nn,
        "base_rate": pos_bin.sum(axis=-1) / nn,
        "expected_calibration_error": np.abs(s_bin - pos_bin).sum(axis=-1) / nn,
    }


def _add_disparities(
    out: dict[Key, np.ndarray],
    feats: tuple[str, ...],
    groupvals: dict[tuple[str, int | None], np.ndarray],
    overall: dict[tuple[str, int | None], np.ndarray],
) -> None:
    """Per-group values and their differences and ratios (between groups, to overall)."""
    for (name, label), v in groupvals.items():
        out[Key(name, feats, label, "group")] = v
        if name in ("mean_score", "base_rate"):
            continue
        o = overall[(name, label)]
        d_bg, r_bg = _between(v)
        d_to, r_to = _to_overall(v, o)
        out[Key(f"{name}_difference", feats, label, "between_groups")] = d_bg
        out[Key(f"{name}_difference", feats, label, "to_overall")] = d_to
        if name == "expected_calibration_error":
            continue
        out[Key(f"{name}_ratio", feats, label, "between_groups")] = r_bg
        out[Key(f"{name}_ratio", feats, label, "to_overall")] = r_to


def _add_fairlearn_disparities(
    out: dict[Key, np.ndarray], feats: tuple[str, ...], sel: np.ndarray
) -> None:
    """Impact ratio and Fairlearn's named disparities of a binary task, from the rate gaps."""
    mx = np.fmax.reduce(sel, axis=-1)
    out[Key("impact_ratio", feats, None, "group")] = _safe_div(sel, mx[..., None])
    for part in ("between_groups", "to_overall"):
        sr_d = out[Key("selection_rate_difference", feats, None, part)]
        sr_r = out[Key("selection_rate_ratio", feats, None, part)]
        tpr_d = out[Key("true_positive_rate_difference", feats, None, part)]
        tpr_r = out[Key("true_positive_rate_ratio", feats, None, part)]
        fpr_d = out[Key("false_positive_rate_difference", feats, None, part)]
        fpr_r = out[Key("false_positive_rate_ratio", feats, None, part)]
        out[Key("demographic_parity_difference", feats, None, part)] = sr_d
        out[Key("demographic_parity_ratio", feats, None, part)] = sr_r
        out[Key("equal_opportunity_difference", feats, None, part)] = tpr_d
        out[Key("equal_opportunity_ratio", feats, None, part)] = tpr_r
        out[Key("equalized_odds_difference", feats, None, part)] = _py_max2(tpr_d, fpr_d)
        out[Key("equalized_odds_ratio", feats, None, part)] = _py_min2(tpr_r, fpr_r)
        out[Key("equalized_odds_difference", feats, None, part, "mean")] = _nanmean2(tpr_d, fpr_d)
        out[Key("equalized_odds_ratio", feats, None, part, "mean")] = _nanmean2(tpr_r, fpr_r)
        out[Key("average_odds_difference", feats, None, part)] = (fpr_d + tpr_d) / 2.0


def _group_auc(
    gid: np.ndarray, tie: np.ndarray, wp: np.ndarray, wn: np.ndarray, n_groups: int
) -> np.ndarray:
    """Weighted ROC AUC of each group (NaN without both classes), vectorised.

    The rows come in ascending score order: ``gid`` their group, ``tie`` the index of their
    run of equal scores, ``wp`` / ``wn`` their weight when positive / negative (0 otherwise).
    The weighted Mann-Whitney statistic: for each positive row, the weight of the negative
    rows of its group with a lower score, plus half of those with the same score, times its
    weight; over the product of the positive and negative weights. This is the area under
    the weighted ROC curve with the trapezoid rule, which is scikit-learn's ``roc_auc_score``.
    """
    if len(gid) == 0:
        return np.full(n_groups, np.nan)
    small = np.int16 if n_groups < 2**15 else np.int64  # numpy radix-sorts 16-bit keys
    perm = np.argsort(gid.astype(small), kind="stable")  # by group, then score
    run = (gid * (int(tie[-1]) + 1) + tie)[perm]  # (group, score run), ascending
    starts = np.flatnonzero(np.diff(run, prepend=-1))
    rp, rn = np.add.reduceat(wp[perm], starts), np.add.reduceat(wn[perm], starts)
    rg = run[starts] // (int(tie[-1]) + 1)
    tot_n = np.bincount(rg, weights=rn, minlength=n_groups)
    tot_p = np.bincount(rg, weights=rp, minlength=n_groups)
    # negative weight below each run, within its group: a cumulative sum restarted per group
    below = np.cumsum(rn) - rn
    first = np.r_[True, rg[1:] != rg[:-1]]
    below = below - np.maximum.accumulate(np.where(first, below, 0.0))
    num = np.bincount(rg, weights=rp * (below + 0.5 * rn), minlength=n_groups)
    ok = (tot_p > 0) & (tot_n > 0)
    return np.where(ok, _safe_div(num, tot_p * tot_n), np.nan)
