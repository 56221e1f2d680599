"""Log an audit to MLflow: its figures as metrics, its files as artifacts, its verdict as tags.

::

    import auditkit.mlflow
    auditkit.mlflow.log_audit(result)              # the active run, or a new one
    auditkit.mlflow.log_audit(result, run_id=rid)  # a given run

The tracking store and the experiment are MLflow's own: ``MLFLOW_TRACKING_URI`` (or
``mlflow.set_tracking_uri``) and, for a new run, ``MLFLOW_EXPERIMENT_NAME`` /
``MLFLOW_EXPERIMENT_ID`` (or ``mlflow.set_experiment``). Needs the ``mlflow`` extra
(``pip install "auditkit[mlflow]"``: the MLflow client; a database store also needs SQLAlchemy
and Alembic, which full ``mlflow`` installs).

Metric names
------------
Every metric record with a value becomes one metric (records without a value are counted in the
tag ``auditkit.undefined_metrics``). Its name is made of dot-separated parts, always in this
order::

    [prefix.]section[.feature[.group]].name[.qualifier...]

- ``feature`` is the sensitive column; an intersection joins its columns with ``_x_``
  (``race_x_sex``), and ``group`` its values the same way (``Black_x_Female``);
- the qualifiers, each only when the record sets it: ``label_<class>``, the method of a
  disparity other than Fairlearn's default ``between_groups`` (``to_overall``,
  ``to_reference``), ``agg_<agg>``, ``attack_<attack>``, ``input_<input feature>``,
  ``fold_<n>``;
- each part is made safe for every MLflow store: accents are dropped (``é`` -> ``e``) and every
  run of characters other than ASCII letters, digits, ``_`` and ``-`` becomes one ``_`` (an empty
  part is ``_``).

So ``fairness.sex.demographic_parity_difference`` (between groups),
``fairness.sex.Female.selection_rate``, ``fairness.sex.Female.selection_rate_difference.
to_reference``, ``performance.accuracy``, ``performance.precision.label_1``. When two records
would get the same name, or names that differ only in case (values that differ only in
characters made safe, such as ``A/B`` and ``A B``, both ``A_B``; ``F`` and ``f``: some stores
compare names without case), every one of them gets ``-`` and the first 8 hexadecimal
digits of the SHA-256 of its identity (the record's identifying fields, as JSON) appended:
deterministic, independent of the records' order, and the same in every audit of the same
data. A name longer than MLflow's 250 characters is cut and gets the same suffix. The artifact
``metric_keys.json`` maps every name to its record's identity.

Tags (``auditkit.`` or ``auditkit.<prefix>.``): ``verdict`` (``fail``, ``warn``, ``pass`` or
``not_judged``: the card's verdict), ``verdict_word``, ``verdict_text``, ``policy``
(``passed``, ``failed`` or ``not_checked``), ``policy_source``, ``policy_failed_rules``,
``model``, ``model_kind``, ``model_sha256``, ``data``, ``data_sha256``, ``task``,
``sections``, ``created_at``, ``tool_version``, ``schema_version``, ``undefined_metrics``.

Artifacts, in the folder ``auditkit`` (``auditkit/<prefix>``): ``audit.json``, ``card.html``,
``card.md`` and ``metric_keys.json``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._core.text import one_line
from .exceptions import MissingDependencyError, ParameterError
from .result.json_io import write_json
from .result.records import AuditResult, MetricValue
from .result.summary import summarize

__all__ = ["LoggedAudit", "log_audit", "log_from_cli", "metric_keys", "require_mlflow"]

#: MLflow's longest metric, tag or param key.
MAX_KEY = 250
_TAG_VALUE = 5000  # characters kept of a tag value (MLflow stores 8,000)
_SAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")
_JOIN = "_x_"
#: The fields that identify a record (the audit diff's), hashed to disambiguate a name.
_IDENTITY = ("section", "name", "feature", "group", "label", "method", "attack", "fold",
             "input_feature", "agg")  # fmt: skip
_INSTALL = 'auditkit.mlflow needs MLflow: pip install "auditkit[mlflow]"'


@dataclass(frozen=True)
class LoggedAudit:
    """What :func:`log_audit` logged, and where.

    Attributes
    ----------
    run_id, experiment_id : str
    tracking_uri : str
    metrics : dict of str to float
        Every metric logged, by name.
    tags : dict of str to str
    artifacts : tuple of str
        The artifact paths, relative to the run's artifact root.
    started : bool
        Whether :func:`log_audit` started (and ended) the run.
    """

    run_id: str
    experiment_id: str
    tracking_uri: str
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: tuple[str, ...] = ()
    started: bool = False


def require_mlflow() -> Any:
    """Return the ``mlflow`` module, or raise :class:`MissingDependencyError` naming the extra."""
    try:
        import mlflow
    except ImportError as exc:
        raise MissingDependencyError(f"{_INSTALL} ({exc}).") from exc
    return mlflow


# --------------------------------------------------------------------------- metric names
def _safe(part: Any) -> str:
    """Make one name part safe for every MLflow store (ASCII letters, digits, ``_``, ``-``)."""
    text = unicodedata.normalize("NFKD", str(part))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _SAFE_RUN.sub("_", text) or "_"


def _identity(m: MetricValue, occurrence: int) -> str:
    d = m.to_dict()
    ident = {k: d.get(k) for k in _IDENTITY}
    if occurrence:
        ident["occurrence"] = occurrence
    return json.dumps(ident, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


def _base_name(m: MetricValue, prefix: str | None) -> str:
    parts = [] if prefix is None else [_safe(p) for p in prefix.split(".")]
    parts.append(_safe(m.section))
    if m.feature:
        parts.append(_JOIN.join(_safe(f) for f in m.feature))
        if m.group is not None:
            parts.append(_JOIN.join(_safe(g) for g in m.group))
    parts.append(_safe(m.name))
    if m.label is not None:
        parts.append("label_" + _safe(m.label))
    if m.method is not None and m.method != "between_groups":
        parts.append(_safe(m.method))
    for key, word in (("agg", "agg"), ("attack", "attack"), ("input_feature", "input")):
        v = getattr(m, key)
        if v is not None:
            parts.append(f"{word}_{_safe(v)}")
    if m.fold is not None:
        parts.append(f"fold_{m.fold}")
    return ".".join(parts)


def _suffixed(name: str, ident: str) -> str:
    tag = "-" + hashlib.sha256(ident.encode("utf-8")).hexdigest()[:8]
    return name[: MAX_KEY - len(tag)] + tag


def metric_keys(
    result: AuditResult, prefix: str | None = None
) -> dict[str, tuple[MetricValue, str]]:
    """Return the MLflow name of every metric record: ``{name: (record, identity)}``.

    Names follow the rule of this module's docstring; ``identity`` is the JSON of the record's
    identifying fields (what a disambiguating suffix hashes). Records without a value are
    included (:func:`log_audit` leaves them out). In the records' order.
    """
    seen: dict[str, int] = {}
    items = []
    for m in result.metrics:
        base = _base_name(m, prefix)
        ident = _identity(m, 0)
        n = seen.get(ident, 0)
        seen[ident] = n + 1
        if n:
            ident = _identity(m, n)  # the same record twice: its occurrence tells them apart
        items.append((base, m, ident))
    count: dict[str, int] = {}
    for base, _, _ in items:  # case folded: some stores (MySQL) compare names without case
        count[base.lower()] = count.get(base.lower(), 0) + 1
    out: dict[str, tuple[MetricValue, str]] = {}
    for base, m, ident in items:
        plain = count[base.lower()] == 1 and len(base) <= MAX_KEY
        name = base if plain else _suffixed(base, ident)
        while name in out:  # a suffixed name equal to another record's plain name
            ident += "+"
            name = _suffixed(base, ident)
        out[name] = (m, ident)
    return out


# ------------------------------------------------------------------------------------ tags
def _tags(result: AuditResult, ns: str, n_undefined: int) -> dict[str, str]:
    s = summarize(result.to_dict())
    pol = result.policy or {}
    checks = pol.get("checks") or []
    failed = [str(c.get("id")) for c in checks if c.get("status") != "passed"]
    if not checks and not pol:
        policy = "not_checked"
    else:
        policy = "passed" if pol.get("passed") else "failed"
    model, data = result.model, result.data
    tags = {
        "verdict": "not_judged" if s.verdict == "info" else s.verdict,
        "verdict_word": s.verdict_word,
        "verdict_text": s.verdict_text,
        "policy": policy,
        "policy_source": str(pol.get("source") or ""),
        "policy_failed_rules": ",".join(failed),
        "model": str(model.get("name") or ""),
        "model_kind": str(model.get("kind") or ""),
        "model_sha256": str(model.get("sha256") or ""),
        "data": str(data.get("name") or ""),
        "data_sha256": str(data.get("sha256") or ""),
        "task": str(data.get("task") or model.get("task") or ""),
        "sections": ",".join(f"{x.name}={x.status}" for x in result.sections),
        "created_at": result.created_at,
        "tool_version": result.tool_version,
        "schema_version": result.schema_version,
        "undefined_metrics": str(n_undefined),
    }
    return {f"{ns}.{k}": one_line(v, limit=_TAG_VALUE) for k, v in tags.items() if v != ""}


def _timestamp_ms(created_at: str) -> int:
    """Return the audit's time in milliseconds (the metrics' timestamp; now if unreadable)."""
    try:
        t = _dt.datetime.fromisoformat(created_at.replace("Z", "+00:00"))
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.UTC)
        return int(t.timestamp() * 1000)
    except (ValueError, AttributeError):
        return int(_dt.datetime.now(_dt.UTC).timestamp() * 1000)


# ------------------------------------------------------------------------------- artifacts
def _write_artifacts(
    result: AuditResult, folder: Path, keys: Mapping[str, tuple[MetricValue, str]],
    files: Mapping[str, Path] | None,
) -> list[str]:  # fmt: skip
    """Write (or copy from ``files``) audit.json, card.html, card.md and metric_keys.json."""
    import shutil

    from .report import render_html, render_markdown

    names = {"json": "audit.json", "html": "card.html", "markdown": "card.md"}
    given = dict(files or {})
    for kind, name in names.items():
        src = given.get(kind)
        if src is not None and Path(src).is_file():
            shutil.copyfile(src, folder / name)
        elif kind == "json":
            write_json(result, folder / name)
        elif kind == "html":
            (folder / name).write_text(render_html(result), encoding="utf-8")
        else:
            (folder / name).write_text(render_markdown(result), encoding="utf-8")
    mapping = {k: json.loads(ident) for k, (_, ident) in keys.items()}
    (folder / "metric_keys.json").write_text(
        json.dumps(mapping, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return [*names.values(), "metric_keys.json"]


# ------------------------------------------------------------------------------------- log
def _check_args(result: Any, run_id: Any, prefix: Any) -> None:
    if not isinstance(result, AuditResult):
        raise ParameterError(
            f"log_audit expects an AuditResult (auditkit.audit(...) or auditkit.load_result("
            f"'audit.json')); got {type(result).__name__}."
        )
    if run_id is not None and (not isinstance(run_id, str) or not run_id.strip()):
        raise ParameterError(f"run_id must be an MLflow run id (a string); got {run_id!r}.")
    if prefix is not None and (not isinstance(prefix, str) or not _safe(prefix).strip("_")):
        raise ParameterError(
            f"prefix must be a non-empty string of letters, digits, '_', '-' or '.'; "
            f"got {prefix!r}."
        )


def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def log_audit(
    result: AuditResult,
    run_id: str | None = None,
    *,
    artifacts: bool = True,
    prefix: str | None = None,
    files: Mapping[str, str | os.PathLike[str]] | None = None,
) -> LoggedAudit:
    """Log an audit to MLflow: metrics, the verdict and policy outcome as tags, and the files.

    Parameters
    ----------
    result : AuditResult
        The audit (``auditkit.audit(...)``, or ``auditkit.load_result("audit.json")``).
    run_id : str, default=None
        The run to log into. Without it, the active run (``with mlflow.start_run():``); without
        one, a new run in the experiment MLflow picks (``MLFLOW_EXPERIMENT_NAME``,
        ``MLFLOW_EXPERIMENT_ID``, ``mlflow.set_experiment``, else its default), ended when done.
    artifacts : bool, default=True
        Whether to log ``audit.json``, ``card.html``, ``card.md`` and ``metric_keys.json``.
    prefix : str, default=None
        Put before every metric name, and in the tags' and artifacts' names (``auditkit.<prefix>.
        verdict``, ``auditkit/<prefix>/``), to log several audits into one run (``"test"``,
        ``"validation"``).
    files : mapping, default=None
        Files already written (``{"json": ..., "html": ..., "markdown": ...}``, as
        :func:`auditkit.report.write_outputs` returns): logged as they are instead of rendered
        again.

    Returns
    -------
    LoggedAudit
        The run and what was logged. Metric names: see this module's docstring.

    Raises
    ------
    MissingDependencyError
        MLflow is not installed.
    ParameterError
        ``result`` is not an AuditResult, or ``run_id`` / ``prefix`` is malformed; a ``run_id``
        the tracking store does not know (the message names it).
    """
    _check_args(result, run_id, prefix)
    mlflow = require_mlflow()
    from mlflow.entities import Metric, RunTag
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    keys = metric_keys(result, prefix)
    stamp = _timestamp_ms(result.created_at)
    metrics = {k: float(m.value) for k, (m, _) in keys.items() if m.value is not None}
    ns = (
        "auditkit"
        if prefix is None
        else f"auditkit.{'.'.join(_safe(p) for p in prefix.split('.'))}"
    )
    tags = _tags(result, ns, len(keys) - len(metrics))
    started = False
    if run_id is not None:
        try:
            run = client.get_run(run_id)
        except MlflowException as exc:
            raise ParameterError(
                f"run_id {run_id!r} is not a run of the tracking store "
                f"{mlflow.get_tracking_uri()!r}: {one_line(exc, limit=300)}"
            ) from exc
    elif mlflow.active_run() is not None:
        run = client.get_run(mlflow.active_run().info.run_id)
    else:
        model = result.model.get("name") or result.data.get("name") or "audit"
        run = mlflow.start_run(run_name=f"auditkit {one_line(model, limit=80)}")
        started = True
    rid = run.info.run_id
    status = "FAILED"
    try:
        items = [Metric(k, v, stamp, 0) for k, v in metrics.items()]
        for chunk in _batches(items, 1000):
            client.log_batch(rid, metrics=list(chunk))
        for chunk in _batches([RunTag(k, v) for k, v in tags.items()], 100):
            client.log_batch(rid, tags=list(chunk))
        logged: list[str] = []
        if artifacts:
            where = ns.replace(".", "/")
            given = {k: Path(v) for k, v in (files or {}).items()}
            with tempfile.TemporaryDirectory(prefix="auditkit-mlflow-") as tmp:
                names = _write_artifacts(result, Path(tmp), keys, given)
                client.log_artifacts(rid, tmp, artifact_path=where)
            logged = [f"{where}/{n}" for n in names]
        status = "FINISHED"
    finally:
        if started:
            mlflow.end_run(status=status)
    return LoggedAudit(
        run_id=rid, experiment_id=str(run.info.experiment_id),
        tracking_uri=str(mlflow.get_tracking_uri()), metrics=metrics, tags=tags,
        artifacts=tuple(logged), started=started,
    )  # fmt: skip


def _display_uri(uri: str) -> str:
    """Return the tracking URI without a user name or password (it is printed)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(uri)
    except ValueError:
        return "(unreadable tracking URI)"
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def log_from_cli(result: AuditResult, files: Mapping[str, str | os.PathLike[str]]) -> str:
    """Log what ``auditkit audit --mlflow`` wrote; return the line the command prints.

    ``files`` are the outputs :func:`auditkit.report.write_outputs` wrote (logged as they are).
    The tracking store and experiment come from ``MLFLOW_TRACKING_URI`` and
    ``MLFLOW_EXPERIMENT_NAME`` (MLflow's defaults without them).
    """
    logged = log_audit(result, files=files)
    return (
        f"Logged to MLflow: run {logged.run_id} (experiment {logged.experiment_id}) at "
        f"{_display_uri(logged.tracking_uri)}: {len(logged.metrics):,} metrics, verdict "
        f"{logged.tags.get('auditkit.verdict_word', '?')}"
    )
