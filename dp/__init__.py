"""Differential privacy for federated learning: accountants, calibration, clipping, and the
integer noise mechanisms that compose with secure aggregation.

Top floor: ``dpsgd_epsilon``, ``calibrate``, ``DistributedDiscreteGaussian``, ``DistributedSkellam``,
``GaussianMechanism``, ``clip_l2``, ``AdaptiveClipper``. Below: events, accountants (``RdpAccountant``,
``PldAccountant``, ``ZcdpAccountant``), exact samplers (``dp.discrete``, ``dp.poisson``, ``dp.csprng``).
"""

from dp.accountant import Accountant
from dp.api import ACCOUNTANTS, calibrate, dpsgd_epsilon, dpsgd_event, make_accountant
from dp.calibration import calibrate_noise
from dp.central import GaussianMechanism
from dp.clipping import AdaptiveClipper, clip_l2, combined_noise_multiplier, update_noise_for_total
from dp.csprng import CsprngSource
from dp.discrete import discrete_gaussian, discrete_laplace
from dp.distributed import DistributedDiscreteGaussian, DistributedIntegerMechanism, DistributedSkellam
from dp.errors import CalibrationError, DPError, InvalidParameterError, SamplerError, UnsupportedEventError
from dp.events import (
    ComposedEvent,
    DiscreteGaussianSumEvent,
    Event,
    FixedSizeSampledEvent,
    GaussianEvent,
    LaplaceEvent,
    PoissonSampledEvent,
    SelfComposedEvent,
    SkellamSumEvent,
)
from dp.pld_accountant import PldAccountant
from dp.poisson import poisson, skellam
from dp.rdp_accountant import RdpAccountant
from dp.zcdp_accountant import ZcdpAccountant

__all__ = [
    "ACCOUNTANTS",
    "Accountant",
    "AdaptiveClipper",
    "CalibrationError",
    "ComposedEvent",
    "CsprngSource",
    "DPError",
    "DiscreteGaussianSumEvent",
    "DistributedDiscreteGaussian",
    "DistributedIntegerMechanism",
    "DistributedSkellam",
    "Event",
    "FixedSizeSampledEvent",
    "GaussianEvent",
    "GaussianMechanism",
    "InvalidParameterError",
    "LaplaceEvent",
    "PldAccountant",
    "PoissonSampledEvent",
    "RdpAccountant",
    "SamplerError",
    "SelfComposedEvent",
    "SkellamSumEvent",
    "UnsupportedEventError",
    "ZcdpAccountant",
    "calibrate",
    "calibrate_noise",
    "clip_l2",
    "combined_noise_multiplier",
    "discrete_gaussian",
    "discrete_laplace",
    "dpsgd_epsilon",
    "dpsgd_event",
    "make_accountant",
    "poisson",
    "skellam",
    "update_noise_for_total",
]
