"""The top floor: DP-SGD / DP-FedAvg epsilon and calibration in one call each."""

from __future__ import annotations

from dp._validate import check_count, check_real
from dp.accountant import Accountant
from dp.calibration import calibrate_noise
from dp.errors import InvalidParameterError
from dp.events import GaussianEvent, PoissonSampledEvent
from dp.pld_accountant import PldAccountant
from dp.rdp_accountant import RdpAccountant
from dp.zcdp_accountant import ZcdpAccountant

ACCOUNTANTS: dict[str, type[Accountant]] = {"rdp": RdpAccountant, "pld": PldAccountant, "zcdp": ZcdpAccountant}


def make_accountant(name: str) -> Accountant:
    """A fresh accountant by name: "rdp", "pld" or "zcdp"."""
    if name not in ACCOUNTANTS:
        raise InvalidParameterError(f"accountant must be one of {sorted(ACCOUNTANTS)}, got {name!r}")
    return ACCOUNTANTS[name]()


def dpsgd_event(noise_multiplier: float, sample_rate: float) -> PoissonSampledEvent:
    """The event of one DP-SGD / DP-FedAvg step: a Poisson-sampled Gaussian."""
    return PoissonSampledEvent(sample_rate, GaussianEvent(noise_multiplier))


def dpsgd_epsilon(
    noise_multiplier: float, sample_rate: float, steps: int, delta: float, accountant: str = "rdp"
) -> float:
    """Upper bound on epsilon after ``steps`` Poisson-sampled Gaussian steps (add/remove-one)."""
    check_count("steps", steps)
    return make_accountant(accountant).compose(dpsgd_event(noise_multiplier, sample_rate), steps).epsilon(delta)


def calibrate(
    target_epsilon: float, delta: float, sample_rate: float, steps: int, accountant: str = "rdp", rtol: float = 1e-3
) -> float:
    """Smallest noise multiplier (to ``rtol``) whose epsilon after ``steps`` is at most the target."""
    check_real("target_epsilon", target_epsilon, low=0.0, low_open=True)
    check_real("delta", delta, low=0.0, high=1.0)
    check_real("sample_rate", sample_rate, low=0.0, high=1.0)
    check_count("steps", steps)
    make_accountant(accountant)  # validates the name
    return calibrate_noise(lambda s: dpsgd_epsilon(s, sample_rate, steps, delta, accountant), target_epsilon, rtol=rtol)
