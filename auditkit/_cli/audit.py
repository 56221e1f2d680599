"""``auditkit audit``: audit a checkpoint or a log of decisions and write the card.

Exit codes: 0 done (and the policy passed, when one is given), 1 a policy rule failed, 2 bad
input, 3 internal error. Nothing is written until the audit and all three outputs are ready;
outputs of an earlier run in ``--out`` are replaced only with ``--force``.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import sys
from pathlib import Path
from typing import Any

from ..exceptions import AuditkitError, DataValidationError, OutputError, ParameterError
from ..inputs import DEFAULT_MAX_CLASSES, DEFAULT_MAX_GROUPS, INTERSECTION_FACTOR, parse_pairs
from ..result import AuditResult
from .audit_model import add_model_arguments
from .options import (  # noqa: F401 - class_codes and split_list are imported from here too
    _common_kwargs,
    _existing_file,
    _with_file,
    class_codes,
    run_options,
    split_list,
)

EXIT_OK, EXIT_POLICY_FAILED = 0, 1
#: A single --predictions file up to this size is read into memory and audited row by row.
IN_MEMORY_MAX_BYTES = 64 << 20


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="audit a checkpoint or a prediction log; write audit.json, card.html, card.md",
        description=(
            "Audit a model (an auditkit checkpoint on its dataset's test split, a bundled "
            "dataset or a CSV/Parquet file; your own LightningModule checkpoint, a Hugging Face "
            "folder, an ONNX, skops or pickle file on a --data file or image folder), or a log "
            "of decisions with --predictions, and write the model card. Exit codes: 0 passed, "
            "1 a policy rule failed, 2 bad input, 3 internal error."
        ),
    )
    p.add_argument(
        "model",
        nargs="?",
        help="a .ckpt written by `auditkit train`, your LightningModule's .ckpt (with "
        "--model-class), a Hugging Face model folder, or a .onnx, .skops, .pkl/.joblib file",
    )
    src = p.add_argument_group("evaluation data (with a model)")
    src.add_argument(
        "--data",
        metavar="NAME|FILE|DIR",
        help="a bundled dataset (its test split), a .csv/.parquet file, or a folder of images "
        "with one sub-folder per class; default: an auditkit checkpoint's own dataset",
    )
    src.add_argument("--target", metavar="COL", help="the label column of a --data file")
    src.add_argument(
        "--train-data",
        metavar="FILE|DIR",
        help="the rows the model was trained on, given like --data: a .csv/.parquet file with "
        "its columns, or a folder of images (one sub-folder per class): membership inference "
        "(privacy), drift between training and evaluation data, and refits for stability where "
        "the model kind allows (default: an auditkit checkpoint's own training rows; other "
        "models: those sections are skipped)",
    )
    src.add_argument(
        "--text-column",
        metavar="COL",
        help="the column of a --data file that holds the texts, for a text model (default: the "
        "checkpoint's own text column)",
    )
    add_model_arguments(p)
    _add_log_arguments(p)
    _add_outcome_arguments(p)
    _add_scoring_arguments(p)
    p.set_defaults(func=run)
    return p


def _add_log_arguments(p: argparse.ArgumentParser) -> None:
    """Add the options of a log of decisions, and those every audit takes."""
    log = p.add_argument_group("a log of decisions (no model)")
    log.add_argument(
        "--predictions",
        metavar="FILE|GLOB",
        help="a .csv/.parquet log of decisions, or a glob of them ('logs/*.parquet'); logs over "
        f"{IN_MEMORY_MAX_BYTES >> 20} MiB and globs are reduced by DuckDB out of core",
    )
    mode = log.add_mutually_exclusive_group()
    mode.add_argument(
        "--out-of-core",
        dest="reduce",
        action="store_const",
        const=True,
        help="always reduce the log with DuckDB (only performance and fairness run)",
    )
    mode.add_argument(
        "--in-memory",
        dest="reduce",
        action="store_const",
        const=False,
        help="always read the log into memory (adds the mitigation what-if and stability)",
    )
    log.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="DuckDB's memory budget while it reads the log, for example 2GB (it spills to disk)",
    )
    log.add_argument(
        "--log-loss",
        action="store_true",
        help="also compute the exact log loss of a log reduced out of core (two logarithms "
        "per row: about 0.75x more reading time)",
    )
    log.add_argument("--y-true", metavar="COL", help="column of true labels")
    log.add_argument("--y-pred", metavar="COL", help="column of decisions")
    log.add_argument("--y-score", metavar="COL", help="column of positive-class scores")
    p.add_argument("--sensitive", metavar="A,B", help="comma-separated sensitive columns")
    p.add_argument("--sections", metavar="S1,S2", help="sections to run (default: all)")
    p.add_argument("--policy", metavar="FILE", help="a policy TOML file to check")
    p.add_argument("--out", metavar="DIR", default="audit-output", help="output folder")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace audit.json, card.html and card.md when they exist in --out",
    )
    p.add_argument(
        "--mlflow",
        action="store_true",
        help="also log the audit to MLflow (metrics, verdict tags, the three files); the store "
        "and experiment come from MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_NAME",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--ci-level", type=float, default=0.95, help="confidence level (0.95)")
    p.add_argument("--min-group-size", type=int, default=30, help="smaller groups are flagged")
    p.add_argument(
        "--pos-label", metavar="LABEL", help="the positive class of the metrics (binary tasks)"
    )
    p.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="what the model or log predicts (default auto: a regressor, or a continuous "
        "target, is a regression)",
    )
    p.add_argument(
        "--target-unit",
        metavar="UNIT",
        help="the unit of a regression's target, for the card (for example EUR or hours)",
    )
    p.add_argument(
        "--timings",
        action="store_true",
        help="record how long each section ran (each section's duration_s in audit.json)",
    )


def _add_outcome_arguments(p: argparse.ArgumentParser) -> None:
    """Add labels, favourable outcomes, groups, references and weights."""
    sem = p.add_argument_group("outcomes, groups and weights")
    sem.add_argument(
        "--labels",
        metavar="V=NAME,...",
        help="a reader's name for each label, for example '0=low risk,1=high risk'",
    )
    sem.add_argument(
        "--favourable",
        metavar="LABEL|NAME",
        help="the outcome that benefits the person (a label or a name from --labels); "
        "default: the positive class",
    )
    sem.add_argument(
        "--reference",
        metavar="FEATURE=GROUP",
        action="append",
        help="the group a feature is compared with, for example race=B (repeatable or "
        "comma-separated; default: each feature's largest group)",
    )
    sem.add_argument(
        "--label-map",
        metavar="PRED=TRUE,...",
        help="rename the --y-pred labels onto the --y-true labels, for example 'Yes=yes,No=no'",
    )
    sem.add_argument(
        "--sample-weight", metavar="COL", help="column of per-row weights of --predictions"
    )
    sem.add_argument(
        "--max-groups",
        type=int,
        default=DEFAULT_MAX_GROUPS,
        metavar="N",
        help=f"ceiling on the groups of one sensitive column (default {DEFAULT_MAX_GROUPS}; "
        f"intersections: {INTERSECTION_FACTOR} x N)",
    )
    sem.add_argument(
        "--max-classes",
        type=int,
        default=DEFAULT_MAX_CLASSES,
        metavar="N",
        help=f"ceiling on the classes of the labels (default {DEFAULT_MAX_CLASSES})",
    )
    p.add_argument(
        "--card-info",
        metavar="FILE",
        help="a YAML file of qualitative model-card fields (intended use, limitations, owners, "
        "licence...; see auditkit.report._card_info)",
    )
    p.add_argument(
        "--explain-rows",
        metavar="I,J",
        help="rows of the evaluation data (0-based positions) to explain one by one",
    )


def _add_scoring_arguments(p: argparse.ArgumentParser) -> None:
    """Add how a checkpoint is scored (devices, memory), and the progress bars."""
    dev = p.add_argument_group("scoring a checkpoint")
    dev.add_argument(
        "--devices",
        type=int,
        metavar="N",
        help="score in N processes (devices) through Lightning's Trainer.predict (DDP)",
    )
    dev.add_argument(
        "--memory-budget",
        type=float,
        metavar="MB",
        help="bound on the working memory of scoring, in MiB per process (the batch size "
        "is chosen from it)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _audit_predictions(args: argparse.Namespace) -> AuditResult:
    from .. import audit_predictions
    from ..data import check_columns, read_frame

    if (
        args.model is not None
        or args.data is not None
        or args.target is not None
        or getattr(args, "train_data", None)
    ):
        raise ParameterError(
            "--predictions audits a log of decisions; it takes no model, --data, --target or "
            "--train-data."
        )
    if getattr(args, "devices", None) is not None or getattr(args, "memory_budget", None):
        raise ParameterError("--devices and --memory-budget go with a checkpoint.")
    missing = [o for o, v in (("--y-true", args.y_true), ("--y-pred", args.y_pred),
                              ("--sensitive", args.sensitive)) if not v]  # fmt: skip
    if missing:
        raise ParameterError(f"--predictions needs {', '.join(missing)}.")
    kwargs = _common_kwargs(args)
    kwargs["label_map"] = parse_pairs(getattr(args, "label_map", None), option="--label-map")
    kwargs["sample_weight"] = getattr(args, "sample_weight", None)
    sens = split_list(args.sensitive, option="--sensitive") or []
    if _out_of_core(args):
        return _audit_log_out_of_core(args, sens, kwargs)
    if args.memory_limit:  # (--log-loss is welcome: a log read into memory always has it)
        raise ParameterError("--memory-limit applies to logs read out of core (--out-of-core).")
    path = _existing_file(args.predictions, "Predictions file")
    _check_group_ceiling(path, sens, kwargs["max_groups"])
    df = read_frame(path)
    cols = [args.y_true, args.y_pred, *([args.y_score] if args.y_score else [])]
    cols += [args.sample_weight] if getattr(args, "sample_weight", None) else []
    check_columns(cols, list(df.columns), where=path.name)
    check_columns(sens, list(df.columns), what="Sensitive column", where=path.name)
    result = audit_predictions(
        data=df,
        y_true=args.y_true,
        y_pred=args.y_pred,
        y_score=args.y_score,
        sensitive_features=sens,
        options=run_options(args),
        provenance={"command": " ".join(args.argv), "data_name": path.name},
        **kwargs,
    )
    return _with_file(result, "data", path)


def _check_group_ceiling(path: Path, sens: list[str], max_groups: int) -> None:
    """Refuse a sensitive column over the group ceiling from Arrow, before pandas reads the file.

    A column of millions of distinct strings (an identifier given as a sensitive feature) would
    cost gigabytes as pandas objects; Arrow streams only the sensitive columns, as strings, in
    batches, and stops as soon as one of them has more than ``max_groups`` distinct values, so
    the refusal costs a few batches, not the file. Anything Arrow cannot read here is left to
    the ordinary reader, which names the problem.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        if path.suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            present = [c for c in sens if c in pf.schema_arrow.names]
            batches = pf.iter_batches(batch_size=1 << 16, columns=present) if present else ()
        else:
            import pyarrow.csv as pacsv

            batches = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 22),
                                     convert_options=pacsv.ConvertOptions(
                include_columns=sens, include_missing_columns=True,
                column_types=dict.fromkeys(sens, pa.string()),
            ))  # fmt: skip
        seen: dict[str, Any] = {}
        rows = 0
        for batch in batches:
            rows += batch.num_rows
            for c in batch.schema.names:
                col = batch.column(c)
                prev = seen.get(c)
                both = col if prev is None else pa.concat_arrays([prev, col.cast(prev.type)])
                seen[c] = pc.unique(both)
                if len(seen[c]) > max_groups:
                    raise DataValidationError(
                        f"Sensitive column {c!r} has more than {max_groups:,} distinct values "
                        f"(already {len(seen[c]):,} in its first {rows:,} rows), the ceiling of "
                        "groups per sensitive feature; so many groups usually mean an "
                        "identifier or free text, not a group. If it really is one, pass a "
                        "larger --max-groups."
                    )
    except DataValidationError:
        raise
    except Exception:  # noqa: BLE001 - the ordinary reader reports it
        return


def _out_of_core(args: argparse.Namespace) -> bool:
    """Whether ``--predictions`` is reduced by DuckDB (globs, large files, --out-of-core)."""
    if args.reduce is not None:
        return bool(args.reduce)
    text = str(args.predictions)
    if set("*?[") & set(text):
        return True
    p = Path(text)
    return p.is_file() and p.stat().st_size > IN_MEMORY_MAX_BYTES


def _audit_log_out_of_core(
    args: argparse.Namespace, sens: list[str], kwargs: dict[str, Any]
) -> AuditResult:
    """Reduce the log with DuckDB (out of core) and audit the count tables."""
    from .. import audit_predictions
    from ..scale import resolve_paths

    paths, _, desc = resolve_paths(args.predictions)
    result = audit_predictions(
        data=args.predictions,
        y_true=args.y_true,
        y_pred=args.y_pred,
        y_score=args.y_score,
        sensitive_features=sens,
        options={"log_loss": args.log_loss, **run_options(args)},
        provenance={"command": " ".join(args.argv), "data_name": desc},
        reduce=True,
        memory_limit=args.memory_limit,
        **kwargs,
    )
    files = sorted({f for p in paths for f in (glob.glob(p, recursive=True) or [p])})
    if len(files) == 1:
        return _with_file(result, "data", Path(files[0]))
    info = dict(result.data)
    info["files"] = [{"name": Path(f).name, "bytes": Path(f).stat().st_size} for f in files]
    return dataclasses.replace(result, data=info)


def verdict_line(result: AuditResult) -> str:
    """One line: the policy verdict, or the sections' statuses when no policy was checked."""
    pol = result.policy
    if pol:
        n, failed = (
            len(pol.get("checks", [])),
            [c for c in pol.get("checks", []) if c.get("status") != "passed"],
        )
        errors = [c for c in failed if c.get("severity", "error") == "error"]
        if pol.get("passed"):
            return f"policy passed: {n - len(failed)} of {n} rules satisfied" + (
                f" ({len(failed)} warning(s))" if failed else ""
            )
        return f"policy FAILED: {len(errors)} of {n} rules failed: " + ", ".join(
            str(c.get("id")) for c in errors
        )
    statuses = ", ".join(f"{s.name} {s.status}" for s in result.sections)
    return f"audit complete ({statuses}); no policy checked"


def report_outputs(result: AuditResult, paths: dict[str, Path]) -> int:
    """Print where the outputs are and the verdict; return the exit code."""
    from ..report import visible

    print(
        visible(
            f"Wrote {paths['json']}, {paths['html']} and {paths['markdown']}", keep_lines=False
        )
    )
    print(visible(f"Card: {paths['html'].resolve()}", keep_lines=False))
    for c in result.policy.get("checks", []) if result.policy else []:
        if c.get("status") != "passed":
            line = f"  {c.get('severity', 'error')}: {c.get('id')}: {c.get('message')}"
            print(visible(line, keep_lines=False), file=sys.stderr)
    print(visible(verdict_line(result), keep_lines=False))
    if result.policy and not result.policy.get("passed"):
        return EXIT_POLICY_FAILED
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    from ..report import load_card_info, write_outputs

    _check_out(args)  # fail before the work, not after it
    if getattr(args, "mlflow", False):
        from ..mlflow import require_mlflow

        require_mlflow()  # a missing extra is said before the audit, not after it
    card_info = load_card_info(args.card_info) if args.card_info else {}  # fail early
    if args.predictions is not None:
        result = _audit_predictions(args)
    elif args.model is not None:
        from .audit_model import audit_model

        result = audit_model(args)
    else:
        raise ParameterError(
            "auditkit audit needs a model (a checkpoint, a Hugging Face folder or a model file: "
            "auditkit audit model.ckpt) or a log of decisions (auditkit audit --predictions "
            "log.csv --y-true COL --y-pred COL --sensitive A)."
        )
    if args.card_info:
        result = dataclasses.replace(result, card_info=card_info)
    paths = write_outputs(result, args.out, overwrite=bool(getattr(args, "force", False)))
    code = report_outputs(result, paths)
    if getattr(args, "mlflow", False):
        _log_to_mlflow(result, paths)
    return code


def _log_to_mlflow(result: AuditResult, paths: dict[str, Path]) -> None:
    """Log the written outputs to MLflow and print the run; a store's failure is one line."""
    from ..mlflow import log_from_cli
    from ..report import visible

    try:
        line = log_from_cli(result, {k: str(v) for k, v in paths.items()})
    except AuditkitError:
        raise
    except Exception as exc:  # noqa: BLE001 - MLflow's own errors (store, URI) become one line
        raise OutputError(
            f"The audit was written to {paths['json'].parent}, but logging it to MLflow failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    print(visible(line, keep_lines=False))


def _check_out(args: argparse.Namespace) -> None:
    """Refuse (before auditing) to replace existing outputs in ``--out`` without ``--force``."""
    from ..report import HTML_NAME, JSON_NAME, MD_NAME

    if getattr(args, "force", False):
        return
    for name in (JSON_NAME, HTML_NAME, MD_NAME):
        path = Path(args.out) / name
        if os.path.lexists(path):  # a dangling symbolic link counts as an output too
            link = " (a symbolic link)" if path.is_symlink() else ""
            raise OutputError(f"{path} exists{link}; pass --force to replace it.")
