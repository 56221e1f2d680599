"""Every parameter and option of an audit is checked before any model scores anything."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import auditkit
from auditkit.exceptions import AuditkitError, ParameterError, RegistryKeyError
from auditkit.inputs.options import known_options
from auditkit.inputs.settings import AuditOptions


class ScoringForbidden(AssertionError):
    """Raised by the model below: reaching it means the audit scored before checking."""


class NeverScore:
    """A classifier whose scoring fails the test: it proves no row was scored."""

    classes_ = np.array([0, 1])

    def fit(self, X: Any, y: Any) -> NeverScore:
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        raise ScoringForbidden("the model was asked to score before the parameters were checked")

    def predict(self, X: Any) -> np.ndarray:
        raise ScoringForbidden("the model was asked to predict before the parameters were checked")


@pytest.fixture
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=60), "sex": rng.choice(["F", "M"], 60)})
    return X, rng.integers(0, 2, 60)


BAD = [
    ({"n_boot": -1}, ParameterError, "n_boot"),
    ({"n_boot": 2.5}, ParameterError, "n_boot"),
    ({"ci_level": 1.5}, ParameterError, "ci_level"),
    ({"min_group_size": 0}, ParameterError, "min_group_size"),
    ({"sections": ["performance", "fairnes"]}, RegistryKeyError, "fairnes"),
    ({"sections": []}, ParameterError, "sections"),
    ({"custom_metrics": {"tpr": "not callable"}}, ParameterError, "custom_metrics"),
    ({"custom_metrics": [len]}, ParameterError, "custom_metrics"),
    ({"options": {"cvv": 3}}, ParameterError, "cvv"),
    ({"options": {"timings": "yes"}}, ParameterError, "timings"),
    ({"options": {"auc_bins": 0}}, ParameterError, "auc_bins"),
    ({"options": [("timings", True)]}, ParameterError, "options"),
    ({"provenance": {"user": "me"}}, ParameterError, "user"),
    ({"provenance": {"command": 3}}, ParameterError, "command"),
    ({"max_groups": 0}, ParameterError, "max_groups"),
]


@pytest.mark.parametrize(("kwargs", "error", "name"), BAD)
def test_audit_checks_every_parameter_before_scoring(
    data: tuple[pd.DataFrame, np.ndarray], kwargs: dict[str, Any], error: type, name: str
) -> None:
    X, y = data
    with pytest.raises(error, match=name) as info:
        auditkit.audit(NeverScore(), X[["x"]], y, sensitive_features=X["sex"], **kwargs)
    assert isinstance(info.value, AuditkitError)


@pytest.mark.parametrize(("kwargs", "error", "name"), BAD)
def test_audit_predictions_checks_every_parameter_first(
    data: tuple[pd.DataFrame, np.ndarray], kwargs: dict[str, Any], error: type, name: str
) -> None:
    X, y = data
    with pytest.raises(error, match=name):
        # y_true of the wrong length: a check of the rows would give another error
        auditkit.audit_predictions(y[:10], y, sensitive_features=X["sex"], **kwargs)


def test_an_unknown_option_names_the_known_ones(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = data
    with pytest.raises(ParameterError) as info:
        auditkit.audit(NeverScore(), X[["x"]], y, sensitive_features=X["sex"], options={"cvv": 3})
    msg = str(info.value)
    assert "'cvv'" in msg and "Known options" in msg
    for name in ("timings", "log_loss", "auc_bins"):
        assert name in msg


def test_the_api_declares_the_options_it_reads() -> None:
    import auditkit.sections  # noqa: F401 - registers every section's options

    known = known_options()
    for name in ("timings", "log_loss", "auc_bins"):
        assert "audit" in known[name].owners
    assert AuditOptions().auc_bins == 16_384 and AuditOptions().timings is False


def test_good_options_reach_the_sections(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = data
    res = auditkit.audit_predictions(
        y, y, sensitive_features=X["sex"], sections=["performance"], n_boot=0,
        options={"timings": True},
    )  # fmt: skip
    assert res.sections[0].duration_s is not None


def test_provenance_is_recorded(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = data
    res = auditkit.audit_predictions(
        y, y, sensitive_features=X["sex"], sections=["performance"], n_boot=0,
        provenance={"command": "auditkit audit --predictions log.csv", "data_name": "log.csv"},
    )  # fmt: skip
    assert res.run["command"] == "auditkit audit --predictions log.csv"
    assert res.data["name"] == "log.csv"


def test_provenance_in_options_still_works_with_a_future_warning(
    data: tuple[pd.DataFrame, np.ndarray],
) -> None:
    X, y = data
    kw: dict[str, Any] = dict(sensitive_features=X["sex"], sections=["performance"], n_boot=0)
    new = auditkit.audit_predictions(
        y, y, provenance={"command": "cmd", "data_name": "log.csv"}, **kw
    )
    with pytest.warns(FutureWarning, match="provenance") as record:
        old = auditkit.audit_predictions(
            y, y, options={"command": "cmd", "data_name": "log.csv"}, **kw
        )
    assert record[0].filename == __file__  # the warning points at the caller's line
    assert old.to_dict() | {"created_at": None} == new.to_dict() | {"created_at": None}
    with pytest.warns(FutureWarning), pytest.raises(ParameterError, match="twice"):
        auditkit.audit_predictions(
            y, y, options={"command": "a"}, provenance={"command": "b"}, **kw
        )


def test_audit_warns_at_the_callers_line(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = data
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(ParameterError, match="cvv"):
            auditkit.audit(NeverScore(), X[["x"]], y, options={"command": "c", "cvv": 1})
    assert [w.filename for w in record if w.category is FutureWarning] == [__file__]
