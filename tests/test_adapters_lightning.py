"""A user's own LightningModule: class imported from a file, checkpoint loaded weights-only."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from auditkit.adapters import wrap
from auditkit.adapters.errors import ModelFileError
from auditkit.adapters.lightning import UserLightningModel, load_user_lightning

pl = pytest.importorskip("pytorch_lightning")

NET_SOURCE = textwrap.dedent(
    """
    import torch
    import pytorch_lightning as pl


    class Net(pl.LightningModule):
        def __init__(self, n_features: int = 4, hidden: int = 8, lr: float = 0.1):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(n_features, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2)
            )

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return torch.nn.functional.cross_entropy(self(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


    class Other(pl.LightningModule):
        def __init__(self, n_features: int = 4, hidden: int = 8, lr: float = 0.1):
            super().__init__()
            self.body = torch.nn.Linear(n_features, 2)

        def forward(self, x):
            return self.body(x)


    class ImageNet(pl.LightningModule):
        def __init__(self, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)):
            super().__init__()
            self.save_hyperparameters()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.head = torch.nn.Linear(4, 3)

        def forward(self, x):
            return self.head(self.conv(x).mean(dim=(2, 3)))
    """
)

COLUMNS = ["a", "b", "c", "d"]


def _table(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=COLUMNS)
    X["group"] = rng.choice(["x", "y"], n)
    y = ((X["a"] - X["b"] + 0.3 * rng.normal(size=n)) > 0).astype(int).to_numpy().copy()
    return X, y


@pytest.fixture(scope="module")
def user_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    f = tmp_path_factory.mktemp("user") / "my_models.py"
    f.write_text(NET_SOURCE)
    return f


@pytest.fixture(scope="module")
def trained(user_file: Path, tmp_path_factory: pytest.TempPathFactory):
    from auditkit.adapters.lightning import import_model_class

    Net = import_model_class(f"{user_file}:Net")
    pl.seed_everything(0, verbose=False)
    X, y = _table(256, seed=0)
    ds = torch.utils.data.TensorDataset(
        torch.tensor(X[COLUMNS].to_numpy(np.float32)), torch.as_tensor(y)
    )
    net = Net()
    out = tmp_path_factory.mktemp("ckpt")
    trainer = pl.Trainer(
        max_epochs=5, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", devices=1, default_root_dir=out,
    )  # fmt: skip
    trainer.fit(net, torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True))
    ckpt = out / "net.ckpt"
    trainer.save_checkpoint(ckpt)
    net.eval()
    return net, ckpt


def test_loaded_by_file_and_class_predicts_like_the_module(user_file: Path, trained) -> None:
    net, ckpt = trained
    adapter = load_user_lightning(ckpt, f"{user_file}:Net", features=COLUMNS)
    assert isinstance(adapter, UserLightningModel)
    X, _ = _table(50, seed=1)
    with torch.no_grad():
        own = torch.softmax(net(torch.tensor(X[COLUMNS].to_numpy(np.float32))).double(), 1)
    np.testing.assert_allclose(adapter.predict_proba(X), own.numpy(), atol=1e-6)
    d = adapter.describe()
    assert d["kind"] == "lightning" and d["hparams"] == {"n_features": 4, "hidden": 8, "lr": 0.1}
    assert d["loaded_with"] == "load_from_checkpoint(weights_only=True)"


def test_audit_accuracy_equals_lightning_and_columns_name_the_records(user_file, trained) -> None:
    import auditkit

    net, ckpt = trained
    X, y = _table(200, seed=2)
    adapter = load_user_lightning(ckpt, f"{user_file}:Net", features=COLUMNS)
    res = auditkit.audit(
        adapter, X, y, sensitive_features=["group"], n_boot=20,
        sections=["performance", "fairness", "explainability"],
    )  # fmt: skip
    with torch.no_grad():
        own = net(torch.tensor(X[COLUMNS].to_numpy(np.float32))).argmax(1).numpy()
    assert res.section("performance").get("accuracy").value == pytest.approx((own == y).mean())
    ex = res.section("explainability")
    assert ex.status == "ok" and ex.info["method"] == "integrated_gradients"
    assert {m.input_feature for m in ex.metrics if m.name == "importance"} == set(COLUMNS)


def test_plain_state_dict_file(user_file: Path, trained, tmp_path: Path) -> None:
    net, _ = trained
    f = tmp_path / "weights.pt"
    torch.save(net.state_dict(), f)
    adapter = load_user_lightning(f, f"{user_file}:Net", features=COLUMNS)
    X, _ = _table(20, seed=3)
    with torch.no_grad():
        own = torch.softmax(net(torch.tensor(X[COLUMNS].to_numpy(np.float32))).double(), 1)
    np.testing.assert_allclose(adapter.predict_proba(X), own.numpy(), atol=1e-6)


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("{file}:Missing", "has no 'Missing'; LightningModules there: ImageNet, Net, Other"),
        ("{file}", "must be 'package.module:Class'"),
        ("no_such_package_xyz.models:Net", "does not import: ModuleNotFoundError"),
        ("{dir}/absent.py:Net", "not found"),
    ],
)
def test_a_class_that_does_not_import_is_named(user_file, trained, spec, named) -> None:
    _, ckpt = trained
    spec = spec.format(file=user_file, dir=user_file.parent)
    with pytest.raises(ModelFileError) as exc:
        load_user_lightning(ckpt, spec)
    assert named in str(exc.value) and "\n" not in str(exc.value)


def test_keys_that_do_not_fit_the_class(user_file: Path, trained) -> None:
    _, ckpt = trained
    with pytest.raises(ModelFileError) as exc:
        load_user_lightning(ckpt, f"{user_file}:Other")
    msg = str(exc.value)
    assert "does not fit class Other" in msg and "\n" not in msg
    assert "net.0.weight" in msg or "body.weight" in msg


def test_image_module_with_normalisation_from_hparams(user_file: Path, tmp_path: Path) -> None:
    from auditkit.adapters.lightning import import_model_class, load_images, read_image_folder

    ImageNet = import_model_class(f"{user_file}:ImageNet")
    torch.manual_seed(0)
    net = ImageNet().eval()
    f = tmp_path / "img.ckpt"
    torch.save({"state_dict": net.state_dict(), "hyper_parameters": dict(net.hparams)}, f)
    adapter = load_user_lightning(f, f"{user_file}:ImageNet", image_size=8)
    assert adapter.mean == [0.5, 0.5, 0.5] and adapter.schema.modality == "image"
    imgs = np.random.default_rng(0).integers(0, 256, size=(5, 8, 8, 3), dtype=np.uint8)
    x = (torch.as_tensor(imgs, dtype=torch.float32).permute(0, 3, 1, 2) / 255 - 0.5) / 0.25
    with torch.no_grad():
        own = torch.softmax(net(x).double(), 1).numpy()
    np.testing.assert_allclose(adapter.predict_proba(imgs), own, atol=1e-5)
    # an image folder: one sub-folder per class
    from PIL import Image

    for k, c in enumerate(["cat", "dog"]):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(imgs[k * 2 + i]).save(tmp_path / "imgs" / c / f"{i}.png")
    paths, y, names = read_image_folder(tmp_path / "imgs")
    assert names == ["cat", "dog"] and y.tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(adapter.predict_proba(paths), own[:4], atol=1e-5)
    loaded = load_images(paths, (8, 8))
    np.testing.assert_array_equal(loaded, imgs[:4])  # PNG is lossless, same size: no resampling
    import auditkit

    res = auditkit.audit(
        adapter, loaded, own[:4].argmax(1), sections=["explainability"], n_boot=10
    )
    ex = res.section("explainability")
    assert ex.status == "ok" and ex.info["method"] == "integrated_gradients"
    assert [c.name for c in ex.charts] == ["attribution_maps"]


def test_in_memory_module_with_its_own_encode(user_file: Path, trained) -> None:
    net, _ = trained

    def encode(X):
        return torch.tensor(X[COLUMNS].to_numpy(np.float32) * 1.0)

    adapter = UserLightningModel(net, encode=encode)
    X, _ = _table(10, seed=4)
    with torch.no_grad():
        own = torch.softmax(net(encode(X)).double(), 1).numpy()
    np.testing.assert_allclose(adapter.predict_proba(X), own, atol=1e-6)
    assert adapter.torch_parts().encode == adapter.encode
    assert adapter.describe()["path"] is None and adapter.fingerprint() is None
    wrapped = wrap(net, features=COLUMNS)
    assert isinstance(wrapped, UserLightningModel) and wrapped.kind == "lightning"
    np.testing.assert_allclose(wrapped.predict_proba(X), own, atol=1e-6)
