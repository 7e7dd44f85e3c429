"""XNoise (Dordis 2024, Sec. 4): the variance left after removing the excess components is the target exactly
for every dropout count up to the tolerated one, components are regenerated bit for bit from their key, and the
accounting (hence epsilon per round) does not move with dropouts."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dp
import secagg
from dp.poisson import MAX_VARIANCE
from secagg import Stage


def _mechanism(clients: int = 10, tolerated: float = 0.3, bits: int = 32) -> dp.XNoiseSkellam:
    return dp.XNoiseSkellam(1.0, 1.0, bits, 30, clients, bytes(32), tolerated_dropout=tolerated)


@settings(max_examples=200, deadline=None)
@given(clients=st.integers(1, 400), rate=st.floats(0.0, 0.99), data=st.data())
def test_the_variance_left_is_the_target_for_every_dropout_count_up_to_the_tolerated_one(
    clients: int, rate: float, data: st.DataObject
) -> None:
    plan = _mechanism(clients=clients, tolerated=rate, bits=16).round(clients)  # 16 bits: every variance drawable
    target = plan.mechanism.target_variance
    assert plan.components == min(clients - 1, int((rate + 1e-12) * clients))
    dropped = data.draw(st.integers(0, clients - 1), label="dropped")
    left = plan.remaining_variance(clients - dropped)
    if dropped <= plan.components:
        assert left == target
    else:
        assert left == Fraction(clients - dropped, clients - plan.components) * target < target
    # What each survivor adds before removal covers the worst tolerated case.
    worst = plan.base_variance + sum(plan.component_variance(k) for k in range(1, plan.components + 1))
    assert worst == target / (clients - plan.components)


def test_a_component_is_regenerated_exactly_from_its_key_and_only_from_it() -> None:
    plan = _mechanism().round(10)
    key = bytes(range(32))
    first = plan.component(key, 2, plan.mechanism.padded_dimension)
    assert first.dtype == np.int64
    assert np.array_equal(first, plan.component(key, 2, plan.mechanism.padded_dimension))
    assert not np.array_equal(first, plan.component(bytes(32), 2, plan.mechanism.padded_dimension))
    with pytest.raises(dp.InvalidParameterError, match="index"):
        plan.component(key, 4, plan.mechanism.padded_dimension)
    with pytest.raises(dp.InvalidParameterError, match="length"):
        plan.component(key, 1, 3)


def test_each_component_has_its_variance() -> None:
    plan = dp.XNoiseSkellam(1.0, 1.0, 32, 32_768, 10, bytes(32), tolerated_dropout=0.3).round(10)
    draws = np.concatenate([plan.component(bytes([i]) * 32, 3, 32_768) for i in range(4)])
    expected = float(plan.component_variance(3))
    assert abs(draws.var() / expected - 1) < 0.03
    assert abs(draws.mean()) < 4 * np.sqrt(expected / draws.size)


def test_the_keyed_stream_is_a_deterministic_prg() -> None:
    a, b = dp.keyed_stream(bytes(32)), dp.keyed_stream(bytes(32))
    assert a(5) + a(11) == b(16)
    assert dp.keyed_stream(bytes([1]) * 32)(16) != dp.keyed_stream(bytes(32))(16)
    with pytest.raises(dp.InvalidParameterError, match="32 bytes"):
        dp.keyed_stream(bytes(16))


def test_epsilon_per_round_does_not_move_with_dropouts_up_to_the_tolerated_rate() -> None:
    mechanism = _mechanism()
    epsilons = [
        dp.RdpAccountant().compose(mechanism.round_event(1.0, 10 - d, sampled_clients=10)).epsilon(1e-5)
        for d in range(5)
    ]
    assert epsilons[0] == epsilons[1] == epsilons[2] == epsilons[3] < epsilons[4]
    planned = dp.DistributedSkellam(1.0, 1.0, 32, 30, 10, bytes(32))
    assert epsilons[0] == pytest.approx(planned.epsilon(1, 1.0, 1e-5))


def test_a_round_whose_components_exceed_the_exact_sampler_is_refused() -> None:
    """The planned round fits (gamma is coarsened for its largest component); a round of far fewer clients
    than planned (Poisson sampling) would need a base variance beyond the sampler, and is refused."""
    mechanism = dp.XNoiseSkellam(1.0, 1.0, 62, 30, 10, bytes(32), tolerated_dropout=0.9)
    plan = mechanism.round(10)
    assert plan.component_variance(9) <= MAX_VARIANCE < 2 * plan.component_variance(9)
    with pytest.raises(dp.CalibrationError, match="exact sampler"):
        mechanism.round(1)


def test_through_secure_aggregation_the_decoded_noise_has_the_target_spread() -> None:
    """Zero updates, so the decoded sum is the noise alone: with 0 or 3 of 10 clients dropping, its
    standard deviation is the central noise (noise multiplier x clip) within sampling error."""
    mechanism = dp.XNoiseSkellam(1.0, 2.0, 32, 60, 10, bytes(32), tolerated_dropout=0.3)
    for dropped in (0, 3):
        plan = mechanism.round(10)
        samples = []
        for _ in range(6):
            inputs = {u: plan.encode(np.zeros(60)) for u in range(1, 11)}
            schedule = {u: Stage.MASKED_INPUT for u in range(1, dropped + 1)}
            result = secagg.simulate(inputs, threshold=6, dropouts=schedule, noise=plan)
            samples.append(plan.decode_sum(result.total))
        std = float(np.concatenate(samples).std())
        assert abs(std / 2.0 - 1) < 0.1, (dropped, std)
