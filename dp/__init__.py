"""Differential privacy for federated learning: accountants, calibration, clipping, and the
integer noise mechanisms that compose with secure aggregation.

Top floor: ``dpsgd_epsilon``, ``calibrate``, ``DistributedDiscreteGaussian``, ``DistributedSkellam``,
``XNoiseSkellam`` (dropout-resilient Skellam, Dordis 2024), ``GaussianMechanism``, ``clip_l2``,
``AdaptiveClipper``. Below: events, accountants (``RdpAccountant``,
``PldAccountant``, ``ZcdpAccountant``), exact samplers (``dp.discrete``, ``dp.poisson``, ``dp.csprng``).

Names load on first use (PEP 562), so a client that needs one mechanism does not pay for the
accountants' numerical machinery (scipy) at import time.
"""

from dp.poisson import poisson as poisson  # eager: the name of its own module, which a lazy export would shadow
from fedsecure.lazy import lazy_exports

_EXPORTS = {
    "ACCOUNTANTS": "dp.api",
    "Accountant": "dp.accountant",
    "AdaptiveClipper": "dp.clipping",
    "CalibrationError": "dp.errors",
    "ComposedEvent": "dp.events",
    "CsprngSource": "dp.csprng",
    "DPError": "dp.errors",
    "DiscreteGaussianSumEvent": "dp.events",
    "DistributedDiscreteGaussian": "dp.distributed",
    "DistributedIntegerMechanism": "dp.distributed",
    "DistributedSkellam": "dp.distributed",
    "Event": "dp.events",
    "FixedSizeSampledEvent": "dp.events",
    "GaussianEvent": "dp.events",
    "GaussianMechanism": "dp.central",
    "InvalidParameterError": "dp.errors",
    "LaplaceEvent": "dp.events",
    "PldAccountant": "dp.pld_accountant",
    "PoissonSampledEvent": "dp.events",
    "RdpAccountant": "dp.rdp_accountant",
    "SamplerError": "dp.errors",
    "SelfComposedEvent": "dp.events",
    "SkellamSumEvent": "dp.events",
    "UnsupportedEventError": "dp.errors",
    "XNoiseRound": "dp.xnoise",
    "XNoiseSkellam": "dp.xnoise",
    "ZcdpAccountant": "dp.zcdp_accountant",
    "calibrate": "dp.api",
    "calibrate_noise": "dp.calibration",
    "clip_l2": "dp.clipping",
    "combined_noise_multiplier": "dp.clipping",
    "discrete_gaussian": "dp.discrete",
    "discrete_laplace": "dp.discrete",
    "dpsgd_epsilon": "dp.api",
    "dpsgd_event": "dp.api",
    "keyed_stream": "dp.csprng",
    "make_accountant": "dp.api",
    "skellam": "dp.poisson",
    "update_noise_for_total": "dp.clipping",
}
__all__ = sorted([*_EXPORTS, "poisson"])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
