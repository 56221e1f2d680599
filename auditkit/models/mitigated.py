"""A post-processed model: group-specific thresholds over a base model's scores.

:class:`GroupThresholdModel` is what :func:`auditkit.mitigate` returns: a
:class:`~auditkit.adapters.base.ModelAdapter` (so :func:`auditkit.audit` and
:func:`auditkit.wrap` take it as it is) whose decision for a row is ``score >= threshold`` of
the row's group, where ``score`` is the base model's probability of the positive class and the
group is read **from the sensitive columns of X** (named at ``mitigate`` time) when it
predicts. It predicts decisions only (``has_scores`` is False: its probabilities are one-hot),
because its output is a decision rule, not a new score.

Saved with :meth:`GroupThresholdModel.save` as one JSON file (format
``auditkit.group_thresholds``, version 1: the thresholds per group, the sensitive columns, the
classes and how the thresholds were chosen) plus the base model in its own safe format:

* a scikit-learn estimator is written with skops next to the JSON (``<stem>.base.skops``) and
  read back by skops' safe loader (scikit-learn, numpy and scipy types only, unless trusted);
* a base model opened from a file (skops, ONNX, a Hugging Face folder, an auditkit checkpoint:
  anything :func:`auditkit.load_model` opens) is referenced by its path (relative to the JSON
  when it lies beside or below it) and its sha256, and opened by the same loader.

Either way the JSON records the base file's sha256 and :func:`auditkit.load_model` refuses a
base file whose bytes changed. Nothing is ever pickled.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..adapters.base import ModelAdapter
from ..exceptions import DataValidationError, ModelFileError, ParameterError

__all__ = ["FORMAT", "FORMAT_VERSION", "GroupThresholdModel", "is_group_thresholds_file",
           "load_group_thresholds"]  # fmt: skip

#: The ``format`` of the JSON file.
FORMAT = "auditkit.group_thresholds"
FORMAT_VERSION = 1
#: Groups are keyed by their values as text, joined by this separator.
_SEP = "\x1f"


def _key(values: Sequence[Any]) -> str:
    return _SEP.join(str(v) for v in values)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


class GroupThresholdModel(ModelAdapter):
    """Group-specific thresholds over a base model's positive-class probability.

    Parameters
    ----------
    base : ModelAdapter
        The base model (binary classifier with scores).
    thresholds : mapping of tuple of str to float
        Group (the values of ``sensitive_columns`` as text, in order) -> threshold; a row is
        positive when its score is at least its group's threshold (``inf``: never).
    sensitive_columns : sequence of str
        The columns of X that name a row's group.
    pos_index : int
        Column of the base model's ``predict_proba`` that is the positive class.
    drop_sensitive : bool, default=False
        Feed the base model X without the sensitive columns.
    info : dict, default=None
        How the thresholds were chosen (constraint, objective, tolerance, rows, ...).
    base_source : Path, default=None
        The file the base model was opened from, when it came from one.
    """

    kind = "group_thresholds"  # type: ignore[assignment]
    has_scores = False

    def __init__(
        self,
        base: ModelAdapter,
        thresholds: Mapping[tuple[str, ...], float],
        sensitive_columns: Sequence[str],
        pos_index: int,
        *,
        drop_sensitive: bool = False,
        info: Mapping[str, Any] | None = None,
        base_source: Path | None = None,
    ) -> None:
        super().__init__(base, name=f"{base.name} + group thresholds", schema=base.schema)
        self.base = base
        self.sensitive_columns = [str(c) for c in sensitive_columns]
        self.thresholds = {tuple(str(v) for v in k): float(t) for k, t in thresholds.items()}
        self.pos_index = int(pos_index)
        self.drop_sensitive = bool(drop_sensitive)
        self.info = dict(info or {})
        self.base_source = base_source
        self.classes_ = base.classes_ if base.classes_ is not None else np.array([0, 1])

    # -- prediction ------------------------------------------------------------------------
    def groups_of(self, X: Any) -> np.ndarray:
        """Return each row's group key (values of the sensitive columns as text)."""
        cols = getattr(X, "columns", None)
        missing = [c for c in self.sensitive_columns if cols is None or c not in list(cols)]
        if missing:
            raise DataValidationError(
                f"Model {self.name!r} reads each row's group from the column(s) "
                f"{', '.join(map(repr, self.sensitive_columns))} of X, and X "
                + ("is not a table with named columns" if cols is None else
                   f"has no column {missing[0]!r}")
                + "; pass a DataFrame that holds them."
            )  # fmt: skip
        parts = [np.asarray(X[c], dtype=object).astype(str) for c in self.sensitive_columns]
        keys = parts[0].astype(object)
        for p in parts[1:]:
            keys = keys + _SEP + p.astype(object)
        return np.asarray(keys, dtype=object)

    def decide(self, X: Any) -> np.ndarray:
        """Return the 0/1 decisions (1 = the positive class) for the rows of X."""
        keys = self.groups_of(X)
        table = {_key(k): t for k, t in self.thresholds.items()}
        uniq, inv = np.unique(keys.astype(str), return_inverse=True)
        unknown = [u for u in uniq if u not in table]
        if unknown:
            shown = unknown[0].replace(_SEP, ", ")
            raise DataValidationError(
                f"Model {self.name!r} has no threshold for the group ({shown}) of the "
                f"column(s) {', '.join(map(repr, self.sensitive_columns))}: mitigate learned "
                f"thresholds for {len(table)} group(s) only. Re-run auditkit.mitigate on "
                "data that holds this group."
            )
        thr = np.array([table[u] for u in uniq], dtype=np.float64)[np.asarray(inv).ravel()]
        base_X = X.drop(columns=self.sensitive_columns) if self.drop_sensitive else X
        score = self.base.predict_proba(base_X)[:, self.pos_index]
        return (score >= thr).astype(np.int64)

    def _proba(self, X: Any) -> np.ndarray:
        d = self.decide(X)
        n_classes = len(self.classes_) if self.classes_ is not None else 2
        out = np.zeros((len(d), n_classes))
        out[:, self.pos_index] = d
        out[:, 1 - self.pos_index] = 1 - d
        return out

    # -- description -----------------------------------------------------------------------
    def fingerprint(self) -> str | None:
        """Return the sha256 of the thresholds, columns and the base model's fingerprint."""
        base = self.base.fingerprint()
        doc = json.dumps(self._document(base_ref=None), sort_keys=True).encode()
        return hashlib.sha256(doc + (base or "").encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """Return the base model's description under ``base`` and the post-processing."""
        return {
            "name": self.name,
            "kind": "group_thresholds",
            "sha256": self.fingerprint(),
            "base": self.base.describe(),
            "post_processing": {
                "sensitive_columns": list(self.sensitive_columns),
                "n_groups": len(self.thresholds),
                "drop_sensitive": self.drop_sensitive,
                **{k: v for k, v in self.info.items() if k in (
                    "constraint", "objective", "tolerance", "n_rows")},
            },
        }  # fmt: skip

    # -- files -----------------------------------------------------------------------------
    def _document(self, base_ref: Mapping[str, Any] | None) -> dict[str, Any]:
        groups = [
            {"values": list(k), "threshold": t if math.isfinite(t) else None}
            for k, t in sorted(self.thresholds.items())
        ]
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "sensitive_columns": list(self.sensitive_columns),
            "drop_sensitive": self.drop_sensitive,
            "classes": [_jsonable(c) for c in np.asarray(self.classes_).tolist()],
            "pos_index": self.pos_index,
            "rule": "positive when the base model's probability of classes[pos_index] is at "
            "least the group's threshold (null: never)",
            "groups": groups,
            "info": {k: _jsonable(v) for k, v in self.info.items()},
            "base": dict(base_ref) if base_ref is not None else None,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model: a JSON file at ``path`` and, for scikit-learn, a skops file.

        Returns
        -------
        Path
            The JSON file.

        Raises
        ------
        ParameterError
            When the base model is neither a scikit-learn estimator nor opened from a file
            (save it in a format auditkit opens, then mitigate the loaded model).
        """
        from .._core.io import atomic_write_text

        p = Path(os.fsdecode(path))
        if p.suffix.lower() != ".json":
            raise ParameterError(
                f"The 'path' of GroupThresholdModel.save must end in .json; got {p}."
            )
        p.parent.mkdir(parents=True, exist_ok=True)
        ref = self._save_base(p)
        atomic_write_text(p, json.dumps(self._document(ref), indent=2, sort_keys=False) + "\n")
        return p

    def _save_base(self, p: Path) -> dict[str, Any]:
        source = self.base_source or getattr(self.base, "path", None)
        if source is not None and Path(source).exists():
            src = Path(source).resolve()
            try:
                rel: str = os.path.relpath(src, p.parent.resolve())
                stored = rel if not rel.startswith("..") else str(src)
            except ValueError:  # another drive (Windows)
                stored = str(src)
            return {"kind": "file", "path": stored, "sha256": _sha256(src)}
        est = getattr(self.base, "raw", None)
        if getattr(self.base, "kind", None) == "sklearn" and est is not None:
            out = p.with_name(p.stem + ".base.skops")
            with warnings.catch_warnings():  # skops looks names up in every loaded module,
                # auditkit's old import paths (auditkit._compat) included, which warn
                warnings.filterwarnings(
                    "ignore", message=".*moved to auditkit", category=FutureWarning
                )
                import skops.io as sio

                sio.dump(est, out)
            return {"kind": "skops", "path": out.name, "sha256": _sha256(out)}
        raise ParameterError(
            f"Cannot save the base model {self.base.name!r} ({self.base.kind}) safely: save it "
            "first in a format auditkit opens (skops, ONNX, a Hugging Face folder, an auditkit "
            "checkpoint), open it with auditkit.load_model and mitigate that model; its file "
            "is then referenced by path and sha256."
        )


def _sha256(path: Path) -> str:
    """Return the sha256 of a file's bytes, or of a folder's files (names and bytes, sorted)."""
    h = hashlib.sha256()
    files = sorted(q for q in path.rglob("*") if q.is_file()) if path.is_dir() else [path]
    for q in files:
        if path.is_dir():
            h.update(str(q.relative_to(path)).encode() + b"\0")
        with q.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def is_group_thresholds_file(path: str | os.PathLike[str]) -> bool:
    """Return True when ``path`` is a JSON file whose ``format`` is :data:`FORMAT`."""
    p = Path(os.fsdecode(path))
    if not p.is_file() or p.suffix.lower() != ".json":
        return False
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return f'"format": "{FORMAT}"'.encode() in head


def load_group_thresholds(
    path: str | os.PathLike[str], *, open_base: Callable[[Path], Any]
) -> GroupThresholdModel:
    """Open a model written by :meth:`GroupThresholdModel.save` (no unpickling).

    Users call ``auditkit.load_model(path)`` (or audit the path), which passes the opener of
    model files (:func:`auditkit.models.kinds.open_model_file`, with its ``trust``) as
    ``open_base``; this module does not import it, so the two modules form no cycle.

    Parameters
    ----------
    path : str or path-like
        The JSON file.
    open_base : callable
        Opens the base model's file (its path) safely: a skops file with only trusted types,
        never a pickle unless the user allowed it.

    Raises
    ------
    ModelFileError
        When the file is missing, not of this format, or the base model's file is missing or
        its sha256 differs from the one recorded.
    """
    p = Path(os.fsdecode(path))
    if not p.is_file():
        raise ModelFileError(f"Group-threshold model {p} not found (no such file).")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{p} is not a readable JSON file: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(
            f"{p} is not a group-threshold model (its 'format' is not {FORMAT!r})."
        )
    if doc.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{p} has format_version {doc.get('format_version')!r}; this auditkit reads "
            f"version {FORMAT_VERSION}."
        )
    try:
        base_ref = doc["base"]
        src = Path(base_ref["path"])
        src = src if src.is_absolute() else p.parent / src
        cols = [str(c) for c in doc["sensitive_columns"]]
        groups = {
            tuple(str(v) for v in g["values"]): (
                math.inf if g["threshold"] is None else float(g["threshold"])
            )
            for g in doc["groups"]
        }
        pos_index = int(doc["pos_index"])
        classes = list(doc["classes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{p} is missing a field of a group-threshold model: {exc}") from exc
    if not src.exists():
        raise ModelFileError(f"The base model {src} that {p} refers to was not found.")
    if _sha256(src) != base_ref.get("sha256"):
        raise ModelFileError(
            f"The base model {src} is not the one {p} was saved with (its sha256 differs): "
            "the thresholds were learned on another model's scores."
        )
    from ..adapters.wrapping import wrap

    base = wrap(open_base(src))
    if base.classes_ is None:
        base.classes_ = np.asarray(classes)
    return GroupThresholdModel(
        base, groups, cols, pos_index, drop_sensitive=bool(doc.get("drop_sensitive", False)),
        info=doc.get("info") or {}, base_source=src if base_ref.get("kind") == "file" else None,
    )  # fmt: skip
