"""DP-FedAvg (McMahan, Ramage, Talwar, Zhang, ICLR 2018) on top of any aggregator.

User-level DP: each client's update is clipped to L2 norm `l2_clip`, every
client carries the same weight (w_k = 1, so one client moves the sum by at
most the clip and no sample count is released), and the mean is the noisy
sum over the number of included clients, which secure aggregation reveals
anyway. The noise is either

* central (`CentralDP`): the server adds exact discrete Gaussian noise on a
  fine lattice to the unprotected sum (`dp.GaussianMechanism`), any backend;
* distributed (`DistributedDP`): each client adds its share of integer
  noise to its rotated, integerized update before SecAgg, discrete Gaussian
  (`dp.DistributedDiscreteGaussian`, Kairouz, Liu, Steinke, ICML 2021) or
  Skellam (`dp.DistributedSkellam`, Agarwal, Kairouz, Liu, NeurIPS 2021); its
  encoder/decoder replaces SecAgg's fixed-point codec, and only the
  survivors' noise is counted in the accounting;
* dropout-resilient distributed (`XNoiseDP`): Skellam with XNoise's removable
  excess (`dp.XNoiseSkellam`, Dordis, Jiang et al. EuroSys 2024, Sec. 4), so the
  released sum carries the target noise for up to the tolerated dropout rate and
  the accounting records the exact variance that remains.

After every released round the mechanism's event (Poisson-sampled at the
client sampling rate) is composed into a `dp` accountant and epsilon at
`delta` is reported; aborted rounds release nothing and cost nothing.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from typing import Self

import numpy as np

import dp
from protocols.aggregators.base import AggregationOutcome


class _DPFedAvg(ABC):
    """What both noise placements share: equal weights, clipping, accounting."""

    name = "dp"
    accounts_sampling = True

    def __init__(self, l2_clip: float, noise_multiplier: float, delta: float, accountant: str) -> None:
        if not 0.0 < delta < 1.0:
            raise ValueError(f"delta must lie in (0, 1), got {delta}")
        self.l2_clip = l2_clip
        self.noise_multiplier = noise_multiplier
        self.delta = delta
        self.accountant = dp.make_accountant(accountant)
        self.events: list[dp.Event] = []

    def _check_supported(self, event: dp.Event) -> None:
        """Refuse, before any round, an accountant that cannot account this mechanism."""
        reason = self.accountant.unsupported_reason(event)
        if reason is not None:
            raise ValueError(f"accountant cannot account this DP-FedAvg mechanism: {reason}")

    def describe(self) -> dict[str, object]:
        return {
            "l2_clip": self.l2_clip,
            "delta": self.delta,
            "noise_multiplier": self.noise_multiplier,
            "accountant": type(self.accountant).__name__,
        }

    def check(self, sample_rate: float | None) -> None:
        if sample_rate is None:
            raise ValueError("DP-FedAvg accounting needs Poisson client sampling or every client in every round")

    def client_weight(self, samples: int) -> float:
        return 1.0

    def prepare(self, update: np.ndarray) -> np.ndarray:
        return dp.clip_l2(update, self.l2_clip)

    @abstractmethod
    def release(self, outcome: AggregationOutcome) -> np.ndarray: ...

    @abstractmethod
    def _event(self, outcome: AggregationOutcome, sample_rate: float) -> dp.Event: ...

    def account(self, outcome: AggregationOutcome, sample_rate: float) -> float:
        event = self._event(outcome, sample_rate)
        self.events.append(event)
        self.accountant.compose(event)
        return self.accountant.epsilon(self.delta)


class CentralDP(_DPFedAvg):
    """Central discrete Gaussian noise added by the server to the sum of clipped updates."""

    name = "central-dp"

    def __init__(self, mechanism: dp.GaussianMechanism, delta: float, accountant: str = "rdp") -> None:
        super().__init__(mechanism.l2_clip, mechanism.noise_multiplier, delta, accountant)
        self.mechanism = mechanism
        self._check_supported(mechanism.round_event(0.5))

    @classmethod
    def calibrated(
        cls,
        target_epsilon: float,
        delta: float,
        rounds: int,
        sample_rate: float,
        l2_clip: float,
        dimension: int,
        accountant: str = "rdp",
    ) -> CentralDP:
        """The smallest noise meeting (target_epsilon, delta) after `rounds` released rounds."""

        def epsilon_of(noise: float) -> float:
            event = dp.GaussianMechanism(l2_clip, noise, dimension).round_event(sample_rate)
            return dp.make_accountant(accountant).compose(event, rounds).epsilon(delta)

        noise = dp.calibrate_noise(epsilon_of, target_epsilon)
        return cls(dp.GaussianMechanism(l2_clip, noise, dimension), delta, accountant)

    def release(self, outcome: AggregationOutcome) -> np.ndarray:
        total = outcome.mean * outcome.total_weight
        return self.mechanism.add_noise(total) / outcome.total_weight

    def _event(self, outcome: AggregationOutcome, sample_rate: float) -> dp.Event:
        return self.mechanism.round_event(sample_rate)


class DistributedDP(_DPFedAvg):
    """Distributed integer noise (discrete Gaussian or Skellam): clients noise their own
    encodings before SecAgg.

    Pass `codec` to `SecAggAggregator(..., codec=..., protect_weights=False)`.
    """

    name = "distributed-dp"

    def __init__(self, mechanism: dp.DistributedIntegerMechanism, delta: float, accountant: str = "rdp") -> None:
        super().__init__(mechanism.l2_clip, mechanism.noise_multiplier, delta, accountant)
        self.mechanism = mechanism
        self._check_supported(mechanism.round_event(0.5))

    @classmethod
    def calibrated(
        cls,
        target_epsilon: float,
        delta: float,
        rounds: int,
        sample_rate: float,
        l2_clip: float,
        dimension: int,
        expected_clients: int,
        modulus_bits: int,
        accountant: str = "rdp",
        noise: type[dp.DistributedIntegerMechanism] = dp.DistributedDiscreteGaussian,
        **options: object,
    ) -> Self:
        """Noise split over `expected_clients` survivors, meeting the target after `rounds`;
        `options` go to the mechanism (XNoise's `tolerated_dropout`).

        Raises `dp.CalibrationError` when the bit width cannot meet the target.
        """
        mechanism = noise.calibrate(
            target_epsilon,
            delta,
            rounds,
            sample_rate,
            modulus_bits,
            l2_clip,
            dimension,
            expected_clients,
            secrets.token_bytes(32),
            **options,
        )
        return cls(mechanism, delta, accountant)

    @property
    def codec(self) -> dp.DistributedIntegerMechanism:
        return self.mechanism

    def release(self, outcome: AggregationOutcome) -> np.ndarray:
        return outcome.mean

    def _event(self, outcome: AggregationOutcome, sample_rate: float) -> dp.Event:
        return self.mechanism.round_event(sample_rate, contributing_clients=len(outcome.included))


class XNoiseDP(DistributedDP):
    """Skellam noise with XNoise's removable excess (`dp.XNoiseSkellam`): every sampled client is
    planned for, and each round is accounted at the variance left once the excess components of
    the survivors are removed (the target, up to the tolerated dropout rate).

    Pass `codec` to `SecAggAggregator(..., codec=..., protect_weights=False)`; the aggregator
    plans each round for its client count and carries the removable components.
    """

    name = "xnoise-dp"
    mechanism: dp.XNoiseSkellam

    def __init__(self, mechanism: dp.DistributedIntegerMechanism, delta: float, accountant: str = "rdp") -> None:
        if not isinstance(mechanism, dp.XNoiseSkellam):
            raise ValueError(f"XNoiseDP needs a dp.XNoiseSkellam mechanism, got {type(mechanism).__name__}")
        super().__init__(mechanism, delta, accountant)
        mechanism.round(mechanism.expected_clients)  # refuse, before any round, variances the sampler cannot draw

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "tolerated_dropout": self.mechanism.tolerated_dropout}

    def _event(self, outcome: AggregationOutcome, sample_rate: float) -> dp.Event:
        if outcome.participants is None:
            raise ValueError("XNoise accounting needs the round's number of participants from the aggregator")
        return self.mechanism.round_event(sample_rate, len(outcome.included), sampled_clients=outcome.participants)


XNOISE = "skellam-xnoise"
DISTRIBUTED_NOISE: dict[str, type[dp.DistributedIntegerMechanism]] = {
    "distributed": dp.DistributedDiscreteGaussian,
    "skellam": dp.DistributedSkellam,
    XNOISE: dp.XNoiseSkellam,
}
DP_MODES = ("central", *DISTRIBUTED_NOISE)


def build_privacy(
    mode: str,
    *,
    epsilon: float | None,
    noise: float | None,
    l2_clip: float,
    delta: float,
    rounds: int,
    sample_rate: float,
    dimension: int,
    expected_clients: int,
    modulus_bits: int,
    accountant: str = "rdp",
    tolerated_dropout: float | None = None,
) -> CentralDP | DistributedDP:
    """DP-FedAvg with `mode` noise, from a target epsilon (calibrated) or a noise multiplier.

    `expected_clients` is the clients whose noise the plan counts on: the expected survivors,
    or for XNoise (`mode="skellam-xnoise"`) every sampled client, of which it tolerates
    `tolerated_dropout` dropping.
    """
    if mode not in DP_MODES:
        raise ValueError(f"unknown DP mode {mode!r}; choose one of {', '.join(DP_MODES)}")
    if (tolerated_dropout is not None) != (mode == XNOISE):
        raise ValueError(f"a tolerated dropout rate goes with {XNOISE} noise only, and {XNOISE} needs one")
    options = {} if tolerated_dropout is None else {"tolerated_dropout": tolerated_dropout}
    wrapper = XNoiseDP if mode == XNOISE else DistributedDP
    if noise is not None and epsilon is None:
        if mode == "central":
            return CentralDP(dp.GaussianMechanism(l2_clip, noise, dimension), delta, accountant)
        mechanism = DISTRIBUTED_NOISE[mode](
            l2_clip,
            noise,
            modulus_bits,
            dimension,
            expected_clients,
            secrets.token_bytes(32),
            **options,  # type: ignore[arg-type]
        )
        return wrapper(mechanism, delta, accountant)
    if epsilon is not None and noise is None:
        if mode == "central":
            return CentralDP.calibrated(epsilon, delta, rounds, sample_rate, l2_clip, dimension, accountant)
        return wrapper.calibrated(
            epsilon,
            delta,
            rounds,
            sample_rate,
            l2_clip,
            dimension,
            expected_clients,
            modulus_bits,
            accountant,
            noise=DISTRIBUTED_NOISE[mode],
            **options,
        )
    raise ValueError("give exactly one of a target epsilon or a noise multiplier")
