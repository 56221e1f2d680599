"""Regression: Adult's age-band edges include infinity, which JSON cannot hold.

Was: ``data.schema.derived[].bins`` of audit.json held ``null`` for the open edge (the float
policy writes non-finite numbers as null), so the dataset schema could not be rebuilt from the
JSON. Now the edge is the string ``"inf"`` (``"-inf"``), declared in the JSON schema.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import auditkit
from auditkit.adapters import wrap
from auditkit.data import DatasetSchema, load_dataset
from auditkit.data._schema import DerivedColumn
from auditkit.exceptions import DataValidationError
from auditkit.report import load_result, to_json
from auditkit.result.json_io import validate_dict


def test_adult_schema_round_trips_through_the_json(tmp_path: Path) -> None:
    ds = load_dataset("adult")
    assert any(math.isinf(b) for d in ds.schema.derived for b in d.bins)  # the case at hand
    n = 300
    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1, 1], n)
    model = wrap(lambda X: proba[: len(X)], schema=ds.schema)  # the schema goes in data
    res = auditkit.audit(model, ds.test.X.iloc[:n], ds.test.y[:n], n_boot=2,
                         sensitive_features=["sex", "age_band"],
                         sections=["performance", "fairness"])  # fmt: skip
    assert res.data["schema"]["derived"][0]["bins"][-1] == "inf"
    text = to_json(res)
    bins = json.loads(text)["data"]["schema"]["derived"][0]["bins"]
    assert bins[-1] == "inf" and None not in bins
    path = tmp_path / "audit.json"
    path.write_text(text, encoding="utf-8")
    loaded = load_result(path)
    assert loaded.to_dict() == json.loads(text)  # floats keep 10 significant digits
    assert loaded.data["schema"] == res.data["schema"]
    assert to_json(loaded) == text
    rebuilt = DatasetSchema.from_dict(loaded.data["schema"])
    assert rebuilt == ds.schema
    ages = np.array([-3.0, 0, 24.9, 25, 44, 45, 64.9, 65, 1e9])
    np.testing.assert_array_equal(
        rebuilt.derived[0].compute(ages), ds.schema.derived[0].compute(ages)
    )


@pytest.mark.parametrize(
    "bins,expected",
    [
        (["-inf", 0, 10, "inf"], (-math.inf, 0.0, 10.0, math.inf)),
        ([None, 0, 10, None], (-math.inf, 0.0, 10.0, math.inf)),  # results written before
        ([0, 10, 20, 30], (0.0, 10.0, 20.0, 30.0)),
        ([0.0, 10, 20, math.inf], (0.0, 10.0, 20.0, math.inf)),  # checkpoints written before
        (["-Inf", 0, 1, " INF "], (-math.inf, 0.0, 1.0, math.inf)),
    ],
)
def test_bin_edges_read(bins: list[object], expected: tuple[float, ...]) -> None:
    d = DerivedColumn.from_dict(
        {"name": "b", "source": "x", "bins": bins, "labels": ["a", "b", "c"]}
    )
    assert d.bins == expected
    again = DerivedColumn.from_dict(json.loads(json.dumps(d.to_dict(), allow_nan=False)))
    assert again == d


@pytest.mark.parametrize(
    "bins,labels",
    [
        ([0, None, 10], ["a", "b"]),  # null only stands for an open outer edge
        ([0, "x", 10], ["a", "b"]),
        ([0, float("nan"), 10], ["a", "b"]),
        ([10, 0, 20], ["a", "b"]),
        ([0, 10, 20], ["a"]),
        ("0,10", ["a"]),
        ([0, True, 10], ["a", "b"]),
    ],
)
def test_bad_bin_edges_are_refused(bins: object, labels: list[str]) -> None:
    with pytest.raises((TypeError, ValueError)):
        DerivedColumn.from_dict({"name": "b", "source": "x", "bins": bins, "labels": labels})


def test_json_schema_declares_the_edges() -> None:
    base = json.loads(to_json(auditkit.audit_predictions(
        [0, 1, 1, 0], [0, 1, 0, 0], sensitive_features={"g": list("aabb")},
        sections=["performance"], n_boot=2)))  # fmt: skip
    good = {"derived": [{"name": "b", "source": "x", "bins": ["-inf", 1, "inf"],
                         "labels": ["lo", "hi"]}]}  # fmt: skip
    validate_dict({**base, "data": {**base["data"], "schema": good}})
    old = {"derived": [{"name": "b", "source": "x", "bins": [None, 1, None],
                        "labels": ["lo", "hi"]}]}  # fmt: skip
    validate_dict({**base, "data": {**base["data"], "schema": old}})
    bad = {"derived": [{"name": "b", "source": "x", "bins": ["infinity", 1],
                        "labels": ["lo"]}]}  # fmt: skip
    with pytest.raises(DataValidationError, match="data/schema/derived/0/bins/0"):
        validate_dict({**base, "data": {**base["data"], "schema": bad}})
