"""Datasets: the bundled public datasets by name, user tables, and their plain-data schema."""

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
