"""Compare two audits: which figures moved, by how much, beyond their intervals or not.

Records are matched on their identity (``section``, ``name``, ``feature``, ``group``, ``label``,
``method``, ``attack``, ``fold``, ``input_feature``; a key met twice in one audit is matched by
its order). A move is *larger than the intervals* when the new value lies outside the old
confidence interval and the old value outside the new one; with only one interval, that one
decides; with none, the diff says so instead of guessing. A policy rule that passes on the old
audit and fails on the new one is a *regression* (``auditkit diff`` exits 1); rules of severity
``warning`` are reported but never regress the exit code.

Like the cards, the renderers of a diff only format: :func:`diff_markdown` escapes every string
for Markdown and :func:`diff_html` goes through an autoescaping Jinja2 template.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._core.catalog import harm
from ..result.lights import direction
from ..result.records import AuditResult
from . import _filters as F
from ._regression import SIGNED_FIGURES

__all__ = [
    "KEY_FIELDS",
    "AuditDiff",
    "MetricMove",
    "RuleChange",
    "diff_html",
    "diff_markdown",
    "diff_results",
    "diff_view",
    "record_key",
]

#: The fields that identify a metric record across audits.
KEY_FIELDS = (
    "section", "name", "feature", "group", "label", "method", "attack", "fold", "input_feature",
)  # fmt: skip
MoveStatus = Literal["moved", "unchanged", "added", "removed", "undefined"]


def _key_part(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(str(x) for x in v)
    return v


def record_key(m: Mapping[str, Any]) -> tuple[Any, ...]:
    """Return the identity of a metric record (:data:`KEY_FIELDS`)."""
    return tuple(_key_part(m.get(k)) for k in KEY_FIELDS)


def _outside(x: float, ci: Sequence[float] | None) -> bool | None:
    if ci is None or len(ci) != 2 or ci[0] is None or ci[1] is None:
        return None
    return bool(x < ci[0] or x > ci[1])


@dataclass(frozen=True)
class MetricMove:
    """One figure in both audits (or in one of them).

    Attributes
    ----------
    key : tuple
        The record's identity, in the order of :data:`KEY_FIELDS`, plus its occurrence number.
    old, new : float or None
    old_ci, new_ci : tuple of float or None
    status : {"moved", "unchanged", "added", "removed", "undefined"}
        ``undefined``: the value is None in one of the audits (or both).
    delta : float or None
        ``new - old``.
    new_outside_old, old_outside_new : bool or None
        Whether each value lies outside the other audit's interval (None: no interval).
    beyond_intervals : bool or None
        True when every available interval excludes the other value; None when neither audit
        has an interval.
    better : bool or None
        Whether the move is an improvement, from the metric's direction (None: no direction).
    """

    key: tuple[Any, ...]
    old: float | None
    new: float | None
    old_ci: tuple[float, float] | None
    new_ci: tuple[float, float] | None
    status: MoveStatus
    delta: float | None = None
    new_outside_old: bool | None = None
    old_outside_new: bool | None = None
    beyond_intervals: bool | None = None
    better: bool | None = None

    def field(self, name: str) -> Any:
        """Return the value of one key field (``"section"``, ``"name"``, ``"feature"``...)."""
        return self.key[KEY_FIELDS.index(name)]

    @property
    def metric_id(self) -> str:
        """``section.name``."""
        return f"{self.field('section')}.{self.field('name')}"

    def where(self) -> str:
        """Return the record's qualifiers in words (``sex = Female; attack loss``)."""
        parts = []
        feature, group = self.field("feature"), self.field("group")
        if feature:
            text = " × ".join(feature)
            if group is not None:
                text += " = " + " × ".join(group)
            parts.append(text)
        for k in ("label", "method", "attack", "fold", "input_feature"):
            v = self.field(k)
            if v is not None:
                parts.append(f"{k.replace('_', ' ')} {v}")
        return "; ".join(parts) or "whole population"


@dataclass(frozen=True)
class RuleChange:
    """One policy rule checked on both audits."""

    id: str
    metric: str
    condition: str
    severity: str
    old_status: str
    new_status: str
    old_actual: float | None
    new_actual: float | None
    message: str

    @property
    def regressed(self) -> bool:
        """True when the rule passes on the old audit and fails on the new one."""
        return self.old_status == "passed" and self.new_status != "passed"

    @property
    def fixed(self) -> bool:
        """True when the rule fails on the old audit and passes on the new one."""
        return self.old_status != "passed" and self.new_status == "passed"


@dataclass(frozen=True)
class AuditDiff:
    """The comparison of two audits (see :func:`diff_results`)."""

    old_name: str
    new_name: str
    moves: tuple[MetricMove, ...]
    rules: tuple[RuleChange, ...] = ()
    policy_source: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def regressions(self) -> tuple[RuleChange, ...]:
        """Rules of severity ``error`` that pass on the old audit and fail on the new one."""
        return tuple(r for r in self.rules if r.regressed and r.severity != "warning")

    def count(self, status: str) -> int:
        """How many records have ``status``."""
        return sum(1 for m in self.moves if m.status == status)

    @property
    def beyond(self) -> tuple[MetricMove, ...]:
        """Moved records whose move is larger than their intervals, largest first."""
        return tuple(m for m in self.moves if m.status == "moved" and m.beyond_intervals)

    def to_frame(self) -> Any:
        """Return the moves as a pandas DataFrame, one row per figure.

        Columns :data:`auditkit.result.frame.DIFF_COLUMNS` (``status``, ``old``, ``new``,
        ``delta``, ``beyond_intervals``, ``better``, ...): the same rows as ``diff.md``.
        """
        from ..result.frame import diff_frame

        return diff_frame(self)


def _as_data(result: AuditResult | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(result, AuditResult):
        return result.to_dict()
    return dict(result)


def _index(data: Mapping[str, Any]) -> dict[tuple[Any, ...], Mapping[str, Any]]:
    out: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    seen: dict[tuple[Any, ...], int] = {}
    for m in data.get("metrics") or []:
        k = record_key(m)
        n = seen.get(k, 0)
        seen[k] = n + 1
        out[(*k, n)] = m
    return out


def _ci(m: Mapping[str, Any] | None) -> tuple[float, float] | None:
    if m is None or not m.get("ci"):
        return None
    lo, hi = m["ci"]
    return None if lo is None or hi is None else (float(lo), float(hi))


def _move(
    key: tuple[Any, ...], a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, tol: float
) -> MetricMove:
    old = a.get("value") if a is not None else None
    new = b.get("value") if b is not None else None
    old_ci, new_ci = _ci(a), _ci(b)
    if a is None:
        return MetricMove(key, None, new, None, new_ci, "added")
    if b is None:
        return MetricMove(key, old, None, old_ci, None, "removed")
    if old is None or new is None:
        status: MoveStatus = "unchanged" if old is None and new is None else "undefined"
        return MetricMove(key, old, new, old_ci, new_ci, status)
    delta = float(new) - float(old)
    if math.isclose(new, old, rel_tol=tol, abs_tol=tol):
        return MetricMove(key, old, new, old_ci, new_ci, "unchanged", delta=delta)
    n_out, o_out = _outside(float(new), old_ci), _outside(float(old), new_ci)
    flags = [f for f in (n_out, o_out) if f is not None]
    beyond = all(flags) if flags else None
    name = str(key[KEY_FIELDS.index("name")])
    up = direction(name)
    better = None if up is None else (delta > 0) == up
    if name in SIGNED_FIGURES:  # a signed bias: closer to 0 is better
        better = None if abs(new) == abs(old) else abs(float(new)) < abs(float(old))
    if key[KEY_FIELDS.index("method")] == "to_reference":  # signed: a gap either way harms
        h_old, _, h_up = harm(name, float(old), None)
        h_new, _, _ = harm(name, float(new), None)
        better = None if h_old == h_new else ((h_new > h_old) == h_up)  # type: ignore[operator]
    return MetricMove(key, old, new, old_ci, new_ci, "moved", delta, n_out, o_out, beyond, better)


def _rules_from_checks(
    old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
) -> tuple[RuleChange, ...]:
    new_by = {str(c.get("id")): c for c in new}
    out = []
    for c in old:
        rid = str(c.get("id"))
        n = new_by.get(rid)
        if n is None:
            continue
        feature = c.get("feature")
        where = f"[{' × '.join(feature)}]" if feature else ""
        out.append(
            RuleChange(
                id=rid,
                metric=str(c.get("metric", "")),
                condition=f"{c.get('metric', '')}{where} {c.get('op', '')} "
                f"{F.fmt_num(c.get('threshold'))}",
                severity=str(n.get("severity") or c.get("severity") or "error"),
                old_status=str(c.get("status")),
                new_status=str(n.get("status")),
                old_actual=c.get("actual"),
                new_actual=n.get("actual"),
                message=str(n.get("message") or ""),
            )
        )
    return tuple(out)


def diff_results(
    old: AuditResult | Mapping[str, Any],
    new: AuditResult | Mapping[str, Any],
    *,
    policy: Any = None,
    old_name: str = "old",
    new_name: str = "new",
    tolerance: float = 1e-9,
) -> AuditDiff:
    """Compare two audit results figure by figure, and against a policy.

    Parameters
    ----------
    old, new : AuditResult or dict
        The two audits (or their ``to_dict()`` / JSON form).
    policy : Policy or path, default=None
        Checked against both audits; a rule that passes on ``old`` and fails on ``new`` is a
        regression. Without a policy, the verdicts stored in the two results (when both were
        checked) are compared rule by rule.
    old_name, new_name : str
        How the two audits are called in the report (file names, for example).
    tolerance : float, default=1e-9
        Relative and absolute tolerance under which a value counts as unchanged.

    Returns
    -------
    AuditDiff

    Examples
    --------
    >>> from auditkit.report import AuditResult, MetricValue, SectionResult
    >>> def res(acc, ci):
    ...     m = MetricValue("performance", "accuracy", acc, ci=ci, n=100)
    ...     return AuditResult("1.0", "0", "t", {}, {}, {}, (SectionResult("performance", "ok",
    ...                        metrics=(m,)),))
    >>> d = diff_results(res(0.90, (0.85, 0.94)), res(0.80, (0.74, 0.86)))
    >>> m = d.moves[0]
    >>> round(m.delta, 2), m.beyond_intervals, m.better
    (-0.1, True, False)
    """
    a, b = _as_data(old), _as_data(new)
    ia, ib = _index(a), _index(b)
    keys = list(ia) + [k for k in ib if k not in ia]
    moves = [_move(k, ia.get(k), ib.get(k), tolerance) for k in keys]

    def rank(m: MetricMove) -> tuple[int, float]:
        order = {"moved": 0, "undefined": 1, "added": 2, "removed": 3, "unchanged": 4}
        first = 0 if m.beyond_intervals else 1
        return (order[m.status] * 2 + (first if m.status == "moved" else 0),
                -abs(m.delta or 0.0))  # fmt: skip

    moves.sort(key=rank)
    notes: list[str] = []
    rules: tuple[RuleChange, ...] = ()
    source = None
    if policy is not None:
        from ..policy import Policy, check

        pol = policy if isinstance(policy, Policy) else Policy.from_toml(policy)
        source = pol.source
        rules = _rules_from_checks(
            [c.to_dict() for c in check(a, pol).checks],
            [c.to_dict() for c in check(b, pol).checks],
        )
    else:
        pa, pb = a.get("policy") or {}, b.get("policy") or {}
        if pa.get("checks") and pb.get("checks"):
            rules = _rules_from_checks(pa["checks"], pb["checks"])
            source = str(pb.get("source") or pa.get("source") or "") or None
            notes.append("No --policy given: the verdicts stored in the two audits are compared.")
    if (a.get("run") or {}).get("ci_level") != (b.get("run") or {}).get("ci_level"):
        notes.append("The two audits use different confidence levels.")
    if (a.get("data") or {}).get("sha256") != (b.get("data") or {}).get("sha256"):
        notes.append("The audits were run on different evaluation data (sha256 differs).")
    return AuditDiff(old_name=old_name, new_name=new_name, moves=tuple(moves), rules=rules,
                     policy_source=source, notes=tuple(dict.fromkeys(notes)))  # fmt: skip


# --------------------------------------------------------------------------- rendering
def _beyond_text(m: MetricMove) -> str:
    if m.beyond_intervals is None:
        return "no intervals"
    if m.beyond_intervals:
        both = m.new_outside_old is not None and m.old_outside_new is not None
        return "yes, beyond both intervals" if both else "yes, beyond the interval"
    if m.new_outside_old or m.old_outside_new:
        return "no, within one interval"
    return "no, within the intervals"


def _signed(x: float | None) -> str:
    if x is None:
        return F.MISSING
    return ("+" if x > 0 else "") + F.fmt_num(x)


def _change_word(r: RuleChange) -> str:
    if r.regressed:
        return "REGRESSION" if r.severity != "warning" else "regression (warning only)"
    return "fixed" if r.fixed else "same"


def diff_view(diff: AuditDiff) -> dict[str, Any]:
    """Display strings of a diff for the templates (numbers through :mod:`._filters`)."""

    def row(m: MetricMove) -> dict[str, str]:
        return {
            "metric": m.metric_id,
            "where": m.where(),
            "old": F.fmt_num(m.old),
            "new": F.fmt_num(m.new),
            "old_ci": F.fmt_ci(m.old_ci),
            "new_ci": F.fmt_ci(m.new_ci),
            "delta": _signed(m.delta),
            "beyond": _beyond_text(m) if m.status == "moved" else "",
            "change": "" if m.better is None else ("better" if m.better else "worse"),
        }

    rules = [
        {
            "id": r.id, "condition": r.condition, "severity": r.severity,
            "old": F.check_word(r.old_status), "new": F.check_word(r.new_status),
            "old_actual": F.fmt_num(r.old_actual), "new_actual": F.fmt_num(r.new_actual),
            "change": _change_word(r),
            "message": r.message,
        }
        for r in diff.rules
    ]  # fmt: skip
    moved = [m for m in diff.moves if m.status == "moved"]
    regressions = diff.regressions
    return {
        "old_name": diff.old_name,
        "new_name": diff.new_name,
        "verdict": (
            f"{len(regressions)} policy rule(s) pass on {diff.old_name} and fail on "
            f"{diff.new_name}: " + ", ".join(r.id for r in regressions)
            if regressions
            else "No policy rule passes on the old audit and fails on the new one."
            if diff.rules
            else "No policy was compared."
        ),  # fmt: skip
        "regressed": bool(regressions),
        "counts": [
            (
                "Figures in both audits",
                F.fmt_num(sum(1 for m in diff.moves if m.status not in ("added", "removed"))),
            ),
            ("Moved", F.fmt_num(len(moved))),
            ("Moved beyond their intervals", F.fmt_num(len(diff.beyond))),
            ("Unchanged", F.fmt_num(diff.count("unchanged"))),
            ("Defined in one audit only", F.fmt_num(diff.count("undefined"))),
            ("Only in the new audit", F.fmt_num(diff.count("added"))),
            ("Only in the old audit", F.fmt_num(diff.count("removed"))),
        ],  # fmt: skip
        "policy_source": diff.policy_source or "",
        "rules": rules,
        "beyond": [row(m) for m in moved if m.beyond_intervals],
        "other": [row(m) for m in moved if not m.beyond_intervals],
        "undefined": [row(m) for m in diff.moves if m.status == "undefined"],
        "added": [row(m) for m in diff.moves if m.status == "added"],
        "removed": [row(m) for m in diff.moves if m.status == "removed"],
        "notes": list(diff.notes),
    }


def diff_markdown(diff: AuditDiff) -> str:
    """Return the diff as Markdown (every string from the audits escaped)."""
    from ._render import MdText, _environment

    out: str = _environment("md").get_template("diff.md.j2").render(d=diff_view(diff), raw=MdText)
    return out


def diff_html(diff: AuditDiff) -> str:
    """Return the diff as a self-contained HTML page (autoescaped, the card's stylesheet)."""
    from markupsafe import Markup

    from ._render import _environment, _load_template

    css = Markup(_load_template("card.css"))  # the package's own stylesheet, not data
    out: str = _environment("html").get_template("diff.html.j2").render(d=diff_view(diff), css=css)
    return out
