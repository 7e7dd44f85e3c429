"""The FedAvg loop: weighting by sample counts, dropouts, skipped rounds, datasets."""

from collections.abc import Mapping

import numpy as np
import pytest

from protocols.aggregators.base import (
    AggregationOutcome,
    PlainAggregator,
    Stage,
)
from protocols.datasets import DatasetError, load_federated
from protocols.fedavg import FedAvgConfig, run_fedavg
from protocols.flatten import Layout, to_vector
from protocols.local import LocalConfig, local_update
from protocols.models import build_model


class Recording:
    """A real PlainAggregator that keeps what the driver handed it."""

    name = "recording"

    def __init__(self, min_clients: int = 1) -> None:
        self.inner = PlainAggregator(min_clients)
        self.calls: list[tuple[dict, dict, dict]] = []

    def aggregate(
        self,
        updates: Mapping[int, np.ndarray],
        weights: Mapping[int, float],
        dropouts: Mapping[int, Stage] | None = None,
    ) -> AggregationOutcome:
        self.calls.append((dict(updates), dict(weights), dict(dropouts or {})))
        return self.inner.aggregate(updates, weights, dropouts)

    def threat_model(self) -> str:
        return self.inner.threat_model()


@pytest.fixture(scope="module")
def data():
    return load_federated("breast_cancer", 6, alpha=0.5, seed=3)


def test_one_round_applies_sample_weighted_mean(data) -> None:
    model = build_model("logreg", data.num_features, data.num_classes, seed=1)
    start = to_vector(model.state_dict())
    agg = Recording()
    config = FedAvgConfig(rounds=1, local=LocalConfig(epochs=2, lr=0.05), seed=5)
    _, final = run_fedavg(model, data, agg, config)
    updates, weights, _ = agg.calls[0]
    sizes = {c: data.clients[c].size for c in updates}
    assert weights == {c: float(n) for c, n in sizes.items()}
    assert len(set(sizes.values())) > 1, "the split must give unequal clients"
    expected = sum(sizes[c] * updates[c] for c in updates) / sum(sizes.values())
    np.testing.assert_allclose(final, start + expected, rtol=1e-10, atol=1e-12)


def test_local_update_is_reproducible(data) -> None:
    model = build_model("mlp", data.num_features, data.num_classes)
    layout = Layout.of(model.state_dict())
    start = to_vector(model.state_dict(), layout)
    a = local_update(model, start, layout, data.clients[1], LocalConfig(), seed=9)
    b = local_update(model, start, layout, data.clients[1], LocalConfig(), seed=9)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a).max() > 0


@pytest.mark.parametrize("stage", list(Stage))
def test_dropout_bookkeeping(data, stage: Stage) -> None:
    model = build_model("logreg", data.num_features, data.num_classes)
    config = FedAvgConfig(rounds=3, clients_per_round=5, dropout=0.4, drop_stage=stage, seed=2)
    history, _ = run_fedavg(model, data, PlainAggregator(), config)
    for record in history.rounds:
        assert len(record.sampled) == 5 and len(record.dropped) == 2
        assert set(record.dropped) <= set(record.sampled)
        assert all(s == stage.name for s in record.dropped.values())
        expected = set(record.sampled) - (set() if stage.update_sent else set(record.dropped))
        assert set(record.included) == expected
        assert not record.skipped


def test_round_below_threshold_is_skipped_not_wrong(data) -> None:
    model = build_model("logreg", data.num_features, data.num_classes)
    start = to_vector(model.state_dict())
    config = FedAvgConfig(rounds=2, dropout=0.5, seed=0)
    history, final = run_fedavg(model, data, PlainAggregator(min_clients=6), config)
    assert all(r.skipped and r.reason and r.included == [] for r in history.rounds)
    np.testing.assert_array_equal(final, start)
    assert history.final_accuracy == history.initial_accuracy


def test_server_momentum_changes_trajectory(data) -> None:
    runs = []
    for momentum in (0.0, 0.9):
        model = build_model("logreg", data.num_features, data.num_classes)
        config = FedAvgConfig(rounds=3, server_momentum=momentum, seed=1)
        runs.append(run_fedavg(model, data, PlainAggregator(), config)[1])
    assert np.abs(runs[0] - runs[1]).max() > 1e-3


@pytest.mark.parametrize("name", ["breast_cancer", "digits", "synthetic"])
@pytest.mark.parametrize("alpha", [None, 0.3])
def test_splits_partition_training_data(name: str, alpha: float | None) -> None:
    data = load_federated(name, 8, alpha=alpha, seed=1, synthetic_samples=2000)
    sizes = [c.size for c in data.clients.values()]
    assert sorted(data.clients) == list(range(1, 9)) and min(sizes) >= 2
    train = np.concatenate([c.features for c in data.clients.values()])
    assert train.dtype == np.float32
    assert np.abs(train.mean(axis=0)).max() < 1e-4  # standardized on the train part
    total = {"breast_cancer": 569, "digits": 1797, "synthetic": 2000}[name]
    assert len(train) + len(data.test_labels) == total
    if alpha is None:
        assert max(sizes) - min(sizes) <= 1


def test_dirichlet_skews_labels() -> None:
    iid = load_federated("digits", 10, seed=0)
    skew = load_federated("digits", 10, alpha=0.1, seed=0)

    def spread(d) -> float:
        return float(np.mean([np.bincount(c.labels, minlength=10).max() / c.size for c in d.clients.values()]))

    assert spread(skew) > spread(iid) + 0.2


@pytest.mark.parametrize("kwargs", [{"clients": 0}, {"clients": 400}, {"alpha": -1.0}, {"test_fraction": 1.0}])
def test_bad_split_arguments(kwargs: dict) -> None:
    args = {"clients": 4, **kwargs}
    with pytest.raises(DatasetError):
        load_federated("breast_cancer", **args)
    with pytest.raises(DatasetError):
        load_federated("mnist", 4)
