"""DP-FedAvg on Flower (McMahan, Ramage, Talwar, Zhang, ICLR 2018) over our secure aggregation.

``SecAggWorkflow(privacy=FlowerDP(...))``: user-level DP with equal client weights and updates
clipped to ``l2_clip``, the noise either

* ``"central"``: added by the ServerApp to the unmasked sum (exact discrete Gaussian on a fine
  lattice, `dp.GaussianMechanism`); secure aggregation still hides each update, but the server
  sees the sum before its noise;
* ``"distributed"`` / ``"skellam"``: added by every client to its own encoding before masking
  (`dp.DistributedDiscreteGaussian`, Kairouz, Liu, Steinke, ICML 2021; `dp.DistributedSkellam`,
  Agarwal, Kairouz, Liu, NeurIPS 2021), so neither the server nor anyone else sees an un-noised sum;
  every client that drops takes its share of the noise out of the sum;
* ``"skellam-xnoise"``: XNoise (Dordis, Jiang, Wang, Chen, EuroSys 2024, Sec. 4, `dp.XNoiseSkellam`):
  Skellam planned for every sampled client plus ``floor(tolerated_dropout * n)`` removable components
  per client, which SecAgg shares with its self-mask seed; once the masked inputs are in, the server
  takes out the components the missing clients leave in excess, so up to the tolerated rate the sum
  carries exactly the target noise. The session setup carries the tolerated rate and the component
  count, from which every node rebuilds the same session and noise sampler (`SessionSetup.noise_sampler`).

Our accountant composes each released round (a halted round releases nothing; under XNoise at the exact
variance left once the excess is removed, `dp.XNoiseRound.remaining_variance`) and the epsilon spent
so far at ``delta`` is logged and reported in Flower's fit metrics (``"epsilon"``) and in the round's
outcome. The accounting assumes every client takes part in every round (sample rate 1): Flower's own
client sampling is not a secret Poisson sample, so a round that samples a strict subset of the
available nodes is refused. With ``epsilon`` given, the noise is calibrated for ``rounds`` rounds
before any message is sent, and a budget that cannot be met refuses to start
(`dp.CalibrationError`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import dp
from protocols.aggregators.base import AggregationError
from protocols.dpfedavg import DP_MODES, CentralDP, DistributedDP, build_privacy
from protocols.flower.session import MECHANISMS, Encoding, SessionSetup

__all__ = ["FlowerDP"]


@dataclass(frozen=True)
class FlowerDP:
    """What DP-FedAvg should guarantee: give a target ``epsilon`` (calibrated) or a ``noise_multiplier``.

    ``expected_clients``: the clients whose noise a distributed round plans for (the noise is split
    over them; fewer survivors release less noise, which the accountant records exactly). Under
    ``"skellam-xnoise"`` that is every sampled client, and ``tolerated_dropout`` (required there, refused
    elsewhere) the rate of them whose dropping leaves the released noise at its target.
    """

    mode: str
    l2_clip: float
    delta: float
    rounds: int
    expected_clients: int
    epsilon: float | None = None
    noise_multiplier: float | None = None
    accountant: str = "rdp"
    tolerated_dropout: float | None = None

    def build(self, dimension: int, modulus_bits: int) -> CentralDP | DistributedDP:
        """The mechanism and accountant for updates of ``dimension`` values in a ``modulus_bits`` ring."""
        if self.mode not in DP_MODES:
            raise ValueError(f"unknown DP mode {self.mode!r}; choose one of {', '.join(DP_MODES)}")
        return build_privacy(
            self.mode,
            epsilon=self.epsilon,
            noise=self.noise_multiplier,
            l2_clip=self.l2_clip,
            delta=self.delta,
            rounds=self.rounds,
            sample_rate=1.0,
            dimension=dimension,
            expected_clients=self.expected_clients,
            modulus_bits=modulus_bits,
            accountant=self.accountant,
            tolerated_dropout=self.tolerated_dropout,
        )


def encoding_of(privacy: CentralDP | DistributedDP | None, setup: SessionSetup) -> SessionSetup:
    """``setup`` with the encoding ``privacy`` needs: weighted (no DP), clipped (central), or distributed."""
    if privacy is None:
        return setup
    if isinstance(privacy, CentralDP):
        return dataclasses.replace(
            setup, encoding=Encoding.CLIPPED, vector_length=setup.update_length, l2_clip=privacy.l2_clip
        )
    mechanism = privacy.mechanism
    encoding = next(e for e, kind in MECHANISMS.items() if type(mechanism) is kind)
    xnoise = {}
    if isinstance(mechanism, dp.XNoiseSkellam):
        clients = len(setup.node_ids)
        try:
            components = mechanism.round(clients).components
        except dp.DPError as exc:
            raise AggregationError(f"XNoise cannot plan a round of {clients} clients: {exc}") from exc
        xnoise = {"tolerated_dropout": mechanism.tolerated_dropout, "noise_components": components}
    return dataclasses.replace(
        setup,
        encoding=encoding,
        vector_length=mechanism.padded_dimension,  # the rotation pads the update to a power of two
        dimension=setup.update_length,
        l2_clip=mechanism.l2_clip,
        noise_multiplier=mechanism.noise_multiplier,
        expected_clients=mechanism.expected_clients,
        rotation_seed=mechanism.rotation_seed,
        **xnoise,  # type: ignore[arg-type]
    )
