"""Findings of a regression's fairness section: evidence first, then size, judgeable groups.

Per grouping, three findings at most, each about the groups large enough to judge (a group
flagged ``too_small``, or a comparison with a reference that is, never leads; those groups go
into one note at the end):

* **Bias for the same true value**: each group against the reference group on the mean error
  at equal true values (``mean_error_at_equal_target_difference``; without a histogram of the
  true values, the plain ``mean_error_difference``). ``warn`` when the gap is beyond the
  catalog's green bound (0.1 standard deviation of the true values; the gap or the far end of its
  interval) and the adjusted p-value is below ``alpha``; ``fail`` when the gap and its whole
  interval are beyond the red bound (0.2) with that evidence (as the card's lights judge);
  otherwise ``info``, saying whether the gap is not distinguishable from none or real but small.
* **Typical miss**: the mean absolute error of each group against the reference group
  (``mean_absolute_error_ratio``, either direction): ``warn`` below 0.8 and ``fail`` below 2/3
  with evidence.
* **Distribution of predictions**: the largest ``prediction_ks_gap`` (a group against everyone
  else): at most ``warn`` (above 0.1 with evidence), since different true values can explain
  it.

``Finding.evidence`` is the evidence word of the adjusted p-value; findings are ordered by
severity, evidence and size, as the classification section's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .._core.catalog import harm, threshold
from ..metrics.evidence import evidence_word
from ..metrics.table import Key
from ..result.records import Finding, Severity
from . import _plain_language as pl
from ._regression_fairness_records import RCtx

__all__ = ["amount", "story"]

SECTION = "fairness"
_SEV_RANK = {"fail": 0, "warn": 1, "info": 2, "pass": 3}
_EV_RANK = {"strong": 0, "moderate": 1, "weak": 2, "none": 3}


def amount(x: float, unit: str | None = None) -> str:
    """Format an amount in the target's units: ``2.1 hours``, ``1,200 EUR``, ``0.0312``."""
    a = abs(x)
    text = f"{x:,.0f}" if a >= 1000 else f"{x:.1f}" if a >= 10 else f"{x:.3g}"
    return f"{text} {unit}" if unit else text


def _p_text(p: float | None) -> str:
    if p is None:
        return ""
    return "adjusted p < 0.001" if p < 0.001 else f"adjusted p = {p:.2g}"


def _ci_amount(ci: Sequence[float] | None, level: float, unit: str | None) -> str:
    if ci is None:
        return ""
    return f"{100 * level:g}% CI {amount(ci[0])} to {amount(ci[1], unit)}"


def _finding(sev: str, text: str, metric: str, word: str | None) -> Finding:
    s: Severity = "fail" if sev == "fail" else "warn" if sev == "warn" else "info"
    return Finding(SECTION, s, text, f"{SECTION}.{metric}", word)


def _severity(
    size: float, ci: Sequence[float] | None, pass_at: float, fail_at: float,
    p_adj: float | None, alpha: float, worse_is_lower: bool = False,
) -> tuple[str, bool]:  # fmt: skip
    """Return (severity, beyond the green bound) of a gap on its own ("harm") scale.

    As the card's lights and the classification findings judge: with evidence
    (``p_adj < alpha``), ``warn`` when the gap or the far end of its interval is beyond the
    green bound, ``fail`` when the gap and the whole interval are beyond the red bound;
    otherwise ``info``.
    """

    def worse(a: float, bound: float) -> bool:
        return a < bound if worse_is_lower else a > bound

    far_end = near_end = size
    if ci is not None:
        far_end, near_end = (ci[0], ci[1]) if worse_is_lower else (ci[1], ci[0])
    beyond = worse(size, pass_at) or worse(far_end, pass_at)
    evident = p_adj is not None and p_adj < alpha
    if evident and worse(size, fail_at) and worse(near_end, fail_at):
        return "fail", True
    if evident and beyond:
        return "warn", True
    return "info", worse(size, pass_at)


def _clause(sev: str, beyond: bool, p_adj: float | None, alpha: float, thr: str) -> str:
    """Say what the evidence supports; without a test (``n_boot=0``), say so."""
    if p_adj is None:
        return " No test was run (the bootstrap is off: n_boot=0), so this is not judged."
    return pl.evidence_clause(sev, beyond, p_adj, alpha, thr)


def story(
    c: RCtx, small: Mapping[tuple[str, ...], list[tuple[str, ...]]], *, subject: str,
    target: str | None, target_std: float, alpha: float,
) -> list[Finding]:  # fmt: skip
    """Return the section's findings in their ranked order (see the module docstring)."""
    ranked: list[tuple[Finding, float]] = []
    for feats in c.rm.groupings:
        ref = c.ref(feats)
        ok = c.judgeable(feats)
        if not ok[ref]:
            continue  # a reference too small to judge leads no comparison
        others = [i for i in np.flatnonzero(ok).tolist() if i != ref]
        if others:
            ranked += _bias(c, feats, ref, others, subject, target, target_std, alpha)
            ranked += _miss(c, feats, ref, others, subject, alpha)
        ranked += _distribution(c, feats, np.flatnonzero(ok).tolist(), subject, alpha)
    ranked.sort(key=lambda t: (_SEV_RANK[t[0].severity], _EV_RANK[t[0].evidence or "none"], -t[1]))
    out = [f for f, _ in ranked]
    parts = [(feats, small[feats]) for feats in c.rm.groupings if small.get(feats)]
    if parts:
        note = pl.small_groups_note(parts, c.min_size).replace(" or no rows of a class", "")
        out.append(_finding("info", note, "count", None))
    return out


def _bias(
    c: RCtx, feats: tuple[str, ...], ref: int, others: list[int], subject: str,
    target: str | None, target_std: float, alpha: float,
) -> list[tuple[Finding, float]]:  # fmt: skip
    """Return the bias of the most notable group against the reference, for the same true value."""
    rm = c.rm
    eq = c.equal.get(feats)
    t = threshold("fairness", "mean_error_difference")
    scale = target_std if np.isfinite(target_std) and target_std > 0 else 1.0
    pass_at, fail_at = t.pass_at * scale, t.fail_at * scale
    cands = []
    for i in others:
        if eq is not None:
            d = float(eq["diff"][i])
            lo, hi = float(eq["diff_low"][i]), float(eq["diff_high"][i])
            ci = (lo, hi) if np.isfinite(lo) and np.isfinite(hi) else None
            p_adj = c.p_equal(feats, i)[1]
            metric = "mean_error_at_equal_target_difference"
        else:
            key = Key("mean_error_difference", feats, None, "to_reference")
            d = float(rm.values[key][i])
            ci = c.ci(key, i)
            p_adj = c.p(Key("mean_error_difference", feats, i, "to_reference"))[1]
            metric = "mean_error_difference"
        if not np.isfinite(d):
            continue
        _, h_ci, _ = harm("mean_error_difference", d, ci)
        sev, beyond = _severity(abs(d), h_ci, pass_at, fail_at, p_adj, alpha)
        word = evidence_word(p_adj, alpha)
        cands.append((sev, word, abs(d), i, d, ci, p_adj, beyond, metric))
    if not cands:
        return []
    cands.sort(key=lambda x: (_SEV_RANK[x[0]], _EV_RANK[x[1]], -x[2]))
    sev, word, size, i, d, ci, p_adj, beyond, metric = cands[0]
    labels = c.labels(feats)
    mean_t = rm.overall("mean_target")
    share = amount(abs(d), c.unit)
    if mean_t > 0 and abs(d) / mean_t >= 0.005:
        share = f"{abs(d) / mean_t:.0%} ({share})"
    who = pl.group_phrase(feats, labels[i], subject=subject)
    them = pl.group_phrase(feats, labels[ref], subject=subject)
    what = f"true {target}" if target else "true value"
    lead = (
        f"For {subject} with the same {what}, " if eq is not None
        else "Compared with their own true values, "
    )  # fmt: skip
    detail = "; ".join(x for x in (_ci_amount(ci, c.level, c.unit), _p_text(p_adj)) if x)
    text = (
        f"{lead}{who} are predicted {share} {'more' if d > 0 else 'less'} on average than "
        f"{them}, the reference group" + (f" ({detail})." if detail else ".")
    )
    thr = f"the threshold of {amount(pass_at, c.unit)} (0.1 standard deviation of the true values)"
    text += _clause(sev, beyond, p_adj, alpha, thr)
    if eq is None:
        text += (
            " Without a histogram of the true values the comparison at equal true values is "
            "not available; this gap can partly reflect different true values."
        )
    n_more = sum(1 for x in cands[1:] if x[0] in ("warn", "fail"))
    if n_more:
        text += (
            f" {n_more} other group{'s' if n_more > 1 else ''} by {' × '.join(feats)} also "
            f"differ{'s' if n_more == 1 else ''} from {'/'.join(labels[ref])} (see the "
            "to_reference records)."
        )
    return [(_finding(sev, text, metric, word), size / scale)]


def _miss(
    c: RCtx, feats: tuple[str, ...], ref: int, others: list[int], subject: str, alpha: float
) -> list[tuple[Finding, float]]:
    """Return the typical miss (mean absolute error) of the most notable group."""
    rm = c.rm
    t = threshold("fairness", "mean_absolute_error_ratio")
    vals = rm.values[Key("mean_absolute_error", feats, None, "group")]
    rkey = Key("mean_absolute_error_ratio", feats, None, "to_reference")
    cands = []
    for i in others:
        r = float(rm.values[rkey][i])
        if not (np.isfinite(r) and r > 0):
            continue
        h, h_ci, _ = harm("mean_absolute_error_ratio", r, c.ci(rkey, i))
        assert h is not None
        p_adj = c.p(Key("mean_absolute_error_ratio", feats, i, "to_reference"))[1]
        sev, beyond = _severity(h, h_ci, t.pass_at, t.fail_at, p_adj, alpha, worse_is_lower=True)
        cands.append((sev, evidence_word(p_adj, alpha), 1.0 - h, i, r, p_adj, beyond))
    if not cands:
        return []
    cands.sort(key=lambda x: (_SEV_RANK[x[0]], _EV_RANK[x[1]], -x[2]))
    sev, word, size, i, r, p_adj, beyond = cands[0]
    labels = c.labels(feats)
    hi_i, lo_i = (i, ref) if r >= 1 else (ref, i)
    ci = c.ci(rkey, i)
    if ci is not None and r < 1:
        ci = (1.0 / ci[1], 1.0 / ci[0]) if ci[0] > 0 else None
    times = max(r, 1.0 / r)
    parts = [f"{100 * c.level:g}% CI {ci[0]:.2f}-{ci[1]:.2f}"] if ci else []
    parts += [_p_text(p_adj)] if p_adj is not None else []
    detail = f" ({'; '.join(parts)})" if parts else ""

    def tag(k: int) -> str:
        return " (the reference group)" if k == ref else ""

    text = (
        f"The model's typical miss (mean absolute error) is {amount(float(vals[hi_i]), c.unit)} "
        f"for {pl.group_phrase(feats, labels[hi_i], subject=subject)}{tag(hi_i)} against "
        f"{amount(float(vals[lo_i]), c.unit)} for "
        f"{pl.group_phrase(feats, labels[lo_i], subject=subject)}{tag(lo_i)}: {times:.2f} times "
        f"as large{detail}."
    )
    thr = f"the threshold (at most {1 / t.pass_at:.3g} times as large)"
    text += _clause(sev, beyond, p_adj, alpha, thr)
    return [(_finding(sev, text, "mean_absolute_error_ratio", word), size)]


def _distribution(
    c: RCtx, feats: tuple[str, ...], judgeable: list[int], subject: str, alpha: float
) -> list[tuple[Finding, float]]:
    """Return the group whose predictions differ most from everyone else's (at most a warning)."""
    rm = c.rm
    key = Key("prediction_ks_gap", feats, None, "group")
    if key not in rm.values or len(c.counts(feats)) < 2 or not judgeable:
        return []
    ks = np.asarray(rm.values[key], dtype=np.float64)
    sel = [i for i in judgeable if np.isfinite(ks[i])]
    if not sel:
        return []
    i = max(sel, key=lambda k: ks[k])
    t = threshold("fairness", "prediction_ks_gap")
    p_adj = c.p(Key("prediction_ks_gap", feats, i, "group"))[1]
    sev, beyond = _severity(float(ks[i]), c.ci(key, i), t.pass_at, t.fail_at, p_adj, alpha)
    sev = "warn" if sev == "fail" else sev
    word = evidence_word(p_adj, alpha)
    ci = c.ci(key, i)
    parts = [f"Kolmogorov-Smirnov gap {ks[i]:.2f}"]
    parts += [f"{100 * c.level:g}% CI {ci[0]:.2f}-{ci[1]:.2f}"] if ci else []
    parts += [_p_text(p_adj)] if p_adj is not None else []
    w1 = rm.values.get(Key("prediction_wasserstein_gap", feats, None, "group"))
    move = ""
    if w1 is not None and np.isfinite(w1[i]):
        move = (
            f"; predictions would have to move {amount(float(w1[i]), c.unit)} on average to "
            "match (Wasserstein-1)"
        )
    who = pl.group_phrase(feats, c.labels(feats)[i], subject=subject, capital=False)
    text = (
        f"Predictions for {who} are distributed differently from everyone else's: at some value "
        f"the shares predicted below it differ by {pl.points(float(ks[i]))} "
        f"({'; '.join(parts)}){move}. Different true values can explain this; the bias for "
        "the same true value says whether like cases are treated alike."
    )
    text += _clause(sev, beyond, p_adj, alpha, f"the {t.pass_at:g} threshold")
    return [(_finding(sev, text, "prediction_ks_gap", word), float(ks[i]))]
