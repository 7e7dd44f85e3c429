"""DP-FedAvg on Flower over our secure aggregation: central and distributed noise, the accountant's
epsilon per round in Flower's metrics, and a refused start when the budget cannot be met."""

from __future__ import annotations

import dataclasses
import math
import secrets

import numpy as np
import pytest

flwr = pytest.importorskip("flwr")

import dp  # noqa: E402
import secagg  # noqa: E402
from protocols.flower import SecAggWorkflow, SessionSetup  # noqa: E402
from protocols.flower.privacy import FlowerDP, encoding_of  # noqa: E402
from protocols.flower.session import Encoding  # noqa: E402

from flower_testing import SHAPES, Federation, app_of, make_federation  # noqa: E402

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


def _run_dp(
    mode: str, nodes: int, offline: dict[int, str], seed: int, **options: float
) -> tuple[SecAggWorkflow, dict, list[int], list[list[np.ndarray]]]:
    """One DP-FedAvg round of ``nodes`` nodes with ``offline`` drops: the workflow, its outcome, the included
    nodes' indices and every node's update."""
    federation, updates, _ = make_federation(nodes, seed=seed, offline=offline)
    privacy = FlowerDP(mode, l2_clip=1.0, delta=1e-5, rounds=1, expected_clients=nodes, noise_multiplier=0.5, **options)
    workflow = SecAggWorkflow(max_weight=100.0, privacy=privacy)
    with federation:
        _, (outcome,) = federation.fit_rounds(workflow, [np.zeros(s) for s in SHAPES], 1)
    assert outcome["status"] == "completed", outcome
    return workflow, outcome, [federation.nodes.index(n) for n in outcome["included"]], updates


def test_xnoise_keeps_epsilon_per_round_when_nodes_drop_while_plain_skellam_spends_more() -> None:
    """Seven nodes, XNoise tolerating 30% (two components per client): with two nodes offline at the masked
    input (2/7 < 0.3) the round completes at the no-dropout epsilon, the excess components of the survivors
    are removed, and the mean is the survivors' clipped mean within the noise bound; plain Skellam planned
    for seven releases less noise with two missing, and its epsilon rises."""
    drops = {1: "masked_input", 4: "masked_input"}
    epsilon = {}
    for mode, options in (("skellam-xnoise", {"tolerated_dropout": 0.3}), ("skellam", {})):
        _, calm, _, _ = _run_dp(mode, 7, {}, seed=24, **options)
        workflow, dropped, included, updates = _run_dp(mode, 7, drops, seed=25, **options)
        assert len(included) == 5
        epsilon[mode] = (calm["epsilon"], dropped["epsilon"])
        got = np.concatenate([a.ravel() for a in dropped["global"]])
        clipped_mean = _clipped_mean(updates, included, 1.0)
        assert np.max(np.abs(got - clipped_mean)) < 8 * 0.5 / len(included)
        assert not np.allclose(got, clipped_mean, atol=1e-6)
        if mode == "skellam-xnoise":
            plan = workflow._dp.mechanism.round(7)
            assert plan.components == 2
            # components 1..T of all seven removed without dropouts; with d = 2 = T none is excess
            assert (calm["noise_components_removed"], dropped["noise_components_removed"]) == (14, 0)
            fresh = dp.RdpAccountant().compose(plan.round_event(1.0, 5))
            assert dropped["epsilon"] == pytest.approx(fresh.epsilon(1e-5), rel=1e-12)
    xnoise_calm, xnoise_dropped = epsilon["skellam-xnoise"]
    assert xnoise_dropped == pytest.approx(xnoise_calm, rel=1e-12)
    skellam_calm, skellam_dropped = epsilon["skellam"]
    assert skellam_dropped > 1.1 * skellam_calm
    assert xnoise_calm == pytest.approx(skellam_calm, rel=0.05)  # the same target noise without dropouts


def test_xnoise_removes_exactly_the_excess_noise() -> None:
    """Zero updates of 4096 values, seven nodes, one offline at the masked input: the released sum's noise has
    the target standard deviation noise_multiplier * l2_clip (within 4.5%, about 4 standard errors); keeping
    the excess component (+9.5%) or removing one too many (-7.4%) would fail."""
    shape, nodes = (4096,), 7
    holder: list[Federation] = []
    app = app_of([[np.zeros(shape)]] * nodes, [1] * nodes, lambda: holder[0].nodes)
    federation = Federation(nodes, app, offline={3: "masked_input"})
    holder.append(federation)
    privacy = FlowerDP(
        "skellam-xnoise",
        l2_clip=1.0,
        delta=1e-5,
        rounds=1,
        expected_clients=nodes,
        noise_multiplier=1.0,
        tolerated_dropout=0.3,
    )
    workflow = SecAggWorkflow(max_weight=100.0, privacy=privacy)
    with federation:
        _, (outcome,) = federation.fit_rounds(workflow, [np.zeros(shape)], 1)
    assert outcome["status"] == "completed" and len(outcome["included"]) == 6
    assert outcome["noise_components_removed"] == 6  # component 2 of each survivor
    released_sum = outcome["global"][0] * 6  # its noise: Skellam(V) on the lattice, std 1.0 * 1.0 decoded
    assert abs(np.std(released_sum) - 1.0) < 0.045


def test_an_xnoise_setup_rebuilds_the_same_session_and_noise_sampler_on_a_node() -> None:
    """What the server plans, a node rebuilds from the setup frame alone: the session config with its noise
    components and a sampler drawing the same components from the same seed; a setup whose component count
    is not the plan's is refused."""
    privacy = FlowerDP(
        "skellam-xnoise",
        l2_clip=1.0,
        delta=1e-5,
        rounds=1,
        expected_clients=5,
        noise_multiplier=1.0,
        tolerated_dropout=0.4,
    ).build(DIMENSION, 32)
    plain = SessionSetup(
        session_id=secrets.token_bytes(32),
        round_index=1,
        node_ids=(3, 9, 2**40, 7, 11),
        degree=0,
        graph_seed=secrets.token_bytes(32),
        threshold=3,
        modulus_bits=32,
        vector_length=DIMENSION + 1,
        active=False,
        clip=8.0,
        max_weight=1.0,
    )
    setup = encoding_of(privacy, plain)
    parsed = SessionSetup.from_bytes(setup.to_bytes())
    assert parsed == setup and parsed.encoding == Encoding.XNOISE_SKELLAM
    assert parsed.session_config() == setup.session_config() and parsed.session_config().noise_components == 2
    server, node = setup.noise_sampler(), parsed.noise_sampler()
    assert node is not None and server is not None and node.components == 2
    seed, length = secrets.token_bytes(32), setup.vector_length
    for index in (1, 2):
        np.testing.assert_array_equal(node.component(seed, index, length), server.component(seed, index, length))
    with pytest.raises(secagg.InvalidMessageError, match="1 noise components, XNoise plans 2"):
        dataclasses.replace(parsed, noise_components=1).noise_sampler()
    assert encoding_of(None, plain).noise_sampler() is None


def test_xnoise_needs_a_tolerated_dropout_rate_and_only_xnoise_takes_one() -> None:
    for mode, tolerated in (("skellam-xnoise", None), ("skellam", 0.3)):
        privacy = FlowerDP(
            mode,
            l2_clip=1.0,
            delta=1e-5,
            rounds=1,
            expected_clients=4,
            noise_multiplier=1.0,
            tolerated_dropout=tolerated,
        )
        with pytest.raises(ValueError, match="tolerated dropout rate goes with skellam-xnoise"):
            SecAggWorkflow(privacy=privacy, dimension=DIMENSION)
