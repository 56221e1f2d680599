import numpy as np
import pandas as pd
import pytest

from auditkit.data import DatasetSchema, list_datasets, load_dataset, load_table, stratified_split
from auditkit.exceptions import DataValidationError, ParameterError, RegistryKeyError


def test_list_datasets():
    assert set(list_datasets()) == {"adult", "adult-hours", "mnist", "cifar10", "imdb", "iris"}


def test_adult_splits_and_schema():
    ds = load_dataset("adult")
    assert len(ds.train) == 32561 and len(ds.test) == 16281
    assert list(ds.train.X.columns)[:3] == ["age", "workclass", "fnlwgt"]
    assert "income" not in ds.train.X.columns
    assert ds.schema.class_names == ("<=50K", ">50K")
    assert ds.schema.sensitive == ("sex", "race", "age_band")
    assert int(ds.train.y.sum()) == 7841 and int(ds.test.y.sum()) == 3846
    sens = ds.sensitive("test")
    assert list(sens.columns) == ["sex", "race", "age_band"]
    assert set(sens["age_band"]) <= {"<25", "25-44", "45-64", "65+"}
    # derived band agrees with the raw ages
    ages = ds.test.X["age"].to_numpy()
    assert (sens["age_band"].to_numpy()[ages < 25] == "<25").all()
    assert (sens["age_band"].to_numpy()[ages >= 65] == "65+").all()
    sex = ds.schema.feature("sex")
    assert sex.kind == "categorical" and set(sex.categories) == {"Female", "Male"}


@pytest.mark.parametrize(
    "name,n_train,n_test,shape",
    [("mnist", 4000, 1000, (28, 28)), ("cifar10", 2000, 1000, (32, 32, 3))],
)
def test_image_datasets(name, n_train, n_test, shape):
    ds = load_dataset(name)
    assert ds.train.X.dtype == np.uint8 and ds.train.X.shape == (n_train, *shape)
    assert len(ds.test) == n_test and ds.schema.n_classes == 10
    assert ds.schema.modality == "image"


def test_mnist_split_is_stratified_and_disjoint():
    ds = load_dataset("mnist")
    assert np.bincount(ds.test.y).tolist() == [100] * 10
    train_rows = {x.tobytes() for x in ds.train.X}
    assert sum(x.tobytes() in train_rows for x in ds.test.X) < 5  # MNIST has a few duplicates


def test_imdb_and_iris():
    imdb = load_dataset("imdb")
    assert len(imdb.train) == 2500 and len(imdb.test) == 2500
    assert isinstance(imdb.train.X[0], str) and "<br />" in " ".join(imdb.train.X[:200])
    iris = load_dataset("iris")
    assert len(iris.train) == 105 and len(iris.test) == 45
    assert np.bincount(iris.test.y).tolist() == [15, 15, 15]


def test_unknown_dataset_lists_available():
    with pytest.raises(RegistryKeyError, match="Available: adult"):
        load_dataset("adul")
    with pytest.raises(ParameterError, match="'source' parameter"):
        load_dataset("adult", source="web")


def test_stratified_split_deterministic():
    y = np.repeat([0, 1, 2], 50)
    a = stratified_split(y, 0.2, seed=3)
    b = stratified_split(y, 0.2, seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert len(np.intersect1d(*a)) == 0 and len(a[0]) + len(a[1]) == 150


def test_schema_round_trip():
    schema = load_dataset("adult").schema
    assert DatasetSchema.from_dict(schema.to_dict()) == schema


@pytest.fixture
def table(tmp_path):
    df = pd.DataFrame(
        {"age": [30, 40, 50, 60], "sex": ["F", "M", "F", "M"], "y": ["yes", "no", "no", "yes"]}
    )
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return path


def test_load_table_csv_and_parquet(table, tmp_path):
    t = load_table(table, target="y", sensitive_features=["sex"])
    assert list(t.X.columns) == ["age", "sex"] and list(t.y) == ["yes", "no", "no", "yes"]
    assert t.schema.feature("age").kind == "numeric"
    assert t.schema.feature("sex").categories == ("F", "M")
    pq = tmp_path / "data.parquet"
    pd.read_csv(table).to_parquet(pq)
    t2 = load_table(pq, target="y", sensitive_features="sex")
    assert t2.X.equals(t.X)


def test_load_table_errors(table, tmp_path):
    with pytest.raises(DataValidationError, match=r"Sensitive column 'Sex' not found in data\.csv"
                       r" \(did you mean 'sex'\?\); available: age, sex, y"):
        load_table(table, target="y", sensitive_features=["Sex"])
    with pytest.raises(DataValidationError, match="Target column 'label' not found in data.csv"):
        load_table(table, target="label")
    with pytest.raises(DataValidationError, match="does not exist"):
        load_table(tmp_path / "nope.csv", target="y")
    bad = tmp_path / "data.txt"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(DataValidationError, match="must end in .csv"):
        load_table(bad, target="a")
    nan = tmp_path / "nan.csv"
    nan.write_text("a,y\n1,yes\n2,\n")
    with pytest.raises(DataValidationError, match=r"'y' of nan.csv has 1 missing value.*row 1"):
        load_table(nan, target="y")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataValidationError, match="empty.csv' is empty"):
        load_table(empty, target="y")
    corrupt = tmp_path / "bad.parquet"
    corrupt.write_bytes(b"PAR1 not really")
    with pytest.raises(DataValidationError, match="Cannot read data file 'bad.parquet'"):
        load_table(corrupt, target="y")
