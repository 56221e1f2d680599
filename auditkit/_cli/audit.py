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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..exceptions import DataValidationError, OutputError, ParameterError
from ..inputs import DEFAULT_MAX_CLASSES, DEFAULT_MAX_GROUPS, INTERSECTION_FACTOR, parse_pairs
from ..result import AuditResult

EXIT_OK, EXIT_POLICY_FAILED = 0, 1
#: A single --predictions file up to this size is read into memory and audited row by row.
IN_MEMORY_MAX_BYTES = 64 << 20
_TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".gz")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="audit a checkpoint or a prediction log; write audit.json, card.html, card.md",
        description=(
            "Audit a model checkpoint (on its dataset's test split, a bundled dataset or a "
            "CSV/Parquet file), or a log of decisions with --predictions, and write the model "
            "card. Exit codes: 0 passed, 1 a policy rule failed, 2 bad input, 3 internal error."
        ),
    )
    p.add_argument("model", nargs="?", help="a .ckpt checkpoint written by `auditkit train`")
    src = p.add_argument_group("evaluation data (with a checkpoint)")
    src.add_argument(
        "--data",
        metavar="NAME|FILE",
        help="a bundled dataset (its test split) or a .csv/.parquet file; default: the "
        "checkpoint's own dataset",
    )
    src.add_argument("--target", metavar="COL", help="the label column of a --data file")
    src.add_argument(
        "--text-column",
        metavar="COL",
        help="the column of a --data file that holds the texts, for a text model (default: the "
        "checkpoint's own text column)",
    )
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
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--ci-level", type=float, default=0.95, help="confidence level (0.95)")
    p.add_argument("--min-group-size", type=int, default=30, help="smaller groups are flagged")
    p.add_argument(
        "--pos-label", metavar="LABEL", help="the positive class of the metrics (binary tasks)"
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


def _explain_rows(args: argparse.Namespace) -> dict[str, list[int]]:
    """Return ``{"explain_rows": [...]}`` from ``--explain-rows`` (empty when not given)."""
    rows = split_list(getattr(args, "explain_rows", None), option="--explain-rows")
    if not rows:
        return {}
    try:
        values = [int(r) for r in rows]
    except ValueError as exc:
        raise ParameterError(
            f"--explain-rows takes comma-separated row numbers; got {args.explain_rows!r}."
        ) from exc
    if min(values) < 0:
        raise ParameterError(f"--explain-rows takes row numbers >= 0; got {min(values)}.")
    return {"explain_rows": values}


def split_list(text: str | None, *, option: str) -> list[str] | None:
    """Split ``"a, b"`` into ``["a", "b"]``; None stays None."""
    if text is None:
        return None
    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise ParameterError(f"{option} needs at least one name; got {text!r}.")
    return items


def _existing_file(path: str, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise ParameterError(f"{what} {path!r} does not exist.")
    if p.is_dir():
        raise ParameterError(f"{what} {path!r} is a folder, not a file.")
    from ..data import check_regular_file

    return check_regular_file(p, what)  # a FIFO or a device is refused before it is opened


def _common_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    from ..policy import Policy

    policy = Policy.from_toml(args.policy) if args.policy else None  # fail early on a bad file
    return {
        "sections": split_list(args.sections, option="--sections"),
        "policy": policy,
        "n_boot": args.n_boot,
        "ci_level": args.ci_level,
        "random_state": args.seed,
        "show_progress": not args.no_progress,
        "pos_label": args.pos_label,
        "min_group_size": args.min_group_size,
        "label_names": parse_pairs(getattr(args, "labels", None), option="--labels"),
        "favourable": getattr(args, "favourable", None),
        "reference_groups": _references(getattr(args, "reference", None)),
        "max_groups": getattr(args, "max_groups", DEFAULT_MAX_GROUPS),
        "max_classes": getattr(args, "max_classes", DEFAULT_MAX_CLASSES),
    }


def _references(items: list[str] | None) -> dict[str, str] | None:
    """Parse ``--reference race=B --reference sex=F`` (or ``race=B,sex=F``) into a dict."""
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        for k, v in (parse_pairs(item, option="--reference") or {}).items():
            if k in out:
                raise ParameterError(f"--reference gives {k!r} more than once.")
            out[k] = v
    return out


def _audit_predictions(args: argparse.Namespace) -> AuditResult:
    from .. import audit_predictions
    from ..data import check_columns, read_frame

    if args.model is not None or args.data is not None or args.target is not None:
        raise ParameterError(
            "--predictions audits a log of decisions; it takes no model, --data or --target."
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
        options={"log_loss": args.log_loss},
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


def _audit_checkpoint(args: argparse.Namespace) -> AuditResult:
    from .. import audit
    from ..data import did_you_mean, format_available, list_datasets, load_dataset, load_table
    from ..models.checkpoint import load_checkpoint

    if args.y_true or args.y_pred or args.y_score:
        raise ParameterError("--y-true, --y-pred and --y-score go with --predictions.")
    if getattr(args, "label_map", None) or getattr(args, "sample_weight", None):
        raise ParameterError("--label-map and --sample-weight go with --predictions.")
    if args.reduce is not None or args.memory_limit or args.log_loss:
        raise ParameterError(
            "--out-of-core, --in-memory, --memory-limit and --log-loss go with --predictions."
        )
    model_path = _existing_file(args.model, "Checkpoint")
    if args.data is not None and os.path.lexists(args.data):
        _existing_file(args.data, "Data file")  # a FIFO or device: refused before the model loads
    kwargs = _common_kwargs(args)
    sens = split_list(args.sensitive, option="--sensitive")
    loaded = load_checkpoint(model_path)
    model: Any = loaded
    devices, budget = getattr(args, "devices", None), getattr(args, "memory_budget", None)
    text_col = getattr(args, "text_column", None)
    if text_col is not None and loaded.module.modality != "text":
        raise ParameterError(
            f"--text-column goes with a text model; {loaded.name} is a "
            f"{loaded.module.modality} model."
        )
    if devices is not None or budget is not None or text_col is not None:
        if devices is not None and devices < 1:
            raise ParameterError(f"--devices takes a number >= 1; got {devices}.")
        if budget is not None and not budget > 0:
            raise ParameterError(f"--memory-budget takes a number of MiB > 0; got {budget}.")
        model = loaded.as_adapter(devices=devices, memory_budget_mb=budget, text_column=text_col)
    X: Any = None
    y: Any = None
    train: Any = None
    data_file: Path | None = None
    if args.data is not None:
        looks_like_file = (
            Path(args.data).suffix.lower() in _TABLE_SUFFIXES or Path(args.data).exists()
        )
        if looks_like_file:
            if not args.target:
                raise ParameterError(
                    f"--data {args.data} is a file; name its label column with --target."
                )
            data_file = _existing_file(args.data, "Data file")
            table = load_table(data_file, target=args.target, sensitive_features=sens)
            X, y = table.X, class_codes(table.y, loaded.schema.class_names)
            if loaded.module.modality == "text":  # texts come from one column, by name
                own = getattr(loaded.module, "text_column", loaded.schema.feature_names[0])
                _check_text_column(text_col, own, X, data_file)
        else:
            names = list_datasets()
            if args.data not in names:
                raise ParameterError(
                    f"--data {args.data!r} is neither a file nor a bundled dataset"
                    f"{did_you_mean(args.data, names)}; datasets: {format_available(names)}."
                )
            if args.target:
                raise ParameterError("--target names the label column of a --data file only.")
            ds = load_dataset(args.data)
            if ds.name != loaded.schema.name:
                X, y, train = ds.test.X, ds.test.y, (ds.train.X, ds.train.y)
            # else: the checkpoint's own dataset, which audit() takes with its fitted rows
    elif args.target:
        raise ParameterError("--target needs --data FILE.")
    if text_col is not None and data_file is None:
        raise ParameterError("--text-column names the text column of a --data FILE.")
    result = audit(
        model,
        X,
        y,
        sensitive_features=sens,
        train=train,
        options=_explain_rows(args),
        provenance={"command": " ".join(args.argv)},
        **kwargs,
    )
    result = _with_file(result, "model", model_path, key="checkpoint")
    if data_file is not None:
        result = _with_file(result, "data", data_file)
    return result


def _check_text_column(given: str | None, own: str, X: Any, data_file: Path) -> None:
    """Refuse a table without the text column (``--text-column``, else the checkpoint's own)."""
    from ..data import did_you_mean, format_available

    column = given if given is not None else own
    names = [str(c) for c in X.columns]
    if column in names:
        return
    whose = "" if given is not None else " (the checkpoint's own text column)"
    hint = "" if given is not None else "; name the column that holds the texts with --text-column"
    raise DataValidationError(
        f"Text column {column!r}{whose} not found in {data_file.name}"
        f"{did_you_mean(column, names)}; available: {format_available(names)}{hint}."
    )


def class_codes(y: Any, class_names: Sequence[str]) -> Any:
    """Map labels written as the checkpoint's class names (``">50K"``) to class indices.

    Labels that are not all class names (for example indices already) are returned unchanged.
    """
    import numpy as np
    import pandas as pd

    arr = np.asarray(y)
    if arr.dtype.kind not in "OUS" or not class_names:
        return y
    lookup = {str(c): i for i, c in enumerate(class_names)}
    try:
        codes, uniq = pd.factorize(arr)  # only the distinct labels are read in Python
    except TypeError:
        return y
    mapped = [lookup.get(str(v).strip(), -1) for v in np.asarray(uniq, dtype=object).tolist()]
    if codes.size and (codes.min() < 0 or min(mapped, default=0) < 0):
        return y
    return np.asarray(mapped, dtype=np.int64)[codes]


def _with_file(result: AuditResult, block: str, path: Path, key: str = "file") -> AuditResult:
    """Record an input file's name and sha256 in the result's ``model`` or ``data`` block."""
    info = dict(getattr(result, block))
    info[key] = path.name
    from ..data import sha256_file

    info[f"{key}_sha256"] = sha256_file(path)
    if block == "model":
        return dataclasses.replace(result, model=info)
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
    card_info = load_card_info(args.card_info) if args.card_info else {}  # fail early
    if args.predictions is not None:
        result = _audit_predictions(args)
    elif args.model is not None:
        result = _audit_checkpoint(args)
    else:
        raise ParameterError(
            "auditkit audit needs a checkpoint (auditkit audit model.ckpt) or a log of "
            "decisions (auditkit audit --predictions log.csv --y-true COL --y-pred COL "
            "--sensitive A)."
        )
    if args.card_info:
        result = dataclasses.replace(result, card_info=card_info)
    paths = write_outputs(result, args.out, overwrite=bool(getattr(args, "force", False)))
    return report_outputs(result, paths)


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
