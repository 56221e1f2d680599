"""The orchestrator: validate every parameter, prepare the inputs, run sections, build the result.

``audit`` and ``audit_predictions`` check their plain parameters and options first
(:mod:`auditkit.inputs.settings`), then prepare their inputs in :mod:`auditkit.inputs` (a model
scored once, a log of decisions, or a log reduced to count tables), run the sections, and
build the :class:`AuditResult`, with a policy's verdict when one is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._core.limits import DEFAULT_MAX_CLASSES, DEFAULT_MAX_GROUPS
from ._version import __version__
from .exceptions import AuditkitError, SectionError
from .inputs.context import AuditConfig, AuditContext
from .inputs.prepare import Prepared
from .inputs.settings import check_settings
from .result.clock import created_at as created_at
from .result.records import SCHEMA_VERSION, AuditResult, SectionResult
from .runtime.devices import device_pool

__all__ = ["audit", "audit_predictions"]


def _settings(func: str, stacklevel: int, **params: Any) -> AuditConfig:
    """Every plain parameter checked, the sections (and their options) registered first."""
    from .sections.registry import resolve_sections  # registers every section and its options

    params["sections"] = resolve_sections(params["sections"], func)
    return check_settings(func=func, stacklevel=stacklevel + 1, **params)


def run_sections(ctx: AuditContext) -> tuple[SectionResult, ...]:
    """Run the configured sections in order; a failing section is reported, not fatal."""
    from ._core.progress import progress
    from .sections.registry import SECTIONS

    results = []
    timings = bool(ctx.option("timings", False))
    for name in progress(ctx.config.sections, enabled=ctx.config.show_progress, desc="audit"):
        section = SECTIONS.get(name)
        reason = ctx.missing(tuple(getattr(section, "requires", ())))
        if (
            reason is None
            and ctx.counts is not None
            and not getattr(section, "supports_counts", False)
        ):
            reason = (
                f"needs the rows of the log, which was reduced to count tables in "
                f"{ctx.counts.engine}; audit the rows in memory to run it (reduce=False, or "
                "--in-memory on the command line)"
            )
        t0 = time.perf_counter()
        if reason is not None:
            res = SectionResult(name=name, status="skipped", reason=reason)
        else:
            try:
                res = section.run(ctx)
            except AuditkitError:
                raise
            except Exception as exc:  # noqa: BLE001 - a broken section must not stop the audit
                if ctx.config.strict:
                    raise SectionError(f"Section {name!r} failed: {exc}") from exc
                res = SectionResult(
                    name=name, status="failed", reason=f"{type(exc).__name__}: {exc}"
                )
        if timings:
            res = SectionResult(**{**res.__dict__, "duration_s": time.perf_counter() - t0})
        results.append(res)
    return tuple(results)


def _finish(prepared: Prepared, *, policy: Any, card_info: Any) -> AuditResult:
    """Run the sections on the prepared inputs; return the result (with the policy's verdict)."""
    try:
        ctx = prepared.context
        sections = run_sections(ctx)
    finally:
        prepared.release()
    cfg = ctx.config
    run = {
        "seed": cfg.random_state,
        "n_boot": cfg.n_boot,
        "ci_level": cfg.ci_level,
        "sections": list(cfg.sections),
        "min_group_size": cfg.min_group_size,
        "command": cfg.provenance.get("command"),
    }
    info: dict[str, Any] = {}
    if card_info is not None:
        from .report._card_info import load_card_info  # type: ignore[import-not-found]

        info = load_card_info(card_info)
    result = AuditResult(
        schema_version=SCHEMA_VERSION,
        tool_version=__version__,
        created_at=created_at(),
        run=run,
        model=prepared.model_info,
        data=prepared.data_info,
        sections=sections,
        card_info=info,
    )
    if policy is not None:
        from .policy import Policy, check

        pol = policy if isinstance(policy, Policy) else Policy.from_toml(policy)
        verdict = check(result, pol)
        result = AuditResult(**{**result.__dict__, "policy": verdict.to_dict()})
    return result


# ------------------------------------------------------------------------------ entry points
# a model scored on several devices starts its processes once per audit, not once per call
@device_pool()
def audit(
    model: Any,
    X: Any = None,
    y: Any = None,
    *,
    sensitive_features: Any = None,
    sections: Sequence[str] | str | None = None,
    train: tuple[Any, Any] | None = None,
    policy: Any = None,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    random_state: Any = 0,
    show_progress: bool = False,
    pos_label: Any = None,
    min_group_size: int = 30,
    strict: bool = False,
    card_info: Any = None,
    options: Mapping[str, Any] | None = None,
    custom_metrics: Mapping[str, Callable[..., Any]] | None = None,
    label_names: Mapping[Any, str] | Sequence[str] | None = None,
    favourable: Any = None,
    reference_groups: Mapping[str, Any] | None = None,
    sample_weight: Any = None,
    max_groups: int = DEFAULT_MAX_GROUPS,
    max_classes: int = DEFAULT_MAX_CLASSES,
    provenance: Mapping[str, str] | None = None,
    task: str = "auto",
) -> AuditResult:
    """Audit a trained model on evaluation data and return the result.

    Parameters
    ----------
    model : LoadedModel, ModelAdapter, estimator, torch.nn.Module, callable or path
        A checkpoint loaded with :func:`auditkit.load_checkpoint`, a model opened with
        :func:`auditkit.load_model` (Hugging Face, ONNX, skops, pickle, your LightningModule),
        or the path of either (opened with the default options; a pickle is refused), a
        fitted scikit-learn estimator or pipeline, a torch module returning logits, a callable
        returning probabilities, or anything else :func:`auditkit.wrap` takes.
    X : DataFrame, array-like, or sequence of str, default=None
        Evaluation inputs. None for a reference checkpoint: its dataset's test split.
    y : array-like of shape (n_samples,), default=None
        True labels (values of the model's classes, or class indices).
    sensitive_features : str, list of str, Series, DataFrame, dict or array, default=None
        Column names of ``X`` or values aligned with it. For a reference checkpoint, defaults to
        its dataset's declared sensitive columns.
    sections : list of str, default=None
        Sections to run (default: all registered, in the canonical order).
    train : tuple (X_train, y_train), default=None
        Training data (privacy and stability). For a reference checkpoint audited on its own
        dataset (``X=None``), defaults to the training rows its weights were fitted on, as the
        checkpoint records them (the whole training split for checkpoints that do not).
    policy : Policy or path, default=None
        Thresholds checked against the result; the verdict is stored in ``result.policy``.
    n_boot : int, default=1000
        Bootstrap resamples for confidence intervals (0 disables intervals).
    ci_level : float, default=0.95
        Confidence level of the intervals.
    random_state : int, Generator or None, default=0
        Seed of every random step; same seed, same JSON.
    show_progress : bool, default=False
        Show progress bars on stderr.
    pos_label : label, default=None
        The positive class of a binary task, in Fairlearn's meaning for the metrics (default:
        the dataset's, else 1 for 0/1 labels, else the last class). Matched by value across
        int, float and bool (``1`` finds ``1.0`` and ``True``), then by text.
    min_group_size : int, default=30
        Groups smaller than this are flagged ``too_small`` (never dropped).
    strict : bool, default=False
        Raise :class:`SectionError` when a section fails, instead of reporting it.
    card_info : dict or path, default=None
        Qualitative model-card fields (intended use, limitations...).
    options : dict, default=None
        Section options (for example ``{"cv": 5, "explain_rows": [0, 5]}``), checked before
        the model scores anything: an unknown key or a bad value raises
        :class:`ParameterError` naming it (``auditkit.inputs.options.known_options()`` lists
        them all).
    custom_metrics : dict of str to callable, default=None
        Your own metrics ``f(y_true, y_pred) -> float``, computed per group and per
        intersection through Fairlearn's ``MetricFrame`` in the fairness section (binary
        labels as 0/1 with 1 the positive class; multiclass as class indices).
    label_names : dict of label to str, or list of str, default=None
        A reader's name for each class (``{0: "low risk", 1: "high risk"}``; keys matched like
        ``pos_label``); findings speak in these words. Classes left out keep their value.
    favourable : label or str, default=None
        The outcome that benefits the person (a label value or a name from ``label_names``);
        the four-fifths rule and the words of findings use it. Default: the positive class.
    reference_groups : dict of str to group, default=None
        The group each sensitive feature is compared with (``{"race": "B"}``); a feature not
        named takes its largest group. The feature must be a sensitive feature and the group
        must occur.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative, finite weight of each row (Fairlearn's
        ``sample_params={"sample_weight": ...}``); not all zero.
    max_groups : int, default=1000
        Ceiling on the distinct groups of one sensitive feature
        (:data:`auditkit._core.limits.DEFAULT_MAX_GROUPS`); an intersection may hold 5 times as
        many non-empty groups. Checked before any per-group work.
    max_classes : int, default=100
        Ceiling on the distinct classes of the target.
    provenance : dict of str to str, default=None
        Where the audit came from, recorded in the result: ``command`` (the command line, in
        ``run.command``) and ``data_name`` (the data's name, for a log of decisions). Other
        keys are refused.
    task : {"auto", "classification", "regression"}, default="auto"
        What the model predicts. ``"auto"``: a scikit-learn regressor (or a pipeline ending
        in one), a Hugging Face model whose ``problem_type`` is ``"regression"`` and an ONNX
        regressor graph are regressions; a torch, ONNX or Lightning model with one output, or
        a callable, is a regression when ``y`` is continuous (numbers with fractions, more
        than 10 distinct values), a classifier otherwise; a continuous ``y`` with a model that
        only classifies is refused. A regression audit's ``y`` holds finite numbers, its
        ``data`` and ``model`` blocks say ``task: "regression"``, and ``pos_label``,
        ``label_names`` and ``favourable`` do not apply (the target's unit is the option
        ``target_unit``).

    Returns
    -------
    AuditResult

    Raises
    ------
    ParameterError
        For a bad parameter or option, before the model scores anything.
    DataValidationError
        When inputs are inconsistent; the message names the column, value or file.
    """
    from .inputs.model_inputs import prepare_model

    config = _settings(
        "audit", 3, sections=sections, n_boot=n_boot, ci_level=ci_level,
        random_state=random_state, min_group_size=min_group_size, show_progress=show_progress,
        strict=strict, options=options, custom_metrics=custom_metrics, provenance=provenance,
        max_groups=max_groups, max_classes=max_classes, task=task,
    )  # fmt: skip
    prepared = prepare_model(
        config, model, X, y, train=train, sensitive_features=sensitive_features,
        pos_label=pos_label, label_names=label_names, favourable=favourable,
        reference_groups=reference_groups, sample_weight=sample_weight, task=task,
    )  # fmt: skip
    return _finish(prepared, policy=policy, card_info=card_info)


def audit_predictions(
    y_true: Any = None,
    y_pred: Any = None,
    *,
    y_score: Any = None,
    sensitive_features: Any = None,
    data: Any = None,
    sections: Sequence[str] | str | None = None,
    policy: Any = None,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    random_state: Any = 0,
    show_progress: bool = False,
    pos_label: Any = None,
    min_group_size: int = 30,
    strict: bool = False,
    card_info: Any = None,
    options: Mapping[str, Any] | None = None,
    custom_metrics: Mapping[str, Callable[..., Any]] | None = None,
    reduce: bool | None = None,
    memory_limit: str | None = None,
    label_names: Mapping[Any, str] | Sequence[str] | None = None,
    favourable: Any = None,
    reference_groups: Mapping[str, Any] | None = None,
    sample_weight: Any = None,
    label_map: Mapping[Any, Any] | None = None,
    max_groups: int = DEFAULT_MAX_GROUPS,
    max_classes: int = DEFAULT_MAX_CLASSES,
    provenance: Mapping[str, str] | None = None,
    task: str = "auto",
) -> AuditResult:
    """Audit a log of decisions with no model (the compliance case).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or str
        True labels and decisions; column names of ``data`` when ``data`` is given. A
        ``y_pred`` of non-integer numbers that are not labels (scores) is refused: pass them
        as ``y_score``. A continuous ``y_true`` makes the audit a regression (see ``task``).
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes), or str, default=None
        Scores: the positive-class probability (binary) or class probabilities.
    sensitive_features : column name(s), Series, DataFrame, dict or array
        Required: the groups to compare.
    data : DataFrame, path, glob, list of paths, or CountTable, default=None
        When given, the other arguments name its columns (as in seaborn). A pandas
        DataFrame is audited row by row. Parquet/CSV files and globs of them (read by DuckDB,
        out of core), Polars (eager or lazy) and PyArrow frames (through narwhals), DuckDB
        relations and PySpark DataFrames are reduced inside their own engine to a small table
        of counts and score sums (:func:`auditkit.scale.reduce_predictions`), from which the
        performance and fairness sections compute the same values as from rows (ROC AUC from
        a histogram of 16,384 score bins, with its largest possible error stated; the log
        loss, which costs two logarithms per row, only with ``options={"log_loss": True}``).
        A :class:`auditkit.scale.CountTable` reduced earlier is audited as it is.
    pos_label : label, default=None
        The positive class, in Fairlearn's meaning for the metrics (default: 1 for 0/1 labels,
        True for booleans, else the last class). Matched by value across int, float and bool
        (``1`` finds ``1.0`` and ``True``), then by text. A log whose labels are all one value
        gets its second class as Fairlearn does (0/1 labels: the other of 0 and 1).
    custom_metrics : dict of str to callable, default=None
        Your own metrics ``f(y_true, y_pred) -> float`` for the fairness section (see
        :func:`audit`); they need the rows (``reduce=False``).
    reduce : bool, default=None
        Reduce ``data`` to counts inside its engine. None: yes, except for a pandas DataFrame.
        False reads the rows into memory (pandas) and audits them row by row, which the
        mitigation what-if, ``custom_metrics`` and the stability section need.
    memory_limit : str, default=None
        DuckDB's memory budget while it reads files (``"2GB"``); it spills to disk beyond.
    label_names, favourable, reference_groups, max_groups, max_classes, options, provenance
        As in :func:`audit`.
    sample_weight : array-like of shape (n_samples,) or str, default=None
        Non-negative, finite weight of each row, or the name of a column of ``data`` holding
        them (a column name is required when ``data`` is reduced out of core).
    label_map : dict, default=None
        Renames ``y_pred``'s labels onto ``y_true``'s (``{"Yes": "yes", "No": "no"}``). Without
        it, labels that differ only in case, spaces or punctuation, or two label sets that
        share no value, are refused with both sets shown.
    task : {"auto", "classification", "regression"}, default="auto"
        ``"auto"``: a log whose ``y_true`` is continuous (numbers with fractions, more than 10
        distinct values), or whose ``y_pred`` is continuous and ``y_true`` holds more than 10
        distinct numbers, is a regression; any other log a classification (a log reduced in
        its engine is judged from its first 10,000 rows). ``"classification"`` refuses a
        continuous ``y_true``. A regression takes no ``y_score``, ``pos_label``,
        ``label_names``, ``favourable`` or ``label_map``; its target's name is the ``y_true``
        column's (else ``"target"``) and its unit the option ``target_unit``.

    Returns
    -------
    AuditResult
        Sections that need a model are "skipped" with the reason; on the reduced path, so are
        those that need rows.
    """
    from .inputs.log import prepare_log

    config = _settings(
        "audit_predictions", 2, sections=sections, n_boot=n_boot, ci_level=ci_level,
        random_state=random_state, min_group_size=min_group_size, show_progress=show_progress,
        strict=strict, options=options, custom_metrics=custom_metrics, provenance=provenance,
        max_groups=max_groups, max_classes=max_classes, task=task,
    )  # fmt: skip
    prepared = prepare_log(
        config, y_true, y_pred, y_score=y_score, sensitive_features=sensitive_features,
        data=data, reduce=reduce, memory_limit=memory_limit, pos_label=pos_label,
        label_names=label_names, favourable=favourable, reference_groups=reference_groups,
        sample_weight=sample_weight, label_map=label_map, task=task,
    )  # fmt: skip
    return _finish(prepared, policy=policy, card_info=card_info)
