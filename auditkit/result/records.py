"""The audit result as frozen plain data: AuditResult > SectionResult > MetricValue/Table/...

Standard library only: sections import this module, renderers read ``to_dict()`` output, and
nothing here imports numpy, torch or the audit package. Numbers are Python ``int``/``float``;
an undefined value is ``None`` with a ``reason``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = "1.0"
Status = Literal["ok", "skipped", "failed"]
Severity = Literal["info", "pass", "warn", "fail"]

_OPTIONAL_FIELDS = (
    "input_feature",
    "fold",
    "attack",
    "label",
    "method",
    "reason",
    "unit",
    "agg",
    "p_value",
    "p_adjusted",
    "test",
)


def _num(x: Any) -> float | None:
    """Convert a numpy or Python number to a finite Python float, or None."""
    if x is None:
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def _tuple_or_none(x: Any) -> tuple[str, ...] | None:
    if x is None:
        return None
    if isinstance(x, str):
        return (x,)
    return tuple(str(v) for v in x)


@dataclass(frozen=True)
class MetricValue:
    """One number of the audit: a flat record of the JSON ``metrics`` list.

    Parameters
    ----------
    section : str
        The section that computed it (``"fairness"``).
    name : str
        Fairlearn-style metric name (``"selection_rate"``, ``"demographic_parity_ratio"``).
    value : float or None
        The value; None when undefined (then ``reason`` says why).
    feature : tuple of str, default=None
        Sensitive column names for group values and disparities; None for whole-population values.
    group : tuple of str, default=None
        The group's values (as strings) aligned with ``feature``; None for whole-population
        values and disparities.
    ci : tuple of (float, float), default=None
        Confidence interval ``(low, high)`` at the audit's ``ci_level``.
    n : int, default=None
        Number of rows the value rests on.
    input_feature : str, default=None
        The model input a value is about (explainability importance).
    fold : int, default=None
        Cross-validation fold (stability).
    attack : str, default=None
        Membership-inference attack (privacy): ``"loss"`` or ``"reference"``.
    label : str, default=None
        Class label for per-class values (precision of class "3").
    method : str, default=None
        How a disparity is taken (``"between_groups"``, ``"to_overall"``).
    flags : tuple of str, default=()
        Markers such as ``"too_small"``.
    reason : str, default=None
        Why the value is None or flagged.
    unit : str, default=None
        Unit when not a plain ratio (``"seconds"``, ``"kWh"``).
    agg : str, default=None
        How a disparity over several rates is aggregated when not Fairlearn's default
        (``"mean"`` for equalized odds with ``agg="mean"``).
    p_value : float, default=None
        p-value of the test of "no difference" behind a disparity record.
    p_adjusted : float, default=None
        The p-value adjusted for the family of comparisons the card makes.
    test : str, default=None
        The test behind ``p_value`` (``"fisher_exact"``, ``"permutation"``).
    """

    section: str
    name: str
    value: float | None
    feature: tuple[str, ...] | None = None
    group: tuple[str, ...] | None = None
    ci: tuple[float, float] | None = None
    n: int | None = None
    input_feature: str | None = None
    fold: int | None = None
    attack: str | None = None
    label: str | None = None
    method: str | None = None
    flags: tuple[str, ...] = ()
    reason: str | None = None
    unit: str | None = None
    agg: str | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    test: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _num(self.value))
        object.__setattr__(self, "feature", _tuple_or_none(self.feature))
        object.__setattr__(self, "group", _tuple_or_none(self.group))
        if self.ci is not None:
            lo, hi = _num(self.ci[0]), _num(self.ci[1])
            object.__setattr__(self, "ci", None if lo is None or hi is None else (lo, hi))
        if self.n is not None:
            object.__setattr__(self, "n", int(self.n))
        if self.fold is not None:
            object.__setattr__(self, "fold", int(self.fold))
        object.__setattr__(self, "flags", tuple(str(f) for f in self.flags))
        for k in ("p_value", "p_adjusted"):
            if getattr(self, k) is not None:
                object.__setattr__(self, k, _num(getattr(self, k)))

    @property
    def id(self) -> str:
        """Stable id: ``section.name`` (``"fairness.selection_rate_ratio"``)."""
        return f"{self.section}.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON record (always the core keys; optional keys only when set)."""
        d: dict[str, Any] = {
            "section": self.section,
            "name": self.name,
            "feature": list(self.feature) if self.feature is not None else None,
            "group": list(self.group) if self.group is not None else None,
            "value": self.value,
            "ci": list(self.ci) if self.ci is not None else None,
            "n": self.n,
        }
        for k in _OPTIONAL_FIELDS:
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        if self.flags:
            d["flags"] = list(self.flags)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MetricValue:
        """Build from a JSON record."""
        ci = d.get("ci")
        return cls(
            section=d["section"],
            name=d["name"],
            value=d.get("value"),
            feature=d.get("feature"),
            group=d.get("group"),
            ci=(ci[0], ci[1]) if ci is not None else None,
            n=d.get("n"),
            flags=tuple(d.get("flags", ())),
            **{k: d.get(k) for k in _OPTIONAL_FIELDS},
        )


@dataclass(frozen=True)
class Table:
    """A table for the card: a name, column headers and rows of primitives."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return plain data."""
        return {
            "name": self.name,
            "title": self.title,
            "columns": list(self.columns),
            "rows": [[_prim(v) for v in r] for r in self.rows],
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Table:
        """Build from plain data."""
        return cls(
            name=d["name"],
            title=d["title"],
            columns=tuple(d["columns"]),
            rows=tuple(tuple(r) for r in d["rows"]),
            note=d.get("note"),
        )


@dataclass(frozen=True)
class Finding:
    """A plain-language sentence about the results, with a severity and the metric it rests on."""

    section: str
    severity: Severity
    text: str
    metric: str | None = None
    #: How strong the evidence behind the finding is (``"strong"``, ``"moderate"``, ``"weak"``,
    #: ``"none"``), where the section measured it; None where it does not apply.
    evidence: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return plain data (``evidence`` only when set)."""
        d: dict[str, Any] = {
            "section": self.section,
            "severity": self.severity,
            "text": self.text,
            "metric": self.metric,
        }
        if self.evidence is not None:
            d["evidence"] = self.evidence
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        """Build from plain data."""
        return cls(d["section"], d["severity"], d["text"], d.get("metric"), d.get("evidence"))


@dataclass(frozen=True)
class Chart:
    """Data for a chart the renderers draw (bars, lines, heat map, image, token highlights).

    ``kind`` picks the drawing; ``data`` is plain JSON data whose layout each kind documents.
    """

    name: str
    kind: str
    title: str
    data: dict[str, Any]
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return plain data."""
        return {
            "name": self.name,
            "kind": self.kind,
            "title": self.title,
            "description": self.description,
            "data": _prim(self.data),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chart:
        """Build from plain data."""
        return cls(d["name"], d["kind"], d["title"], d["data"], d.get("description", ""))


@dataclass(frozen=True)
class SectionResult:
    """What one audit section returns."""

    name: str
    status: Status
    reason: str | None = None
    metrics: tuple[MetricValue, ...] = ()
    tables: tuple[Table, ...] = ()
    findings: tuple[Finding, ...] = ()
    charts: tuple[Chart, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None

    def to_dict(self, *, with_metrics: bool = True) -> dict[str, Any]:
        """Return plain data (the JSON keeps metrics in the top-level flat list instead)."""
        d: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "tables": [t.to_dict() for t in self.tables],
            "findings": [f.to_dict() for f in self.findings],
            "charts": [c.to_dict() for c in self.charts],
            "info": _prim(self.info),
        }
        if self.duration_s is not None:  # only when timings are asked for (not deterministic)
            d["duration_s"] = _num(self.duration_s)
        if with_metrics:
            d["metrics"] = [m.to_dict() for m in self.metrics]
        return d

    @classmethod
    def from_dict(
        cls, d: dict[str, Any], metrics: tuple[MetricValue, ...] | None = None
    ) -> SectionResult:
        """Build from plain data; ``metrics`` overrides ``d["metrics"]`` when given."""
        if metrics is None:
            metrics = tuple(MetricValue.from_dict(m) for m in d.get("metrics", ()))
        return cls(
            name=d["name"],
            status=d["status"],
            reason=d.get("reason"),
            metrics=metrics,
            tables=tuple(Table.from_dict(t) for t in d.get("tables", ())),
            findings=tuple(Finding.from_dict(f) for f in d.get("findings", ())),
            charts=tuple(Chart.from_dict(c) for c in d.get("charts", ())),
            info=dict(d.get("info") or {}),
            duration_s=d.get("duration_s"),
        )

    def get(self, name: str, **match: Any) -> MetricValue | None:
        """Return the first metric named ``name`` whose fields equal ``match``."""
        for m in self.metrics:
            if m.name == name and all(
                getattr(m, k) == (_tuple_or_none(v) if k in ("feature", "group") else v)
                for k, v in match.items()
            ):
                return m
        return None


@dataclass(frozen=True)
class AuditResult:
    """The whole audit as frozen plain data; ``to_dict()`` is what the JSON file holds.

    Attributes
    ----------
    schema_version : str
    tool_version : str
    created_at : str
        ISO 8601 UTC time; honours ``SOURCE_DATE_EPOCH``.
    run : dict
        Seed, bootstrap settings, sections asked for, the command line.
    model : dict
        Name, kind, version, sha256, training metadata where known.
    data : dict
        Dataset name, rows, sha256, sensitive features, the task.
    sections : tuple of SectionResult
        In the order they ran.
    """

    schema_version: str
    tool_version: str
    created_at: str
    run: dict[str, Any]
    model: dict[str, Any]
    data: dict[str, Any]
    sections: tuple[SectionResult, ...]
    card_info: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> list[MetricValue]:
        """Every metric of every section, in order: the JSON's flat ``metrics`` list."""
        return [m for s in self.sections for m in s.metrics]

    @property
    def findings(self) -> list[Finding]:
        """Every finding of every section."""
        return [f for s in self.sections for f in s.findings]

    def section(self, name: str) -> SectionResult | None:
        """Return the section named ``name``, or None."""
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def __repr__(self) -> str:
        """One short line: the model, the sections with their status, the verdict."""
        from .notebook import summary_line

        return summary_line(self)

    def _repr_html_(self) -> str:
        """Return the notebook summary: verdict, lights, what needs attention, the sections.

        A self-contained HTML fragment with every data string escaped and nothing fetched
        from the network (see :mod:`auditkit.result.notebook`).
        """
        from .notebook import summary_html

        return summary_html(self)

    def to_records(self) -> list[dict[str, Any]]:
        """Return the metric records as flat dicts, one per record (see :meth:`to_frame`)."""
        from .frame import metric_records

        return metric_records(self.metrics)

    def to_frame(self) -> Any:
        """Return the metric records as a pandas DataFrame, one row per record.

        The columns are :data:`auditkit.result.frame.FRAME_COLUMNS`, always in that order
        (``section``, ``name``, ``feature``, ``group``, ``value``, ``ci_low``, ``ci_high``,
        ``n``, ...). ``pandas.read_json("audit.json")`` cannot read the nested document: use
        ``auditkit.load_result("audit.json").to_frame()``.
        """
        from .frame import metrics_frame

        return metrics_frame(self)

    def to_dict(self) -> dict[str, Any]:
        """Return the plain-data form written to JSON (validates against the shipped schema)."""
        return {
            "schema_version": self.schema_version,
            "tool_version": self.tool_version,
            "created_at": self.created_at,
            "run": _prim(self.run),
            "model": _prim(self.model),
            "data": _prim(self.data),
            "card_info": _prim(self.card_info),
            "policy": _prim(self.policy),
            "sections": [s.to_dict(with_metrics=False) for s in self.sections],
            "metrics": [m.to_dict() for m in self.metrics],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuditResult:
        """Rebuild a result from :meth:`to_dict` output."""
        by_section: dict[str, list[MetricValue]] = {}
        for rec in d.get("metrics", ()):
            m = MetricValue.from_dict(rec)
            by_section.setdefault(m.section, []).append(m)
        sections = tuple(
            SectionResult.from_dict(s, tuple(by_section.get(s["name"], ())))
            for s in d.get("sections", ())
        )
        return cls(
            schema_version=d["schema_version"],
            tool_version=d["tool_version"],
            created_at=d["created_at"],
            run=dict(d.get("run") or {}),
            model=dict(d.get("model") or {}),
            data=dict(d.get("data") or {}),
            sections=sections,
            card_info=dict(d.get("card_info") or {}),
            policy=dict(d.get("policy") or {}),
        )


def _prim(x: Any) -> Any:
    """Convert numpy scalars/arrays and tuples inside ``x`` to JSON-ready Python values."""
    if x is None or isinstance(x, (str, bool)):
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _prim(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_prim(v) for v in x]
    if hasattr(x, "tolist"):  # numpy array or scalar
        return _prim(x.tolist())
    if hasattr(x, "item"):
        return _prim(x.item())
    return str(x)
