"""Data for training: data sets, the `DataLoader`, splits, standardisation, built-ins, readers."""

from descent.data.builtin import list_datasets, load_dataset
from descent.data.dataset import Dataset, SupervisedDataset, TensorDataset
from descent.data.idx import read_idx
from descent.data.loader import DataLoader
from descent.data.readers import read_csv, read_csv_features, read_npz
from descent.data.split import split
from descent.data.standardize import Standardizer

__all__ = [
    "DataLoader",
    "Dataset",
    "Standardizer",
    "SupervisedDataset",
    "TensorDataset",
    "list_datasets",
    "load_dataset",
    "read_csv",
    "read_csv_features",
    "read_idx",
    "read_npz",
    "split",
]
