"""The hospitals' data and model: scikit-learn's bundled breast-cancer table, a logistic regression.

The table is read straight from scikit-learn's package data (no download, and without importing
scikit-learn, so every ClientApp process starts fast). Features are standardized with the statistics
the hospitals agreed on beforehand (here: the whole table's), the last 20% is the server's held-out
test set, and the rest is split into ``num_partitions`` contiguous hospital partitions.
"""

from __future__ import annotations

import csv
import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

TEST_FRACTION = 0.2


@cache
def _table() -> tuple[np.ndarray, np.ndarray]:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise RuntimeError("scikit-learn's bundled breast-cancer table is needed (pip install scikit-learn)")
    path = Path(spec.origin).parent / "datasets" / "data" / "breast_cancer.csv"
    with path.open() as handle:
        rows = list(csv.reader(handle))[1:]
    data = np.array(rows, dtype=np.float64)
    order = np.random.default_rng(0).permutation(len(data))  # a public, fixed shuffle (not a secret)
    features, labels = data[order, :-1], data[order, -1]
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    return features, labels


def split() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    features, labels = _table()
    cut = int(len(labels) * (1 - TEST_FRACTION))
    return (features[:cut], labels[:cut]), (features[cut:], labels[cut:])


def partition(partition_id: int, num_partitions: int) -> tuple[np.ndarray, np.ndarray]:
    (features, labels), _ = split()
    bounds = np.linspace(0, len(labels), num_partitions + 1).astype(int)
    rows = slice(bounds[partition_id], bounds[partition_id + 1])
    return features[rows], labels[rows]


def initial_parameters() -> list[np.ndarray]:
    return [np.zeros(30), np.zeros(1)]


def _predict(parameters: list[np.ndarray], features: np.ndarray) -> np.ndarray:
    weights, bias = parameters
    return 1.0 / (1.0 + np.exp(-(features @ weights + bias[0])))


def train(
    parameters: list[np.ndarray], features: np.ndarray, labels: np.ndarray, epochs: int, lr: float
) -> list[np.ndarray]:
    """Full-batch gradient descent on the logistic loss; returns the *update* (new minus old weights),
    which is what DP-FedAvg clips and what every protection here averages."""
    weights, bias = parameters[0].copy(), parameters[1].copy()
    for _ in range(epochs):
        error = _predict([weights, bias], features) - labels
        weights -= lr * features.T @ error / len(labels)
        bias -= lr * np.array([error.mean()])
    return [weights - parameters[0], bias - parameters[1]]


def accuracy(parameters: list[np.ndarray], features: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((_predict(parameters, features) >= 0.5) == labels))
