"""Name -> aggregator construction for the command line and the benchmark.

This is the only place that knows the concrete aggregator classes; the
FedAvg loop receives whatever is built here through `SecureAggregator`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fedsecure.errors import FedsecureError
from he.threshold_paillier import MAX_HOLDERS
from protocols.aggregators.base import PlainAggregator, SecureAggregator
from protocols.aggregators.homomorphic import ckks_aggregator, paillier_aggregator
from protocols.aggregators.masking import Codec, RoundCodec, SecAggAggregator, default_degree

BACKENDS = ("plain", "secagg", "secagg+", "ckks", "paillier")


class BackendError(FedsecureError, ValueError):
    """A backend name or option that cannot be honoured."""


@dataclass(frozen=True)
class BackendOptions:
    """Options shared by the backends; each backend reads the ones it needs.

    `clip=None` takes each backend's default per-coordinate clip (4 for the
    fixed-point codec of SecAgg, 1 for CKKS and Paillier). `codec` replaces
    SecAgg's fixed-point codec (distributed DP); `protect_weights=False` when
    the weights are public by construction (DP-FedAvg's equal weights).
    SecAgg+ is sized by `degree` (and `threshold`) or, when any of `corrupt_rate`,
    `dropout_rate`, `adversary` is set, by that threat model. Paillier with
    `key_holders=k` is threshold Paillier, `decrypt_threshold` (default a majority)
    of the k holders decrypting each round.
    """

    clients_per_round: int
    threshold: int | None = None
    degree: int | None = None
    modulus_bits: int = 32
    active: bool = False
    clip: float | None = None
    codec: Codec | RoundCodec | None = None
    protect_weights: bool = True
    corrupt_rate: float | None = None
    dropout_rate: float | None = None
    adversary: str | None = None
    key_holders: int | None = None
    decrypt_threshold: int | None = None

    @property
    def threat_model(self) -> bool:
        """Whether SecAgg+ is to be sized from a threat model rather than a raw degree."""
        return self.corrupt_rate is not None or self.dropout_rate is not None or self.adversary is not None


def build_aggregator(name: str, options: BackendOptions) -> SecureAggregator:
    """Construct the aggregator called `name`, validating its options up front."""
    n = options.clients_per_round
    if options.codec is not None and name not in ("secagg", "secagg+"):
        raise BackendError(f"distributed DP needs a masking backend (secagg, secagg+), not {name}")
    if options.degree is not None and name != "secagg+":
        raise BackendError("--degree applies to the secagg+ backend only")
    if options.threat_model and name != "secagg+":
        raise BackendError("--corrupt-rate, --dropout-rate and --adversary size the secagg+ backend only")
    if options.threat_model and (options.degree is not None or options.threshold is not None):
        raise BackendError("give a threat model (--corrupt-rate, --dropout-rate, --adversary) or --degree/--threshold")
    _check_key_holders(name, options)
    if name == "plain":
        return PlainAggregator(min_clients=options.threshold or 1)
    if name in ("secagg", "secagg+"):
        return SecAggAggregator(
            n,
            degree=None if name == "secagg" or options.threat_model else options.degree or default_degree(n),
            threshold=options.threshold,
            corrupt_rate=options.corrupt_rate,
            dropout_rate=options.dropout_rate,
            adversary=options.adversary,
            modulus_bits=options.modulus_bits,
            active=options.active,
            clip=options.clip or 4.0,
            codec=options.codec,
            protect_weights=options.protect_weights,
        )
    if name == "ckks":
        return ckks_aggregator(
            n, clip=options.clip or 1.0, min_clients=options.threshold or 1, protect_weights=options.protect_weights
        )
    if name == "paillier":
        return paillier_aggregator(
            n,
            clip=options.clip or 1.0,
            min_clients=options.threshold or 1,
            protect_weights=options.protect_weights,
            key_holders=options.key_holders,
            decrypt_threshold=options.decrypt_threshold,
        )
    raise BackendError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def _check_key_holders(name: str, options: BackendOptions) -> None:
    """Threshold Paillier's committee: 1 <= t <= k <= he's holder limit, on the paillier backend only."""
    k, t = options.key_holders, options.decrypt_threshold
    if (k is not None or t is not None) and name != "paillier":
        raise BackendError("--key-holders and --decrypt-threshold apply to the paillier backend only")
    if t is not None and k is None:
        raise BackendError("--decrypt-threshold needs --key-holders")
    if k is not None and not 1 <= k <= MAX_HOLDERS:
        raise BackendError(f"--key-holders must lie in [1, {MAX_HOLDERS}], got {k}")
    if k is not None and t is not None and not 1 <= t <= k:
        raise BackendError(f"--decrypt-threshold must lie in [1, {k}] (the key holders), got {t}")
