"""Shapley value sampling and KernelSHAP in the runtime's attribute equal Captum's own call.

Same model, inputs, targets, baselines, feature groups and seed: ``attribute`` seeds torch's and
numpy's generators with ``random_state`` and hands Captum the rows, so its draws are Captum's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import KernelShap, ShapleyValueSampling
from torch import nn

from auditkit.runtime import attribution as A

pytestmark = pytest.mark.filterwarnings("ignore:You are providing multiple inputs for Lime")

CAPTUM = {"shapley_value_sampling": ShapleyValueSampling, "kernel_shap": KernelShap}


def mlp(seed: int = 0, d: int = 6, k: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, k)).eval()


def captum_call(method: str, net: nn.Module, x: torch.Tensor, **kw: object) -> torch.Tensor:
    seed = int(kw.pop("seed"))  # type: ignore[call-overload]
    state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            return CAPTUM[method](net).attribute(x, **kw)  # type: ignore[no-any-return]
        finally:
            np.random.set_state(state)


@pytest.mark.parametrize("method", sorted(CAPTUM))
@pytest.mark.parametrize("baseline", ["row", "scalar"])
def test_sampling_methods_equal_captum_with_the_same_seed(method: str, baseline: str) -> None:
    net = mlp()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(24, 6, generator=g)
    base: torch.Tensor | float = x.median(dim=0, keepdim=True).values if baseline == "row" else 0.5
    mask = torch.tensor([[0, 0, 1, 2, 2, 3]])
    ours = A.attribute(
        net, x, method=method, baselines=base, feature_mask=mask, n_samples=12, random_state=7
    )
    assert ours.values.shape == (24, 6)
    ref = captum_call(
        method, net, x, baselines=base, target=torch.as_tensor(ours.target),
        feature_mask=mask, n_samples=12, seed=7,
    )  # fmt: skip
    np.testing.assert_allclose(ours.values, ref.double().numpy(), rtol=1e-5, atol=1e-6)
    assert ours.delta is None
    # grouped features share their value, as in feature ablation
    np.testing.assert_array_equal(ours.values[:, 0], ours.values[:, 1])


def test_kernel_shap_draws_per_row_so_row_chunks_do_not_change_it() -> None:
    net = mlp(3)
    x = torch.randn(10, 6, generator=torch.Generator().manual_seed(2))
    whole = A.attribute(net, x, method="kernel_shap", n_samples=20, random_state=3)
    chunks = A.attribute(net, x, method="kernel_shap", n_samples=20, random_state=3, batch_size=3)
    assert chunks.plan.rows_per_call == 3
    np.testing.assert_allclose(chunks.values, whole.values, rtol=1e-5, atol=1e-6)


def test_sampling_methods_are_perturbation_methods_with_their_evaluation_count() -> None:
    assert {"shapley_value_sampling", "kernel_shap"} <= set(A.METHODS)
    assert {"shapley_value_sampling", "kernel_shap"} <= set(A.PERTURBATION_METHODS)
    x = torch.zeros(4, 6)
    mask = torch.tensor([[0, 0, 1, 1, 2, 2]])
    assert A._n_perturbations("shapley_value_sampling", x, mask, None, None, 10) == 30
    assert A._n_perturbations("kernel_shap", x, None, None, None, 10) == 10
    assert A._n_perturbations("feature_ablation", x, None, None, None) == 6


def test_gradient_plan_budgets_the_tensors_autograd_saves() -> None:
    """The bytes a gradient pass plans per evaluation are measured, and bound the passes."""
    net = nn.Sequential(nn.Linear(32, 256), nn.Tanh(), nn.Linear(256, 2)).eval()
    x = torch.randn(64, 32)
    est = A.backward_bytes_per_row(net, x)
    # saved for backward per row: the Linear's input (32), tanh's output (256), the second
    # Linear's input (the same tensor): 288 floats, times the factor
    assert est == pytest.approx((288 * 4 + 32 * 4) * A._BACKWARD_FACTOR, rel=0.05)
    budget_mb = 40 * est / 2**20  # 40 evaluations per pass
    run = A.attribute(
        net, x, method="integrated_gradients", n_steps=10, memory_budget_mb=budget_mb
    )
    assert run.info["pass_bytes_per_row"] == pytest.approx(est)
    ibs = run.plan.internal_batch_size
    assert ibs is not None and ibs <= 40 and run.plan.rows_per_call <= 40
