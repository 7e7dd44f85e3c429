"""End-to-end properties of SecAgg and SecAgg+ under every dropout pattern.

The invariant (Bonawitz et al. 2017, Thm. 6.1 correctness): whenever the
dropouts leave at least t holders where they are needed, the server's output is
exactly the modular sum of the clients that sent their masked input; otherwise
the round aborts with TooFewSurvivorsError, never with a wrong sum.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secagg import ConfigurationError, Stage, TooFewSurvivorsError, default_threshold, plan_session, simulate
from secagg.envelope import ENVELOPE_BYTES

from secagg_testing import plain_sum, random_inputs

stages = st.sampled_from(list(Stage))


def _threshold(n: int, degree: int | None, active: bool) -> int:
    holders = n if degree is None else degree + 1
    return default_threshold(holders, active)


def _reaches_masked_input(u: int, dropouts: dict[int, Stage]) -> bool:
    return u not in dropouts or dropouts[u] > Stage.MASKED_INPUT


@st.composite
def sessions(draw: st.DrawFn, max_n: int = 50) -> tuple[int, int | None, bool, int, dict[int, Stage]]:
    n = draw(st.integers(3, max_n))
    sparse = n >= 8 and draw(st.booleans())
    degree = None
    if sparse:
        degree = draw(st.integers(4, n - 2).filter(lambda k: k % 2 == 0 or n % 2 == 0))
    active = draw(st.booleans())
    bits = draw(st.sampled_from([8, 13, 32, 64]))
    dropped = draw(st.lists(st.integers(1, n), unique=True, max_size=n))
    dropouts = {u: draw(stages) for u in dropped}
    return n, degree, active, bits, dropouts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_sum_is_exact_or_the_round_aborts(session: tuple[int, int | None, bool, int, dict[int, Stage]]) -> None:
    n, degree, active, bits, dropouts = session
    inputs = random_inputs(n, 6, bits, seed=n)
    threshold = _threshold(n, degree, active)
    holders = n if degree is None else degree + 1
    try:
        result = simulate(
            inputs, threshold=threshold, degree=degree, dropouts=dropouts, modulus_bits=bits, active=active, seed=1
        )
    except TooFewSurvivorsError:
        assert len(dropouts) > holders - threshold, "aborted although every neighbourhood kept t holders"
        return
    assert set(result.included) <= {u for u in inputs if _reaches_masked_input(u, dropouts)}
    if len(dropouts) <= holders - threshold:
        assert set(result.included) == {u for u in inputs if _reaches_masked_input(u, dropouts)}
    np.testing.assert_array_equal(result.total, plain_sum(inputs, result.included, bits))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 12), active=st.booleans(), data=st.data())
def test_complete_graph_aborts_exactly_below_threshold(n: int, active: bool, data: st.DataObject) -> None:
    """On the complete graph the paper's rule is exact: abort iff some U_i falls below t."""
    dropouts = {u: data.draw(stages) for u in data.draw(st.lists(st.integers(1, n), unique=True))}
    threshold = _threshold(n, None, active)

    def alive_at(stage: Stage) -> int:
        return sum(1 for u in range(1, n + 1) if u not in dropouts or dropouts[u] > stage)

    enough = all(alive_at(s) >= threshold for s in Stage)
    inputs = random_inputs(n, 4, 32, seed=n)
    if enough:
        result = simulate(inputs, threshold=threshold, dropouts=dropouts, active=active)
        np.testing.assert_array_equal(result.total, plain_sum(inputs, result.included, 32))
        assert len(result.included) == alive_at(Stage.MASKED_INPUT)
    else:
        with pytest.raises(TooFewSurvivorsError):
            simulate(inputs, threshold=threshold, dropouts=dropouts, active=active)


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("degree", [None, 6])
def test_each_dropout_stage(stage: Stage, degree: int | None) -> None:
    """Drop before masked input: excluded (pairwise masks cancelled from its reconstructed key);
    drop after: included (its self mask reconstructed)."""
    n, bits = 16, 32
    inputs = random_inputs(n, 100, bits)
    dropouts = {3: stage, 9: stage}
    result = simulate(inputs, threshold=_threshold(n, degree, True), degree=degree, dropouts=dropouts, active=True)
    expected_included = stage > Stage.MASKED_INPUT
    assert (3 in result.included) is expected_included and (9 in result.included) is expected_included
    np.testing.assert_array_equal(result.total, plain_sum(inputs, result.included, bits))


def test_costs_are_reported_and_upload_is_packed() -> None:
    inputs = random_inputs(10, 1000, 32)
    result = simulate(inputs, threshold=6)
    framing = ENVELOPE_BYTES + 4  # header, route, digest and an empty signature field
    assert result.masked_input_bytes == 1000 * 4 + framing  # 4 bytes per parameter
    narrow = simulate(random_inputs(10, 1000, 12), threshold=6, modulus_bits=12)
    assert narrow.masked_input_bytes == 1000 * 12 // 8 + framing
    assert all(result.bytes_sent[u] > result.masked_input_bytes for u in inputs)
    assert all(result.bytes_received[u] > 0 for u in inputs)
    assert {"client.masked_input", "server.unmasking", "server.reconstruction"} <= set(result.seconds)


def test_sparse_graph_is_reproducible_from_seed_and_secrets_are_not() -> None:
    inputs = random_inputs(20, 10, 32)
    a = simulate(inputs, threshold=4, degree=6, seed=7, dropouts={5: Stage.MASKED_INPUT})
    b = simulate(inputs, threshold=4, degree=6, seed=7, dropouts={5: Stage.MASKED_INPUT})
    np.testing.assert_array_equal(a.total, b.total)
    assert a.included == b.included


def test_many_clients_do_not_wrap() -> None:
    """2500 clients on a sparse graph, 10% dropping (Flower's default encoding wraps near 2048)."""
    from secagg import FixedPointCodec

    n = 2500
    codec = FixedPointCodec(clip=8.0, max_clients=n, modulus_bits=32)
    values = {u: np.full(8, 8.0 if u % 2 else 7.5) for u in range(1, n + 1)}
    inputs = {u: codec.encode(v) for u, v in values.items()}
    dropouts = {u: Stage.MASKED_INPUT for u in range(1, n + 1, 10)}
    result = simulate(inputs, threshold=8, degree=14, dropouts=dropouts, seed=3)
    expected = sum(values[u] for u in result.included)
    assert len(result.included) == n - len(dropouts)
    np.testing.assert_allclose(codec.decode_sum(result.total), expected, atol=codec.max_sum_error(n))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": 1}, "threshold"),
        ({"threshold": 6}, "threshold"),
        ({"threshold": 3, "degree": 3}, "regular"),
        ({"threshold": 3, "dropouts": {9: Stage.SHARE_KEYS}}, "unknown client"),
        ({"threshold": 3, "dropouts": {1: 2}}, "secagg.Stage"),
        ({"threshold": 3, "modulus_bits": 65}, "modulus_bits"),
        ({"threshold": 2, "active": True}, "active setting"),
    ],
)
def test_bad_configuration(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        simulate(random_inputs(5, 3, 32), **kwargs)


def test_bad_inputs() -> None:
    with pytest.raises(ConfigurationError, match="one length"):
        simulate({1: np.zeros(3, np.uint64), 2: np.zeros(4, np.uint64), 3: np.zeros(3, np.uint64)}, threshold=2)
    with pytest.raises(ConfigurationError, match=r"\[0, 2\^8\)"):
        simulate({u: np.full(3, 256, np.uint64) for u in (1, 2, 3)}, threshold=2, modulus_bits=8)
    with pytest.raises(ConfigurationError, match="integers"):
        simulate({u: np.zeros(3) for u in (1, 2, 3)}, threshold=2)
    with pytest.raises(ConfigurationError, match="ids"):
        simulate({0: np.zeros(3, np.uint64), 1: np.zeros(3, np.uint64)}, threshold=2)


def test_the_active_setting_refuses_thresholds_a_deviating_server_could_beat() -> None:
    """At t <= h/2 a server sending different unmask requests to different holders gets t shares of both
    secrets of one client: refused in the active setting, for the complete graph and per SecAgg+ neighbourhood."""
    with pytest.raises(ConfigurationError, match="above half the 10 share holders"):
        plan_session(10, threshold=5, active=True)
    with pytest.raises(ConfigurationError, match="above half the 7 share holders"):
        plan_session(40, degree=6, threshold=3, active=True)
    assert plan_session(40, degree=6, active=True).threshold == 5


def test_a_weak_honest_but_curious_threshold_is_legal_but_says_what_it_allows() -> None:
    weak = plan_session(10, threshold=2)
    assert not weak.resists_deviating_server
    assert "can read any client's input" in weak.threat_model()
    strong = plan_session(10, threshold=6)
    assert strong.resists_deviating_server and "at least 2 colluding holders" in strong.threat_model()
