import json

import jsonschema
import pytest

from auditkit.exceptions import DataValidationError
from auditkit.report import (
    AuditResult,
    Chart,
    Finding,
    MetricValue,
    SectionResult,
    Table,
    load_result,
    to_json,
)
from auditkit.result.json_io import result_schema


def make_result():
    metrics = (
        MetricValue(
            "fairness",
            "selection_rate",
            0.123456789012345,
            feature="sex",
            group="Female",
            ci=(0.1, 0.15),
            n=100,
        ),
        MetricValue(
            "fairness",
            "selection_rate_ratio",
            float("nan"),
            feature=("sex", "race"),
            method="between_groups",
            reason="0/0",
            flags=("too_small",),
        ),
        MetricValue("stability", "accuracy", 0.8, fold=2),
        MetricValue("privacy", "membership_auc", 0.51, attack="loss", ci=(0.49, 0.53), n=2000),
        MetricValue("explainability", "importance", 0.2, input_feature="age"),
    )
    sections = (
        SectionResult(
            "fairness",
            "ok",
            metrics=metrics[:2],
            tables=(Table("groups", "Groups", ("group", "rate"), (("Female", 0.12),)),),
            findings=(Finding("fairness", "warn", "Female applicants ..."),),
            charts=(Chart("ratio", "bar", "Ratio", {"labels": ["a"], "values": [0.5]}),),
            info={"n_groups": 2},
        ),
        SectionResult("stability", "ok", metrics=metrics[2:3]),
        SectionResult("privacy", "ok", metrics=metrics[3:4]),
        SectionResult("explainability", "ok", metrics=metrics[4:]),
        SectionResult("extra", "skipped", reason="needs a model"),
    )
    return AuditResult(
        "1.0", "0.1.0", "2026-01-01T00:00:00Z", {"seed": 0}, {"name": "m"}, {"name": "d"}, sections
    )


def test_metric_value_normalises_types():
    import numpy as np

    m = MetricValue("s", "n", np.float32(0.5), feature=["a"], group=np.array(["x"]), n=np.int64(3))
    assert (
        type(m.value) is float and m.feature == ("a",) and m.group == ("x",) and type(m.n) is int
    )
    assert MetricValue("s", "n", float("inf")).value is None
    assert m.id == "s.n"


def test_round_trip_and_schema(tmp_path):
    r = make_result()
    d = r.to_dict()
    jsonschema.validate(d, result_schema())
    assert AuditResult.from_dict(d) == r
    rec = d["metrics"][0]
    assert rec["feature"] == ["sex"] and rec["group"] == ["Female"] and rec["ci"] == [0.1, 0.15]
    assert d["metrics"][1]["group"] is None and d["metrics"][1]["value"] is None
    assert d["metrics"][2]["fold"] == 2 and d["metrics"][3]["attack"] == "loss"
    text = to_json(r)
    assert json.loads(text)["metrics"][0]["value"] == 0.123456789  # 10 significant digits
    p = tmp_path / "audit.json"
    p.write_text(text)
    back = load_result(p)
    assert back.metrics[0].value == pytest.approx(0.123456789012345, rel=1e-9)
    assert to_json(back) == text


def test_json_is_deterministic():
    assert to_json(make_result()) == to_json(make_result())


@pytest.mark.parametrize(
    "content,match",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"schema_version": "9.0"}', "schema version '9.0' is not supported"),
        ('{"schema_version": "1.0"}', "does not follow the audit schema"),
    ],
)
def test_load_result_errors(tmp_path, content, match):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(DataValidationError, match=match):
        load_result(p)


def test_load_result_missing_file(tmp_path):
    with pytest.raises(DataValidationError, match="does not exist"):
        load_result(tmp_path / "missing.json")


def test_schema_rejects_bad_metric_record():
    d = make_result().to_dict()
    d["metrics"][0]["value"] = "0.5"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d, result_schema())
