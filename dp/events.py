"""Immutable descriptions of what a private computation released ("events").

Accountants consume events; an event never changes meaning once published
(the compatibility rule of Google's dp_accounting event records). Noise
parameters are noise multipliers: the noise standard deviation (or scale)
divided by the l2-sensitivity under the stated neighbouring relation.
Neighbouring is add/remove-one unless an event says otherwise
(``FixedSizeSampledEvent`` is replace-one, as in Wang, Balle, Kasiviswanathan 2019).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dp._validate import MAX_DIMENSION, MAX_NOISE, check_count, check_int, check_real
from dp.errors import InvalidParameterError


class Event:
    """Base class of all events (marker; every subclass is a frozen dataclass)."""


@dataclass(frozen=True)
class GaussianEvent(Event):
    """One release of f(D) + N(0, (noise_multiplier * Delta_2)^2 I)."""

    noise_multiplier: float

    def __post_init__(self) -> None:
        check_real("noise_multiplier", self.noise_multiplier, low=0.0, high=MAX_NOISE)


@dataclass(frozen=True)
class LaplaceEvent(Event):
    """One release of f(D) + Laplace(noise_multiplier * Delta_1) (pure 1/noise_multiplier-DP)."""

    noise_multiplier: float

    def __post_init__(self) -> None:
        check_real("noise_multiplier", self.noise_multiplier, low=0.0, low_open=True, high=MAX_NOISE)


@dataclass(frozen=True)
class PoissonSampledEvent(Event):
    """``event`` run on a Poisson sample: each record kept independently with ``sample_rate``."""

    sample_rate: float
    event: Event

    def __post_init__(self) -> None:
        check_real("sample_rate", self.sample_rate, low=0.0, high=1.0)
        _check_event("event", self.event)


@dataclass(frozen=True)
class FixedSizeSampledEvent(Event):
    """``event`` run on a uniformly random subset of exactly ``sample_size`` of ``population_size``
    records (sampling without replacement; replace-one neighbouring)."""

    sample_size: int
    population_size: int
    event: Event

    def __post_init__(self) -> None:
        check_int("population_size", self.population_size, low=1)
        check_int("sample_size", self.sample_size, low=0, high=self.population_size)
        _check_event("event", self.event)

    @property
    def sample_rate(self) -> float:
        return self.sample_size / self.population_size


@dataclass(frozen=True)
class SelfComposedEvent(Event):
    """``event`` repeated ``count`` times (adaptively)."""

    event: Event
    count: int

    def __post_init__(self) -> None:
        _check_event("event", self.event)
        check_count("count", self.count)


@dataclass(frozen=True)
class ComposedEvent(Event):
    """The (adaptive) composition of heterogeneous events."""

    events: tuple[Event, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.events, tuple):
            raise InvalidParameterError("events must be a tuple of Event")
        for i, e in enumerate(self.events):
            _check_event(f"events[{i}]", e)


@dataclass(frozen=True)
class DiscreteGaussianSumEvent(Event):
    """The sum of ``num_clients`` independent discrete Gaussians N_Z(0, sigma^2) per coordinate,
    added to an integer vector of ``dimension`` coordinates whose sensitivities are
    ``l2_sensitivity`` and ``l1_sensitivity`` (Kairouz, Liu, Steinke ICML 2021, Sec. 3).
    ``num_clients`` must be the number of clients whose noise is certainly in the sum
    (survivors after dropout)."""

    sigma: float
    l2_sensitivity: float
    l1_sensitivity: float
    dimension: int
    num_clients: int

    def __post_init__(self) -> None:
        check_real("sigma", self.sigma, low=0.0, low_open=True, high=MAX_NOISE)
        check_real("l2_sensitivity", self.l2_sensitivity, low=0.0, low_open=True)
        check_real("l1_sensitivity", self.l1_sensitivity, low=0.0, low_open=True)
        check_int("dimension", self.dimension, low=1, high=MAX_DIMENSION)
        check_int("num_clients", self.num_clients, low=1)


@dataclass(frozen=True)
class SkellamSumEvent(Event):
    """Integer vector plus symmetric Skellam noise per coordinate, Poisson(v/2) - Poisson(v/2),
    where ``variance`` v is the total over the clients whose noise is certainly in the sum;
    sensitivities of the integer vector as in Agarwal, Kairouz, Liu NeurIPS 2021, Sec. 3."""

    variance: float
    l2_sensitivity: float
    l1_sensitivity: float

    def __post_init__(self) -> None:
        check_real("variance", self.variance, low=0.0, low_open=True)
        check_real("l2_sensitivity", self.l2_sensitivity, low=0.0, low_open=True)
        check_real("l1_sensitivity", self.l1_sensitivity, low=0.0, low_open=True)


def _check_event(name: str, value: object) -> None:
    if not isinstance(value, Event):
        raise InvalidParameterError(f"{name} must be a dp Event, got {type(value).__name__}")
