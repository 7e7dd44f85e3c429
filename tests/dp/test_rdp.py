"""RDP accountant: agreement with Opacus and dp-accounting, monotonicity, closed forms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dp
from dp import rdp_math

GRID = [(q, s, k) for q in (1.0, 0.1, 0.01, 0.001) for s in (0.5, 1.0, 2.0, 5.0) for k in (1, 100, 10000)]


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore", RuntimeWarning)
    warnings.simplefilter("ignore", UserWarning)


@pytest.mark.parametrize("q, sigma, steps", GRID)
def test_matches_opacus_on_its_orders(q: float, sigma: float, steps: int) -> None:
    analysis = pytest.importorskip("opacus.accountants.analysis.rdp")
    from opacus.accountants.rdp import RDPAccountant

    orders = RDPAccountant.DEFAULT_ALPHAS
    theirs = analysis.get_privacy_spent(
        orders=orders, rdp=analysis.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders), delta=1e-5
    )[0]
    ours = dp.RdpAccountant(orders=np.array(orders, dtype=float)).compose(dp.dpsgd_event(sigma, q), steps).epsilon(1e-5)
    assert ours == pytest.approx(theirs, rel=1e-6)


@pytest.mark.parametrize("q, sigma, steps", GRID)
def test_never_looser_than_opacus_or_dp_accounting(q: float, sigma: float, steps: int) -> None:
    analysis = pytest.importorskip("opacus.accountants.analysis.rdp")
    dpa = pytest.importorskip("dp_accounting")
    from opacus.accountants.rdp import RDPAccountant

    orders = RDPAccountant.DEFAULT_ALPHAS
    opacus_eps = analysis.get_privacy_spent(
        orders=orders, rdp=analysis.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders), delta=1e-5
    )[0]
    dpa_eps = (
        dpa.rdp.RdpAccountant()
        .compose(dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(sigma)), steps)
        .get_epsilon(1e-5)
    )
    ours = dp.dpsgd_epsilon(sigma, q, steps, 1e-5, accountant="rdp")
    assert ours <= min(opacus_eps, dpa_eps) * (1 + 1e-9)


def test_wider_orders_beat_opacus_at_small_q() -> None:
    analysis = pytest.importorskip("opacus.accountants.analysis.rdp")
    from opacus.accountants.rdp import RDPAccountant

    orders = RDPAccountant.DEFAULT_ALPHAS
    opacus_eps = analysis.get_privacy_spent(
        orders=orders, rdp=analysis.compute_rdp(q=0.001, noise_multiplier=5.0, steps=1, orders=orders), delta=1e-5
    )[0]
    assert dp.dpsgd_epsilon(5.0, 0.001, 1, 1e-5) < opacus_eps / 3


def test_fixed_size_sampling_is_an_upper_bound_of_dp_accounting() -> None:
    dpa = pytest.importorskip("dp_accounting")
    theirs = (
        dpa.rdp.RdpAccountant(neighboring_relation=dpa.NeighboringRelation.REPLACE_ONE)
        .compose(dpa.SampledWithoutReplacementDpEvent(1000, 10, dpa.GaussianDpEvent(2.0)), 100)
        .get_epsilon(1e-5)
    )
    ours = dp.RdpAccountant().compose(dp.FixedSizeSampledEvent(10, 1000, dp.GaussianEvent(2.0)), 100).epsilon(1e-5)
    assert theirs <= ours <= 2 * theirs


@pytest.mark.parametrize("sigma, golden", [(0.5, 10.73), (1.0, 4.729), (2.0, 2.166), (5.0, 0.7945)])
def test_single_gaussian_golden_values(sigma: float, golden: float) -> None:
    # Golden values: the same epsilon measured with Google dp_accounting's and Opacus' RDP accountants.
    assert dp.RdpAccountant().compose(dp.GaussianEvent(sigma)).epsilon(1e-5) == pytest.approx(golden, abs=6e-3)


def test_laplace_pure_composition() -> None:
    b, k = 2.0, 10  # k releases of Laplace(b): pure (k/b)-DP
    eps = dp.RdpAccountant().compose(dp.LaplaceEvent(b), k).epsilon(1e-5)
    assert eps <= k / b + 0.01
    assert eps >= dp.PldAccountant().compose(dp.LaplaceEvent(b), k).epsilon(1e-5)


def test_laplace_rdp_closed_form_at_infinity() -> None:
    # D_inf of Laplace with scale b is 1/b (Mironov 2017, Prop. 6), approached from below.
    r = rdp_math.rdp_laplace(0.5, np.array([2.0, 100.0, 1e6]))
    assert np.all(np.diff(r) > 0) and r[-1] == pytest.approx(2.0, rel=1e-4)


@settings(max_examples=25, deadline=None)
@given(sigma=st.floats(0.5, 8.0), q=st.floats(1e-3, 1.0), steps=st.integers(1, 2000), factor=st.floats(1.05, 3.0))
def test_epsilon_is_monotone(sigma: float, q: float, steps: int, factor: float) -> None:
    eps = dp.dpsgd_epsilon(sigma, q, steps, 1e-5)
    assert dp.dpsgd_epsilon(sigma, q, int(steps * factor) + 1, 1e-5) >= eps
    assert dp.dpsgd_epsilon(sigma, min(1.0, q * factor), steps, 1e-5) >= eps
    assert dp.dpsgd_epsilon(sigma * factor, q, steps, 1e-5) <= eps


def test_edge_cases() -> None:
    assert dp.dpsgd_epsilon(1.0, 0.0, 100, 1e-5) == 0.0
    assert dp.dpsgd_epsilon(1.0, 0.5, 0, 1e-5) == 0.0
    assert dp.RdpAccountant().compose(dp.GaussianEvent(1.0)).epsilon(1.0) == 0.0
    with pytest.raises(dp.InvalidParameterError, match="orders"):
        dp.RdpAccountant(orders=np.array([0.5, 2.0]))


def test_edge_of_order_grid_warns() -> None:
    with pytest.warns(RuntimeWarning, match="edge"):
        dp.RdpAccountant(orders=np.array([2.0, 3.0])).compose(dp.GaussianEvent(50.0)).epsilon(1e-5)


def test_epsilon_is_monotone_in_q_up_to_one() -> None:
    """Regression: at q = 1 - 2^-53 the series and the q = 1 closed form differed by rounding."""
    below = dp.dpsgd_epsilon(1.0, 0.9999999999999999, 2, 1e-5)
    assert dp.dpsgd_epsilon(1.0, 1.0, 2, 1e-5) >= below
