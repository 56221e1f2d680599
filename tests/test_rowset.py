"""The checkpoint's record of the rows its weights were fitted on (privacy's members)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import auditkit
from auditkit._core.rows import decode_rows, encode_rows, fitted_rows, take_rows
from auditkit.data import load_dataset
from auditkit.exceptions import CheckpointError


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 300).flatmap(
    lambda n: st.tuples(st.just(n), st.sets(st.integers(0, max(n - 1, 0)), max_size=n))
))  # fmt: skip
def test_row_records_round_trip(case: tuple[int, set[int]]) -> None:
    n, rows = case
    rows = {r for r in rows if r < n}
    rec = encode_rows(np.array(sorted(rows), dtype=np.int64), n)
    assert rec["count"] == len(rows) and rec["n_split"] == n
    np.testing.assert_array_equal(decode_rows(rec), np.array(sorted(rows), dtype=np.int64))


@pytest.mark.parametrize(
    "record, match",
    [
        ({"n_split": 10, "count": 1}, "malformed"),
        ({"n_split": 10, "count": 1, "bitmap": "***"}, "malformed"),
        ({"n_split": 100, "count": 0, "bitmap": "AA=="}, "does not cover 100"),
        ({"n_split": 8, "count": 3, "bitmap": "gA=="}, "holds 1 rows, not 3"),
        ({"n_split": 4, "count": 1, "bitmap": "CA=="}, "does not cover 4"),  # a bit past n
        ("not a dict", "malformed"),
    ],
)
def test_malformed_row_records_are_refused_naming_the_file(record: Any, match: str) -> None:
    with pytest.raises(CheckpointError, match=match) as info:
        decode_rows(record, where="model.ckpt")
    assert "model.ckpt" in str(info.value)


def test_take_rows_keeps_the_kind() -> None:
    import pandas as pd
    import torch

    idx = np.array([2, 0])
    df = pd.DataFrame({"a": [1, 2, 3]}, index=[10, 11, 12])
    assert take_rows(df, idx)["a"].tolist() == [3, 1]
    assert take_rows(df, idx).index.tolist() == [0, 1]
    assert take_rows(np.arange(3) * 2, idx).tolist() == [4, 0]
    assert take_rows(torch.arange(3), idx).tolist() == [2, 0]
    assert take_rows(["x", "y", "z"], idx) == ["z", "x"]


def test_checkpoint_records_exactly_the_fitted_rows(tiny_ckpt: Any) -> None:
    """Not the validation rows, not the rows that limit_train_rows left out."""
    path: Path = tiny_ckpt("adult-mlp")
    loaded = auditkit.load_checkpoint(path)
    ds = load_dataset("adult")
    meta_ds = loaded.meta["dataset"]
    rows = fitted_rows(loaded.meta, dataset="adult", sha256=ds.sha256, n_split=len(ds.train.y))
    assert rows is not None
    assert len(rows) == meta_ds["n_train"]
    limit = meta_ds["limit_train_rows"]
    assert limit is not None and len(rows) < limit < len(ds.train.y)  # validation rows left out
    assert len(np.unique(rows)) == len(rows) and rows.max() < len(ds.train.y)
    # Another dataset, or the same name with other content: no claim about its rows.
    assert fitted_rows(loaded.meta, dataset="iris", sha256=ds.sha256, n_split=len(ds.train.y)) \
        is None  # fmt: skip
    assert fitted_rows(loaded.meta, dataset="adult", sha256="0" * 64, n_split=len(ds.train.y)) \
        is None  # fmt: skip


def test_the_audit_takes_members_from_the_fitted_rows(tiny_ckpt: Any) -> None:
    loaded = auditkit.load_checkpoint(tiny_ckpt("adult-mlp"))
    result = auditkit.audit(
        loaded,
        sections=["privacy"],
        n_boot=20,
        options={"privacy_max_rows": 200, "membership_reference": False},
    )
    n_fit = loaded.meta["dataset"]["n_train"]
    assert f"the {n_fit:,} training rows the weights were fitted on" in result.data["train_rows"]
    sec = result.sections[0]
    assert sec.status == "ok", sec.reason


def test_a_checkpoint_without_the_record_falls_back_to_the_whole_split(tiny_ckpt: Any) -> None:
    from auditkit._core.rows import reference_train

    loaded = auditkit.load_checkpoint(tiny_ckpt("iris-mlp"))
    ds = load_dataset("iris")
    del loaded.meta["dataset"]["fit_rows"]
    (X, y), note = reference_train(loaded, ds)
    assert len(y) == len(ds.train.y) and "whole training split" in note
