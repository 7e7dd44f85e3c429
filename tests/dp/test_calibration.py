from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dp


@settings(max_examples=12, deadline=None)
@given(
    target=st.floats(0.3, 20.0),
    q=st.floats(1e-3, 1.0),
    steps=st.integers(1, 5000),
    accountant=st.sampled_from(["rdp", "pld"]),
)
def test_calibrated_noise_meets_target_tightly(target: float, q: float, steps: int, accountant: str) -> None:
    warnings.simplefilter("ignore", RuntimeWarning)
    try:
        sigma = dp.calibrate(target, 1e-5, q, steps, accountant=accountant)
    except dp.CalibrationError:
        return  # even the smallest noise (1e-3) meets such a loose target
    eps = dp.dpsgd_epsilon(sigma, q, steps, 1e-5, accountant)
    assert eps <= target
    assert eps >= target * 0.99
    assert dp.dpsgd_epsilon(sigma * 0.99, q, steps, 1e-5, accountant) > target * 0.99


def test_tight_accountant_needs_less_noise() -> None:
    assert dp.calibrate(1.0, 1e-5, 0.01, 1000, "pld") < dp.calibrate(1.0, 1e-5, 0.01, 1000, "rdp")


def test_impossible_target_raises_calibration_error() -> None:
    with pytest.raises(dp.CalibrationError, match="no noise"):
        dp.calibrate_noise(lambda s: 1.0 + 1 / s, 0.5)


def test_unknown_accountant_is_named() -> None:
    with pytest.raises(dp.InvalidParameterError, match="prv"):
        dp.calibrate(1.0, 1e-5, 0.01, 10, accountant="prv")
