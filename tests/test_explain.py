"""auditkit.explain: the public API, one-hot folding, errors, PNG maps, batching helpers."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from captum.attr import FeatureAblation, IntegratedGradients
from scipy.stats import spearmanr
from torch import nn

from auditkit.adapters.base import ModelAdapter, TorchParts
from auditkit.exceptions import DataValidationError, OutputError, ParameterError
from auditkit.explanation import (
    Explanation,
    encode_png,
    explain,
    fold_groups,
    map_panel,
    save_maps,
)
from auditkit.runtime import attribution as A

pytestmark = [
    pytest.mark.filterwarnings("ignore:Input Tensor .* did not already require gradients"),
    pytest.mark.filterwarnings("ignore:Setting forward, backward hooks"),
]


def mlp(d: int = 6, k: int = 2, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, k)).eval()


# ---------------------------------------------------------------- a checkpoint-like model
COLORS = ["red", "green", "blue"]
GROUPS = [("age", [0]), ("color", [1, 2, 3]), ("size", [4])]


def encode_frame(X: pd.DataFrame) -> torch.Tensor:
    onehot = (X["color"].to_numpy()[:, None] == np.asarray(COLORS)[None, :]).astype(np.float32)
    cols = [X[["age"]].to_numpy(np.float32), onehot, X[["size"]].to_numpy(np.float32)]
    return torch.as_tensor(np.concatenate(cols, axis=1))


class FakeAdapter(ModelAdapter):
    kind = "checkpoint"

    def __init__(self, module: nn.Module) -> None:
        super().__init__(module, name="fake")
        self.module = module

    def _proba(self, X: Any) -> Any:
        with torch.no_grad():
            return torch.softmax(self.module(encode_frame(X)), dim=1).double().numpy()

    def torch_parts(self) -> TorchParts:
        return TorchParts(
            module=self.module, encode=encode_frame, feature_names=["age", "color", "size"],
            feature_groups=GROUPS,
        )  # fmt: skip


class FakeLoaded:
    """Quacks like auditkit.models.checkpoint.LoadedModel: as_adapter() gives the adapter."""

    def __init__(self) -> None:
        self.module = mlp(d=5, k=2, seed=1)

    def as_adapter(self) -> FakeAdapter:
        return FakeAdapter(self.module)


def frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"age": rng.normal(size=n), "color": rng.choice(COLORS, size=n),
         "size": rng.normal(size=n)}
    )  # fmt: skip


def test_one_hot_columns_fold_into_their_feature_by_summing() -> None:
    model, X = FakeLoaded(), frame()
    e = explain(model, X)
    assert e.feature_names == ["age", "color", "size"]
    assert e.values.shape == (40, 3) and e.encoded_values is not None
    ref = (
        IntegratedGradients(model.module)
        .attribute(encode_frame(X), target=torch.as_tensor(e.target))
        .double()
        .numpy()
    )
    np.testing.assert_allclose(e.encoded_values, ref, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(e.values[:, 0], ref[:, 0], rtol=1e-6)
    np.testing.assert_allclose(e.values[:, 1], ref[:, 1:4].sum(axis=1), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(e.values[:, 2], ref[:, 4], rtol=1e-6)
    # completeness survives folding: the row sums are unchanged
    np.testing.assert_allclose(e.values.sum(axis=1), ref.sum(axis=1), rtol=1e-5, atol=1e-7)


def test_feature_ablation_removes_a_categorical_feature_as_a_whole() -> None:
    model, X = FakeLoaded(), frame()
    e = explain(model, X, method="feature_ablation")
    mask = torch.tensor([[0, 1, 1, 1, 2]])
    ref = (
        FeatureAblation(model.module)
        .attribute(encode_frame(X), target=torch.as_tensor(e.target), feature_mask=mask)
        .double()
        .numpy()
    )
    np.testing.assert_allclose(e.values, ref[:, [0, 1, 4]], rtol=1e-5, atol=1e-7)


def test_fold_groups() -> None:
    v = np.arange(12, dtype=float).reshape(2, 6)
    folded, names = fold_groups(v, [("a", [0, 1]), ("b", [2]), ("c", [3, 4, 5])])
    assert names == ["a", "b", "c"]
    np.testing.assert_array_equal(folded, [[1, 2, 12], [13, 8, 30]])
    first, _ = fold_groups(v, [("a", [0, 1]), ("b", [2])], grouped=True)
    np.testing.assert_array_equal(first, [[0, 2], [6, 8]])


# ------------------------------------------------------------------------------- behaviour
def test_default_target_is_the_predicted_class_and_int_targets_broadcast() -> None:
    net = mlp(k=3)
    x = torch.randn(30, 6)
    e = explain(net, x, method="saliency")
    np.testing.assert_array_equal(e.target, net(x).argmax(1).numpy())
    e1 = explain(net, x, method="saliency", target=1)
    assert (e1.target == 1).all()
    assert e.outputs is not None and e.outputs.shape == (30, 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_completeness_of_integrated_gradients(seed: int) -> None:
    """sum(attributions) = f(x) - f(baseline) (a smooth model: the quadrature converges)."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8), nn.Softplus(),
                        nn.Linear(8, 3)).eval()  # fmt: skip
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(seed)) * 2
    e = explain(net, x)
    with torch.no_grad():
        out = net(x)
        base = net(torch.zeros(1, 6))
    t = torch.as_tensor(e.target)
    gap = (out.gather(1, t[:, None]) - base[0, t][:, None]).view(-1).double().numpy()
    np.testing.assert_allclose(e.values.sum(axis=1), gap, rtol=1e-3, atol=1e-4)
    assert e.delta is not None
    np.testing.assert_allclose(e.delta, e.values.sum(axis=1) - gap, atol=1e-5)


def test_numpy_inputs_and_plain_arrays_out() -> None:
    net = mlp()
    x = np.random.default_rng(0).normal(size=(8, 6))
    e = explain(net, x, method="deeplift")
    assert isinstance(e.values, np.ndarray) and e.values.dtype == np.float64
    assert e.feature_names == [f"x{i}" for i in range(6)]
    assert isinstance(e.delta, np.ndarray) and e.delta.shape == (8,)
    df = e.to_frame()
    assert list(df.columns) == e.feature_names
    np.testing.assert_allclose(e.importance(), np.abs(e.values).mean(axis=0))


def test_gradient_shap_is_reproducible_and_leaves_global_rng_alone() -> None:
    net = mlp()
    x = torch.randn(20, 6)
    np.random.seed(123)
    torch.manual_seed(123)
    a = explain(net, x, method="gradient_shap", random_state=5)
    after_np, after_torch = np.random.rand(), torch.rand(1).item()
    np.random.seed(123)
    torch.manual_seed(123)
    assert (np.random.rand(), torch.rand(1).item()) == (after_np, after_torch)
    b = explain(net, x, method="gradient_shap", random_state=5)
    c = explain(net, x, method="gradient_shap", random_state=6)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)


def test_sklearn_pipeline_on_a_dataframe_uses_feature_ablation() -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X = frame(300, seed=2)
    y = ((X["age"] + (X["color"] == "red")) > 0.5).astype(int)
    pipe = make_pipeline(
        ColumnTransformer([("c", OneHotEncoder(), ["color"])], remainder="passthrough"),
        LogisticRegression(),
    ).fit(X, y)
    e = explain(pipe, X.iloc[:25], method="feature_ablation")
    assert e.feature_names == ["age", "color", "size"]
    # value = p(x) - p(x with that one column set to the reference value), by hand
    p = pipe.predict_proba(X.iloc[:25])
    t = p.argmax(axis=1)
    Xs = X.iloc[:25].reset_index(drop=True)
    ref_row = {"age": Xs["age"].median(), "color": Xs["color"].mode().sort_values().iloc[0],
               "size": Xs["size"].median()}  # fmt: skip
    for j, col in enumerate(e.feature_names):
        Xm = Xs.copy()
        Xm[col] = ref_row[col]
        expect = p[np.arange(25), t] - pipe.predict_proba(Xm)[np.arange(25), t]
        np.testing.assert_allclose(e.values[:, j], expect, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------------- errors
class TokenNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(20, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(ids).mean(dim=1))


def test_unknown_method_lists_the_methods_that_fit() -> None:
    with pytest.raises(ParameterError, match=r"Unknown attribution method 'shapley'.*"
                       r"integrated_gradients, saliency, deeplift, gradient_shap, "
                       r"feature_ablation\."):  # fmt: skip
        explain(mlp(), torch.randn(3, 6), method="shapley")


@pytest.mark.parametrize(
    ("model", "X", "method", "fits"),
    [
        (mlp(), torch.randn(3, 6), "occlusion", "integrated_gradients, saliency"),
        (TokenNet(), torch.randint(0, 20, (3, 5)), "saliency",
         "layer_integrated_gradients, feature_ablation"),
        (mlp(), torch.randn(3, 6), "layer_integrated_gradients", "gradient_shap"),
    ],
)  # fmt: skip
def test_a_method_that_does_not_fit_names_the_ones_that_do(
    model: nn.Module, X: torch.Tensor, method: str, fits: str
) -> None:
    with pytest.raises(ParameterError, match=rf"'{method}' method does not fit.*{fits}"):
        explain(model, X, method=method)


def test_sklearn_models_take_perturbation_methods_only() -> None:
    from sklearn.linear_model import LogisticRegression

    X = np.random.default_rng(0).normal(size=(40, 3))
    clf = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    with pytest.raises(ParameterError, match="not a differentiable torch model.*feature_ablation"):
        explain(clf, X, method="integrated_gradients")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target": 5}, r"Target 5 \(row 0\) is not an output of the model; it has 2"),
        ({"target": [0, 1]}, "'target' parameter of explain must be None, an int or 4 ints"),
        ({"baselines": np.zeros((2, 6))}, "'baselines' parameter of explain must be"),
        ({"n_steps": 0}, r"'n_steps' parameter of explain must be an int in the range \[1"),
        ({"batch_size": 0}, "'batch_size' parameter of explain"),
        ({"memory_budget_mb": 0}, "'memory_budget_mb' parameter of explain"),
        ({"method": 3}, "'method' parameter of explain must be a str"),
    ],
)
def test_parameter_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        explain(mlp(), torch.randn(4, 6), **kwargs)


def test_empty_input_and_bad_model() -> None:
    with pytest.raises(DataValidationError, match="no rows"):
        explain(mlp(), torch.zeros(0, 6))
    with pytest.raises(ParameterError, match="parameter of explain"):
        explain(42, torch.zeros(2, 6))


# ------------------------------------------------------------------------------------ PNGs
def read_png(data: bytes) -> np.ndarray:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        if tag == b"IHDR":
            w, h, depth, color = struct.unpack(">IIBB", body[:10])
            assert (depth, color) == (8, 2)
            size = (h, w)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(size[0], -1)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(size[0], size[1], 3)


def test_encode_png_round_trips() -> None:
    img = np.random.default_rng(0).integers(0, 256, size=(7, 5, 3)).astype(np.uint8)
    np.testing.assert_array_equal(read_png(encode_png(img)), img)


def test_png_opens_in_pillow() -> None:
    pil = pytest.importorskip("PIL.Image")
    import io

    img = np.random.default_rng(1).integers(0, 256, size=(4, 9, 3)).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(pil.open(io.BytesIO(encode_png(img)))), img)


def test_save_maps_writes_one_png_per_row(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 8 * 8, 2)).eval()  # fmt: skip
    images = np.random.default_rng(0).integers(0, 256, size=(3, 8, 8, 3)).astype(np.uint8)
    x = torch.as_tensor(images.transpose(0, 3, 1, 2) / 255.0, dtype=torch.float32)
    e = explain(net, x, method="saliency")
    paths = save_maps(e, tmp_path / "maps", images=images, scale=2)
    assert [p.name for p in paths] == ["attribution_0.png", "attribution_1.png",
                                       "attribution_2.png"]  # fmt: skip
    img = read_png(paths[0].read_bytes())
    assert img.shape == (16, 2 * (8 + 2 + 8), 3)
    np.testing.assert_array_equal(img[::2, :16:2], images[0])  # the input, to the left
    with pytest.raises(OutputError, match="exists; pass overwrite=True"):
        save_maps(e, tmp_path / "maps")
    assert len(save_maps(e, tmp_path / "maps", rows=[1], overwrite=True)) == 1
    with pytest.raises(ParameterError, match="Row 7 is not in the explanation"):
        save_maps(e, tmp_path / "other", rows=[7])


def test_explanation_save_maps_method(tmp_path: Path) -> None:
    e = Explanation(np.ones((2, 1, 4, 4)), ["pixels"], None, "saliency", np.zeros(2, np.int64))
    paths = e.save_maps(tmp_path, rows=[1])
    assert [p.name for p in paths] == ["attribution_1.png"]
    assert read_png(paths[0].read_bytes()).shape == (12, 12, 3)


def test_auditkit_explain_stays_the_function() -> None:
    """The implementation module is private, so importing it never shadows the function."""
    import importlib

    import auditkit

    importlib.import_module("auditkit.explanation")
    importlib.import_module("auditkit.sections.explainability")
    assert callable(auditkit.explain) and auditkit.explain is explain
    assert auditkit.Explanation is Explanation


def test_map_panel_colours_sign() -> None:
    v = np.zeros((1, 4, 4))
    v[0, 0, 0], v[0, 3, 3] = 1.0, -1.0
    panel = map_panel(v, scale=1)
    assert tuple(panel[0, 0]) == (255, 0, 0)  # positive: red
    assert tuple(panel[3, 3]) == (0, 0, 255)  # negative: blue
    assert tuple(panel[1, 1]) == (255, 255, 255)
    with pytest.raises(ParameterError, match="cannot be drawn"):
        map_panel(np.zeros(5))


def test_explanation_helpers_check_the_shape() -> None:
    e = Explanation(np.zeros((2, 3, 4, 4)), ["pixels"], None, "saliency", np.zeros(2, np.int64))
    assert len(e) == 2
    with pytest.raises(ParameterError, match="needs tabular attributions"):
        e.importance()
    with pytest.raises(ParameterError, match="needs tabular attributions"):
        e.to_frame()


# ---------------------------------------------------------------------- batching helpers
@pytest.mark.parametrize("n", [1, 7, 100, 10_000])
@pytest.mark.parametrize("expansion", [1, 2, 50])
@pytest.mark.parametrize("budget_mb", [0.01, 1.0, 256.0])
def test_plan_keeps_the_expanded_batch_within_the_budget(
    n: int, expansion: int, budget_mb: float
) -> None:
    bpr = 4096.0
    plan = A.plan_batches(
        n, expansion=expansion, bytes_per_row=bpr, memory_budget_mb=budget_mb, step_chunked=True
    )
    budget_rows = max(1, int(budget_mb * 2**20 // bpr))
    assert 1 <= plan.rows_per_call <= n
    steps_per_call = expansion if plan.internal_batch_size is None else (
        plan.internal_batch_size // plan.rows_per_call
    )  # fmt: skip
    assert plan.rows_per_call * steps_per_call <= max(budget_rows, plan.rows_per_call)
    if n * expansion <= budget_rows:
        assert plan.rows_per_call == n and plan.internal_batch_size is None


def test_plan_never_splits_interacting_rows() -> None:
    plan = A.plan_batches(
        500, expansion=50, bytes_per_row=1e6, memory_budget_mb=1.0, splittable=False,
        step_chunked=True, n_perturbations=20,
    )  # fmt: skip
    assert (plan.rows_per_call, plan.internal_batch_size, plan.perturbations_per_eval) == (
        500, None, 1,
    )  # fmt: skip


def test_rows_independent_detects_interactions() -> None:
    x = torch.randn(10, 6)
    assert A.rows_independent(mlp(), x)
    bn = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    assert not A.rows_independent(bn.train(), x)
    assert A.rows_independent(bn.eval(), x)
    drop = nn.Sequential(nn.Linear(6, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    assert not A.rows_independent(drop.train(), x)

    class Softmax0(nn.Module):
        def forward(self, v: torch.Tensor) -> torch.Tensor:
            return torch.softmax(v, dim=0)

    assert not A.rows_independent(Softmax0(), x)
    assert A.rows_independent(TokenNet(), torch.randint(0, 20, (5, 4)))


def test_auxiliary_forwards_leave_batchnorm_statistics_alone() -> None:
    bn = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).train()
    before = bn[1].running_mean.clone()
    with A.preserved_buffers(bn):
        bn(torch.randn(8, 6) + 3)
    torch.testing.assert_close(bn[1].running_mean, before)


def test_lstm_on_gpu_switches_cudnn_off_and_stays_in_eval_mode() -> None:
    lstm = nn.Sequential(nn.Embedding(10, 4), nn.LSTM(4, 4, batch_first=True)).eval()
    assert A.needs_cudnn_off(lstm, "cuda")
    assert A.needs_cudnn_off(lstm, torch.device("cuda", 0))
    assert not A.needs_cudnn_off(lstm, "cpu")
    assert not A.needs_cudnn_off(mlp(), "cuda")
    was = torch.backends.cudnn.enabled
    with A.rnn_gradient_context(lstm, "cuda") as off:
        assert off is True
        assert torch.backends.cudnn.enabled is False
        assert not lstm.training
    assert torch.backends.cudnn.enabled == was
    with A.rnn_gradient_context(lstm, "cpu") as off:
        assert off is False and torch.backends.cudnn.enabled == was


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_lstm_layer_integrated_gradients_on_gpu() -> None:  # pragma: no cover - GPU only
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(30, 8, padding_idx=0)
            self.lstm = nn.LSTM(8, 8, batch_first=True)
            self.head = nn.Linear(8, 2)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.head(self.lstm(self.embedding(ids))[0][:, -1])

    net = Net().eval()
    ids = torch.randint(1, 30, (4, 6))
    cpu = explain(net, ids, n_steps=8)
    gpu = explain(net.cuda(), ids, n_steps=8)
    assert gpu.info["cudnn_disabled"] is True
    np.testing.assert_allclose(gpu.values, cpu.values, rtol=1e-3, atol=1e-5)


def test_reinitialized_copy_changes_only_the_top_layers() -> None:
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    top = A.reinitialized_copy(net, top=1, random_state=0)
    assert torch.equal(top[0].weight, net[0].weight) and torch.equal(top[2].weight, net[2].weight)
    assert not torch.equal(top[4].weight, net[4].weight)
    full = A.reinitialized_copy(net, top=None)
    assert not torch.equal(full[0].weight, net[0].weight)
    again = A.reinitialized_copy(net, top=1, random_state=0)
    assert torch.equal(again[4].weight, top[4].weight)


def test_spearman_rows_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 9))
    b = a + rng.normal(size=(20, 9))
    a[3, :4] = a[3, 4]  # ties
    got = A.spearman_rows(a, b)
    for i in range(20):
        assert got[i] == pytest.approx(spearmanr(a[i], b[i]).statistic, abs=1e-12)
    assert np.isnan(A.spearman_rows(np.ones((1, 3)), b[:1, :3])[0])


def test_average_ranks_are_scipys_rankdata_to_the_bit() -> None:
    """The runtime ranks in numpy (no scipy): ties, NaN rows, integers and empty rows."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(1)
    for trial in range(200):
        m, n = int(rng.integers(1, 6)), int(rng.integers(0, 12))
        a: np.ndarray = rng.integers(0, 4, size=(m, n))
        if trial % 2:
            a = a.astype(np.float64)
            a[rng.random(a.shape) < 0.1] = np.nan
        np.testing.assert_array_equal(A._average_ranks(a), rankdata(a, axis=1))


def test_attributions_keep_torch_threads_unless_told_and_restore_the_setting() -> None:
    before = torch.get_num_threads()
    net, x = mlp(), torch.randn(20, 6)
    e = explain(net, x)
    assert e.info["intraop_threads"] == before
    one = A.attribute(net, x, method="integrated_gradients", num_threads=1)
    assert one.info["intraop_threads"] == 1
    assert torch.get_num_threads() == before
    np.testing.assert_allclose(one.values, e.values, rtol=1e-5, atol=1e-7)
    with A.intraop_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_explain_on_two_devices_equals_one_process(tiny_ckpt: Any) -> None:
    """A checkpoint's raw rows on 2 CPU processes: the same folded values and deltas, in order."""
    import auditkit
    from auditkit.data import load_dataset

    model = auditkit.load_checkpoint(tiny_ckpt("adult-mlp"))
    X = load_dataset("adult").test.X.iloc[:37]
    one = explain(model, X, n_steps=8)
    two = explain(model, X, n_steps=8, devices=2, accelerator="cpu")
    assert two.info["devices"] == 2 and two.feature_names == one.feature_names
    np.testing.assert_allclose(two.values, one.values, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(two.delta, one.delta, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(two.target, one.target)
    with pytest.raises(ParameterError, match="devices"):
        explain(model, X, devices=0)


def test_conv_models_are_perturbed_channels_last_on_a_copy() -> None:
    """The faster layout is used on a copy: the caller's module keeps its layout and buffers."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Flatten(), nn.Linear(4 * 8 * 8, 3)).eval()  # fmt: skip
    x = torch.randn(6, 3, 8, 8)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    for method in ("occlusion", "feature_ablation"):
        e = explain(net, x, method=method)
        assert e.info["channels_last"] is True
        assert e.values.shape == (6, 3, 8, 8)
    assert explain(net, x).info["channels_last"] is False  # gradients: Captum's own layout
    conv = net[0].weight
    assert conv.is_contiguous() and not conv.is_contiguous(memory_format=torch.channels_last)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k])
    ref = FeatureAblation(net).attribute(x, target=e.target.tolist())
    np.testing.assert_allclose(e.values, ref.double().numpy(), rtol=1e-4, atol=1e-5)
    assert explain(mlp(), torch.randn(5, 6)).info["channels_last"] is False


_THREADS_SCRIPT = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
import numpy as np
import auditkit
from auditkit import explain
from auditkit.data import load_dataset
model = auditkit.load_checkpoint(sys.argv[2])
X = load_dataset("cifar10").test.X[:8]
occ = explain(model, X, method="occlusion")
assert occ.info["channels_last"] is True
ig = explain(model, X, n_steps=8)
sys.stdout.buffer.write(occ.values.tobytes() + ig.values.tobytes() + ig.delta.tobytes())
"""


_SCORE_SCRIPT = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
import auditkit
from auditkit.data import load_dataset
model = auditkit.load_checkpoint(sys.argv[2])
X = load_dataset("cifar10").test.X[:9]
sys.stdout.buffer.write(model.predict_proba(X, batch_size=4).tobytes())
"""


def _bytes_on_one_and_two_threads(script: str, path: str) -> list[bytes]:
    """What ``script`` writes to stdout for the checkpoint ``path`` with 1 and 2 threads."""
    import subprocess
    import sys

    return [
        subprocess.run([sys.executable, "-c", script, str(k), path],
                       capture_output=True, check=True, timeout=300).stdout
        for k in (1, 2)
    ]  # fmt: skip


def test_cnn_scores_a_lone_last_row_with_the_same_bits_on_one_and_two_threads(
    tiny_ckpt: Any,
) -> None:
    """9 rows in batches of 4 leave a batch of one, scored inside a batch of copies."""
    out = _bytes_on_one_and_two_threads(_SCORE_SCRIPT, str(tiny_ckpt("cifar10-cnn")))
    assert len(out[0]) == 9 * 10 * 8 and out[0] == out[1]


_TORCH_SCORE_SCRIPT = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
from torch import nn
import auditkit
from auditkit.data import load_dataset
from auditkit.adapters import TorchModel
net = auditkit.load_checkpoint(sys.argv[2]).module

class Logits64(nn.Module):  # float64 logits: a float32 softmax would hide the last bits
    def __init__(self):
        super().__init__()
        self.net = net

    def forward(self, z):
        return self.net(z).double()

x = net.encode(load_dataset("cifar10").test.X[:9])
model = TorchModel(Logits64(), batch_size=4)
sys.stdout.buffer.write(model.predict_proba(x).tobytes() + model.predict_proba(x[:2]).tobytes())
"""


def test_a_torch_module_scores_a_lone_last_row_with_the_same_bits_on_one_and_two_threads(
    tiny_ckpt: Any,
) -> None:
    """A bare module whose rows do not interact gets the same padding as the reference ones
    (without it, the CNN's lone ninth row differs in the last bits between 1 and 2 threads)."""
    out = _bytes_on_one_and_two_threads(_TORCH_SCORE_SCRIPT, str(tiny_ckpt("cifar10-cnn")))
    assert len(out[0]) == (9 + 2) * 10 * 8 and out[0] == out[1]


def test_a_torch_module_whose_rows_interact_is_scored_as_given() -> None:
    from auditkit.adapters import TorchModel

    class BatchCentred(nn.Module):
        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return z - z.mean(dim=0, keepdim=True)

    x = torch.randn(5, 3)
    model = TorchModel(BatchCentred(), batch_size=4)
    got = model.predict_proba(x)
    assert model._independent is False
    # the lone last row is centred on itself: logits 0, probabilities 1/3 (no copies added)
    np.testing.assert_allclose(got[4], np.full(3, 1 / 3))


def test_cnn_attributions_give_the_same_bits_with_one_and_two_threads(tiny_ckpt: Any) -> None:
    """The CIFAR reference CNN, perturbed in the channels-last layout and differentiated in
    the default one: 1 and 2 torch threads give the same bits (the README's float policy)."""
    out = _bytes_on_one_and_two_threads(_THREADS_SCRIPT, str(tiny_ckpt("cifar10-cnn")))
    assert len(out[0]) == 2 * 8 * 3 * 32 * 32 * 8 + 8 * 8 and out[0] == out[1]
