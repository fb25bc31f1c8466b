"""Data for training: data sets, samplers, the `DataLoader`, splits, standardisation,
built-ins, readers. torch's names are also importable as `descent.utils.data`."""

from descent.data.builtin import list_datasets, load_dataset
from descent.data.collate import default_collate, default_convert
from descent.data.dataset import (
    ConcatDataset,
    Dataset,
    Subset,
    SupervisedDataset,
    TensorDataset,
)
from descent.data.distributed import DistributedSampler
from descent.data.idx import read_idx
from descent.data.loader import DataLoader
from descent.data.readers import read_csv, read_csv_features, read_npz
from descent.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from descent.data.split import random_split, split
from descent.data.standardize import Standardizer
from descent.data.workers import get_worker_info

__all__ = [
    "BatchSampler",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Standardizer",
    "Subset",
    "SubsetRandomSampler",
    "SupervisedDataset",
    "TensorDataset",
    "WeightedRandomSampler",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "list_datasets",
    "load_dataset",
    "random_split",
    "read_csv",
    "read_csv_features",
    "read_idx",
    "read_npz",
    "split",
]
