"""The orchestrator: validate inputs, wrap the model, build the context, run sections."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ._core.limits import DEFAULT_MAX_CLASSES, DEFAULT_MAX_GROUPS
from ._core.validation import (
    PARAM_MSG,
    check_columns,
    check_float_open,
    check_int,
    check_no_missing,
    check_param,
    check_probabilities,
    check_same_length,
    format_available,
    seed_int,
    to_1d,
)
from ._version import __version__
from .adapters import wrap
from .data._schema import DatasetSchema
from .exceptions import AuditkitError, DataValidationError, ParameterError, SectionError
from .inputs.context import (
    SECTION_ORDER,
    SECTIONS,
    AuditConfig,
    AuditContext,
    Predictions,
    TrainData,
    predict_from_proba,
)
from .inputs.encode import (
    check_max,
    check_reference_groups,
    check_sample_weight,
    check_target,
    encode_labels,
    factorize,
    log_labels,
    outcome_semantics,
    sensitive_frame,
)
from .metrics.engine import forget_codes
from .result.clock import created_at
from .result.records import SCHEMA_VERSION, AuditResult, SectionResult
from .runtime.devices import device_pool

__all__ = ["audit", "audit_predictions"]


# ----------------------------------------------------------------------------------- helpers
def resolve_sensitive(
    sensitive_features: Any, X: Any, n: int, *, schema: DatasetSchema | None, where: str = "X",
    max_groups: int = DEFAULT_MAX_GROUPS, func: str = "audit",
) -> Any:  # fmt: skip
    """Return a DataFrame of sensitive columns (string values) aligned with the rows, or None.

    Accepts column names of ``X`` (or of the dataset's derived columns), a Series, a DataFrame,
    a dict of arrays, or a 1-d/2-d array (as Fairlearn does). Vectorised, with the ceiling on
    groups checked first: see :func:`auditkit.inputs.encode.sensitive_frame`.
    """
    out = sensitive_frame(
        sensitive_features, X, n, schema=schema, where=where, max_groups=max_groups, func=func
    )
    return None if out is None else out.frame


def _label_info(
    preds: Predictions, full_labels: Mapping[str, Any], reference: Mapping[str, str],
    weight_source: str | None,
) -> dict[str, Any]:  # fmt: skip
    """Describe the outcome semantics, references and weights of an audit (data block)."""
    info: dict[str, Any] = {}
    if preds.label_names is not None:
        info["label_names"] = dict(zip(preds.classes, preds.label_names, strict=True))
    fav = preds.favourable_index
    if fav is not None:
        info["favourable_class"] = preds.classes[fav]
    if reference:
        info["reference_groups"] = dict(reference)
    if weight_source is not None:
        info["sample_weight"] = weight_source
    if full_labels:
        # long group labels are shortened everywhere in the audit; their full text, once
        info["group_labels"] = {f: dict(m) for f, m in full_labels.items()}
    return info


def data_fingerprint(*parts: Any) -> str:
    """Return a stable sha256 of inputs (DataFrames, arrays, sequences of strings)."""
    import pandas as pd

    h = hashlib.sha256()
    for p in parts:
        if p is None:
            h.update(b"none")
        elif isinstance(p, pd.DataFrame):
            h.update(",".join(map(str, p.columns)).encode())
            h.update(pd.util.hash_pandas_object(p, index=False).to_numpy().tobytes())
        elif isinstance(p, pd.Series):
            h.update(pd.util.hash_pandas_object(p, index=False).to_numpy().tobytes())
        else:
            arr = np.asarray(p)
            if arr.dtype == object:
                h.update("\x1f".join(map(str, arr.ravel().tolist())).encode())
            else:
                h.update(str(arr.dtype).encode() + str(arr.shape).encode())
                h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _resolve_sections(sections: Any, func: str) -> tuple[str, ...]:
    from . import sections as _sections_pkg  # noqa: F401 - registers the sections

    if sections is None:
        return tuple(s for s in SECTION_ORDER if s in SECTIONS) + tuple(
            s for s in SECTIONS.names() if s not in SECTION_ORDER
        )
    if isinstance(sections, str):
        sections = [s.strip() for s in sections.split(",") if s.strip()]
    names = list(dict.fromkeys(sections))
    if not names:
        raise ParameterError(
            PARAM_MSG.format(
                param="sections", func=func, expected="a non-empty list", got=sections
            )
        )
    for s in names:
        SECTIONS.get(s)
    order = {s: i for i, s in enumerate(SECTION_ORDER)}
    return tuple(sorted(names, key=lambda s: order.get(s, len(order))))


def _config(
    *, sections: tuple[str, ...], n_boot: int, ci_level: float, random_state: Any,
    min_group_size: int, show_progress: bool, strict: bool, options: Mapping[str, Any] | None,
    func: str, reference_groups: Mapping[str, str] | None = None,
) -> AuditConfig:  # fmt: skip
    return AuditConfig(
        reference_groups=dict(reference_groups or {}),
        sections=sections,
        n_boot=check_int(n_boot, param="n_boot", func=func, low=0),
        ci_level=check_float_open(ci_level, param="ci_level", func=func, low=0.0, high=1.0),
        random_state=seed_int(random_state, func=func),
        min_group_size=check_int(min_group_size, param="min_group_size", func=func, low=1),
        show_progress=bool(show_progress),
        strict=bool(strict),
        options=dict(options or {}),
    )


def _with_custom(
    options: Mapping[str, Any] | None, custom_metrics: Any, func: str
) -> Mapping[str, Any] | None:
    """Return ``options`` with ``custom_metrics`` added (validated: names to callables)."""
    if custom_metrics is None:
        return options
    ok = isinstance(custom_metrics, Mapping) and all(
        isinstance(k, str) and k and callable(v) for k, v in custom_metrics.items()
    )
    check_param(
        ok, param="custom_metrics", func=func,
        expected="a dict of metric name -> callable f(y_true, y_pred)", got=custom_metrics,
    )  # fmt: skip
    return {**dict(options or {}), "custom_metrics": dict(custom_metrics)}


def run_sections(ctx: AuditContext) -> tuple[SectionResult, ...]:
    """Run the configured sections in order; a failing section is reported, not fatal."""
    from ._core.progress import progress

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


def _finish(
    ctx: AuditContext, *, model_info: dict[str, Any], data_info: dict[str, Any],
    policy: Any, card_info: Any,
) -> AuditResult:  # fmt: skip
    sections = run_sections(ctx)
    cfg = ctx.config
    run = {
        "seed": cfg.random_state,
        "n_boot": cfg.n_boot,
        "ci_level": cfg.ci_level,
        "sections": list(cfg.sections),
        "min_group_size": cfg.min_group_size,
        "command": ctx.option("command"),
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
        model=model_info,
        data=data_info,
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
) -> AuditResult:
    """Audit a trained model on evaluation data and return the result.

    Parameters
    ----------
    model : LoadedModel, estimator, torch.nn.Module, callable or path
        A checkpoint loaded with :func:`auditkit.load_checkpoint` (or its path), a fitted
        scikit-learn estimator or pipeline, a torch module returning logits, or a callable
        returning probabilities.
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
        Section options (for example ``{"cv": 5, "explain_rows": [0, 5]}``).
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

    Returns
    -------
    AuditResult

    Raises
    ------
    DataValidationError
        When inputs are inconsistent; the message names the column, value or file.
    """
    func = "audit"
    max_groups = check_max(max_groups, param="max_groups", func=func)
    max_classes = check_max(max_classes, param="max_classes", func=func)
    from .models.files import open_model

    adapter = wrap(open_model(model))
    schema = adapter.schema
    ds_name = schema.name if schema is not None else None
    extra_data: dict[str, Any] = {}
    if X is None:
        loaded = getattr(adapter, "loaded", None)
        if loaded is None or schema is None:
            raise ParameterError(
                "X and y are required unless the model is a reference checkpoint "
                "(which is then audited on its dataset's test split)."
            )
        from .data import load_dataset

        ds = load_dataset(schema.name)
        X, y = ds.test.X, ds.test.y
        extra_data = {"split": "test", "dataset_sha256": ds.sha256}
        if train is None:
            from ._core.rows import reference_train

            train, extra_data["train_rows"] = reference_train(loaded, ds)
    if y is None:
        raise ParameterError("y is required when X is given.")
    y_arr = to_1d(y, name="y")
    n = check_same_length(X=X, y=y_arr)
    if n == 0:
        raise DataValidationError("The evaluation data has no rows.")
    # the groups first: a column of IDs is refused before the model scores anything
    sens_in = sensitive_frame(
        sensitive_features, X, n, schema=schema, where="X", max_groups=max_groups, func=func
    )
    sens = None if sens_in is None else sens_in.frame
    weights = None if sample_weight is None else _row_weights(sample_weight, n, func)
    classes = adapter.classes_
    if adapter.kind == "checkpoint" and schema is not None and y_arr.dtype.kind in "OUS":
        classes = np.asarray(schema.class_names, dtype=object)  # labels given by class name
    if classes is None and schema is not None:
        classes = (
            np.arange(schema.n_classes)
            if np.asarray(y_arr).dtype.kind in "iu"
            else np.asarray(schema.class_names, dtype=object)
        )
    uniq = None
    if classes is None:
        check_no_missing(y_arr, name="y")
        _, uniq = factorize(y_arr, name="y")
        check_target(uniq, name="y", func=func)
        if len(uniq) > max_classes:
            raise DataValidationError(
                f"y holds {len(uniq):,} distinct labels, more than the ceiling of "
                f"{max_classes:,} classes (max_classes={max_classes}); pass "
                f"max_classes={len(uniq)} if the task really has that many classes."
            )
    proba = _model_proba(adapter, X)
    if len(proba) != n:
        raise DataValidationError(f"The model returned {len(proba)} predictions for {n} rows.")
    if classes is None:
        assert uniq is not None
        classes = (
            uniq
            if len(uniq) == proba.shape[1]
            else (np.arange(proba.shape[1]) if y_arr.dtype.kind in "iub" else None)
        )
        if classes is None:
            raise DataValidationError(
                f"The model returns {proba.shape[1]} probability columns but y has "
                f"{len(uniq)} distinct labels; pass y as class indices 0..{proba.shape[1] - 1}."
            )
    codes, names, values = encode_labels(y_arr, classes, name="y")
    if (
        schema is not None
        and len(schema.class_names) == len(names)
        and adapter.kind in ("checkpoint",)
    ):
        names = tuple(schema.class_names)
    if proba.shape[1] != len(names):
        raise DataValidationError(
            f"The model returns {proba.shape[1]} probability columns but has {len(names)} classes."
        )
    if len(names) > max_classes:
        raise DataValidationError(
            f"The model has {len(names):,} classes, more than the ceiling of {max_classes:,} "
            f"(max_classes={max_classes}); pass max_classes={len(names)} to audit it."
        )
    pos, fav, label_words = outcome_semantics(
        values, names, pos_label=pos_label, label_names=label_names, favourable=favourable,
        default_pos=schema.positive_class if schema is not None else None, func=func,
    )  # fmt: skip
    preds = Predictions(
        y_true=codes,
        y_pred=predict_from_proba(proba),
        y_proba=proba,
        classes=names,
        pos_label=pos,
        has_scores=adapter.has_scores,
        sample_weight=weights,
        favourable=fav,
        label_names=label_words,
    )
    reference = _reference(reference_groups, sens, sens_in, func)
    train_data = None
    if train is not None:
        if not (isinstance(train, (tuple, list)) and len(train) == 2):
            raise ParameterError(
                PARAM_MSG.format(
                    param="train",
                    func=func,
                    expected="a tuple (X_train, y_train)",
                    got=type(train).__name__,
                )
            )
        ytr = to_1d(train[1], name="y_train")
        check_same_length(X_train=train[0], y_train=ytr)
        train = (_align_train(X, train[0]), ytr)
        tr_codes, _, _ = encode_labels(ytr, values, name="y_train")
        tr_sens = None
        if sens is not None:
            try:
                tr_sens = resolve_sensitive(
                    list(sens.columns)
                    if sensitive_features is None
                    or isinstance(sensitive_features, (str, list, tuple))
                    else None,
                    train[0],
                    len(ytr),
                    schema=schema,
                    where="X_train",
                    max_groups=max_groups,
                    func=func,
                )
            except (DataValidationError, ParameterError):
                tr_sens = None
        train_data = TrainData(X=train[0], y=tr_codes, sensitive=tr_sens)
    cfg = _config(
        sections=_resolve_sections(sections, func), n_boot=n_boot, ci_level=ci_level,
        random_state=random_state, min_group_size=min_group_size, show_progress=show_progress,
        strict=strict, options=_with_custom(options, custom_metrics, func), func=func,
        reference_groups=reference,
    )  # fmt: skip
    ctx = AuditContext(
        config=cfg, predictions=preds, model=adapter, X=X, sensitive=sens, train=train_data,
        schema=schema,
    )  # fmt: skip
    data_info = {
        "name": ds_name or "user data",
        "n_rows": n,
        "sha256": data_fingerprint(X, y_arr if y_arr.dtype != object else codes, weights),
        "sensitive_features": list(sens.columns) if sens is not None else [],
        "task": preds.task,
        "classes": list(names),
        "positive_class": names[preds.pos_label] if preds.pos_label is not None else None,
        "modality": schema.modality if schema is not None else "tabular",
        "n_train_rows": len(train_data.y) if train_data is not None else None,
        **extra_data,
        **_label_info(
            preds,
            sens_in.full_labels if sens_in is not None else {},
            reference,
            None if weights is None else "sample_weight (array)",
        ),
    }
    if schema is not None:
        data_info["schema"] = schema.to_dict()
    try:
        return _finish(
            ctx, model_info=adapter.describe(), data_info=data_info, policy=policy,
            card_info=card_info,
        )  # fmt: skip
    finally:
        forget_codes(sens)  # the group codes shared with the engine live for one audit


def _align_train(X: Any, X_train: Any) -> Any:
    """Return ``X_train`` with the columns of ``X`` in its order, or refuse what cannot match.

    The privacy and stability sections score and refit the model on the training rows: a column
    the evaluation data lacks (or has extra) would fail there, deep inside the estimator.
    """
    cols, tr_cols = getattr(X, "columns", None), getattr(X_train, "columns", None)
    if cols is not None and tr_cols is not None:
        want, have = list(cols), list(tr_cols)
        if want == have:
            return X_train
        missing = [c for c in want if c not in set(have)]
        extra = [c for c in have if c not in set(want)]
        if not missing and not extra and len(set(have)) == len(have):
            return X_train[want]
        parts = []
        if missing:
            parts.append(f"lacks {_names(missing)}")
        if extra:
            parts.append(f"has {_names(extra)} that X does not")
        if not parts:
            parts.append("repeats a column name")
        raise DataValidationError(
            "The training data (train=(X_train, y_train)) must have the columns of X; X_train "
            + " and ".join(parts)
            + "."
        )
    shape, tr_shape = getattr(X, "shape", None), getattr(X_train, "shape", None)
    if shape is not None and tr_shape is not None and tuple(shape[1:]) != tuple(tr_shape[1:]):
        raise DataValidationError(
            f"The training data's rows have shape {tuple(tr_shape[1:])}, X's rows "
            f"{tuple(shape[1:])}: train=(X_train, y_train) must be shaped like X."
        )
    return X_train


def _names(cols: list[Any]) -> str:
    word = "columns" if len(cols) > 1 else "column"
    return f"{word} {format_available([repr(str(c)[:60]) for c in cols], limit=5)}"


def _row_weights(sample_weight: Any, n: int, func: str) -> np.ndarray:
    """``sample_weight`` given as values aligned with the rows."""
    if isinstance(sample_weight, str):
        raise ParameterError(
            PARAM_MSG.format(
                param="sample_weight", func=func,
                expected="an array of one weight per row (a column name only with "
                "audit_predictions(data=...))",
                got=sample_weight,
            )
        )  # fmt: skip
    return check_sample_weight(sample_weight, n, func=func)


def _reference(reference_groups: Any, sens: Any, sens_in: Any, func: str) -> dict[str, str]:
    """Validate ``reference_groups`` against the sensitive frame of a row audit."""
    if reference_groups is None:
        return {}
    if sens is None:
        raise ParameterError(
            f"reference_groups of {func} names {list(reference_groups)!r} but the audit has "
            "no sensitive features."
        )
    return check_reference_groups(reference_groups, sens_in.groups, sens_in.full_labels, func=func)


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
) -> AuditResult:
    """Audit a log of decisions with no model (the compliance case).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or str
        True labels and decisions; column names of ``data`` when ``data`` is given. A
        ``y_pred`` of non-integer numbers that are not labels (scores) is refused: pass them
        as ``y_score``. A continuous ``y_true`` is refused (regression audits do not exist yet).
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
    label_names, favourable, reference_groups, max_groups, max_classes
        As in :func:`audit`.
    sample_weight : array-like of shape (n_samples,) or str, default=None
        Non-negative, finite weight of each row, or the name of a column of ``data`` holding
        them (a column name is required when ``data`` is reduced out of core).
    label_map : dict, default=None
        Renames ``y_pred``'s labels onto ``y_true``'s (``{"Yes": "yes", "No": "no"}``). Without
        it, labels that differ only in case, spaces or punctuation, or two label sets that
        share no value, are refused with both sets shown.

    Returns
    -------
    AuditResult
        Sections that need a model are "skipped" with the reason; on the reduced path, so are
        those that need rows.
    """
    func = "audit_predictions"
    import pandas as pd

    max_groups = check_max(max_groups, param="max_groups", func=func)
    max_classes = check_max(max_classes, param="max_classes", func=func)
    source_name = "the predictions"
    weight_source: str | None = None
    if data is not None:
        from .scale._reduce import data_kind

        kind = data_kind(data)
        if reduce is not None and not isinstance(reduce, bool):
            raise ParameterError(
                PARAM_MSG.format(
                    param="reduce", func=func, expected="True, False or None", got=reduce
                )
            )
        if kind == "counts" or (reduce if reduce is not None else kind != "pandas"):
            return _audit_reduced(
                data, y_true=y_true, y_pred=y_pred, y_score=y_score,
                sensitive_features=sensitive_features, sections=sections, policy=policy,
                n_boot=n_boot, ci_level=ci_level, random_state=random_state,
                show_progress=show_progress, pos_label=pos_label,
                min_group_size=min_group_size, strict=strict, card_info=card_info,
                options=options, custom_metrics=custom_metrics, memory_limit=memory_limit,
                label_names=label_names, favourable=favourable,
                reference_groups=reference_groups, sample_weight=sample_weight,
                label_map=label_map, max_groups=max_groups, max_classes=max_classes,
            )  # fmt: skip
        if kind == "path":
            from .scale._duckdb import read_rows

            wanted = [c for c in (y_true, y_pred, y_score, sample_weight) if isinstance(c, str)]
            sf = [sensitive_features] if isinstance(sensitive_features, str) else (
                list(sensitive_features) if isinstance(sensitive_features, (list, tuple))
                else []
            )  # fmt: skip
            data, source_name = read_rows(data, [*wanted, *[c for c in sf if isinstance(c, str)]])
        elif not isinstance(data, pd.DataFrame):
            data = _to_pandas(data)
        cols = [c for c in (y_true, y_pred, y_score, sample_weight) if isinstance(c, str)]
        check_columns(cols, list(data.columns), where="the predictions")
        y_true = data[y_true] if isinstance(y_true, str) else y_true
        y_pred = data[y_pred] if isinstance(y_pred, str) else y_pred
        y_score = data[y_score] if isinstance(y_score, str) else y_score
        if isinstance(sample_weight, str):
            weight_source = f"column {sample_weight!r}"
            sample_weight = data[sample_weight]
        X_for_sens = data
    else:
        X_for_sens = None
    if y_true is None or y_pred is None:
        raise ParameterError("audit_predictions needs both y_true and y_pred.")
    yt = _column_1d(y_true, "y_true")
    yp = _column_1d(y_pred, "y_pred")
    n = check_same_length(y_true=yt, y_pred=yp)
    if n == 0:
        raise DataValidationError("The predictions have no rows.")
    if sensitive_features is None:
        raise ParameterError("audit_predictions needs sensitive_features (the groups to compare).")
    labels = log_labels(
        yt, yp, pos_label=pos_label, label_names=label_names, label_map=label_map,
        max_classes=max_classes, func=func,
    )  # fmt: skip
    names, values = labels.classes, labels.values
    sens_in = sensitive_frame(
        sensitive_features, X_for_sens, n, schema=None, where=source_name,
        max_groups=max_groups, func=func,
    )  # fmt: skip
    sens = None if sens_in is None else sens_in.frame
    weights = None
    if sample_weight is not None:
        weights = _row_weights(sample_weight, n, func)
        weight_source = weight_source or "sample_weight (array)"
    pos, fav, label_words = outcome_semantics(
        values, names, pos_label=pos_label, label_names=label_names, favourable=favourable,
        func=func,
    )  # fmt: skip
    proba = None
    has_scores = False
    if y_score is not None:
        s = np.asarray(
            y_score.to_numpy() if hasattr(y_score, "to_numpy") else y_score, dtype=np.float64
        )
        if len(s) != n:
            raise DataValidationError(f"y_score has {len(s)} rows but y_true has {n}.")
        check_probabilities(s, name="y_score")
        if s.ndim == 1:
            if len(names) != 2:
                raise DataValidationError(
                    "A 1-d y_score holds the positive-class probability, which needs a binary "
                    f"task; the labels have {len(names)} classes."
                )
            assert pos is not None
            proba = np.empty((n, 2))
            proba[:, pos] = s
            proba[:, 1 - pos] = 1.0 - s
        else:
            if s.shape[1] != len(names):
                raise DataValidationError(
                    f"y_score has {s.shape[1]} columns but the labels have {len(names)} classes."
                )
            proba = s
        has_scores = True
    preds = Predictions(
        y_true=labels.y_true, y_pred=labels.y_pred, y_proba=proba, classes=names,
        pos_label=pos, has_scores=has_scores, sample_weight=weights, favourable=fav,
        label_names=label_words,
    )  # fmt: skip
    reference = _reference(reference_groups, sens, sens_in, func)
    cfg = _config(
        sections=_resolve_sections(sections, func), n_boot=n_boot, ci_level=ci_level,
        random_state=random_state, min_group_size=min_group_size, show_progress=show_progress,
        strict=strict, options=_with_custom(options, custom_metrics, func), func=func,
        reference_groups=reference,
    )  # fmt: skip
    ctx = AuditContext(config=cfg, predictions=preds, sensitive=sens)
    data_info = {
        "name": str(ctx.option("data_name", "prediction log")),
        "n_rows": n,
        "sha256": data_fingerprint(
            *_small_codes(labels.y_true, labels.y_pred, k=len(names)),
            np.asarray(names, dtype=object),
            proba,
            weights,
        ),  # fmt: skip
        "sensitive_features": list(sens.columns) if sens is not None else [],
        "task": preds.task,
        "classes": list(names),
        "positive_class": names[preds.pos_label] if preds.pos_label is not None else None,
        "modality": "predictions",
        **_label_info(
            preds, sens_in.full_labels if sens_in is not None else {}, reference, weight_source
        ),
    }
    model_info = {"name": "none (prediction log)", "kind": "predictions", "sha256": None}
    try:
        return _finish(
            ctx, model_info=model_info, data_info=data_info, policy=policy, card_info=card_info
        )
    finally:
        forget_codes(sens)  # the group codes shared with the engine live for one audit


def _small_codes(*codes: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Class codes in the smallest integer type that holds them (less to hash)."""
    dtype = np.int8 if k <= 127 else (np.int16 if k <= 32_767 else np.int64)
    return tuple(c.astype(dtype) for c in codes)


def _column_1d(values: Any, name: str) -> Any:
    """Keep a Series (its Arrow strings factorize fast); make the rest 1-d arrays."""
    import pandas as pd

    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if isinstance(values, pd.DataFrame) and values.shape[1] == 1:
        return values.iloc[:, 0].reset_index(drop=True)
    return to_1d(values, name=name)


def _model_proba(adapter: Any, X: Any) -> np.ndarray:
    """Return the model's probabilities on ``X``; a user model's own error becomes a data error.

    A scikit-learn estimator, torch module or callable that cannot score ``X`` (NaN in ``X``,
    columns it was not fitted on, a callable that raises) is the caller's input problem, so it
    is reported as :class:`DataValidationError` naming the model (the original exception is
    chained). A reference checkpoint's own failures are left alone: they are auditkit's.
    """
    if getattr(adapter, "kind", None) == "checkpoint":
        return np.asarray(adapter.predict_proba(X))
    try:
        proba: np.ndarray = adapter.predict_proba(X)
    except AuditkitError:
        raise
    except Exception as exc:  # noqa: BLE001 - any error of the user's model
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise DataValidationError(
            f"The model {adapter.name!r} ({adapter.kind}) could not predict on X: "
            f"{type(exc).__name__}: {first[:300]}"
        ) from exc
    return proba


def _to_pandas(data: Any) -> Any:
    """Collect a Polars, PyArrow, DuckDB, Spark or other narwhals-supported frame to pandas."""
    module = type(data).__module__.split(".")[0]
    if module == "pyspark":
        return data.toPandas()
    if module == "duckdb":
        return data.df()
    try:
        import narwhals as nw

        frame = nw.from_native(data)
    except (TypeError, ImportError) as exc:
        raise ParameterError(
            f"The 'data' parameter of audit_predictions must be a data frame; got "
            f"{type(data).__name__}."
        ) from exc
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    return frame.to_pandas()


def _audit_reduced(
    data: Any, *, y_true: Any, y_pred: Any, y_score: Any, sensitive_features: Any,
    sections: Sequence[str] | str | None, policy: Any, n_boot: int, ci_level: float,
    random_state: Any, show_progress: bool, pos_label: Any, min_group_size: int, strict: bool,
    card_info: Any, options: Mapping[str, Any] | None,
    custom_metrics: Mapping[str, Callable[..., Any]] | None, memory_limit: str | None,
    label_names: Any = None, favourable: Any = None, reference_groups: Any = None,
    sample_weight: Any = None, label_map: Mapping[Any, Any] | None = None,
    max_groups: int = DEFAULT_MAX_GROUPS, max_classes: int = DEFAULT_MAX_CLASSES,
) -> AuditResult:  # fmt: skip
    """``audit_predictions`` on data reduced to count tables inside its own engine."""
    from .inputs.context import Counts
    from .scale._reduce import reduce_predictions
    from .scale._table import AUC_BINS, CountTable

    func = "audit_predictions"
    if custom_metrics:
        raise ParameterError(
            "custom_metrics are computed from the rows, which a reduced log does not keep; pass "
            "reduce=False to audit an in-memory frame row by row."
        )
    opts = dict(options or {})
    log_loss = opts.get("log_loss", False)
    check_param(
        isinstance(log_loss, bool), param="options['log_loss']", func=func,
        expected="True or False", got=log_loss,
    )  # fmt: skip
    if sample_weight is not None and (
        isinstance(data, CountTable) or not isinstance(sample_weight, str)
    ):
        raise ParameterError(
            "sample_weight of audit_predictions must name a column of data when the log is "
            "reduced to count tables"
            + (
                " (a CountTable is already reduced: pass sample_weight to reduce_predictions)."
                if isinstance(data, CountTable)
                else f"; got {type(sample_weight).__name__} (or pass reduce=False)."
            )
        )
    if isinstance(data, CountTable):
        table = data
        if log_loss and table.scores is not None and not table.has_log_loss:
            raise ParameterError(
                "options={'log_loss': True} asks for the log loss, but this CountTable was "
                "reduced without its sums; reduce the log again with "
                "reduce_predictions(..., log_loss=True)."
            )
    else:
        from .scale._reduce import column_names

        yt, yp, ys, feats = column_names(y_true, y_pred, y_score, sensitive_features, func=func)
        performance = "performance" in _resolve_sections(sections, func)
        table = reduce_predictions(
            data, y_true=yt, y_pred=yp, y_score=ys, sensitive_features=list(feats),
            score_cells=performance, log_loss=log_loss and performance,
            auc_bins=check_int(opts.get("auc_bins", AUC_BINS), param="options['auc_bins']",
                               func=func, low=1),
            memory_limit=memory_limit, show_progress=show_progress,
            sample_weight=sample_weight, max_groups=max_groups,
        )  # fmt: skip
    g = table.groups
    yt_raw, yp_raw = np.asarray(g["y_true"]), np.asarray(g["y_pred"])
    labels = log_labels(
        yt_raw, yp_raw, pos_label=pos_label, label_names=label_names, label_map=label_map,
        max_classes=max_classes, func=func,
    )  # fmt: skip
    codes_t, codes_p, names, values = labels.y_true, labels.y_pred, labels.classes, labels.values
    pos, fav, label_words = outcome_semantics(
        values, names, pos_label=pos_label, label_names=label_names, favourable=favourable,
        func=func,
    )  # fmt: skip
    if table.has_scores and len(names) != 2:
        raise DataValidationError(
            "A 1-d y_score holds the positive-class probability, which needs a binary "
            f"task; the labels have {len(names)} classes."
        )
    # the cells' group values: strings, ceilings, long labels, as on the row path
    n_cells = len(np.asarray(g["count"]))
    cells = sensitive_frame(
        {f: np.asarray(g[f]) for f in table.features}, None, n_cells,
        max_groups=max_groups, func=func,
    )  # fmt: skip
    assert cells is not None
    groups: dict[str, np.ndarray] = {
        f: cells.frame[f].to_numpy(dtype=object) for f in table.features
    }
    groups["y_true"], groups["y_pred"] = codes_t, codes_p
    skip = {*table.features, "y_true", "y_pred", "nll_pos", "nll_neg", "nll_pos_sq",
            "nll_neg_sq", "weight_nll_pos", "weight_nll_neg", "weight_nll_pos_sq",
            "weight_nll_neg_sq"}  # fmt: skip
    for key in g:  # counts, score sums, and the weight sums of a weighted reduction
        if key not in skip:
            groups[key] = np.asarray(g[key])
    if table.has_log_loss and pos is not None:
        # each cell's label decides which of the two sums is its -log p[y]
        is_pos = codes_t == pos
        groups["log_loss_sum"] = np.where(is_pos, g["nll_pos"], g["nll_neg"])
        groups["log_loss_sq_sum"] = np.where(is_pos, g["nll_pos_sq"], g["nll_neg_sq"])
        if "weight_nll_pos" in g:  # the weighted sums of a weighted reduction
            groups["weight_log_loss_sum"] = np.where(
                is_pos, g["weight_nll_pos"], g["weight_nll_neg"]
            )
            groups["weight_log_loss_sq_sum"] = np.where(
                is_pos, g["weight_nll_pos_sq"], g["weight_nll_neg_sq"]
            )
    scores = None
    if table.scores is not None:
        sc = table.scores
        st, _, _ = encode_labels(np.asarray(sc["y_true"]), values, name="y_true")
        scores = {
            "y_true": st, "fine_bin": sc["fine_bin"], "count": sc["count"],
            "score_min": sc["score_min"], "score_max": sc["score_max"],
        }  # fmt: skip
        scores.update({k: sc[k] for k in ("weight_sum", "weight_sq_sum") if k in sc})
    counts = Counts(
        features=table.features, groups=groups, scores=scores, n_bins=table.n_bins,
        auc_bins=table.auc_bins, engine=table.engine, source=table.source,
    )  # fmt: skip
    empty = np.zeros(0, dtype=np.int64)
    preds = Predictions(
        y_true=empty, y_pred=empty, y_proba=None, classes=names, pos_label=pos,
        has_scores=table.has_scores, favourable=fav, label_names=label_words,
    )  # fmt: skip
    reference = check_reference_groups(
        reference_groups, cells.groups, cells.full_labels, func=func
    )
    opts.setdefault("data_name", table.source)
    cfg = _config(
        sections=_resolve_sections(sections, func), n_boot=n_boot, ci_level=ci_level,
        random_state=random_state, min_group_size=min_group_size, show_progress=show_progress,
        strict=strict, options=opts, func=func, reference_groups=reference,
    )  # fmt: skip
    ctx = AuditContext(config=cfg, predictions=preds, counts=counts)
    data_info = {
        "name": str(ctx.option("data_name", "prediction log")),
        "n_rows": counts.n_rows,
        "sha256": _counts_fingerprint(counts),
        "fingerprint_of": "the count table (cells and counts), not the file bytes",
        "sensitive_features": list(counts.features),
        "task": preds.task,
        "classes": list(names),
        "positive_class": names[pos] if pos is not None else None,
        "modality": "predictions",
        "engine": counts.engine,
        "reduction": {
            "engine": counts.engine,
            "source": counts.source,
            "group_cells": int(len(groups["count"])),
            "score_cells": None if scores is None else int(len(scores["count"])),
            "calibration_bins": counts.n_bins,
            "auc_bins": counts.auc_bins if scores is not None else None,
        },
        **_label_info(
            preds,
            cells.full_labels,
            reference,
            f"column {sample_weight!r}" if sample_weight is not None else None,
        ),
    }
    model_info = {"name": "none (prediction log)", "kind": "predictions", "sha256": None}
    return _finish(
        ctx, model_info=model_info, data_info=data_info, policy=policy, card_info=card_info
    )


def _counts_fingerprint(counts: Any) -> str:
    """sha256 of a count table's cells and counts, independent of the order of its rows."""
    import pandas as pd

    g = counts.groups
    keys = [*counts.features, "y_true", "y_pred", *(["score_bin"] if "score_bin" in g else [])]
    frame = pd.DataFrame({k: g[k] for k in [*keys, "count"]})
    frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    return data_fingerprint(frame)
