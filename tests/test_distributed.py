"""Several devices on the CPU: DDP training, scoring and attributions in two processes (gloo).

Each multi-process call spawns two Python processes that import torch and Lightning (a few
seconds each on a shared 2-core machine), so the models and data are tiny.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from auditkit.cli import main
from auditkit.data import load_dataset
from auditkit.exceptions import ParameterError
from auditkit.models.checkpoint import load_checkpoint
from auditkit.models.training import train
from auditkit.runtime.devices import (
    attribute_on_devices,
    batch_rows_for_budget,
    device_pool,
    logits_on_devices,
    plan_processes,
)
from auditkit.runtime.scoring import _gather


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------ training
def test_ddp_training_writes_one_checkpoint_with_comparable_accuracy(tmp_path: Path) -> None:
    one = train("iris-mlp", out=tmp_path / "one.ckpt", max_epochs=30, accelerator="cpu")
    two_dir = tmp_path / "two"
    two_dir.mkdir()
    two = train(
        "iris-mlp", out=two_dir / "two.ckpt", max_epochs=30, accelerator="cpu", devices=2,
        strategy="ddp",
    )  # fmt: skip
    assert _files(two_dir) == ["two.ckpt"]  # one file, no temporary file left behind
    m1, m2 = load_checkpoint(one), load_checkpoint(two)
    t2 = m2.meta["training"]
    assert (t2["devices"], t2["world_size"], t2["strategy"]) == (2, 2, "ddp")
    assert t2["launcher"] == "auditkit-spawn"
    assert m2.meta["hardware"]["devices"] == 2
    assert (m1.meta["training"]["devices"], m1.meta["training"]["world_size"]) == (1, 1)
    # each rank sees half of the rows per epoch: about half the optimizer steps
    assert t2["global_step"] < m1.meta["training"]["global_step"]
    assert len(m2.meta["history"]) == t2["epochs_run"]
    acc1, acc2 = m1.meta["test_metrics"]["accuracy"], m2.meta["test_metrics"]["accuracy"]
    assert acc2 > 0.8 and abs(acc1 - acc2) <= 0.1, (acc1, acc2)
    X = load_dataset("iris").test.X
    np.testing.assert_allclose(m2.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)
    # the parent's environment is left as it was: a later one-device run stays in-process
    assert "LOCAL_RANK" not in os.environ and plan_processes("cpu", 1, "ddp") is None


def test_cli_ddp_prints_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.ckpt"
    argv = ["train", "iris-mlp", "--out", str(out), "--devices", "2", "--strategy", "ddp",
            "--accelerator", "cpu", "--max-epochs", "2", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == [str(out)]
    assert _files(tmp_path) == ["m.ckpt"]
    assert load_checkpoint(out).meta["training"]["world_size"] == 2


@pytest.mark.slow
def test_outside_launcher_only_rank_zero_writes_and_prints(tmp_path: Path) -> None:
    """Under torchrun every process runs the command; only rank 0 writes and prints."""
    out = tmp_path / "m.ckpt"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd = [*launcher, "--nproc-per-node", "2", "-m", "auditkit", "train", "iris-mlp",
           "--out", str(out), "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu",
           "--max-epochs", "2", "--quiet"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "WORLD_SIZE")}
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == [str(out)]
    assert _files(tmp_path) == ["m.ckpt"]
    t = load_checkpoint(out).meta["training"]
    assert (t["devices"], t["world_size"], t["launcher"]) == (2, 2, "external")


def test_dp_training_refuses_several_devices(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="one device"):
        train("iris-mlp", out=tmp_path / "m.ckpt", devices=2, strategy="ddp",
              accelerator="cpu", dp_epsilon=1.0)  # fmt: skip
    assert _files(tmp_path) == []


# ------------------------------------------------------------------------------ ordering
@pytest.mark.parametrize(
    ("n", "world"),
    # fewer rows than processes run in fewer processes, so n >= world
    [(n, w) for n in (2, 3, 5, 44, 45, 101) for w in (2, 3, 4) if n >= w],
)
def test_gather_undoes_the_interleaving(n: int, world: int) -> None:
    """Rows split as Lightning's UnrepeatedDistributedSampler splits them come back in order."""
    from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler

    values = torch.randn(n, 3, generator=torch.Generator().manual_seed(n * world))
    ds = list(range(n))
    parts = []
    for r in range(world):
        idx = torch.tensor(
            list(UnrepeatedDistributedSampler(ds, num_replicas=world, rank=r, shuffle=False)),
            dtype=torch.long,
        )
        parts.append({"idx": idx, "v": values[idx], "none": None})
    got = _gather(parts, n, ["v", "none"])
    assert torch.equal(got["v"], values) and got["none"] is None


def test_gather_refuses_lost_or_duplicated_rows() -> None:
    v = torch.arange(5.0).view(5, 1)
    dup = [{"idx": torch.tensor([0, 2, 4]), "v": v[[0, 2, 4]]}, {"idx": torch.tensor([1, 2])}]
    dup[1]["v"] = v[[1, 2]]
    with pytest.raises(RuntimeError, match="1 missing, 1 duplicated"):
        _gather(dup, 5, ["v"])
    with pytest.raises(RuntimeError, match="4 rows for 5"):
        _gather([{"idx": torch.tensor([0, 1, 2, 3]), "v": v[:4]}], 5, ["v"])


# ------------------------------------------------------------------------------ scoring
@pytest.fixture(scope="module")
def iris_model(tiny_ckpt):  # type: ignore[no-untyped-def]
    return load_checkpoint(tiny_ckpt("iris-mlp"))


@pytest.mark.parametrize("n", [44, 45])
def test_scoring_on_two_devices_equals_one(iris_model, n: int) -> None:  # type: ignore[no-untyped-def]
    ds = load_dataset("iris")
    X = ds.train.X.iloc[:n]
    one = iris_model.predict_proba(X)
    two = iris_model.predict_proba(X, devices=2, accelerator="cpu")
    assert two.shape == (n, 3) and two.dtype == np.float64
    np.testing.assert_array_equal(two, one)  # exactly, and in row order


def test_adapter_scores_on_two_devices_with_a_budget(iris_model) -> None:  # type: ignore[no-untyped-def]
    X = load_dataset("iris").test.X
    adapter = iris_model.as_adapter(devices=2, accelerator="cpu", memory_budget_mb=0.05)
    got = adapter.predict_proba(X)
    # a tiny budget means small batches: BLAS may move the last bit of a float32 logit
    np.testing.assert_allclose(got, iris_model.predict_proba(X), rtol=1e-6, atol=1e-9)
    assert adapter.scoring["devices"] == 2


def test_scoring_errors_surface_in_the_caller() -> None:
    """A failing process raises in the caller (with its message) and nothing hangs."""
    net = nn.Linear(4, 3)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        logits_on_devices(net, torch.zeros(6, 5), devices=2, accelerator="cpu")


def test_a_device_pool_keeps_its_processes_until_the_block_ends(iris_model) -> None:  # type: ignore[no-untyped-def]
    """Inside device_pool every call reuses the same processes; a failure replaces them."""
    from auditkit.runtime import launch as _launch

    X = load_dataset("iris").test.X
    one = iris_model.predict_proba(X)
    with device_pool():
        a = iris_model.predict_proba(X, devices=2, accelerator="cpu")
        (pool,) = _launch._POOLS.values()
        b = iris_model.predict_proba(X.iloc[:7], devices=2, accelerator="cpu")
        assert list(_launch._POOLS.values()) == [pool] and pool.alive()
        with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
            logits_on_devices(nn.Linear(4, 3), torch.zeros(6, 5), devices=2, accelerator="cpu")
        assert not pool.alive() and not _launch._POOLS
        c = iris_model.predict_proba(X, devices=2, accelerator="cpu")
        (again,) = _launch._POOLS.values()
        assert set(again.pids()).isdisjoint(pool.pids())
    assert not _launch._POOLS and not again.alive()
    np.testing.assert_array_equal(a, one)
    # 7 rows make batches of 3 and 4 rows: BLAS may move the last bit of a float32 logit
    np.testing.assert_allclose(b, one[:7], rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(c, one)


def test_scoring_parameters_are_checked(iris_model) -> None:  # type: ignore[no-untyped-def]
    X = load_dataset("iris").test.X
    with pytest.raises(ParameterError, match="'devices' parameter of predict_proba"):
        iris_model.predict_proba(X, devices=0)
    with pytest.raises(ParameterError, match="'strategy' parameter of predict_proba"):
        iris_model.predict_proba(X, devices=2, strategy="fsdp")
    with pytest.raises(ParameterError, match="'memory_budget_mb' parameter of predict_proba"):
        iris_model.predict_proba(X, memory_budget_mb=0)


def test_audit_cli_checks_devices_and_budget(
    iris_model, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    ckpt = str(iris_model.path)
    out = str(tmp_path / "out")
    assert main(["audit", ckpt, "--devices", "0", "--out", out]) == 2
    assert "--devices takes a number >= 1" in capsys.readouterr().err
    assert main(["audit", ckpt, "--memory-budget", "-1", "--out", out]) == 2
    assert "--memory-budget takes a number of MiB > 0" in capsys.readouterr().err
    log = tmp_path / "log.csv"
    log.write_text("y,p,s\n1,1,a\n0,1,b\n")
    argv = ["audit", "--predictions", str(log), "--y-true", "y", "--y-pred", "p",
            "--sensitive", "s", "--devices", "2", "--out", out]  # fmt: skip
    assert main(argv) == 2
    assert "go with a checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_audit_cli_scores_with_a_budget(
    iris_model, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    """--memory-budget reaches the checkpoint's scoring; the metrics are those of no budget."""
    import json

    runs = {}
    for name, extra in (("plain", []), ("budget", ["--memory-budget", "0.01"])):
        out = tmp_path / name
        argv = ["audit", str(iris_model.path), "--sections", "performance", "--n-boot", "20",
                "--no-progress", "--out", str(out), *extra]  # fmt: skip
        assert main(argv) == 0
        metrics = json.loads((out / "audit.json").read_text())["metrics"]
        runs[name] = [m for m in metrics if m["section"] == "performance"]
    capsys.readouterr()
    a, b = runs["plain"], runs["budget"]
    assert a
    assert [m["name"] for m in a] == [m["name"] for m in b]
    for ma, mb in zip(a, b):
        if isinstance(ma["value"], float):
            assert mb["value"] == pytest.approx(ma["value"], rel=1e-6, abs=1e-9)


# ------------------------------------------------------------------------------ budget
def test_memory_budget_sets_the_batch(iris_model) -> None:  # type: ignore[no-untyped-def]
    module = iris_model.module
    X = load_dataset("iris").train.X
    x = module.encode(X)
    small, large = (batch_rows_for_budget(module, x, mb) for mb in (0.01, 1.0))
    assert 1 <= small < large
    assert large == pytest.approx(100 * small, rel=0.05)  # linear in the budget
    seen: list[int] = []
    hook = module.register_forward_pre_hook(lambda _m, a: seen.append(int(a[0].shape[0])))
    try:
        got = iris_model.predict_proba(X, memory_budget_mb=0.01)
    finally:
        hook.remove()
    chunks = seen[1:]  # the first forward pass is the probe of a few rows
    assert max(chunks) <= small and len(chunks) == -(-len(X) // small) > 1
    np.testing.assert_allclose(got, iris_model.predict_proba(X), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(
        iris_model.predict_proba(X, memory_budget_mb=1.0), iris_model.predict_proba(X)
    )


# ------------------------------------------------------------------------------ attributions
def _tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).eval()


def test_integrated_gradients_on_two_devices_equal_captum() -> None:
    from captum.attr import IntegratedGradients

    net = _tiny_net()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(13, 5, generator=g)  # 13 rows: not divisible by 2
    base = torch.randn(13, 5, generator=g) * 0.1  # one baseline per row, split with the rows
    target = torch.tensor([i % 3 for i in range(13)])
    run = attribute_on_devices(
        net, x, method="integrated_gradients", devices=2, accelerator="cpu", target=target,
        baselines=base, n_steps=20,
    )  # fmt: skip
    ref, delta = IntegratedGradients(net).attribute(
        x, baselines=base, target=target, n_steps=20, return_convergence_delta=True
    )
    np.testing.assert_allclose(run.values, ref.detach().numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(run.delta, delta.detach().numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(run.target, target.numpy())
    assert run.info["rows_per_device"] == [7, 6] and run.fast_path


def test_layer_attributions_on_two_devices_equal_captum() -> None:
    """A layer method: the layer travels inside the model to the other processes."""
    from captum.attr import LayerIntegratedGradients

    torch.manual_seed(0)

    net = nn.Sequential(nn.Embedding(20, 4), nn.Flatten(), nn.Linear(24, 2)).eval()
    ids = torch.randint(1, 20, (9, 6), generator=torch.Generator().manual_seed(2))
    run = attribute_on_devices(
        net, ids, method="layer_integrated_gradients", devices=2, accelerator="cpu",
        layer=net[0], n_steps=10,
    )  # fmt: skip
    with torch.no_grad():
        pred = net(ids).argmax(dim=1)
    ref = LayerIntegratedGradients(net, net[0]).attribute(
        ids, baselines=torch.zeros_like(ids), target=pred, n_steps=10
    )
    ref_rows = ref.detach().sum(dim=-1).numpy()
    values = run.values if run.values.ndim == 2 else run.values.sum(axis=-1)
    np.testing.assert_allclose(values, ref_rows, rtol=1e-5, atol=1e-7)


def test_attribute_on_devices_checks_its_layer() -> None:
    net = _tiny_net()
    with pytest.raises(ParameterError, match="not a submodule"):
        attribute_on_devices(
            net, torch.zeros(4, 5), method="layer_integrated_gradients", devices=2,
            accelerator="cpu", layer=nn.Linear(5, 5),
        )  # fmt: skip
