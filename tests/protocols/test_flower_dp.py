"""DP-FedAvg on Flower over our secure aggregation: central and distributed noise, the accountant's
epsilon per round in Flower's metrics, and a refused start when the budget cannot be met."""

from __future__ import annotations

import math

import numpy as np
import pytest

flwr = pytest.importorskip("flwr")

import dp  # noqa: E402
from protocols.flower import SecAggWorkflow  # noqa: E402
from protocols.flower.privacy import FlowerDP  # noqa: E402

from flower_testing import SHAPES, make_federation  # noqa: E402

DIMENSION = sum(math.prod(s) for s in SHAPES)


def _clipped_mean(updates, included: list[int], clip: float) -> np.ndarray:
    flat = [dp.clip_l2(np.concatenate([a.ravel() for a in updates[i]]), clip) for i in included]
    return np.mean(flat, axis=0)


@pytest.mark.parametrize("mode", ["distributed", "skellam", "central"])
def test_epsilon_per_round_is_the_accountants_and_the_mean_is_the_noisy_clipped_mean(mode: str) -> None:
    federation, updates, _ = make_federation(6, seed=21)
    privacy = FlowerDP(mode, l2_clip=1.0, delta=1e-5, rounds=3, expected_clients=6, noise_multiplier=0.5)
    workflow = SecAggWorkflow(degree=4, max_weight=100.0, privacy=privacy)
    with federation:
        context, outcomes = federation.fit_rounds(workflow, [np.zeros(s) for s in SHAPES], 3)
    mechanism = workflow._dp
    fresh = dp.RdpAccountant()
    for outcome in outcomes:
        assert outcome["status"] == "completed", outcome
        included = [federation.nodes.index(n) for n in outcome["included"]]
        event = (
            mechanism.mechanism.round_event(1.0)
            if mode == "central"
            else mechanism.mechanism.round_event(1.0, contributing_clients=len(included))
        )
        fresh.compose(event)
        assert outcome["epsilon"] == pytest.approx(fresh.epsilon(1e-5), rel=1e-12)
        got = np.concatenate([a.ravel() for a in outcome["global"]])
        noise_std = 0.5 * 1.0 / len(included)  # the central noise multiplier times the clip, over n
        assert np.max(np.abs(got - _clipped_mean(updates, included, 1.0))) < 8 * noise_std
        assert not np.allclose(got, _clipped_mean(updates, included, 1.0), atol=1e-6)  # noise is there
    reported = [value for _, value in context.history.metrics_distributed_fit["epsilon"]]
    assert reported == [o["epsilon"] for o in outcomes] and reported == sorted(reported)
    assert [o["exchanges"] for o in outcomes] == [4, 2, 2]


def test_a_budget_that_cannot_be_met_refuses_to_start() -> None:
    impossible = FlowerDP("distributed", l2_clip=1.0, delta=1e-5, rounds=100, expected_clients=4, epsilon=1e-4)
    with pytest.raises(dp.CalibrationError):
        SecAggWorkflow(privacy=impossible, dimension=DIMENSION, modulus_bits=16)
    federation, _, _ = make_federation(4, seed=22)
    workflow = SecAggWorkflow(privacy=impossible, modulus_bits=16)
    with federation, pytest.raises(dp.CalibrationError):
        federation.fit_rounds(workflow, [np.zeros(s) for s in SHAPES], 1)
    assert federation.replies == []  # nothing was sent


def test_dp_refuses_a_round_that_samples_a_subset() -> None:
    federation, _, _ = make_federation(6, seed=23)
    privacy = FlowerDP("distributed", l2_clip=1.0, delta=1e-5, rounds=1, expected_clients=3, noise_multiplier=1.0)
    with federation:
        _, (outcome,) = federation.fit_rounds(
            SecAggWorkflow(privacy=privacy), [np.zeros(s) for s in SHAPES], 1, fraction_fit=0.5
        )
    assert outcome["status"] == "halted" and "every client in every round" in str(outcome["reason"])
