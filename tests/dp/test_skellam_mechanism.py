"""The distributed Skellam mechanism: encode/decode over the shared modular pipeline, its
accounting event, epsilon and calibration."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import dp
from dp.poisson import MAX_VARIANCE

SEED = b"public-seed-0123"


def _skellam(**kw: object) -> dp.DistributedSkellam:
    args = dict(
        l2_clip=1.0, noise_multiplier=0.8, modulus_bits=20, dimension=3000, expected_clients=8, rotation_seed=SEED
    )
    args.update(kw)
    return dp.DistributedSkellam(**args)  # type: ignore[arg-type]


def _modular_sum(mech: dp.DistributedIntegerMechanism, updates: list[np.ndarray]) -> np.ndarray:
    total = np.zeros(mech.padded_dimension, dtype=np.uint64)
    for u in updates:
        total = (total + mech.encode(u)) % np.uint64(mech.modulus)
    return total


@pytest.mark.parametrize("bits", [20, 40])
def test_sum_decodes_to_sum_of_clipped_updates_plus_central_noise(bits: int) -> None:
    rng = np.random.default_rng(11)
    mech = _skellam(modulus_bits=bits)
    updates = [rng.normal(size=3000) * rng.uniform(0.005, 0.05) for _ in range(8)] + [rng.normal(size=3000)]
    mech = _skellam(modulus_bits=bits, expected_clients=len(updates))
    err = mech.decode_sum(_modular_sum(mech, updates)) - sum(dp.clip_l2(u, 1.0) for u in updates)
    expected = 0.8 * 1.0 * math.sqrt(3000)  # central noise std z * c per coordinate
    assert 0.9 * expected < np.linalg.norm(err) < 1.1 * expected


def test_each_client_adds_skellam_noise_of_the_local_variance() -> None:
    mech = _skellam(modulus_bits=12, dimension=60000)
    enc = mech.encode(np.zeros(60000)).astype(np.int64)  # a zero update rounds to zero: only noise is left
    noise = np.where(enc >= mech.modulus // 2, enc - mech.modulus, enc)
    var = float(mech.local_variance)
    assert abs(noise.mean()) < 5 * math.sqrt(var / noise.size)
    assert abs(noise.var() / var - 1) < 5 * math.sqrt(2 / noise.size)


def test_pipeline_is_shared_with_the_discrete_gaussian() -> None:
    sk, dg = _skellam(modulus_bits=16), dp.DistributedDiscreteGaussian(1.0, 0.8, 16, 3000, 8, SEED)
    assert (sk.gamma, sk.l2_bound, sk.l1_bound, sk.local_variance) == (
        dg.gamma,
        dg.l2_bound,
        dg.l1_bound,
        dg.local_variance,
    )
    with pytest.raises(TypeError):
        dp.DistributedIntegerMechanism(1.0, 0.8, 20, 3000, 8, SEED)  # type: ignore[abstract]


def test_wide_rings_keep_the_local_variance_within_the_exact_sampler() -> None:
    sk = _skellam(modulus_bits=24)
    dg = dp.DistributedDiscreteGaussian(1.0, 0.8, 24, 3000, 8, SEED)
    assert float(sk.local_variance) <= MAX_VARIANCE / 2 < float(dg.local_variance)
    assert sk.gamma > dg.gamma


@settings(max_examples=30, deadline=None)
@given(x=arrays(float, st.integers(1, 40), elements=st.floats(-1e6, 1e6)), bits=st.integers(8, 62))
def test_encodings_lie_in_the_ring(x: np.ndarray, bits: int) -> None:
    mech = _skellam(dimension=x.size, modulus_bits=bits, expected_clients=3)
    enc = mech.encode(x)
    assert enc.dtype == np.uint64 and enc.shape == (mech.padded_dimension,)
    assert int(enc.max()) < mech.modulus


def test_round_event_is_a_skellam_sum_of_the_contributing_clients() -> None:
    mech = _skellam()
    event = mech.round_event()
    assert event == dp.SkellamSumEvent(
        variance=8 * float(mech.local_variance), l2_sensitivity=mech.l2_bound, l1_sensitivity=mech.l1_bound
    )
    fewer = mech.round_event(0.1, contributing_clients=5)
    assert isinstance(fewer, dp.PoissonSampledEvent) and fewer.sample_rate == 0.1
    assert isinstance(fewer.event, dp.SkellamSumEvent)
    assert fewer.event.variance == pytest.approx(5 * float(mech.local_variance))
    # the l2 bound after conditional rounding exceeds the scaled clip, the l1 bound is min(sqrt(d) l2, l2^2)
    assert 1.0 / mech.gamma < mech.l2_bound <= 1.0 / mech.gamma + math.sqrt(mech.padded_dimension)
    assert mech.l1_bound == min(math.sqrt(mech.padded_dimension) * mech.l2_bound, mech.l2_bound**2)


def test_accounting_and_calibration() -> None:
    mech = dp.DistributedSkellam.calibrate(
        4.0,
        1e-5,
        rounds=50,
        sample_rate=0.2,
        modulus_bits=18,
        l2_clip=1.0,
        dimension=3000,
        expected_clients=8,
        rotation_seed=SEED,
    )
    assert isinstance(mech, dp.DistributedSkellam)
    eps = mech.epsilon(50, 0.2, 1e-5)
    assert 3.9 <= eps <= 4.0
    assert mech.epsilon(50, 0.2, 1e-5, contributing_clients=5) > eps
    # discretization costs a little: never better than the continuous Gaussian with the same noise
    assert dp.dpsgd_epsilon(mech.noise_multiplier, 0.2, 50, 1e-5) <= eps
    ddg = dp.DistributedDiscreteGaussian(1.0, mech.noise_multiplier, 18, 3000, 8, SEED)
    assert ddg.epsilon(50, 0.2, 1e-5) == pytest.approx(eps, rel=0.05)


@pytest.mark.parametrize("mechanism", [dp.DistributedDiscreteGaussian, dp.DistributedSkellam])
def test_calibration_fails_clearly_at_too_few_bits(mechanism: type[dp.DistributedIntegerMechanism]) -> None:
    with pytest.raises(dp.CalibrationError, match="8 modulus bits"):
        mechanism.calibrate(
            0.5,
            1e-5,
            rounds=1000,
            sample_rate=1.0,
            modulus_bits=8,
            l2_clip=1.0,
            dimension=3000,
            expected_clients=8,
            rotation_seed=SEED,
        )


@pytest.mark.parametrize("cls", [dp.DistributedSkellam, dp.DistributedDiscreteGaussian])
@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros(4096, dtype=np.float64), "integer"),
        (np.zeros(10, dtype=np.uint64), "shape"),
        (np.full(4096, 2**20, dtype=np.uint64), "lie in"),
    ],
)
def test_decode_validates_input(cls: type[dp.DistributedIntegerMechanism], bad: np.ndarray, match: str) -> None:
    """The shared decoder of both mechanisms refuses a malformed modular sum."""
    with pytest.raises(dp.InvalidParameterError, match=match):
        cls(1.0, 0.8, 20, 3000, 8, SEED).decode_sum(bad)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"noise_multiplier": 0.0}, "noise_multiplier"),
        ({"modulus_bits": 63}, "modulus_bits"),
        ({"expected_clients": 0}, "expected_clients"),
        ({"rotation_seed": b"short"}, "rotation_seed"),
    ],
)
def test_bad_parameters_raise_typed_errors(kw: dict[str, object], match: str) -> None:
    with pytest.raises(dp.InvalidParameterError, match=match):
        _skellam(**kw)
    with pytest.raises(dp.InvalidParameterError, match="shape"):
        _skellam().encode(np.zeros(5))


def test_encodes_100k_parameters_under_a_second() -> None:
    mech = _skellam(dimension=100000, expected_clients=15)
    x = np.random.default_rng(0).normal(size=100000) * 0.001
    mech.encode(x)  # builds the sampler's table once per variance
    t = time.process_time()  # CPU time: robust to other load on the shared box
    mech.encode(x)
    assert time.process_time() - t < 1.0
