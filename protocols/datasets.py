"""Bundled federated datasets: no downloads, split across clients IID or non-IID.

The real datasets come with scikit-learn (breast cancer: the hospital case that
motivates the toolkit; handwritten digits); a synthetic generator serves scale
runs. Features are standardized with statistics of the training part only.
Non-IID splits draw each class's share per client from Dirichlet(alpha), the
label-skew partition of Hsu, Qi and Brown (2019), Sec. 3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits

from fedsecure.errors import FedsecureError

DATASETS = ("breast_cancer", "digits", "synthetic")


class DatasetError(FedsecureError, ValueError):
    """A dataset name or split parameter that cannot be honoured."""


@dataclass(frozen=True)
class ClientData:
    """One client's local training set."""

    features: np.ndarray
    labels: np.ndarray

    @property
    def size(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class FederatedDataset:
    """Training data split by client id (1..n) and a held-out test set."""

    name: str
    clients: dict[int, ClientData]
    test_features: np.ndarray
    test_labels: np.ndarray
    num_features: int
    num_classes: int


def _load_arrays(name: str, seed: int, synthetic_samples: int) -> tuple[np.ndarray, np.ndarray]:
    if name == "breast_cancer":
        bunch = load_breast_cancer()
        return bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    if name == "digits":
        bunch = load_digits()
        return bunch.data.astype(np.float64), bunch.target.astype(np.int64)
    if name == "synthetic":
        return synthetic_classification(synthetic_samples, seed=seed)
    raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def synthetic_classification(
    samples: int, *, features: int = 64, classes: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian class clusters around random centres, for scale runs of any size."""
    if samples < classes or features < 1 or classes < 2:
        raise DatasetError("synthetic data needs samples >= classes >= 2 and features >= 1")
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, size=(classes, features))
    labels = rng.integers(0, classes, size=samples)
    points = centres[labels] + rng.normal(0.0, 1.5, size=(samples, features))
    return points, labels.astype(np.int64)


def _iid_split(labels: np.ndarray, clients: int, rng: np.random.Generator) -> list[np.ndarray]:
    return list(np.array_split(rng.permutation(labels.shape[0]), clients))


def _dirichlet_split(labels: np.ndarray, clients: int, alpha: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Per class, split its examples across clients in Dirichlet(alpha) proportions."""
    parts: list[list[int]] = [[] for _ in range(clients)]
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        shares = rng.dirichlet(np.full(clients, alpha))
        cuts = (np.cumsum(shares)[:-1] * members.shape[0]).astype(int)
        for client, chunk in enumerate(np.split(members, cuts)):
            parts[client].extend(chunk.tolist())
    return [np.asarray(sorted(p), dtype=np.int64) for p in parts]


def load_federated(
    name: str,
    clients: int,
    *,
    alpha: float | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    synthetic_samples: int = 20_000,
    min_client_size: int = 2,
) -> FederatedDataset:
    """Load `name`, hold out a stratified test set, split the rest over `clients`.

    `alpha=None` gives an IID split into near-equal parts; a positive `alpha`
    gives the Dirichlet label-skew split (smaller alpha, more skew). Every
    client is guaranteed at least `min_client_size` examples; a split that
    cannot give that raises `DatasetError` (retry with a larger alpha).
    """
    if clients < 1:
        raise DatasetError(f"clients must be >= 1, got {clients}")
    if alpha is not None and not alpha > 0:
        raise DatasetError(f"Dirichlet alpha must be > 0, got {alpha}")
    if not 0.0 < test_fraction < 1.0:
        raise DatasetError(f"test_fraction must be in (0, 1), got {test_fraction}")
    points, labels = _load_arrays(name, seed, synthetic_samples)
    rng = np.random.default_rng(seed)
    test_mask = np.zeros(labels.shape[0], dtype=bool)
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        test_mask[members[: max(1, round(test_fraction * members.shape[0]))]] = True
    train_x, train_y = points[~test_mask], labels[~test_mask]
    if train_y.shape[0] < clients * min_client_size:
        raise DatasetError(f"{name} has {train_y.shape[0]} training examples, too few for {clients} clients")
    mean, std = train_x.mean(axis=0), train_x.std(axis=0)
    std[std == 0] = 1.0

    def scale(x: np.ndarray) -> np.ndarray:
        return ((x - mean) / std).astype(np.float32)

    parts = _iid_split(train_y, clients, rng) if alpha is None else _dirichlet_split(train_y, clients, alpha, rng)
    smallest = min(p.shape[0] for p in parts)
    if smallest < min_client_size:
        raise DatasetError(
            f"Dirichlet(alpha={alpha}) split left a client with {smallest} examples; "
            "use a larger alpha or fewer clients"
        )
    return FederatedDataset(
        name=name,
        clients={i + 1: ClientData(scale(train_x[p]), train_y[p]) for i, p in enumerate(parts)},
        test_features=scale(points[test_mask]),
        test_labels=labels[test_mask],
        num_features=int(points.shape[1]),
        num_classes=int(labels.max()) + 1,
    )
