"""Every secure backend gives plaintext FedAvg's result up to its stated error, under dropouts.

One contract, run against each aggregator: the same included clients as the
plaintext aggregator for every dropout stage, the same weighted mean up to
the scheme's error (fixed-point rounding, CKKS noise), and the same global
model after several FedAvg rounds with dropouts.
"""

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.aggregators.base import PlainAggregator, SecureAggregator, Stage
from protocols.aggregators.homomorphic import ckks_aggregator, paillier_aggregator
from protocols.aggregators.masking import SecAggAggregator, default_degree
from protocols.datasets import load_federated
from protocols.fedavg import FedAvgConfig, run_fedavg
from protocols.models import build_model

# name -> (factory for up to n clients, stated max abs error on a weighted mean of values in [-1, 1])
BACKENDS: dict[str, tuple[Callable[[int], SecureAggregator], float]] = {
    "secagg": (lambda n: SecAggAggregator(n), 1e-6),
    "secagg+": (lambda n: SecAggAggregator(n, degree=default_degree(n)), 1e-6),
    "secagg+active": (lambda n: SecAggAggregator(n, degree=6, active=True), 1e-6),
    "ckks": (lambda n: ckks_aggregator(n), 5e-5),
    "paillier": (lambda n: paillier_aggregator(n, key_bits=2048), 5e-4),
    # SecAgg+ sized from a threat model for each round's client count, and 3-of-5 threshold Paillier.
    "secagg+threat": (lambda n: SecAggAggregator(n, corrupt_rate=0.05, dropout_rate=0.2), 1e-6),
    "paillier-threshold": (lambda n: paillier_aggregator(n, key_bits=2048, key_holders=5, decrypt_threshold=3), 5e-4),
}


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> tuple[str, SecureAggregator, float]:
    factory, tolerance = BACKENDS[request.param]
    return request.param, factory(12), tolerance


@settings(max_examples=8, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 1000), min_size=4, max_size=12),
    length=st.integers(1, 300),
    stage=st.sampled_from(list(Stage)),
    seed=st.integers(0, 2**32 - 1),
)
def test_weighted_mean_matches_plaintext(backend, sizes, length, stage, seed) -> None:
    _, aggregator, tolerance = backend
    rng = np.random.default_rng(seed)
    updates = {i + 1: rng.uniform(-1, 1, size=length) for i in range(len(sizes))}
    weights = {i + 1: float(n) for i, n in enumerate(sizes)}
    drops = {1: stage}
    ours = aggregator.aggregate(updates, weights, drops)
    plain = PlainAggregator().aggregate(updates, weights, drops)
    assert ours.included == plain.included
    np.testing.assert_allclose(ours.mean, plain.mean, rtol=0, atol=tolerance)
    assert ours.total_weight == pytest.approx(plain.total_weight, rel=1e-4)
    assert all(ours.cost.bytes_up[c] > 0 for c in ours.included)


def test_fedavg_rounds_match_plaintext_under_dropouts(backend) -> None:
    name, aggregator, tolerance = backend
    data = load_federated("breast_cancer", 10, alpha=1.0, seed=4)
    config = FedAvgConfig(rounds=4, dropout=0.2, drop_stage=Stage.MASKED_INPUT, seed=7)
    runs = {}
    for label, agg in (("plain", PlainAggregator()), (name, aggregator)):
        model = build_model("logreg", data.num_features, data.num_classes, seed=0)
        runs[label] = run_fedavg(model, data, agg, config)
    (h_plain, w_plain), (h_ours, w_ours) = runs["plain"], runs[name]
    assert [r.included for r in h_ours.rounds] == [r.included for r in h_plain.rounds]
    assert all(len(r.included) == 8 for r in h_ours.rounds)
    # 4 rounds of the stated per-step error, with the local learning rate in between.
    np.testing.assert_allclose(w_ours, w_plain, rtol=0, atol=10 * tolerance)
    assert abs(h_ours.final_accuracy - h_plain.final_accuracy) <= 0.01


def test_secagg_round_below_threshold_is_skipped() -> None:
    data = load_federated("breast_cancer", 6, seed=0)
    model = build_model("logreg", data.num_features, data.num_classes)
    config = FedAvgConfig(rounds=2, dropout=0.5, seed=1)
    history, _ = run_fedavg(model, data, SecAggAggregator(6, threshold=5), config)
    assert all(r.skipped and "threshold" in (r.reason or "").lower() for r in history.rounds)
    assert history.final_accuracy == history.initial_accuracy


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"max_clients": 10, "threshold": 11}, "threshold"),
        ({"max_clients": 10, "degree": 4, "threshold": 6}, "threshold"),
        ({"max_clients": 10, "degree": 10}, "degree"),
        ({"max_clients": 1000, "modulus_bits": 8}, "cannot fit"),
        ({"max_clients": 10, "clip": 0.5}, "clip"),
        ({"max_clients": 10, "corrupt_rate": 0.6, "dropout_rate": 0.5}, "must be below 1"),
        ({"max_clients": 10, "degree": 4, "dropout_rate": 0.1}, "not both"),
    ],
)
def test_secagg_configuration_errors(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        SecAggAggregator(**kwargs)
