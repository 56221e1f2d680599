"""Policies: thresholds on audit metrics, read from TOML, checked against an audit result.

A policy file holds one ``[[rule]]`` table per threshold::

    [[rule]]
    section = "fairness"
    metric = "demographic_parity_ratio"
    feature = "race"        # optional; a list for an intersection
    op = ">="               # >=, >, <=, <, ==
    threshold = 0.8

Optional keys of a rule: ``id`` (or ``name``), ``group`` (a group's values, with ``feature``),
``method`` (how a disparity is taken; ``"between_groups"`` unless given), ``label`` (a class, for
per-class metrics), ``attack`` (privacy), ``input_feature`` (explainability), ``severity``
(``"error"``, the default, fails the verdict; ``"warning"`` is reported only) and
``description``. Top-level ``name`` and ``description`` describe the policy.

A rule is checked against the metric records that match it: same section and name, the same
``feature`` (no ``feature`` means the whole population), the same ``group`` (none unless given),
``method`` between_groups (or the one given), and the given ``label``/``attack``/
``input_feature`` when the rule sets them. A rule that matches no record fails and says so; a
record whose value is undefined fails with its reason. When a rule matches several records (for
example one per class), every one of them must satisfy it.

Groups too small to judge drive no verdict unless a rule sets ``include_small_groups = true``:
a group's own records flagged ``too_small`` are set aside (a rule left with none passes and
says so), and a ``between_groups``/``to_overall`` disparity flagged ``small_groups`` is judged
on the groups large enough to judge (same definition, over those groups). A ``to_reference``
rule without ``group`` checks every group against the reference. ``agg = "mean"`` selects the
records aggregated by mean (equalized odds); without it only Fairlearn's default aggregation
matches. A failure names the groups behind the number: the lowest and highest group of the
underlying metric, or the group and the reference, with their values and sizes.
"""

from __future__ import annotations

import math
import operator
import os
import re
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from .._core.catalog import SMALL_FLAGS, base_metrics
from .._core.validation import did_you_mean
from ..exceptions import PolicyError
from ..result.records import AuditResult, MetricValue

__all__ = ["CheckResult", "Policy", "PolicyVerdict", "Rule", "check", "junit_xml"]

Op = Literal[">=", ">", "<=", "<", "=="]
#: Comparison operators a rule may use.
OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_REQUIRED = ("section", "metric", "op", "threshold")
_OPTIONAL = (
    "id", "name", "feature", "group", "method", "label", "attack", "input_feature",
    "severity", "description", "include_small_groups", "agg",
)  # fmt: skip
_TOP_LEVEL = ("rule", "name", "description")
_DEFAULT_METHOD = "between_groups"


@dataclass(frozen=True)
class Rule:
    """One threshold of a policy.

    Parameters
    ----------
    id : str
        Shown in reports and JUnit XML (default ``rule-<number>``).
    section : str
        The section whose metric is checked (``"fairness"``).
    metric : str
        The metric name (``"demographic_parity_ratio"``).
    op : {">=", ">", "<=", "<", "=="}
    threshold : float
    feature : tuple of str, default=None
        The sensitive feature(s); None for a whole-population value.
    group : tuple of str, default=None
        A group's values (a per-group metric); None for disparities and overall values.
    method : str, default=None
        How a disparity is taken; None means ``"between_groups"`` (or no method at all).
    label, attack, input_feature : str, default=None
        Narrow the match to a class, an attack or a model input.
    severity : {"error", "warning"}, default="error"
        A failing ``"warning"`` rule is reported but does not fail the verdict.
    description : str, default=None
    agg : str, default=None
        How a disparity over several rates is aggregated (``"mean"``); None matches the
        records with Fairlearn's default aggregation only.
    include_small_groups : bool, default=False
        Judge records of groups flagged too small too. By default they drive no verdict: a
        group's own ``too_small`` records are set aside, and a disparity flagged
        ``small_groups`` is judged on the groups large enough to judge.
    """

    id: str
    section: str
    metric: str
    op: Op
    threshold: float
    feature: tuple[str, ...] | None = None
    group: tuple[str, ...] | None = None
    method: str | None = None
    label: str | None = None
    attack: str | None = None
    input_feature: str | None = None
    severity: Literal["error", "warning"] = "error"
    description: str | None = None
    include_small_groups: bool = False
    agg: str | None = None

    @property
    def metric_id(self) -> str:
        """``section.metric``, the stable metric id."""
        return f"{self.section}.{self.metric}"

    def condition(self) -> str:
        """Return the rule as text: ``fairness.demographic_parity_ratio[race] >= 0.8``."""
        where = ""
        if self.feature is not None:
            where = " × ".join(self.feature)
            if self.group is not None:
                where += " = " + " × ".join(self.group)
            where = f"[{where}]"
        return f"{self.metric_id}{where} {self.op} {_fmt(self.threshold)}"

    def matches(self, m: MetricValue) -> bool:
        """Whether metric record ``m`` is one this rule checks."""
        if m.section != self.section or m.name != self.metric:
            return False
        any_group = self.group is None and self.method == "to_reference"
        if m.feature != self.feature or (m.group != self.group and not any_group):
            return False
        if self.method is None:
            if m.method not in (None, _DEFAULT_METHOD):
                return False
        elif m.method != self.method:
            return False
        if m.agg not in (None, "worst_case") and m.agg != self.agg:
            return False
        if self.agg is not None and m.agg != self.agg:
            return False
        return all(
            want is None or getattr(m, key) == want
            for key, want in (
                ("label", self.label), ("attack", self.attack),
                ("input_feature", self.input_feature),
            )
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain data (as in the policy file)."""
        d: dict[str, Any] = {
            "id": self.id, "section": self.section, "metric": self.metric, "op": self.op,
            "threshold": self.threshold,
        }  # fmt: skip
        for k in ("feature", "group"):
            v = getattr(self, k)
            if v is not None:
                d[k] = list(v)
        for k in ("method", "label", "attack", "input_feature", "description", "agg"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        d["severity"] = self.severity
        if self.include_small_groups:
            d["include_small_groups"] = True
        return d


@dataclass(frozen=True)
class Policy:
    """A set of rules, usually read from a TOML file with :meth:`from_toml`.

    Parameters
    ----------
    rules : tuple of Rule
    name : str, default=None
    description : str, default=None
    source : str, default=None
        The file the policy came from (shown in reports).

    Examples
    --------
    >>> policy = Policy.from_dict({"rule": [{"section": "fairness",
    ...     "metric": "demographic_parity_ratio", "feature": "sex", "op": ">=",
    ...     "threshold": 0.8}]})
    >>> policy.rules[0].condition()
    'fairness.demographic_parity_ratio[sex] >= 0.8'
    """

    rules: tuple[Rule, ...]
    name: str | None = None
    description: str | None = None
    source: str | None = None

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Policy:
        """Read a policy from a TOML file.

        The file must be a regular file of at most 1 MB whose values nest at most 32 levels
        deep (:data:`auditkit._core.parsing.MAX_CONFIG_BYTES`, ``MAX_CONFIG_DEPTH``); both are
        checked before the TOML is parsed.

        Raises
        ------
        PolicyError
            When the file cannot be read, is not TOML, or a rule is malformed; the message names
            the file, the rule number and the key.
        """
        from .._core.parsing import ConfigError, read_config, toml_depth_error

        p = Path(path)
        try:
            raw = read_config(p, f"Policy file {p.name}")
        except FileNotFoundError as exc:
            raise PolicyError(f"Policy file {str(p)!r} does not exist.") from exc
        except ConfigError as exc:
            raise PolicyError(f"{exc.message}.") from exc
        except OSError as exc:
            raise PolicyError(
                f"Cannot read policy file {str(p)!r}: {exc.strerror or exc}"
            ) from exc
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            raise PolicyError(f"Policy file {p.name}, line {line}: not UTF-8 text.") from exc
        deep = toml_depth_error(text)
        if deep is not None:
            raise PolicyError(f"Policy file {p.name}{deep.where()}: {deep.message}.")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"Policy file {p.name} is not valid TOML: {exc}") from exc
        except RecursionError as exc:  # nesting the scan above did not see
            raise PolicyError(
                f"Policy file {p.name}: values are nested too deeply to read."
            ) from exc
        try:
            return cls.from_dict(data, source=str(p))
        except PolicyError as exc:  # name the line of the rule's [[rule]] header too
            raise PolicyError(_with_rule_line(str(exc), text)) from exc.__cause__

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> Policy:
        """Build a policy from the parsed form of a policy file (``{"rule": [{...}, ...]}``).

        Raises
        ------
        PolicyError
            As :meth:`from_toml`; ``source`` names the origin in messages.
        """
        where = f"Policy {Path(source).name}" if source else "Policy"
        if not isinstance(data, Mapping):
            raise PolicyError(f"{where} must be a table of [[rule]] entries.")
        for key in data:
            if key not in _TOP_LEVEL:
                raise PolicyError(
                    f"{where}: unknown top-level key {key!r}{did_you_mean(str(key), _TOP_LEVEL)}; "
                    "rules go in [[rule]] tables."
                )
        rules_raw = data.get("rule")
        if rules_raw is None:
            raise PolicyError(f"{where} has no [[rule]] tables; add at least one rule.")
        if isinstance(rules_raw, Mapping):
            rules_raw = [rules_raw]
        if not isinstance(rules_raw, list) or not rules_raw:
            raise PolicyError(f"{where}: 'rule' must be a list of [[rule]] tables.")
        rules = tuple(_parse_rule(r, i + 1, where) for i, r in enumerate(rules_raw))
        seen: dict[str, int] = {}
        for i, r in enumerate(rules, start=1):
            if r.id in seen:
                raise PolicyError(
                    f"{where}, rule {i}: key 'id': {r.id!r} is already used by rule "
                    f"{seen[r.id]}; ids must be unique."
                )
            seen[r.id] = i
        for key in ("name", "description"):
            if key in data and not isinstance(data[key], str):
                raise PolicyError(f"{where}: key {key!r} must be a string.")
        return cls(rules=rules, name=data.get("name"), description=data.get("description"),
                   source=source)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the policy file's layout."""
        d: dict[str, Any] = {"rule": [r.to_dict() for r in self.rules]}
        if self.name is not None:
            d["name"] = self.name
        if self.description is not None:
            d["description"] = self.description
        return d


_RULE_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*rule[ \t]*\]\]", re.MULTILINE)
_RULE_REF = re.compile(r", rule (\d+)")


def _with_rule_line(message: str, text: str) -> str:
    """Append the line of rule N's ``[[rule]]`` header to a message about rule N."""
    m = _RULE_REF.search(message)
    if m is None:
        return message
    headers = [h.start() for h in _RULE_HEADER.finditer(text)]
    number = int(m.group(1))
    if not 1 <= number <= len(headers):
        return message
    line = text.count("\n", 0, headers[number - 1]) + 1
    return f"{message.rstrip().removesuffix('.')} (rule {number} starts on line {line})."


def _fmt(x: float | None) -> str:
    if x is None:
        return "undefined"
    return f"{x:.4g}"


def _str_or_list(value: Any, key: str, at: str) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (value,)
    if (
        isinstance(value, list) and value
        and all(isinstance(v, str) and v for v in value)
    ):  # fmt: skip
        return tuple(value)
    raise PolicyError(
        f"{at}: key {key!r} must be a string or a non-empty list of strings; got {value!r}."
    )


def _parse_rule(raw: Any, number: int, where: str) -> Rule:
    at = f"{where}, rule {number}"
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{at} must be a table of keys ([[rule]]); got {raw!r}.")
    for key in raw:
        if key not in _REQUIRED and key not in _OPTIONAL:
            raise PolicyError(
                f"{at}: unknown key {key!r}{did_you_mean(str(key), _REQUIRED + _OPTIONAL)}."
            )
    for key in _REQUIRED:
        if key not in raw:
            raise PolicyError(f"{at}: missing key {key!r}.")
    strings = {}
    for key in ("section", "metric", "id", "name", "method", "label", "attack", "input_feature",
                "description", "agg"):  # fmt: skip
        if key in raw:
            v = raw[key]
            if not isinstance(v, str) or (not v.strip() and key != "description"):
                raise PolicyError(f"{at}: key {key!r} must be a non-empty string; got {v!r}.")
            strings[key] = v
    op: Any = raw["op"]
    if not isinstance(op, str) or op not in OPS:
        raise PolicyError(f"{at}: key 'op' must be one of {', '.join(OPS)}; got {op!r}.")
    thr = raw["threshold"]
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not math.isfinite(thr):
        raise PolicyError(f"{at}: key 'threshold' must be a finite number; got {thr!r}.")
    feature = _str_or_list(raw["feature"], "feature", at) if "feature" in raw else None
    group = None
    if "group" in raw:
        if feature is None:
            raise PolicyError(f"{at}: key 'group' needs 'feature' (the columns it is a value of).")
        group = _str_or_list(raw["group"], "group", at)
        if len(group) != len(feature):
            raise PolicyError(
                f"{at}: key 'group' has {len(group)} value(s) but 'feature' names "
                f"{len(feature)} column(s)."
            )
    severity: Any = raw.get("severity", "error")
    if not isinstance(severity, str) or severity not in ("error", "warning"):
        raise PolicyError(f"{at}: key 'severity' must be 'error' or 'warning'; got {severity!r}.")
    small = raw.get("include_small_groups", False)
    if not isinstance(small, bool):
        raise PolicyError(
            f"{at}: key 'include_small_groups' must be true or false; got {small!r}."
        )
    if "id" in strings and "name" in strings and strings["id"] != strings["name"]:
        raise PolicyError(f"{at}: keys 'id' and 'name' disagree; give one of them.")
    rule_id = strings.get("id") or strings.get("name") or f"rule-{number}"
    return Rule(
        id=rule_id, section=strings["section"], metric=strings["metric"], op=cast(Op, op),
        threshold=float(thr), feature=feature, group=group, method=strings.get("method"),
        label=strings.get("label"), attack=strings.get("attack"),
        input_feature=strings.get("input_feature"),
        severity=cast(Literal["error", "warning"], severity),
        description=strings.get("description"), include_small_groups=small,
        agg=strings.get("agg"),
    )  # fmt: skip


# ---------------------------------------------------------------------------------- verdict
@dataclass(frozen=True)
class CheckResult:
    """The outcome of one rule: value against threshold.

    Attributes
    ----------
    id : str
        The rule's id.
    metric_id : str
        ``section.metric``.
    feature, group : tuple of str or None
    op : str
    threshold : float
    actual : float or None
        The value checked (the worst one when the rule matched several records); None when no
        record matched or the value is undefined.
    status : {"passed", "failed"}
    message : str
        A sentence stating value against threshold, or why the rule could not be met.
    severity : {"error", "warning"}
    n_matched : int
        How many metric records the rule was checked against.
    """

    id: str
    metric_id: str
    feature: tuple[str, ...] | None
    op: str
    threshold: float
    actual: float | None
    status: Literal["passed", "failed"]
    message: str
    severity: Literal["error", "warning"] = "error"
    group: tuple[str, ...] | None = None
    n_matched: int = 0

    @property
    def passed(self) -> bool:
        """True when the rule is satisfied."""
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (stored in ``AuditResult.policy["checks"]``)."""
        section, _, name = self.metric_id.partition(".")
        return {
            "id": self.id,
            "metric": self.metric_id,
            "section": section,
            "name": name,
            "feature": list(self.feature) if self.feature is not None else None,
            "group": list(self.group) if self.group is not None else None,
            "op": self.op,
            "threshold": self.threshold,
            "actual": self.actual,
            "status": self.status,
            "severity": self.severity,
            "message": self.message,
            "n_matched": self.n_matched,
        }


@dataclass(frozen=True)
class PolicyVerdict:
    """The result of checking a policy: one :class:`CheckResult` per rule.

    Attributes
    ----------
    checks : tuple of CheckResult
    passed : bool
        True when no rule of severity ``"error"`` failed.
    source : str or None
        The policy file.
    """

    checks: tuple[CheckResult, ...]
    passed: bool
    source: str | None = None
    name: str | None = None
    failed: tuple[CheckResult, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "failed", tuple(c for c in self.checks if not c.passed))

    def summary(self) -> str:
        """One line: ``policy passed: 5 of 5 rules`` or which rules failed."""
        n = len(self.checks)
        errors = [c for c in self.failed if c.severity == "error"]
        warnings = [c for c in self.failed if c.severity == "warning"]
        if not errors:
            text = f"policy passed: {n - len(self.failed)} of {n} rules satisfied"
            if warnings:
                text += f"; {len(warnings)} warning(s): " + ", ".join(c.id for c in warnings)
            return text
        return f"policy FAILED: {len(errors)} of {n} rules failed: " + ", ".join(
            c.id for c in errors
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data stored in ``AuditResult.policy`` and rendered in the cards."""
        return {
            "passed": self.passed,
            "source": Path(self.source).name if self.source else None,
            "name": self.name,
            "n_rules": len(self.checks),
            "n_failed": len(self.failed),
            "checks": [c.to_dict() for c in self.checks],
        }


def _record_text(m: MetricValue) -> str:
    parts = []
    if m.feature is not None:
        parts.append(" × ".join(m.feature) + (" = " + " × ".join(m.group) if m.group else ""))
    for key in ("label", "attack", "input_feature", "method", "agg"):
        v = getattr(m, key)
        if v is not None and not (key == "method" and v == _DEFAULT_METHOD):
            parts.append(f"{key} {v}")
    return f" ({', '.join(parts)})" if parts else ""


def _is_small(m: MetricValue) -> bool:
    return any(f in SMALL_FLAGS for f in m.flags)


def _group_records(
    m: MetricValue, base: str, metrics: Sequence[MetricValue], *, include_small: bool
) -> list[MetricValue]:
    """Return the per-group records of ``base`` behind disparity record ``m``."""
    return [
        g for g in metrics
        if g.section == m.section and g.name == base and g.feature == m.feature
        and g.group is not None and g.label == m.label and g.method in (None, "group")
        and g.value is not None and (include_small or not _is_small(g))
    ]  # fmt: skip


def _overall(m: MetricValue, base: str, metrics: Sequence[MetricValue]) -> float | None:
    for g in metrics:
        if (g.section == m.section and g.name == base and g.feature is None
                and g.group is None and g.label == m.label):  # fmt: skip
            return g.value
    return None


def _disparity(
    m: MetricValue, base: str, metrics: Sequence[MetricValue], *, include_small: bool
) -> float | None:
    """Recompute ``m``'s disparity for one base metric over the groups it may judge."""
    vals = [g.value for g in _group_records(m, base, metrics, include_small=include_small)]
    xs = [float(v) for v in vals if v is not None]
    if len(xs) < 2:
        return None
    ratio = m.name.endswith("_ratio")
    if m.method == "to_overall":
        o = _overall(m, base, metrics)
        if o is None:
            return None
        if not ratio:
            return max(abs(x - o) for x in xs)
        if o == 0 or min(xs) == 0:
            return None
        return min(min(x / o, o / x) for x in xs)
    if not ratio:
        return max(xs) - min(xs)
    return min(xs) / max(xs) if max(xs) > 0 else None


def _recomputed(
    m: MetricValue, metrics: Sequence[MetricValue]
) -> tuple[float, list[MetricValue]] | None:
    """``m`` recomputed over the groups large enough to judge, and the groups left out.

    For a between_groups / to_overall record flagged ``small_groups``: the same definition
    (Fairlearn's) over the per-group records not flagged too small; equalized odds takes the
    worst case of its two rates (their mean for ``agg="mean"`` and average odds).
    """
    bases = base_metrics(m.name)
    if not bases or m.method not in (None, "between_groups", "to_overall"):
        return None
    parts = [_disparity(m, b, metrics, include_small=False) for b in bases]
    if any(p is None for p in parts):
        return None
    xs = [float(p) for p in parts if p is not None]
    if m.agg == "mean" or m.name.startswith("average_odds"):
        value = sum(xs) / len(xs)
    else:
        value = min(xs) if m.name.endswith("_ratio") else max(xs)
    left_out = [
        g for b in bases for g in _group_records(m, b, metrics, include_small=True)
        if _is_small(g)
    ]  # fmt: skip
    return value, left_out


def _n(x: int | None) -> str:
    return "n=?" if x is None else f"n={x:,}"


def _groups_text(
    m: MetricValue, metrics: Sequence[MetricValue], result: AuditResult, *, include_small: bool
) -> str:
    """Name the groups behind a disparity: ``race: group 'X' 0.42, n=2,103 vs group 'Y' ...``."""
    bases = base_metrics(m.name)
    if not bases or m.feature is None:
        return ""
    feat = " × ".join(m.feature)

    def label(g: MetricValue) -> str:
        return "'" + " × ".join(g.group or ()) + "'"

    if m.method == "to_reference" and m.group is not None:
        recs = _group_records(m, bases[0], metrics, include_small=True)
        own = next((g for g in recs if g.group == m.group), None)
        sec = result.section(m.section)
        refs = (sec.info.get("reference_groups") if sec is not None else None) or {}
        ref_name = refs.get(feat) if isinstance(refs, Mapping) else None
        others = [g for g in recs if g.group != m.group]
        ref = next((g for g in others if " × ".join(g.group or ()) == str(ref_name)), None)
        if ref is None and ref_name is None and others:
            ref = max(others, key=lambda g: g.n or 0)  # the default reference: largest group
        if own is None or ref is None:
            return ""
        return (
            f" ({feat}: group {label(own)} {_fmt(own.value)}, {_n(own.n)} vs reference "
            f"{label(ref)} {_fmt(ref.value)}, {_n(ref.n)})"
        )
    best: tuple[float, MetricValue, MetricValue] | None = None
    for b in bases:  # the base metric with the widest spread drives a worst-case disparity
        recs = _group_records(m, b, metrics, include_small=include_small)
        if len(recs) < 2:
            continue
        lo = min(recs, key=lambda g: g.value)  # type: ignore[arg-type, return-value]
        hi = max(recs, key=lambda g: g.value)  # type: ignore[arg-type, return-value]
        spread = float(hi.value) - float(lo.value)  # type: ignore[arg-type]
        if best is None or spread > best[0]:
            best = (spread, lo, hi)
    if best is None:
        return ""
    _, lo, hi = best
    base = f"{hi.name}: " if len(bases) > 1 else ""
    return (
        f" ({feat}: {base}group {label(hi)} {_fmt(hi.value)}, {_n(hi.n)} vs group {label(lo)} "
        f"{_fmt(lo.value)}, {_n(lo.n)})"
    )


_FAIL_WORDS = {
    ">=": "is below", ">": "is not above", "<=": "is above", "<": "is not below",
    "==": "is not equal to",
}  # fmt: skip


def _absent_message(rule: Rule, metrics: Sequence[MetricValue], result: AuditResult) -> str:
    sec = result.section(rule.section)
    if sec is None:
        return (
            f"{rule.metric_id} is absent: the audit has no section {rule.section!r} "
            f"(sections: {', '.join(s.name for s in result.sections) or 'none'})."
        )
    if sec.status != "ok":
        return (
            f"{rule.metric_id} is absent: section {rule.section!r} was {sec.status}"
            + (f" ({sec.reason})" if sec.reason else "") + "."
        )  # fmt: skip
    same_name = [m for m in metrics if m.section == rule.section and m.name == rule.metric]
    if not same_name:
        names = sorted({m.name for m in metrics if m.section == rule.section})
        return f"{rule.metric_id} is absent from the result{did_you_mean(rule.metric, names)}."
    feats = sorted({" × ".join(m.feature) if m.feature else "(whole population)"
                    for m in same_name})  # fmt: skip
    methods = sorted({m.method for m in same_name if m.method is not None})
    want = " × ".join(rule.feature) if rule.feature else "the whole population"
    if rule.group is not None:
        want += " = " + " × ".join(rule.group)
    return (
        f"{rule.metric_id} is absent for {want}"
        + (f" with method {rule.method}" if rule.method else "")
        + f"; the result has it for: {', '.join(feats)}"
        + (f" (methods: {', '.join(methods)})" if methods else "") + "."
    )  # fmt: skip


def _check_rule(rule: Rule, metrics: Sequence[MetricValue], result: AuditResult) -> CheckResult:
    matched = [m for m in metrics if rule.matches(m)]

    def out(status: Literal["passed", "failed"], actual: float | None, msg: str) -> CheckResult:
        return CheckResult(
            id=rule.id, metric_id=rule.metric_id, feature=rule.feature, op=rule.op,
            threshold=rule.threshold, actual=actual, status=status, message=msg,
            severity=rule.severity, group=rule.group, n_matched=len(matched),
        )  # fmt: skip

    if not matched:
        return out("failed", None, _absent_message(rule, metrics, result))
    # Groups too small to judge drive no verdict unless the rule asks for them.
    judged: list[MetricValue] = []
    set_aside: list[MetricValue] = []
    notes: dict[int, str] = {}
    for m in matched:
        if rule.include_small_groups or not _is_small(m):
            judged.append(m)
        elif "too_small" in m.flags or m.method == "to_reference" or m.group is not None:
            set_aside.append(m)
        else:  # a disparity that includes a small group: judge it on the large groups
            again = _recomputed(m, metrics)
            if again is None:
                set_aside.append(m)
                continue
            value, left_out = again
            m2 = replace(m, value=value, flags=(), ci=None, p_value=None, p_adjusted=None)
            names = ", ".join(
                dict.fromkeys(f"'{' × '.join(g.group or ())}' ({_n(g.n)})" for g in left_out)
            )
            notes[id(m2)] = (
                f"; computed over the groups large enough to judge (left out: {names}; "
                "include_small_groups = true judges them too)"
            )
            judged.append(m2)
    if not judged:
        shown = ", ".join(_record_text(m).strip(" ()") or m.id for m in set_aside[:3])
        return out(
            "passed", None,
            f"{rule.metric_id} was not judged: every matching record is about groups too small "
            f"to judge ({shown}); set include_small_groups = true in the rule to judge them.",
        )  # fmt: skip
    undefined = [m for m in judged if m.value is None]
    if undefined:
        m = undefined[0]
        return out(
            "failed", None,
            f"{rule.metric_id}{_record_text(m)} is undefined"
            + (f": {m.reason}" if m.reason else "") + f"; the rule needs {rule.op} "
            f"{_fmt(rule.threshold)}.",
        )  # fmt: skip
    cmp = OPS[rule.op]
    small_ok = rule.include_small_groups
    aside = (
        f" {len(set_aside)} record(s) of groups too small to judge were set aside."
        if set_aside else ""
    )  # fmt: skip
    failing = [m for m in judged if not cmp(m.value, rule.threshold)]  # type: ignore[arg-type]
    if failing:
        m = failing[0]
        extra = f" ({len(failing)} of {len(judged)} records fail)" if len(judged) > 1 else ""
        who = _groups_text(m, metrics, result, include_small=small_ok)
        return out(
            "failed", m.value,
            f"{rule.metric_id}{_record_text(m)} = {_fmt(m.value)}{who} {_FAIL_WORDS[rule.op]} "
            f"{_fmt(rule.threshold)}; the rule requires {rule.op} {_fmt(rule.threshold)}"
            f"{extra}{notes.get(id(m), '')}.{aside}",
        )  # fmt: skip
    # all pass: report the record closest to the threshold
    worst = min(judged, key=lambda m: abs(m.value - rule.threshold))  # type: ignore[operator]
    extra = f" (all {len(judged)} records)" if len(judged) > 1 else ""
    return out(
        "passed", worst.value,
        f"{rule.metric_id}{_record_text(worst)} = {_fmt(worst.value)}, which satisfies "
        f"{rule.op} {_fmt(rule.threshold)}{extra}{notes.get(id(worst), '')}.{aside}",
    )  # fmt: skip


def check(
    result: AuditResult | Mapping[str, Any], policy: Policy | str | os.PathLike[str]
) -> PolicyVerdict:
    """Check an audit result against a policy.

    Parameters
    ----------
    result : AuditResult or dict
        The audit result (or its ``to_dict()`` form).
    policy : Policy or path
        A :class:`Policy` or the path of a policy TOML file.

    Returns
    -------
    PolicyVerdict
        One check per rule; ``passed`` is False when a rule of severity ``"error"`` failed.
        A rule whose metric is absent from the result fails.

    Examples
    --------
    >>> from auditkit.report import AuditResult, MetricValue, SectionResult
    >>> res = AuditResult("1.0", "0", "2024-01-01T00:00:00Z", {}, {}, {}, (SectionResult(
    ...     "performance", "ok", metrics=(MetricValue("performance", "accuracy", 0.91),)),))
    >>> pol = Policy.from_dict({"rule": [{"section": "performance", "metric": "accuracy",
    ...                                   "op": ">=", "threshold": 0.9}]})
    >>> check(res, pol).passed
    True
    """
    if isinstance(result, Mapping):
        result = AuditResult.from_dict(dict(result))
    if not isinstance(result, AuditResult):
        raise PolicyError(f"check expects an AuditResult; got {type(result).__name__}.")
    if not isinstance(policy, Policy):
        policy = Policy.from_toml(policy)
    metrics = result.metrics
    checks = tuple(_check_rule(r, metrics, result) for r in policy.rules)
    passed = all(c.passed for c in checks if c.severity == "error")
    return PolicyVerdict(checks=checks, passed=passed, source=policy.source, name=policy.name)


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """Replace control and bidirectional characters (and what XML 1.0 cannot hold) with escapes.

    A CI page showing the report must not let a rule id or a group name reorder its text.
    """
    from .._core.text import visible

    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", visible(text))


def junit_xml(verdict: PolicyVerdict, *, suite_name: str = "auditkit policy") -> str:
    """Return the verdict as JUnit XML: one test case per rule, a ``<failure>`` per failed rule.

    A failed rule of severity ``"warning"`` is a passing test case with the message in
    ``<system-out>``, so CI shows it without failing the build.

    Parameters
    ----------
    verdict : PolicyVerdict
        The output of :func:`check`.
    suite_name : str, default="auditkit policy"
        The name of the test suite.

    Returns
    -------
    str
        An XML document (``<testsuites><testsuite><testcase>...``), UTF-8 declared.
    """
    errors = [c for c in verdict.failed if c.severity == "error"]
    name = _xml_safe(suite_name)
    suite = ET.Element(
        "testsuite",
        {"name": name, "tests": str(len(verdict.checks)), "failures": str(len(errors)),
         "errors": "0", "skipped": "0"},
    )  # fmt: skip
    for c in verdict.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": _xml_safe(f"auditkit.policy.{c.metric_id}"), "name": _xml_safe(c.id)},
        )
        if not c.passed and c.severity == "error":
            message = _xml_safe(c.message)
            fail = ET.SubElement(case, "failure", {"message": message, "type": "PolicyFailure"})
            fail.text = message
        else:
            out = ET.SubElement(case, "system-out")
            out.text = ("WARNING: " if not c.passed else "") + _xml_safe(c.message)
    root = ET.Element("testsuites", {"name": name, "tests": str(len(verdict.checks)),
                                     "failures": str(len(errors))})  # fmt: skip
    root.append(suite)
    ET.indent(root)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    )
