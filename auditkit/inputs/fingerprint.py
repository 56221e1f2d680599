"""The sha256 of an audit's data, recorded in the result (same data, same fingerprint)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

__all__ = ["counts_fingerprint", "data_fingerprint", "small_codes"]


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


def small_codes(*codes: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Class codes in the smallest integer type that holds them (less to hash)."""
    dtype = np.int8 if k <= 127 else (np.int16 if k <= 32_767 else np.int64)
    return tuple(c.astype(dtype) for c in codes)


def counts_fingerprint(counts: Any) -> str:
    """sha256 of a count table's cells and counts, independent of the order of its rows."""
    import pandas as pd

    g = counts.groups
    keys = [*counts.features, "y_true", "y_pred", *(["score_bin"] if "score_bin" in g else [])]
    frame = pd.DataFrame({k: g[k] for k in [*keys, "count"]})
    frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    return data_fingerprint(frame)
