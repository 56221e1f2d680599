"""Which rows of a dataset split a model was fitted on, stored compactly in checkpoint metadata.

A reference model is fitted on its dataset's training split less the validation rows that early
stopping used (and less the rows ``limit_train_rows`` left out). The privacy section's
membership attacks need exactly those rows as "members": the checkpoint records them as a
bitmap over the split (one bit per row, base64), a few kilobytes for tens of thousands of rows.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from ..exceptions import CheckpointError


def take_rows(X: Any, idx: np.ndarray) -> Any:
    """Return rows ``idx`` of ``X``: a DataFrame or Series, an array or tensor, or a sequence."""
    if hasattr(X, "iloc"):
        return X.iloc[idx].reset_index(drop=True)
    if isinstance(X, np.ndarray):
        return X[idx]
    if hasattr(X, "__getitem__") and hasattr(X, "shape"):  # torch tensors and the like
        return X[idx]
    if hasattr(X, "__getitem__") and not isinstance(X, (str, bytes)):
        return [X[int(i)] for i in idx]
    return np.asarray(X)[idx]


def encode_rows(rows: np.ndarray, n: int) -> dict[str, Any]:
    """Return the JSON-able record of the row indices ``rows`` out of ``n`` rows."""
    idx = np.asarray(rows, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"row indices must lie in [0, {n}); got {idx.min()}..{idx.max()}.")
    bits = np.zeros(n, dtype=bool)
    bits[idx] = True
    return {
        "n_split": int(n),
        "count": int(bits.sum()),
        "bitmap": base64.b64encode(np.packbits(bits).tobytes()).decode("ascii"),
    }


def decode_rows(record: Any, *, where: str = "checkpoint") -> np.ndarray:
    """Return the sorted row indices of a record written by :func:`encode_rows`.

    Raises
    ------
    CheckpointError
        When the record is malformed (``where`` names the file).
    """
    try:
        n = int(record["n_split"])
        count = int(record["count"])
        raw = base64.b64decode(str(record["bitmap"]).encode("ascii"), validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(
            f"{where}: its record of training rows is malformed ({exc})."
        ) from exc
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
    if n < 0 or len(bits) < n or bits[n:].any():
        raise CheckpointError(f"{where}: its record of training rows does not cover {n} rows.")
    rows = np.flatnonzero(bits[:n]).astype(np.int64)
    if len(rows) != count:
        raise CheckpointError(
            f"{where}: its record of training rows holds {len(rows)} rows, not {count}."
        )
    return rows


def fitted_rows(meta: dict[str, Any], *, dataset: str, sha256: str, n_split: int,
                where: str = "checkpoint") -> np.ndarray | None:  # fmt: skip
    """Return the rows of ``dataset``'s training split the checkpoint's model was fitted on.

    None when the checkpoint does not record them (older checkpoints) or was trained on other
    data (another dataset name or content digest, or a split of another size).
    """
    ds = meta.get("dataset") if isinstance(meta, dict) else None
    if not isinstance(ds, dict) or "fit_rows" not in ds:
        return None
    if ds.get("name") != dataset or ds.get("sha256") != sha256:
        return None
    rows = decode_rows(ds["fit_rows"], where=where)
    if int(ds["fit_rows"]["n_split"]) != n_split:
        return None
    return rows


def reference_train(loaded: Any, ds: Any) -> tuple[tuple[Any, np.ndarray], str]:
    """Return the training data of a reference checkpoint's audit: the rows it was fitted on.

    Returns ``((X, y), note)``: the fitted rows when the checkpoint records them for this very
    dataset, else the whole training split (the note says which, for the report).
    """
    rows = fitted_rows(
        loaded.meta, dataset=ds.name, sha256=ds.sha256, n_split=len(ds.train.y),
        where=str(getattr(loaded, "path", None) or "checkpoint"),
    )  # fmt: skip
    if rows is None:
        return (ds.train.X, ds.train.y), (
            "the whole training split (the checkpoint does not record the rows it was fitted "
            "on: validation rows may count as members)"
        )
    return (take_rows(ds.train.X, rows), ds.train.y[rows]), (
        f"the {len(rows):,} training rows the weights were fitted on (recorded in the checkpoint)"
    )
