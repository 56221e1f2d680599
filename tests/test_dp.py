"""Differentially private training (DP-SGD with Opacus) of the reference models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import auditkit
from auditkit.cli import main
from auditkit.data import load_dataset
from auditkit.exceptions import ParameterError
from auditkit.models.checkpoint import load_checkpoint
from auditkit.models.dp import DPConfig, _restore_lstms, _swap_lstms, strip_module_prefix
from auditkit.models.training import fit_model
from auditkit.sections._mia import dp_auc_bound

DP_KEYS = {
    "epsilon", "target_epsilon", "delta", "max_grad_norm", "noise_multiplier", "sample_rate",
    "epochs", "steps", "accountant", "library",
}  # fmt: skip


@pytest.fixture(scope="module")
def dp_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny DP-trained adult-mlp, written through the CLI."""
    out = tmp_path_factory.mktemp("dp") / "adult-dp.ckpt"
    argv = [
        "train", "adult-mlp", "--out", str(out), "--max-epochs", "2",
        "--limit-train-rows", "800", "--dp-epsilon", "3", "--max-grad-norm", "1.5", "--quiet",
    ]  # fmt: skip
    assert main(argv) == 0
    return out


def test_dp_checkpoint_loads_with_metadata(dp_ckpt: Path) -> None:
    loaded = load_checkpoint(dp_ckpt)
    dp = loaded.meta["dp"]
    assert DP_KEYS <= set(dp)
    n_train = loaded.meta["dataset"]["n_train"]
    assert dp["delta"] == pytest.approx(1.0 / n_train)
    assert 0 < dp["epsilon"] <= 3.0 + 1e-6  # the accountant's spend meets the target
    assert dp["target_epsilon"] == 3.0
    assert dp["max_grad_norm"] == 1.5
    assert dp["noise_multiplier"] > 0.3
    assert dp["accountant"] == "rdp"
    assert dp["epochs"] == 2 and loaded.meta["training"]["epochs_run"] == 2
    # every sampled step was accounted for: about 2 epochs / sample rate steps
    assert dp["steps"] == pytest.approx(2 / dp["sample_rate"], abs=1)
    # weights saved without Opacus's prefix, under the plain model's names
    sd = torch.load(dp_ckpt, weights_only=True)["state_dict"]
    assert not any("_module" in k for k in sd)
    plain = auditkit.models.MODEL_REGISTRY.get("adult-mlp")
    ref = plain(schema=loaded.meta["schema"], preprocessing=loaded.meta["preprocessing"])
    assert set(sd) == set(ref.state_dict())
    ds = load_dataset("adult")
    proba = loaded.predict_proba(ds.test.X.iloc[:50])
    assert proba.shape == (50, 2) and np.allclose(proba.sum(axis=1), 1.0)
    # the audit's privacy section reads describe()["dp"]
    desc = loaded.as_adapter().describe()
    assert desc["dp"]["epsilon"] == dp["epsilon"] and desc["dp"]["delta"] == dp["delta"]


def test_dp_record_reaches_privacy_section(dp_ckpt: Path) -> None:
    loaded = load_checkpoint(dp_ckpt)
    ds = load_dataset("adult")
    res = auditkit.audit(
        loaded, ds.test.X.iloc[:300], ds.test.y[:300], sections=["privacy"],
        train=(ds.train.X.iloc[:300], ds.train.y[:300]), n_boot=20,
        sensitive_features=["sex"],
    )  # fmt: skip
    sec = res.sections["privacy"] if isinstance(res.sections, dict) else res.sections[0]
    assert sec.status == "ok", sec.reason
    values = {m.name: m.value for m in sec.metrics if m.name.startswith("dp_")}
    assert values["dp_epsilon"] == pytest.approx(loaded.meta["dp"]["epsilon"])
    eps, delta = loaded.meta["dp"]["epsilon"], loaded.meta["dp"]["delta"]
    bound = next(m.value for m in sec.metrics if m.name == "membership_auc_bound")
    assert bound == pytest.approx(dp_auc_bound(eps, delta))
    assert bound >= np.exp(eps) / (1 + np.exp(eps)) - 1e-12


def _iris_accuracy(noise_multiplier: float) -> float:
    ds = load_dataset("iris")
    dp = DPConfig.create(1.0, None, 1.0, noise_multiplier=noise_multiplier)
    module, _ = fit_model(
        "iris-mlp", ds.train.X, ds.train.y, schema=ds.schema, dp=dp, max_epochs=30,
        hparams={"lr": 3e-2}, seed=0,
    )  # fmt: skip
    return float(np.mean(module.predict_proba(ds.test.X).argmax(axis=1) == ds.test.y))


def test_enormous_noise_collapses_accuracy() -> None:
    """DP is really applied: with a noise multiplier of 1e6 the model learns nothing."""
    quiet = _iris_accuracy(1e-3)
    loud = _iris_accuracy(1e6)
    assert quiet >= 0.8
    assert loud <= 0.6
    assert quiet - loud >= 0.3


def test_dp_training_is_deterministic_per_seed() -> None:
    ds = load_dataset("iris")
    dp = DPConfig.create(5.0, None, 1.0)

    def weights(seed: int) -> list[torch.Tensor]:
        module, _ = fit_model(
            "iris-mlp", ds.train.X, ds.train.y, schema=ds.schema, dp=dp, max_epochs=3, seed=seed
        )
        return [p.detach().clone() for p in module.parameters()]

    a, b, c = weights(0), weights(0), weights(1)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_strip_module_prefix() -> None:
    sd = {"_module.net.0.weight": torch.zeros(1), "_module._module.b": torch.ones(1), "c": 1}
    out = strip_module_prefix(sd)  # type: ignore[arg-type]
    assert list(out) == ["net.0.weight", "b", "c"]


def test_lstm_swapped_to_dplstm_and_back() -> None:
    from opacus.layers import DPLSTM

    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4), nn.Module())
    model[1].lstm = nn.LSTM(4, 3, batch_first=True, bidirectional=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = _swap_lstms(model)
    assert names == ["1.lstm"] and isinstance(model[1].lstm, DPLSTM)
    x = torch.randn(2, 5, 4)
    ref = nn.LSTM(4, 3, batch_first=True, bidirectional=True)
    ref.load_state_dict({k[len("1.lstm.") :]: v for k, v in before.items() if "lstm" in k})
    assert torch.allclose(model[1].lstm(x)[0], ref(x)[0], atol=1e-5)
    _restore_lstms(model, names)
    assert type(model[1].lstm) is nn.LSTM
    after = model.state_dict()
    assert set(after) == set(before)
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_dp_imdb_lstm_tiny(tmp_path: Path) -> None:
    path = auditkit.train(
        "imdb-lstm", out=tmp_path / "imdb-dp.ckpt", max_epochs=1, limit_train_rows=120,
        dp_epsilon=8.0, max_len=24, embedding_dim=8, hidden_size=8, max_vocab=500,
    )  # fmt: skip
    loaded = load_checkpoint(path)
    assert isinstance(loaded.module.lstm, nn.LSTM)
    assert loaded.meta["dp"]["converted_layers"] == ["lstm: nn.LSTM -> DPLSTM"]
    sd = torch.load(path, weights_only=True)["state_dict"]
    assert "lstm.weight_ih_l0" in sd and not any("_module" in k for k in sd)
    proba = loaded.predict_proba(["a great film", "dull and long"])
    assert proba.shape == (2, 2)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"dp_epsilon": 0.0}, "dp_epsilon"),
        ({"dp_epsilon": float("inf")}, "dp_epsilon"),
        ({"dp_epsilon": 2.0, "dp_delta": 1.5}, "dp_delta"),
        ({"dp_delta": 1e-5}, "dp_epsilon"),
        ({"dp_epsilon": 2.0, "max_grad_norm": -1.0}, "max_grad_norm"),
        ({"dp_epsilon": 2.0, "scheduler": "onecycle"}, "scheduler"),
        ({"dp_epsilon": 2.0, "batch_norm": True}, "batch norm"),
    ],
)
def test_dp_parameter_errors(tmp_path: Path, kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(ParameterError, match=needle):
        auditkit.train(
            "iris-mlp", out=tmp_path / "x.ckpt", max_epochs=1, limit_train_rows=40, **kwargs
        )
    assert not (tmp_path / "x.ckpt").exists()
