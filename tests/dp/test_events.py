from __future__ import annotations

import pytest

import dp


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: dp.GaussianEvent(-1.0), "noise_multiplier"),
        (lambda: dp.PoissonSampledEvent(1.5, dp.GaussianEvent(1.0)), "sample_rate"),
        (lambda: dp.PoissonSampledEvent(0.1, "gauss"), "event"),
        (lambda: dp.FixedSizeSampledEvent(11, 10, dp.GaussianEvent(1.0)), "sample_size"),
        (lambda: dp.SelfComposedEvent(dp.GaussianEvent(1.0), -2), "count"),
        (lambda: dp.ComposedEvent([dp.GaussianEvent(1.0)]), "tuple"),
        (lambda: dp.DiscreteGaussianSumEvent(1.0, 1.0, 1.0, 0, 3), "dimension"),
        (lambda: dp.SkellamSumEvent(0.0, 1.0, 1.0), "variance"),
        (lambda: dp.LaplaceEvent(True), "noise_multiplier"),
    ],
)
def test_invalid_events_name_the_field(make, field: str) -> None:
    with pytest.raises(dp.InvalidParameterError, match=field):
        make()


def test_events_are_frozen_and_hashable() -> None:
    e = dp.PoissonSampledEvent(0.1, dp.GaussianEvent(1.0))
    with pytest.raises(AttributeError):
        e.sample_rate = 0.2  # type: ignore[misc]
    assert {e: 1}[dp.PoissonSampledEvent(0.1, dp.GaussianEvent(1.0))] == 1
