"""Threshold Paillier in the FedAvg driver: t of k key holders decrypt each round; a holder whose partial
decryption fails its proof is named, never asked again, and replaced; below t trusted holders the round aborts."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import he
from protocols.aggregators.base import AggregationAborted, PlainAggregator
from protocols.aggregators.homomorphic import HEAggregator
from protocols.aggregators.threshold import DistrustedHolderWarning, ThresholdKeyHolders


@pytest.fixture(scope="module")
def dealing() -> he.ThresholdDealing:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", he.WeakKeyWarning)
        return he.ThresholdPaillierScheme.generate(holders=5, threshold=3, key_bits=1024, max_total_weight=20)


class Lying:
    """A key holder whose partial decryptions are off by one in their first value (its proof then fails)."""

    def __init__(self, holder: he.ThresholdKeyHolder) -> None:
        self._holder = holder
        self.index = holder.index
        self.asked = 0

    def public(self) -> he.ThresholdPaillierPublic:
        return self._holder.public()

    def partial_decrypt(self, ciphertext: he.PaillierCiphertext) -> he.ThresholdPartial:
        self.asked += 1
        partial = self._holder.partial_decrypt(ciphertext)
        return dataclasses.replace(partial, values=(partial.values[0] + 1, *partial.values[1:]))


def _aggregator(dealing: he.ThresholdDealing, committee: ThresholdKeyHolders) -> HEAggregator:
    return HEAggregator("paillier-3-of-5", committee, he.ThresholdPaillierScheme.load_public)


def _round(aggregator: HEAggregator, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    updates = {c: rng.uniform(-1, 1, 40) for c in range(1, 5)}
    weights = {c: float(c) for c in updates}
    return aggregator.aggregate(updates, weights).mean, PlainAggregator().aggregate(updates, weights).mean


def test_a_lying_holder_is_named_replaced_and_never_asked_again(dealing: he.ThresholdDealing) -> None:
    liars = {2: Lying(dealing.holders[1]), 4: Lying(dealing.holders[3])}
    committee = ThresholdKeyHolders(dealing, [liars.get(h.index, h) for h in dealing.holders])
    aggregator = _aggregator(dealing, committee)
    for seed in range(4):  # random picks: over the rounds, liars get picked and then excluded
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ours, plain = _round(aggregator, seed)
        np.testing.assert_allclose(ours, plain, atol=1e-3)
        for w in caught:
            assert issubclass(w.category, DistrustedHolderWarning) and "proof" in str(w.message)
    assert set(committee.refused) <= {2, 4}
    for index, liar in liars.items():
        assert liar.asked <= 1 and (liar.asked == 0 or index in committee.refused)
    assert "3 of 5 threshold key holders" in aggregator.threat_model()


def test_fewer_than_t_trusted_holders_abort_the_round(dealing: he.ThresholdDealing) -> None:
    members = [Lying(h) if h.index <= 3 else h for h in dealing.holders]
    aggregator = _aggregator(dealing, ThresholdKeyHolders(dealing, members))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DistrustedHolderWarning)
        with pytest.raises(AggregationAborted, match="needs 3 trusted key holders"):
            for seed in range(6):
                _round(aggregator, seed)


def test_honest_holders_are_never_refused_and_both_decryption_phases_are_timed(dealing: he.ThresholdDealing) -> None:
    committee = ThresholdKeyHolders(dealing)
    aggregator = _aggregator(dealing, committee)
    rng = np.random.default_rng(0)
    updates = {c: rng.uniform(-1, 1, 10) for c in range(1, 4)}
    outcome = aggregator.aggregate(updates, dict.fromkeys(updates, 1.0))
    assert committee.refused == {}
    assert {"keyholder.partial_decrypt", "server.combine"} <= set(outcome.cost.seconds)
