"""XNoise: distributed Skellam noise that stays at its target whatever the dropouts (up to a rate).

Dordis (Jiang, Wang, Chen, "Dordis: Efficient Federated Learning with Dropout-Resilient
Differential Privacy", EuroSys 2024, Sec. 4, "add-then-remove" noise enforcement, its XNoise in
the variant with one seed per tolerated dropout). With ``DistributedSkellam`` every client adds
its share of the noise planned for an expected number of survivors, so each extra dropout takes
its share out of the released sum. Here the noise is planned for the worst tolerated case and
the excess is taken out once the survivors are known.

Design. The target is the variance ``V`` (integer lattice, exact rational) that the central
noise ``noise_multiplier * l2_clip`` has after scaling by gamma. A round of ``n`` sampled clients
tolerates ``T = floor(tolerated_dropout * n)`` dropouts. Each client adds

* base noise Skellam(V / n), from the OS CSPRNG, never shared and never removed;
* components k = 1..T, component k ~ Skellam(V / ((n - k)(n - k + 1))), drawn exactly
  (``dp.poisson.skellam``) from a ``CsprngSource`` fed by an AES-256-CTR stream
  (:func:`dp.csprng.keyed_stream`) under a key derived from the component's own fresh seed,
  which the client Shamir-shares, seals and commits to in SecAgg's share-keys round
  (:mod:`secagg.noise`).

Removal. With ``d = n - |U3|`` clients missing, the server reconstructs, from the survivors'
unmasking shares, the seeds of components ``d + 1..T`` of every survivor, regenerates them and
subtracts them. Each survivor keeps V/n + sum_{k=1}^{d} V/((n - k)(n - k + 1)) = V/(n - d)
(the sum telescopes: 1/((n - k)(n - k + 1)) = 1/(n - k) - 1/(n - k + 1)), and Skellam is closed
under sums (Agarwal, Kairouz, Liu, NeurIPS 2021, Sec. 3), so the n - d survivors' noise is
exactly Skellam(V) for every d <= T. Beyond T nothing is removed and (n - d) V / (n - T) < V
remains. Dropped clients' noise is absent, like their input.

Accounting. A round is the Skellam sum event of the variance that remains,
:meth:`XNoiseRound.remaining_variance` (exactly ``V`` up to T dropouts, so epsilon per round does
not move with dropouts), with the sensitivities of ``DistributedSkellam``.

Security. A seed is secret-shared like the self-mask seed b_u: fewer than t holders learn
nothing (Shamir), its shares travel only sealed (AES-GCM), and a client reveals its shares of
component k of a peer only beside that peer's b-share (so never together with a key share: a
peer's two secrets are never both revealed) and only when fewer than k clients are missing from
the survivor list U3 it answers. The server thus learns the seeds of exactly the removed
components; every other component stays the output of a keyed PRG under an unknown key
(AES as a PRF), so the noise left is, to the server, Skellam(V / (n - d)) per survivor. Lying
about U3 does not buy more removal: to lower d the server must list a missing client as a
survivor, and that client's pairwise masks then stay in the sum (its mask key is never revealed
while it is listed as surviving); in the active setting U3 carries t holders' signatures. Every
reconstructed seed is checked against its commitment (bound to session, round, client and
component), so forged shares, or shares of another component, are corrected by Reed-Solomon
decoding and their senders named, or abort the round, exactly as forged self-mask shares do.
As for every distributed DP mechanism (Kairouz, Liu, Steinke, ICML 2021), the noise of clients
that collude with the server is known to it: the accounting assumes the survivors are honest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from dp._validate import check_int, check_real
from dp.csprng import CsprngSource, keyed_stream
from dp.distributed import DistributedSkellam
from dp.errors import CalibrationError, InvalidParameterError
from dp.events import Event, PoissonSampledEvent, SkellamSumEvent
from dp.poisson import MAX_VARIANCE, skellam

_RATE_SLACK = 1e-12
"""Added to a rate before flooring rate * n, so that 0.3 * 10 tolerates 3 dropouts, not 2."""


@dataclass
class XNoiseSkellam(DistributedSkellam):
    """Distributed Skellam with XNoise's removable excess (see the module docstring).

    ``expected_clients`` is the number of clients sampled per round: every one of them is planned
    for, since the removable components absorb up to ``tolerated_dropout`` of them dropping.
    ``encode`` is the client side of a round of exactly ``expected_clients``; :meth:`round`
    gives the codec and noise sampler of a round of any size.
    """

    tolerated_dropout: float = 0.0
    target_variance: Fraction = field(init=False)

    def __post_init__(self) -> None:
        super().__post_init__()  # checks tolerated_dropout through _granularity
        #: V: the variance of the released sum's noise on the integer lattice, up to the tolerated dropouts
        self.target_variance = self.expected_clients * self.local_variance

    def _granularity(self) -> float:
        """DistributedSkellam's gamma, coarser where needed so that the largest component of a round of
        ``expected_clients``, V / ((n - T)(n - T + 1)) = n sigma^2 / ((n - T)(n - T + 1)), stays
        within the exact sampler's range."""
        n, c, z = self.expected_clients, self.l2_clip, self.noise_multiplier
        t = self._tolerated(n)
        cap = MAX_VARIANCE * (n - t) * (n - t + 1) / n * (1 - 1e-9)  # the margin absorbs rounding to a Fraction
        return max(super()._granularity(), z * c / math.sqrt(n * cap))

    def _tolerated(self, clients: int) -> int:
        check_real("tolerated_dropout", self.tolerated_dropout, low=0.0, high=1.0, high_open=True)
        return min(clients - 1, math.floor((self.tolerated_dropout + _RATE_SLACK) * clients))

    def round(self, clients: int) -> XNoiseRound:
        """The codec and removable-noise sampler of a round with ``clients`` sampled clients."""
        check_int("clients", clients, low=1)
        return XNoiseRound(self, clients, self._tolerated(clients))

    def round_event(
        self, sample_rate: float = 1.0, contributing_clients: int | None = None, sampled_clients: int | None = None
    ) -> Event:
        """The event of a round of ``sampled_clients`` (default ``expected_clients``) of which
        ``contributing_clients`` (default all) sent their masked input."""
        sampled = self.expected_clients if sampled_clients is None else sampled_clients
        survivors = sampled if contributing_clients is None else contributing_clients
        return self.round(sampled).round_event(sample_rate, survivors)


@dataclass(frozen=True)
class XNoiseRound:
    """One round's plan: base noise V/n per client and ``components`` removable components.

    A ``secagg.NoiseSampler`` (``components``, ``component``) and a codec (``encode``,
    ``decode_sum``, ``modulus_bits``) for that round's secure aggregation.
    """

    mechanism: XNoiseSkellam
    clients: int
    components: int

    def __post_init__(self) -> None:
        largest = max([self.base_variance, *(self.component_variance(k) for k in range(1, self.components + 1))])
        if largest > MAX_VARIANCE:
            raise CalibrationError(
                f"XNoise over {self.clients} clients needs a per-client variance {float(largest):.4g} above the "
                f"exact sampler's {MAX_VARIANCE}; use more modulus bits or a lower tolerated dropout"
            )

    @property
    def modulus_bits(self) -> int:
        return self.mechanism.modulus_bits

    @property
    def base_variance(self) -> Fraction:
        """V / n: the noise each client keeps whatever happens."""
        return self.mechanism.target_variance / self.clients

    def component_variance(self, index: int) -> Fraction:
        """V / ((n - k)(n - k + 1)) for component k: removed unless at least k clients drop."""
        n = self.clients
        return self.mechanism.target_variance / ((n - index) * (n - index + 1))

    def encode(self, x: np.ndarray) -> np.ndarray:
        """A client's update with its base noise (its components are added by SecAgg)."""
        m = self.mechanism
        return m.noised(m.integerize(x), skellam(m.source, self.base_variance, m.padded_dimension))

    def decode_sum(self, total: np.ndarray) -> np.ndarray:
        return self.mechanism.decode_sum(total)

    def component(self, key: bytes, index: int, length: int) -> np.ndarray:
        """Component ``index`` drawn exactly from the AES-256-CTR stream under ``key``: the client
        and, for an excess component, the server draw the same integers."""
        check_int("index", index, low=1, high=self.components)
        if length != self.mechanism.padded_dimension:
            raise InvalidParameterError(f"noise length {length}, the encoding has {self.mechanism.padded_dimension}")
        return skellam(CsprngSource(keyed_stream(key)), self.component_variance(index), length)

    def remaining_variance(self, survivors: int) -> Fraction:
        """The exact variance of the noise left in the sum of ``survivors`` clients' inputs once
        the excess components are removed: V for up to ``components`` dropouts."""
        check_int("survivors", survivors, low=1, high=self.clients)
        kept = min(self.clients - survivors, self.components)
        per_client = self.base_variance + sum((self.component_variance(k) for k in range(1, kept + 1)), Fraction(0))
        return survivors * per_client

    def round_event(self, sample_rate: float, survivors: int) -> Event:
        """The accounting event of this round with ``survivors`` masked inputs in the sum."""
        m = self.mechanism
        event = SkellamSumEvent(float(self.remaining_variance(survivors)), m.l2_bound, m.l1_bound)
        return event if sample_rate == 1 else PoissonSampledEvent(sample_rate, event)
