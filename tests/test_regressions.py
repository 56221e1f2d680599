"""Regression tests for bugs found by fuzzing (benchmarks/fuzz.py) and the property tests.

Each test names the input that used to escape as another exception type (or with an unclear
message) and checks the clear AuditkitError (or the valid result) it gets now.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import auditkit
from auditkit.cli import main
from auditkit.exceptions import DataValidationError, PolicyError
from auditkit.report import load_result, to_json


def _log(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, n), rng.integers(0, 2, n), rng.choice(["a", "b"], n)


# -------------------------------------------------------------------------- sensitive features
@pytest.mark.parametrize("ragged", [[[1, 2], [3]], [["a"], "b", ["c", "d"]]])
def test_ragged_sensitive_features_is_a_data_error(ragged: list) -> None:
    # was: ValueError "setting an array element with a sequence" from np.asarray
    y, p, _ = _log(len(ragged))
    with pytest.raises(DataValidationError, match="sensitive_features"):
        auditkit.audit_predictions(y, p, sensitive_features=ragged, n_boot=0)


def test_scalar_sensitive_features_is_a_data_error() -> None:
    y, p, _ = _log(5)
    with pytest.raises(DataValidationError, match="one group label per row"):
        auditkit.audit_predictions(y, p, sensitive_features=5, n_boot=0)


def test_list_of_group_labels_is_values_without_a_frame() -> None:
    # was: "Sensitive features were named ('a', 'b', ...) but X is not a DataFrame"
    y, p, g = _log(40)
    res = auditkit.audit_predictions(y, p, sensitive_features=list(g), n_boot=0,
                                     sections=["fairness"])  # fmt: skip
    ref = auditkit.audit_predictions(y, p, sensitive_features=g, n_boot=0, sections=["fairness"])
    assert res.section("fairness").status == "ok"
    assert [m.value for m in res.metrics] == [m.value for m in ref.metrics]


def test_list_of_names_with_a_frame_still_names_columns() -> None:
    import pandas as pd

    y, p, g = _log(2)
    X = pd.DataFrame({"sex": g, "x": [0.1, 0.2]})
    with pytest.raises(DataValidationError, match="'sexx' not found.*did you mean 'sex'"):
        auditkit.audit(lambda X: np.full((len(X), 2), 0.5), X, y, sensitive_features=["sexx", "x"])


# ------------------------------------------------------------------------ the user's own model
def test_sklearn_model_failing_on_nan_is_a_data_error_naming_the_model() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    X_bad = X.copy()
    X_bad[3, 1] = np.nan
    # was: sklearn's bare ValueError "Input X contains NaN"
    with pytest.raises(DataValidationError, match="LogisticRegression.*could not predict.*NaN"):
        auditkit.audit(model, X_bad, y, sensitive_features=rng.choice(["a", "b"], 30))


@pytest.mark.parametrize(
    "output",
    [lambda n: np.array([["a", "b"]] * n), lambda n: 1 / 0],
    ids=["strings", "raises"],
)
def test_callable_returning_garbage_or_raising_is_a_data_error(output: object) -> None:
    X = np.zeros((6, 2))

    def model(X: np.ndarray) -> object:
        return output(len(X))  # type: ignore[operator]

    with pytest.raises(DataValidationError, match="'model' \\(callable\\) could not predict"):
        auditkit.audit(model, X, [0, 1] * 3, sensitive_features=["a", "b"] * 3)


def test_torch_module_on_text_columns_is_a_data_error() -> None:
    import pandas as pd
    import torch

    X = pd.DataFrame({"a": ["x", "y", "z", "w"]})
    with pytest.raises(DataValidationError, match="Sequential.*could not predict"):
        auditkit.audit(torch.nn.Sequential(torch.nn.Linear(1, 2)), X, [0, 1, 0, 1],
                       sensitive_features=["u", "u", "v", "v"])  # fmt: skip


# -------------------------------------------------------------------------------- JSON results
@pytest.mark.parametrize("version", ["2.0", "", "x", "0.9"])
def test_unsupported_schema_version_names_the_file(tmp_path: Path, version: str) -> None:
    y, p, g = _log()
    data = json.loads(to_json(auditkit.audit_predictions(y, p, sensitive_features=g, n_boot=0)))
    data["schema_version"] = version
    path = tmp_path / "äudit result.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    # was: "Audit result schema version '2.0' is not supported" without the file
    with pytest.raises(DataValidationError, match="äudit result.json"):
        load_result(path)


# ------------------------------------------------------------------------------------ policies
@pytest.mark.parametrize(
    "key,value",
    [("op", '[">="]'), ("op", "{a = 1}"), ("severity", '["error"]'), ("severity", "{x = 1}")],
)
def test_unhashable_op_or_severity_is_a_policy_error(tmp_path: Path, key: str, value: str) -> None:
    rule = {"section": '"fairness"', "metric": '"accuracy"', "op": '">="', "threshold": "0.8"}
    rule[key] = value
    path = tmp_path / "policy.toml"
    path.write_text("[[rule]]\n" + "".join(f"{k} = {v}\n" for k, v in rule.items()))
    # was: TypeError "unhashable type: 'list'"
    with pytest.raises(PolicyError, match=f"policy.toml, rule 1: key '{key}'"):
        auditkit.Policy.from_toml(path)


# ----------------------------------------------------------------------------------------- CLI
def test_cli_without_a_command_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    # was: the whole help text on stderr (19 lines) for a usage error
    assert main([]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "a command is required" in err and "audit" in err


@pytest.mark.parametrize("rule_id", ["\x08", "a\x00b", "tab\x0bform\x0c", "\x1b[31mred"])
def test_junit_xml_with_control_characters_is_well_formed(rule_id: str) -> None:
    import xml.etree.ElementTree as ET

    from auditkit.policy import check, junit_xml

    y, p, g = _log()
    res = auditkit.audit_predictions(y, p, sensitive_features=g, n_boot=0,
                                     sections=["performance"])  # fmt: skip
    pol = auditkit.Policy.from_dict({"rule": [
        {"id": rule_id, "section": "performance", "metric": "accuracy", "op": ">=",
         "threshold": 2.0},
        {"id": "ok", "section": "performance", "metric": "accuracy", "op": ">=",
         "threshold": 0.0, "description": rule_id},
    ]})  # fmt: skip
    # was: ElementTree wrote the control character raw: "not well-formed (invalid token)"
    root = ET.fromstring(junit_xml(check(res, pol)).split("\n", 1)[1])
    names = [c.get("name") for c in root.iter("testcase")]
    assert names[1] == "ok" and "\\x" in names[0]


@pytest.mark.parametrize(
    "y",
    [[0, None, 1, 0], np.array([0, "one", 1, 0], dtype=object)],
    ids=["missing", "mixed"],
)
def test_callable_model_with_missing_or_mixed_labels_is_a_data_error(y: object) -> None:
    # was: TypeError "'<' not supported between instances of 'NoneType' and 'int'" (np.unique)
    with pytest.raises(DataValidationError, match="y (has 1 missing|mixes label types)"):
        auditkit.audit(lambda X: np.full((len(X), 3), 1 / 3), np.zeros((4, 1)), y,
                       sensitive_features=["a", "a", "b", "b"])  # fmt: skip


@pytest.mark.parametrize(
    "path,value",
    [
        (("run", "ci_level"), ""),
        (("run", "n_boot"), -1),
        (("run", "sections"), 3),
        (("policy", "checks"), 3),
        (("policy", "checks", 0, "threshold"), "high"),
        (("policy", "checks", 0, "status"), "maybe"),
        (("policy", "passed"), "yes"),
    ],
)
def test_mistyped_run_or_policy_block_is_refused_at_load(
    tmp_path: Path, path: tuple, value: object
) -> None:
    # was: accepted by the schema (free objects), then the card renderer crashed on it
    y, p, g = _log()
    pol = auditkit.Policy.from_dict({"rule": [{"section": "performance", "metric": "accuracy",
                                               "op": ">=", "threshold": 0.0}]})  # fmt: skip
    res = auditkit.audit_predictions(y, p, sensitive_features=g, n_boot=0, policy=pol,
                                     sections=["performance"])  # fmt: skip
    data = json.loads(to_json(res))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    file = tmp_path / "edited.json"
    file.write_text(json.dumps(data), encoding="utf-8")
    where = "/".join(map(str, path))
    with pytest.raises(DataValidationError, match=f"edited.json does not follow .* at {where}"):
        load_result(file)


@pytest.mark.parametrize(
    "schema",
    [
        {"name": "x", "modality": "tabular", "features": [1, "a"], "target": "y",
         "class_names": ["0", "1"]},
        {"name": "x", "modality": "tabular", "features": [], "target": "y",
         "class_names": ["0", "1"], "derived": [None]},
        ["not", "a", "mapping"],
    ],
)  # fmt: skip
def test_malformed_dataset_schema_is_a_type_error(schema: object) -> None:
    from auditkit.data import DatasetSchema

    # was: AttributeError "'int' object has no attribute 'get'" (escaped load_checkpoint)
    with pytest.raises(TypeError, match="must be a mapping"):
        DatasetSchema.from_dict(schema)  # type: ignore[arg-type]


def test_deeply_nested_dataset_schema_is_a_value_error() -> None:
    from auditkit.data import DatasetSchema

    deep: list = []
    for _ in range(5000):
        deep = [deep]
    schema = {"name": deep, "modality": "tabular", "features": [], "target": "y",
              "class_names": ["0", "1"]}  # fmt: skip
    # was: RecursionError from str() (escaped load_checkpoint)
    with pytest.raises(ValueError, match="nested too deeply"):
        DatasetSchema.from_dict(schema)


def test_checkpoint_labels_by_class_name(tiny_ckpt) -> None:  # type: ignore[no-untyped-def]
    from auditkit.data import load_dataset

    ds = load_dataset("iris")
    model = auditkit.load_checkpoint(tiny_ckpt("iris-mlp"))
    names = np.asarray(ds.schema.class_names, dtype=object)[ds.test.y]
    by_name = auditkit.audit(model, ds.test.X, names, n_boot=0, sections=["performance"])
    by_code = auditkit.audit(model, ds.test.X, ds.test.y, n_boot=0, sections=["performance"])
    assert [m.value for m in by_name.metrics] == [m.value for m in by_code.metrics]
    names[3] = "unicorn"
    # was: "... is not one of the model's classes: 0, 1, 2." (indices, not the names)
    with pytest.raises(DataValidationError, match="'unicorn'.*setosa, versicolor, virginica"):
        auditkit.audit(model, ds.test.X, names, n_boot=0, sections=["performance"])


def test_two_id_like_sensitive_columns_record_only_occurring_combinations() -> None:
    from auditkit.sections.fairness import MAX_GROUPS_WITH_EMPTY

    # was: a record for each of the 120 x 120 = 14,400 combinations of levels (230,000 records
    # for 120 rows; over a minute), because empty intersections are listed like MetricFrame's
    rng = np.random.default_rng(0)
    n = 120
    y, p = rng.integers(0, 2, n), rng.integers(0, 2, n)
    a, b = [f"a{i}" for i in range(n)], [f"b{i}" for i in rng.permutation(n)]
    res = auditkit.audit_predictions(y, p, sensitive_features={"a": a, "b": b}, n_boot=2,
                                     sections=["fairness"])  # fmt: skip
    sec = res.section("fairness")
    assert sec is not None and sec.status == "ok"
    counts = [m for m in res.metrics if m.name == "count" and m.feature == ("a", "b")]
    assert len(counts) == n and all(m.n == 1 for m in counts)  # the occurring pairs only
    assert sec.info["omitted_empty_combinations"] == {"a × b": n * n - n}
    table = next(t for t in sec.tables if t.name == "groups_a_x_b")
    assert len(table.rows) == n
    assert n * n > MAX_GROUPS_WITH_EMPTY
    to_json(res)


def test_small_intersections_still_list_empty_combinations() -> None:
    y = np.array([0, 1, 0, 1, 1, 0])
    s = {"sex": ["F", "F", "M", "M", "M", "F"], "race": ["x", "x", "y", "y", "x", "x"]}
    res = auditkit.audit_predictions(y, y, sensitive_features=s, n_boot=0, sections=["fairness"])
    empty = [m for m in res.metrics if m.name == "count" and m.feature == ("sex", "race")
             and m.n == 0]  # fmt: skip
    assert [m.group for m in empty] == [("F", "y")]
    assert "omitted_empty_combinations" not in res.section("fairness").info


def test_seed_beyond_32_bits_is_a_parameter_error() -> None:
    from auditkit.exceptions import ParameterError

    y, p, g = _log()
    # was: accepted, then the stability section failed ("Seed must be between 0 and 2**32 - 1")
    with pytest.raises(ParameterError, match=r"random_state.*\[0, 4294967295\].*1099511627776"):
        auditkit.audit_predictions(y, p, sensitive_features=g, random_state=2**40)
    res = auditkit.audit_predictions(y, p, sensitive_features=g, random_state=2**32 - 1,
                                     n_boot=2, sections=["performance", "stability"])  # fmt: skip
    assert all(s.status == "ok" for s in res.sections)
