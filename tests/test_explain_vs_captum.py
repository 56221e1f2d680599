"""auditkit.explain against Captum's plain default call on the same module and inputs.

Captum is the oracle: for every method and every reference model kind (tabular MLP, image CNN,
text LSTM), the attributions auditkit returns through its fast path (one backward pass per
batch, batches from a memory budget) must equal what ``Method(module).attribute(x, target=t)``
returns, to rtol 1e-4, and so must the convergence deltas.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import (
    DeepLift,
    FeatureAblation,
    GradientShap,
    IntegratedGradients,
    LayerIntegratedGradients,
    Occlusion,
    Saliency,
)
from torch import nn

from auditkit import explain
from auditkit.runtime.attribution import default_window

pytestmark = [
    pytest.mark.filterwarnings("ignore:Input Tensor .* did not already require gradients"),
    pytest.mark.filterwarnings("ignore:Setting forward, backward hooks"),
]

RTOL = 1e-4
PERTURBATION = ("feature_ablation", "occlusion")


def close(
    ours: np.ndarray, ref: torch.Tensor | np.ndarray, outputs: np.ndarray | None = None
) -> None:
    """rtol 1e-4; near-zero entries are compared on the scale of the attributions, and for
    perturbation methods (differences of float32 outputs) on the scale of the outputs."""
    r = ref.detach().cpu().double().numpy() if isinstance(ref, torch.Tensor) else ref
    scale = float(np.abs(r).max()) if r.size else 1.0
    atol = 1e-5 * max(scale, 1e-12)
    if outputs is not None:
        atol = max(atol, 1e-6 * float(np.abs(outputs).max()))
    np.testing.assert_allclose(ours, r, rtol=RTOL, atol=atol)


def close_delta(ours: np.ndarray | None, ref: torch.Tensor, values: np.ndarray) -> None:
    """Deltas are float32 rounding noise around 0: compare them on the scale of the outputs."""
    assert ours is not None
    scale = float(np.abs(values.reshape(len(values), -1).sum(axis=1)).max())
    np.testing.assert_allclose(ours, ref.double().numpy(), rtol=RTOL, atol=1e-5 * max(scale, 1.0))


# ---------------------------------------------------------------------------- toy modules
def tabular_mlp(seed: int, d: int = 12, k: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(d, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 16), nn.ReLU(),
        nn.Linear(16, k),
    ).eval()  # fmt: skip


class SmallCNN(nn.Module):
    """Conv + batch norm (eval) + in-place ReLU + max pool, like the CIFAR reference model."""

    def __init__(self, seed: int, k: int = 4) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
            nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, k))
        with torch.no_grad():  # non-trivial running statistics
            bn = self.features[1]
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class TextLSTM(nn.Module):
    """Embedding (pad 0) + bidirectional LSTM + masked mean/max pooling, like imdb-lstm."""

    def __init__(self, seed: int, vocab: int = 50, k: int = 2) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(vocab, 8, padding_idx=0)
        self.lstm = nn.LSTM(8, 8, batch_first=True, bidirectional=True)
        self.head = nn.Linear(32, k)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != 0).unsqueeze(-1)
        h, _ = self.lstm(self.embedding(ids))
        m = mask.to(h.dtype)
        count = m.sum(dim=1)
        mean = (h * m).sum(dim=1) / count.clamp(min=1.0)
        mx = h.masked_fill(~mask, -1e4).max(dim=1).values * (count > 0).to(h.dtype)
        return self.head(torch.cat([mean, mx], dim=1))


def token_ids(seed: int, n: int, length: int = 12, vocab: int = 50) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, vocab, (n, length), generator=g)
    lengths = torch.randint(3, length + 1, (n,), generator=g)
    ids[torch.arange(length)[None, :] >= lengths[:, None]] = 0
    return ids


def predicted(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(x).argmax(dim=1)


# ------------------------------------------------------------------------------- tabular
TABULAR_METHODS = ["integrated_gradients", "saliency", "deeplift", "gradient_shap",
                   "feature_ablation"]  # fmt: skip


def captum_reference(
    method: str, net: nn.Module, x: torch.Tensor, t: torch.Tensor, baselines: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    if method == "integrated_gradients":
        return IntegratedGradients(net).attribute(x, target=t, return_convergence_delta=True)
    if method == "saliency":
        return Saliency(net).attribute(x, target=t), None
    if method == "deeplift":
        return DeepLift(net).attribute(x, target=t, return_convergence_delta=True)
    if method == "gradient_shap":
        np.random.seed(0)
        torch.manual_seed(0)
        return GradientShap(net).attribute(x, baselines=baselines, target=t), None
    if method == "feature_ablation":
        return FeatureAblation(net).attribute(x, target=t), None
    if method == "occlusion":
        win, st = default_window(tuple(x.shape[1:]))
        return Occlusion(net).attribute(x, sliding_window_shapes=win, strides=st, target=t), None
    raise AssertionError(method)


@pytest.mark.parametrize("method", TABULAR_METHODS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tabular_mlp_equals_captum(method: str, seed: int) -> None:
    net = tabular_mlp(seed)
    g = torch.Generator().manual_seed(100 + seed)
    n = [7, 40, 129][seed]
    x = torch.randn(n, 12, generator=g) * (1 + seed)
    b = torch.randn(6, 12, generator=g) if method == "gradient_shap" else None
    ours = explain(net, x, method=method, baselines=b, random_state=0)
    ref, delta = captum_reference(method, net, x, predicted(net, x), b)
    close(ours.values, ref, ours.outputs if method in PERTURBATION else None)
    assert ours.info["fast_path"] is (method != "feature_ablation")
    np.testing.assert_array_equal(ours.target, predicted(net, x).numpy())
    if delta is not None:
        close_delta(ours.delta, delta, ours.values)


@pytest.mark.parametrize("method", ["integrated_gradients", "saliency", "deeplift",
                                    "feature_ablation"])  # fmt: skip
def test_explicit_targets_and_many_batches_equal_captum(method: str) -> None:
    """A tiny memory budget forces many calls (and IG's internal step batches)."""
    net = tabular_mlp(3)
    x = torch.randn(61, 12, generator=torch.Generator().manual_seed(3))
    t = torch.arange(61) % 3
    ours = explain(net, x, method=method, target=t.numpy(), memory_budget_mb=0.05)
    assert ours.info["rows_per_call"] < 61
    ref, delta = captum_reference(method, net, x, t, None)
    close(ours.values, ref, ours.outputs if method in PERTURBATION else None)
    if delta is not None:
        close_delta(ours.delta, delta, ours.values)


def test_integrated_gradients_step_chunks_equal_captum() -> None:
    net = tabular_mlp(4)
    x = torch.randn(5, 12, generator=torch.Generator().manual_seed(4))
    ours = explain(net, x, n_steps=64, batch_size=5, memory_budget_mb=0.02)
    assert ours.info["internal_batch_size"] is not None
    ref, delta = IntegratedGradients(net).attribute(
        x, target=predicted(net, x), n_steps=64, return_convergence_delta=True
    )
    close(ours.values, ref)
    close_delta(ours.delta, delta, ours.values)


@pytest.mark.parametrize("baseline", [0.5, "row", "rows"])
def test_baselines_equal_captum(baseline: str | float) -> None:
    net = tabular_mlp(5)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(20, 12, generator=g)
    b: float | torch.Tensor
    if isinstance(baseline, float):
        b = baseline
    else:
        b = torch.randn(1 if baseline == "row" else 20, 12, generator=g)
    ours = explain(net, x, baselines=b.numpy() if isinstance(b, torch.Tensor) else b)
    ref, delta = IntegratedGradients(net).attribute(
        x, baselines=b, target=predicted(net, x), return_convergence_delta=True
    )
    close(ours.values, ref)
    close_delta(ours.delta, delta, ours.values)


# --------------------------------------------------------------------------------- images
IMAGE_METHODS = ["integrated_gradients", "saliency", "deeplift", "gradient_shap",
                 "feature_ablation", "occlusion"]  # fmt: skip


@pytest.mark.parametrize("method", IMAGE_METHODS)
@pytest.mark.parametrize("seed", [0, 1])
def test_image_cnn_equals_captum(method: str, seed: int) -> None:
    net = SmallCNN(seed).eval()
    g = torch.Generator().manual_seed(200 + seed)
    x = torch.randn(4 + 3 * seed, 3, 8, 8, generator=g)
    b = torch.randn(3, 3, 8, 8, generator=g) if method == "gradient_shap" else None
    ours = explain(net, x, method=method, baselines=b, n_steps=20)
    if method == "integrated_gradients":
        ref, delta = IntegratedGradients(net).attribute(
            x, target=predicted(net, x), n_steps=20, return_convergence_delta=True
        )
    else:
        ref, delta = captum_reference(method, net, x, predicted(net, x), b)
    assert ours.values.shape == tuple(x.shape)
    close(ours.values, ref, ours.outputs if method in PERTURBATION else None)
    if delta is not None:
        close_delta(ours.delta, delta, ours.values)


# ----------------------------------------------------------------------------------- text
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_text_lstm_layer_integrated_gradients_equals_captum(seed: int) -> None:
    net = TextLSTM(seed).eval()
    ids = token_ids(seed, 6 + 5 * seed)
    ours = explain(net, ids, method="layer_integrated_gradients", n_steps=16)
    ref, delta = LayerIntegratedGradients(net, net.embedding).attribute(
        ids, target=predicted(net, ids), n_steps=16, return_convergence_delta=True
    )
    assert ours.method == "layer_integrated_gradients"
    assert ours.values.shape == tuple(ids.shape)
    close(ours.values, ref.sum(dim=-1))
    close_delta(ours.delta, delta, ours.values)


def test_text_integrated_gradients_means_the_embedding_layer() -> None:
    net = TextLSTM(3).eval()
    ids = token_ids(3, 5)
    a = explain(net, ids, n_steps=8)
    b = explain(net, ids, method="layer_integrated_gradients", n_steps=8)
    assert a.method == "layer_integrated_gradients"
    np.testing.assert_array_equal(a.values, b.values)


def test_text_lstm_feature_ablation_equals_captum() -> None:
    net = TextLSTM(4).eval()
    ids = token_ids(4, 6)
    ours = explain(net, ids, method="feature_ablation")
    ref = FeatureAblation(net).attribute(ids, target=predicted(net, ids))
    close(ours.values, ref)


# ------------------------------------------------------------------------- the fallbacks
class CrossRow(nn.Module):
    """Rows interact: each row is centred by the batch mean."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x - x.mean(dim=0, keepdim=True))


def batchnorm_train() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).train()


@pytest.mark.parametrize("make", [CrossRow, batchnorm_train], ids=["cross-row", "batchnorm"])
@pytest.mark.parametrize("method", ["integrated_gradients", "saliency", "deeplift"])
def test_interacting_rows_fall_back_to_captums_plain_call(make: object, method: str) -> None:
    net = make()  # type: ignore[operator]
    x = torch.randn(16, 12, generator=torch.Generator().manual_seed(9))
    ours = explain(net, x, method=method, memory_budget_mb=0.01)
    assert ours.info["fast_path"] is False
    assert ours.info["rows_independent"] is False
    assert ours.info["rows_per_call"] == 16  # rows that interact are never split
    ref, delta = captum_reference(method, net, x, predicted(net, x), None)
    close(ours.values, ref, ours.outputs if method in PERTURBATION else None)
    if delta is not None:
        close_delta(ours.delta, delta, ours.values)


def test_active_dropout_falls_back() -> None:
    net = tabular_mlp(0).train()
    x = torch.randn(10, 12)
    ours = explain(net, x, method="saliency")
    assert ours.info["fast_path"] is False


# ------------------------------------------------------------------------- sklearn models
def test_sklearn_feature_ablation_equals_captum_on_its_predict_proba() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] + 0.5 * X[:, 2] + rng.normal(size=200) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    ours = explain(clf, X[:50], method="feature_ablation")

    def forward(t: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(clf.predict_proba(t.double().numpy()))

    x = torch.as_tensor(X[:50], dtype=torch.float32)
    base = torch.as_tensor(np.median(X[:50], axis=0, keepdims=True), dtype=torch.float32)
    t = torch.as_tensor(clf.predict_proba(X[:50]).argmax(axis=1))
    ref = FeatureAblation(forward).attribute(x, baselines=base, target=t)
    close(ours.values, ref)


# ---------------------------------------------------- the reference models' checkpoints
def test_adult_mlp_checkpoint_equals_captum_and_folds(tiny_ckpt) -> None:  # type: ignore[no-untyped-def]
    import auditkit
    from auditkit.data import load_dataset

    model = auditkit.load_checkpoint(tiny_ckpt("adult-mlp"))
    X = load_dataset("adult").test.X.iloc[:150]
    parts = model.as_adapter().torch_parts()
    ours = explain(model, X)
    assert ours.feature_names == [g for g, _ in parts.feature_groups]
    assert ours.values.shape == (150, 14)
    x = parts.encode(X)
    ref, delta = IntegratedGradients(parts.module).attribute(
        x, target=predicted(parts.module, x), return_convergence_delta=True
    )
    close(ours.encoded_values, ref)
    close_delta(ours.delta, delta, ours.values)
    r = ref.double().numpy()
    for j, (_, cols) in enumerate(parts.feature_groups):
        np.testing.assert_allclose(ours.values[:, j], r[:, cols].sum(axis=1), rtol=1e-4,
                                   atol=1e-7)  # fmt: skip
    # completeness: the row sums are the logit gap to the all-zero (encoded) baseline
    with torch.no_grad():
        gap = parts.module(x) - parts.module(torch.zeros_like(x[:1]))
    gap_t = gap.gather(1, torch.as_tensor(ours.target)[:, None]).view(-1).double().numpy()
    np.testing.assert_allclose(ours.values.sum(axis=1) - gap_t, ours.delta, atol=1e-5)
    abl = explain(model, X.iloc[:20], method="feature_ablation")
    assert abl.values.shape == (20, 14)


@pytest.mark.parametrize("method", ["integrated_gradients", "occlusion"])
def test_cifar10_cnn_checkpoint_equals_captum(tiny_ckpt, method: str) -> None:  # type: ignore[no-untyped-def]
    import auditkit
    from auditkit.data import load_dataset

    model = auditkit.load_checkpoint(tiny_ckpt("cifar10-cnn"))
    X = load_dataset("cifar10").test.X[:3]
    parts = model.as_adapter().torch_parts()
    x = parts.encode(X)
    ours = explain(model, X, method=method, n_steps=8)
    assert ours.values.shape == (3, 3, 32, 32)
    t = predicted(parts.module, x)
    if method == "integrated_gradients":
        ref, delta = IntegratedGradients(parts.module).attribute(
            x, target=t, n_steps=8, return_convergence_delta=True
        )
        close_delta(ours.delta, delta, ours.values)
    else:
        ref, _ = captum_reference("occlusion", parts.module, x, t, None)
    close(ours.values, ref, ours.outputs if method == "occlusion" else None)


def test_imdb_lstm_checkpoint_equals_captum(tiny_ckpt) -> None:  # type: ignore[no-untyped-def]
    import auditkit
    from auditkit.data import load_dataset

    model = auditkit.load_checkpoint(tiny_ckpt("imdb-lstm"))
    X = load_dataset("imdb").test.X[:3]
    parts = model.as_adapter().torch_parts()
    ids = parts.encode(X)
    ours = explain(model, X, n_steps=6)
    assert ours.method == "layer_integrated_gradients"
    # the default baseline: the same review with every word unknown (<unk> = 1, <pad> = 0)
    base = torch.where(ids != 0, 1, 0)
    ref, delta = LayerIntegratedGradients(parts.module, parts.embedding).attribute(
        ids, baselines=base, target=predicted(parts.module, ids), n_steps=6,
        return_convergence_delta=True,
    )  # fmt: skip
    close(ours.values, ref.sum(dim=-1))
    close_delta(ours.delta, delta, ours.values)
    assert ours.tokens is not None
    for row, toks in zip(ids, ours.tokens):
        assert len(toks) == int((row != 0).sum())
    # padding positions get nothing
    assert np.all(ours.values[ids.numpy() == 0] == 0)
