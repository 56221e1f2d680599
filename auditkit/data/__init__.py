"""Datasets: the bundled public datasets by name, user tables, and their plain-data schema."""

from .._core.io import check_regular_file as check_regular_file
from .._core.io import sha256_file as sha256_file
from .._core.validation import check_columns as check_columns
from .._core.validation import did_you_mean as did_you_mean
from .._core.validation import format_available as format_available
from ._datasets import list_datasets as list_datasets
from ._datasets import load_dataset as load_dataset
from ._datasets import stratified_split as stratified_split
from ._schema import Dataset as Dataset
from ._schema import DatasetSchema as DatasetSchema
from ._schema import DerivedColumn as DerivedColumn
from ._schema import FeatureSpec as FeatureSpec
from ._schema import Split as Split
from ._tabular import Table as Table
from ._tabular import load_table as load_table
from ._tabular import read_frame as read_frame

__all__ = [
    "check_columns",
    "check_regular_file",
    "did_you_mean",
    "format_available",
    "sha256_file",
    "Dataset",
    "DatasetSchema",
    "DerivedColumn",
    "FeatureSpec",
    "Split",
    "Table",
    "list_datasets",
    "load_dataset",
    "load_table",
    "read_frame",
    "stratified_split",
]
