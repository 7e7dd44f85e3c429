"""The plaintext aggregator computes the exact weighted mean and validates its inputs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.aggregators.base import (
    AggregationAborted,
    AggregationError,
    PlainAggregator,
    SecureAggregator,
    Stage,
)


def running_pairwise_average(updates: dict[int, np.ndarray]) -> np.ndarray:
    """The common wrong answer: global = (global + local) / 2, client after client."""
    ids = sorted(updates)
    acc = updates[ids[0]].copy()
    for cid in ids[1:]:
        acc = (acc + updates[cid]) / 2
    return acc


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 500), min_size=2, max_size=12),
    length=st.integers(1, 20),
    seed=st.integers(0, 2**32 - 1),
)
def test_weighted_mean_is_exact(sizes: list[int], length: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    updates = {i + 1: rng.normal(size=length) for i in range(len(sizes))}
    weights = {i + 1: float(n) for i, n in enumerate(sizes)}
    out = PlainAggregator().aggregate(updates, weights)
    stacked = np.stack([updates[c] for c in sorted(updates)])
    expected = np.average(stacked, axis=0, weights=[weights[c] for c in sorted(updates)])
    np.testing.assert_allclose(out.mean, expected, rtol=1e-12, atol=1e-12)
    assert out.total_weight == sum(sizes)
    assert out.included == tuple(sorted(updates))


def test_differs_from_running_pairwise_average() -> None:
    # Hospitals of very unequal size: the last, tiny one must not get half the say.
    updates = {1: np.array([1.0, 0.0]), 2: np.array([1.0, 0.0]), 3: np.array([-1.0, 4.0])}
    weights = {1: 400.0, 2: 300.0, 3: 10.0}
    ours = PlainAggregator().aggregate(updates, weights).mean
    exact = (400 * updates[1] + 300 * updates[2] + 10 * updates[3]) / 710
    np.testing.assert_allclose(ours, exact, rtol=1e-14)
    wrong = running_pairwise_average(updates)
    assert np.abs(ours - wrong).max() > 1.0


def test_dropouts_before_upload_are_excluded_after_upload_included() -> None:
    updates = {c: np.full(3, float(c)) for c in range(1, 6)}
    weights = {c: 1.0 for c in updates}
    drops = {2: Stage.SHARE_KEYS, 3: Stage.MASKED_INPUT, 4: Stage.UNMASKING}
    out = PlainAggregator().aggregate(updates, weights, drops)
    assert out.included == (1, 4, 5)
    np.testing.assert_allclose(out.mean, np.full(3, 10 / 3))
    with pytest.raises(AggregationAborted):
        PlainAggregator(min_clients=4).aggregate(updates, weights, drops)


@pytest.mark.parametrize(
    "updates, weights",
    [
        ({}, {}),
        ({1: np.zeros(2)}, {2: 1.0}),
        ({0: np.zeros(2)}, {0: 1.0}),
        ({1: np.zeros(2), 2: np.zeros(3)}, {1: 1.0, 2: 1.0}),
        ({1: np.zeros((2, 2))}, {1: 1.0}),
        ({1: np.array([np.nan])}, {1: 1.0}),
        ({1: np.zeros(2)}, {1: 0.0}),
        ({1: np.zeros(2)}, {1: float("inf")}),
        ({1: np.zeros(2)}, {1: "ten"}),
        ({1: np.zeros(2)}, {1: True}),
    ],
)
def test_bad_inputs_rejected(updates: dict, weights: dict) -> None:
    with pytest.raises(AggregationError):
        PlainAggregator().aggregate(updates, weights)


def test_unknown_dropout_rejected() -> None:
    with pytest.raises(AggregationError):
        PlainAggregator().aggregate({1: np.zeros(2)}, {1: 1.0}, {9: Stage.SHARE_KEYS})


def test_is_a_secure_aggregator() -> None:
    assert isinstance(PlainAggregator(), SecureAggregator)
