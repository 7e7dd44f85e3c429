"""One contract every accountant passes, so any of them can stand in for another."""

from __future__ import annotations

import math

import pytest

import dp

ACCOUNTANT_FACTORIES = [dp.RdpAccountant, dp.PldAccountant, dp.ZcdpAccountant]


def _supported_event(acc: dp.Accountant) -> dp.Event:
    return dp.GaussianEvent(2.0)


@pytest.fixture(params=ACCOUNTANT_FACTORIES, ids=lambda f: f.__name__)
def accountant(request: pytest.FixtureRequest) -> dp.Accountant:
    return request.param()


class TestAccountantContract:
    def test_empty_ledger_is_free(self, accountant: dp.Accountant) -> None:
        assert accountant.epsilon(1e-5) == 0.0
        assert accountant.delta(1.0) == 0.0

    def test_compose_returns_self_and_counts(self, accountant: dp.Accountant) -> None:
        e = _supported_event(accountant)
        assert accountant.compose(e, 3) is accountant
        accountant.compose(dp.SelfComposedEvent(e, 2))
        assert accountant.ledger == {e: 5}

    def test_composition_forms_agree(self, accountant: dp.Accountant) -> None:
        e = _supported_event(accountant)
        other = type(accountant)().compose(dp.ComposedEvent((e, e, e)))
        accountant.compose(e, 3)
        assert accountant.epsilon(1e-5) == pytest.approx(other.epsilon(1e-5), rel=1e-12)

    def test_more_steps_cost_more(self, accountant: dp.Accountant) -> None:
        e = _supported_event(accountant)
        eps = [type(accountant)().compose(e, k).epsilon(1e-5) for k in (1, 4, 16)]
        assert eps[0] < eps[1] < eps[2]

    def test_delta_and_epsilon_are_consistent(self, accountant: dp.Accountant) -> None:
        accountant.compose(_supported_event(accountant), 10)
        eps = accountant.epsilon(1e-6)
        assert accountant.delta(eps) <= 1e-6 * (1 + 1e-6)
        assert accountant.delta(eps * 0.9) > 1e-6

    def test_unsupported_event_is_refused_by_name(self, accountant: dp.Accountant) -> None:
        nested = dp.PoissonSampledEvent(0.1, dp.PoissonSampledEvent(0.1, dp.GaussianEvent(1.0)))
        assert not accountant.supports(nested)
        with pytest.raises(dp.UnsupportedEventError, match="PoissonSampledEvent"):
            accountant.compose(nested)
        assert accountant.ledger == {}

    def test_state_round_trips(self, accountant: dp.Accountant) -> None:
        accountant.compose(_supported_event(accountant), 7)
        restored = type(accountant)().restore(accountant.state())
        assert restored.epsilon(1e-5) == accountant.epsilon(1e-5)

    @pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, "0.1"])
    def test_bad_delta_is_rejected(self, accountant: dp.Accountant, bad: object) -> None:
        with pytest.raises(dp.InvalidParameterError, match="delta"):
            accountant.epsilon(bad)  # type: ignore[arg-type]

    def test_zero_noise_is_infinitely_bad(self, accountant: dp.Accountant) -> None:
        accountant.compose(dp.GaussianEvent(0.0))
        assert math.isinf(accountant.epsilon(1e-5))

    def test_bad_count_is_rejected(self, accountant: dp.Accountant) -> None:
        with pytest.raises(dp.InvalidParameterError, match="count"):
            accountant.compose(dp.GaussianEvent(1.0), -1)
