"""SecAgg+ degree and threshold from the threat model: the bounds, the reference finder, and a Monte Carlo run.

The reference is fcp's HararyGraphParameterFinder (google-parfait/federated-compute,
fcp/secagg/server/graph_parameter_finder.cc and its test, commit
bdbd822af00fb45b21a8364d40d62ca1eba4e27a), transcribed below as ``_fcp_finder``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import gammaln
from scipy.stats import hypergeom

from secagg import ConfigurationError, GraphParameters, graph_parameters, plan_session
from secagg.graph import harary_graph
from secagg.threat_model import ADVERSARIES, failure_bounds

SIZES = (100, 1000, 10**4, 10**5, 10**6)

# fcp's graph_parameter_finder_test.cc: (degree, threshold) at SIZES, security 40 bits, correctness 20.
FCP_PUBLISHED = {
    ("semi_honest", 0.45, 0.45): ((92, 46), (822, 417), (3494, 1771), (5508, 2788), (6240, 3156)),
    ("semi_honest", 0.33, 0.33): ((68, 34), (286, 150), (422, 221), (480, 251), (518, 270)),
    ("semi_malicious", 0.3, 0.3): ((92, 62), (872, 584), (4822, 3230), (9388, 6286), (11136, 7454)),
    ("semi_honest", 0.05, 0.33): ((28, 6), (72, 24), (86, 29), (96, 32), (102, 34)),
    ("semi_malicious", 0.05, 0.33): ((72, 39), (398, 223), (746, 420), (882, 496), (970, 545)),
    ("semi_honest", 0.33, 0.05): ((34, 29), (78, 60), (92, 70), (102, 77), (110, 83)),
    ("semi_malicious", 0.33, 0.05): ((42, 37), (132, 109), (178, 146), (196, 160), (212, 173)),
    ("semi_honest", 0.05, 0.05): ((12, 6), (30, 17), (34, 20), (36, 21), (38, 22)),
    ("semi_malicious", 0.05, 0.05): ((16, 11), (52, 37), (62, 44), (68, 48), (74, 52)),
    ("semi_honest", 0.33, 0.0): ((26, 25), (38, 36), (42, 40), (46, 44), (50, 47)),
    ("semi_malicious", 0.33, 0.0): ((26, 26), (38, 37), (42, 41), (46, 45), (50, 49)),
    ("semi_honest", 0.0, 0.33): ((26, 2), (38, 2), (42, 2), (46, 2), (50, 2)),
    ("none", 0.0, 0.33): ((26, 2), (38, 2), (42, 2), (46, 2), (50, 2)),
    ("semi_malicious", 0.0, 0.33): ((68, 35), (228, 115), (326, 164), (372, 187), (410, 206)),
    ("semi_honest", 0.0, 0.0): ((2, 2),) * 5,
    ("semi_malicious", 0.0, 0.0): ((2, 2),) * 5,
}
PUBLISHED = [
    (model, n, expected) for model, rows in FCP_PUBLISHED.items() for n, expected in zip(SIZES, rows, strict=True)
]


def _hypergeometric_pmf(total: int, marked: int, sampled: int) -> np.ndarray:
    """P[X = x], x = 0..sampled, from log-gammas (independent of the module's ratio recurrence)."""
    x = np.arange(sampled + 1)
    inside = (x <= marked) & (sampled - x <= total - marked)
    x = x[inside]
    log_pmf = (
        gammaln(marked + 1)
        - gammaln(x + 1)
        - gammaln(marked - x + 1)
        + gammaln(total - marked + 1)
        - gammaln(sampled - x + 1)
        - gammaln(total - marked - sampled + x + 1)
        - gammaln(total + 1)
        + gammaln(sampled + 1)
        + gammaln(total - sampled + 1)
    )
    pmf = np.zeros(sampled + 1)
    pmf[inside] = np.exp(log_pmf)
    return pmf


def _fcp_finder(n: int, corrupt_rate: float, dropout_rate: float, adversary: str) -> tuple[int, int] | None:
    """fcp's ComputeDegreeAndThreshold: even k from 2; S1 and S2 at 2^-41 each, correctness 2^-20.

    t1 = smallest x with P[X > x] < 2^-41 / n, X ~ HG(n, floor((gamma + 1e-14) n), k);
    t2 = smallest x with P[S <= x] >= 2^-20 / n, S ~ HG(n, ceil((1 - delta - 1e-14) n), k);
    semi-malicious: t1 <- ceil((t1 + k - 1.25) / 2); accept when t2 > t1, threshold max(t1 + 1, 2).
    """
    small = 1e-14
    adversarial = math.floor((corrupt_rate + small) * n)
    bad = adversarial + math.floor((dropout_rate + small) * n)
    surviving = math.ceil((1 - dropout_rate - small) * n)
    for k in range(2, n - 1, 2):
        if k <= bad:  # LogProbOfDisconnectedRandomHarary
            log_p = math.log(n) + math.log(n - k - 1) - math.log(2) + math.lgamma(bad + 1)
            log_p += math.lgamma(n - k + 1) - math.lgamma(n + 1) - math.lgamma(bad - k + 1)
            if log_p >= -41 * math.log(2):
                continue
        at_least = np.cumsum(_hypergeometric_pmf(n, adversarial, k)[::-1])[::-1]
        t1 = int(np.argmax(np.append(at_least[1:], 0.0) < 2.0**-41 / n))
        t2 = int(np.argmax(np.cumsum(_hypergeometric_pmf(n, surviving, k)) >= 2.0**-20 / n))
        if adversary == "semi_malicious":
            t1 = math.ceil((t1 + k - 1.25) / 2)
        if t2 > t1:
            return k, max(t1 + 1, 2)
    return None


@pytest.mark.parametrize(("model", "n", "expected"), PUBLISHED)
def test_degree_never_exceeds_fcp_published_table(model: tuple[str, float, float], n: int, expected) -> None:
    adversary, corrupt, dropout = model
    ours = graph_parameters(n, corrupt_rate=corrupt, dropout_rate=dropout, adversary=adversary)
    assert ours.degree <= expected[0]
    assert ours.security_failure <= 2.0**-40 and ours.correctness_failure <= 2.0**-20


@pytest.mark.parametrize(("model", "n", "expected"), [row for row in PUBLISHED if row[2][0] <= 1000])
def test_fcp_transcription_reproduces_its_published_table(model: tuple[str, float, float], n: int, expected) -> None:
    adversary, corrupt, dropout = model
    assert _fcp_finder(n, corrupt, dropout, adversary) == expected


GRID = [
    ("semi_honest", 0.1, 0.1),
    ("semi_honest", 0.2, 0.1),
    ("semi_honest", 0.1, 0.3),
    ("semi_malicious", 0.1, 0.1),
    ("semi_malicious", 0.2, 0.05),
    ("none", 0.0, 0.1),
]


@pytest.mark.parametrize("model", GRID)
@pytest.mark.parametrize("n", [100, 316, 1000, 3162, 10**4, 10**5, 10**6])
def test_degree_never_exceeds_fcp_transcribed(model: tuple[str, float, float], n: int) -> None:
    adversary, corrupt, dropout = model
    theirs = _fcp_finder(n, corrupt, dropout, adversary)
    assert theirs is not None
    assert graph_parameters(n, corrupt_rate=corrupt, dropout_rate=dropout, adversary=adversary).degree <= theirs[0]


MODELS = [
    (1000, "semi_honest", 0.33, 0.33, 40, 20),
    (1001, "semi_honest", 0.1, 0.2, 40, 20),
    (500, "semi_malicious", 0.1, 0.1, 40, 20),
    (10**5, "semi_malicious", 0.05, 0.05, 64, 30),
    (2000, "none", 0.0, 0.3, 40, 20),
    (401, "semi_honest", 0.1, 0.1, 2, 2),
]


@pytest.mark.parametrize(("n", "adversary", "corrupt", "dropout", "sigma", "eta"), MODELS)
def test_the_degree_is_the_smallest_meeting_both_bounds(
    n: int, adversary: str, corrupt: float, dropout: float, sigma: int, eta: int
) -> None:
    rates = {"corrupt_rate": corrupt, "dropout_rate": dropout, "adversary": adversary}
    ours = graph_parameters(n, **rates, security_bits=sigma, correctness_bits=eta)
    assert (ours.security_failure, ours.correctness_failure) == failure_bounds(n, ours.degree, ours.threshold, **rates)
    assert ours.security_failure <= 2.0**-sigma and ours.correctness_failure <= 2.0**-eta
    below = [failure_bounds(n, ours.degree, t, **rates) for t in range(2, ours.threshold)]
    assert all(security > 2.0**-sigma for security, _ in below)
    for degree in range(1, ours.degree) if ours.degree <= 120 else range(ours.degree - 10, ours.degree):
        if degree % 2 and n % 2:
            continue
        for t in range(2, degree + 2):
            security, correctness = failure_bounds(n, degree, t, **rates)
            assert security > 2.0**-sigma or correctness > 2.0**-eta, (degree, t)


def _meets(n: int, degree: int, rates: dict, sigma: float, eta: float) -> bool:
    """Whether some threshold meets both targets at ``degree``: the smallest secure one, found by
    bisection (the security bound falls with t), is the most correct (the correctness bound rises)."""
    low, high = 2, degree + 1
    if failure_bounds(n, degree, high, **rates)[0] > 2.0**-sigma:
        return False
    while low < high:
        middle = (low + high) // 2
        low, high = (
            (low, middle) if failure_bounds(n, degree, middle, **rates)[0] <= 2.0**-sigma else (middle + 1, high)
        )
    return failure_bounds(n, degree, low, **rates)[1] <= 2.0**-eta


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 150),
    adversary=st.sampled_from(ADVERSARIES),
    corrupt=st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.3]),
    dropout=st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.3, 0.45]),
    sigma=st.integers(1, 40),
    eta=st.integers(1, 20),
)
def test_property_no_smaller_degree_meets_the_bounds(
    n: int, adversary: str, corrupt: float, dropout: float, sigma: int, eta: int
) -> None:
    limit = {"none": 1.0, "semi_honest": 1 - corrupt, "semi_malicious": (1 - corrupt) / 2}[adversary]
    assume(dropout < limit and (adversary != "none" or corrupt == 0))
    rates = {"corrupt_rate": corrupt, "dropout_rate": dropout, "adversary": adversary}
    try:
        ours = graph_parameters(n, **rates, security_bits=sigma, correctness_bits=eta)
    except ConfigurationError:
        top = n
    else:
        top = ours.degree
        assert _meets(n, ours.degree, rates, sigma, eta)
        assert ours.degree % 2 == 0 or n % 2 == 0
    assert not any(_meets(n, degree, rates, sigma, eta) for degree in range(1, top) if degree % 2 == 0 or n % 2 == 0)


@pytest.mark.parametrize(
    ("n", "degree", "threshold", "corrupt", "dropout"),
    [(1000, 286, 150, 0.33, 0.33), (1000, 286, 215, 0.33, 0.2), (301, 20, 12, 0.2, 0.3), (300, 21, 16, 0.1, 0.1)],
)
def test_bounds_match_an_independent_recomputation(
    n: int, degree: int, threshold: int, corrupt: float, dropout: float
) -> None:
    """S2: n P[HG(n-1, C, k) >= breach]; R: a client's k + 1 holders are a uniform (k+1)-subset, so (R)'s
    split by survivor and dropout equals n P[HG(n, D, k + 1) >= k + 2 - t]; S1 as in the docstring."""
    c, d = math.floor(corrupt * n + 1e-9), math.floor(dropout * n + 1e-9)
    gap = 2 * (degree // 2)
    disconnected = n * (n - gap - 1) / 2 * math.prod((c + d - j) / (n - j) for j in range(gap))
    expected_correctness = min(1.0, n * hypergeom.sf(degree + 1 - threshold, n, d, degree + 1))
    for adversary, breach in (("semi_honest", threshold), ("semi_malicious", 2 * threshold - degree - 1)):
        security, correctness = failure_bounds(
            n, degree, threshold, corrupt_rate=corrupt, dropout_rate=dropout, adversary=adversary
        )
        assert correctness == pytest.approx(expected_correctness, rel=1e-8)
        expected = min(1.0, disconnected + n * hypergeom.sf(breach - 1, n - 1, c, degree))
        assert security == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("adversary", ["semi_honest", "semi_malicious"])
def test_the_session_plan_accepts_the_parameters(adversary: str) -> None:
    for n in (100, 1001, 10**5):
        ours = graph_parameters(n, corrupt_rate=0.1, dropout_rate=0.1, adversary=adversary)
        plan = plan_session(n, degree=ours.degree, threshold=ours.threshold, active=adversary == "semi_malicious")
        assert (plan.degree, plan.threshold, plan.holders) == (ours.degree, ours.threshold, ours.holders)
        if adversary == "semi_malicious":  # a deviating server needs more colluding holders than are corrupt
            assert 2 * ours.threshold - ours.holders > 0 and plan.resists_deviating_server


@pytest.mark.parametrize("active", [False, True])
def test_the_session_plan_derives_degree_and_threshold_from_a_threat_model(active: bool) -> None:
    adversary = "semi_malicious" if active else "semi_honest"
    for n in (100, 1001, 10**5):
        plan = plan_session(n, corrupt_rate=0.1, dropout_rate=0.1, active=active)  # adversary from the setting
        ours = graph_parameters(n, corrupt_rate=0.1, dropout_rate=0.1, adversary=adversary)
        assert (plan.degree, plan.threshold, plan.derived_from) == (ours.degree, ours.threshold, ours)
        assert f"up to {ours.corrupt_clients} corrupt and {ours.dropped_clients} dropped" in plan.threat_model()
    assert plan_session(10, corrupt_rate=0.4, dropout_rate=0.4).degree is None  # the complete graph
    assert plan_session(100, degree=14).derived_from is None  # raw numbers stay raw


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"degree": 14, "corrupt_rate": 0.1}, "not both"),
        ({"threshold": 8, "dropout_rate": 0.1}, "not both"),
        ({"active": True, "adversary": "semi_honest", "corrupt_rate": 0.1}, "needs adversary 'semi_malicious'"),
        ({"corrupt_rate": 0.5, "dropout_rate": 0.5}, "must be below 1"),
        ({"adversary": "wizard"}, "adversary must be one of"),
    ],
)
def test_the_session_plan_refuses_a_mixed_or_infeasible_threat_model(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        plan_session(100, **kwargs)


def test_few_clients_get_the_complete_graph() -> None:
    ours = graph_parameters(10, corrupt_rate=0.4, dropout_rate=0.4)
    assert ours.complete and ours.degree == 9 and ours.holders == 10
    assert (ours.corrupt_clients, ours.dropped_clients) == (4, 4)
    assert ours.threshold == 5  # more than the 4 corrupt, at most the 6 survivors; no randomness left
    assert ours.security_failure == 0.0 and ours.correctness_failure == 0.0
    assert plan_session(10, degree=ours.degree, threshold=ours.threshold).degree is None
    malicious = graph_parameters(10, corrupt_rate=0.3, dropout_rate=0.3, adversary="semi_malicious")
    assert malicious.complete and malicious.threshold == 7  # 2t - 10 > 3 corrupt, t <= 7 survivors


def test_small_sessions_get_deterministic_guarantees_below_the_complete_graph() -> None:
    """12 clients, 3 corrupt, 3 dropping: degree 8 already makes every bad event impossible
    (S1 needs 2 x 4 bad clients, S2 needs 4 corrupt, a dropped client keeps 8 - 2 >= 4 holders)."""
    ours = graph_parameters(12, corrupt_rate=0.25, dropout_rate=0.25)
    assert (ours.degree, ours.threshold, ours.security_failure, ours.correctness_failure) == (8, 4, 0.0, 0.0)
    assert failure_bounds(12, 7, 4, corrupt_rate=0.25, dropout_rate=0.25)[0] > 2.0**-40


def test_no_adversary_needs_correctness_only() -> None:
    ours = graph_parameters(10**4, corrupt_rate=0, dropout_rate=0.33, adversary="none")
    honest = graph_parameters(10**4, corrupt_rate=0, dropout_rate=0.33)
    assert ours.threshold == 2 and ours.security_failure == 0.0
    assert ours.degree < honest.degree  # no connectivity to keep: no one to hide partial sums from
    assert graph_parameters(50, corrupt_rate=0, dropout_rate=0, adversary="none").degree == 1


def test_result_is_frozen() -> None:
    ours = graph_parameters(100, corrupt_rate=0.1, dropout_rate=0.1)
    assert isinstance(ours, GraphParameters)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ours.degree = 3  # type: ignore[misc]


def test_numpy_numbers_are_accepted() -> None:
    ours = graph_parameters(np.int64(1000), corrupt_rate=np.float64(0.1), dropout_rate=np.float32(0.1))
    assert ours == graph_parameters(1000, corrupt_rate=0.1, dropout_rate=0.1)


def test_a_million_clients_well_under_a_second() -> None:
    for adversary, corrupt, dropout in [("semi_malicious", 0.3, 0.3), ("semi_honest", 0.45, 0.45), *GRID]:
        started = time.perf_counter()
        graph_parameters(10**6, corrupt_rate=corrupt, dropout_rate=dropout, adversary=adversary)
        assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"clients": 1}, "clients must lie in"),
        ({"clients": 2**40}, "clients must lie in"),
        ({"clients": 100.0}, "clients must be an integer, got float"),
        ({"clients": True}, "clients must be an integer, got bool"),
        ({"corrupt_rate": -0.1}, r"corrupt_rate must lie in \[0, 1\), got -0.1"),
        ({"corrupt_rate": 1.0}, r"corrupt_rate must lie in \[0, 1\), got 1.0"),
        ({"dropout_rate": float("nan")}, "dropout_rate must be finite"),
        ({"dropout_rate": "0.1"}, "dropout_rate must be a real number, got str"),
        ({"adversary": "malicious"}, "adversary must be one of .* got 'malicious'"),
        ({"adversary": None}, "adversary must be one of .* got None"),
        ({"security_bits": 0}, r"security_bits must lie in \[1, 128\], got 0"),
        ({"security_bits": 256}, r"security_bits must lie in \[1, 128\], got 256"),
        ({"correctness_bits": float("inf")}, "correctness_bits must be finite"),
        ({"correctness_bits": 100}, r"correctness_bits must lie in \[1, 64\], got 100"),
        ({"corrupt_rate": 0.5, "dropout_rate": 0.5}, r"corrupt_rate \+ dropout_rate must be below 1.*0.5 \+ 0.5"),
        (
            {"corrupt_rate": 0.4, "dropout_rate": 0.3, "adversary": "semi_malicious"},
            r"corrupt_rate \+ 2 \* dropout_rate must be below 1.*0.4 \+ 2 \* 0.3",
        ),
        (
            {"corrupt_rate": 0.1, "adversary": "none"},
            "adversary 'none' considers no corrupt clients, got corrupt_rate 0.1",
        ),
        (
            {"clients": 10, "corrupt_rate": 0.0, "dropout_rate": 0.95, "adversary": "none"},
            "no degree up to the complete",
        ),
        (
            {"clients": 2, "corrupt_rate": 0.0, "dropout_rate": 0.5},
            "no degree up to the complete graph .* 2 clients, 0 corrupt and 1 dropping",
        ),
    ],
)
def test_bad_inputs_raise_configuration_error_naming_the_value(kwargs: dict, match: str) -> None:
    arguments = {"clients": 1000, "corrupt_rate": 0.1, "dropout_rate": 0.1} | kwargs
    with pytest.raises(ConfigurationError, match=match):
        graph_parameters(**arguments)


def test_failure_bounds_refuses_degrees_and_thresholds_out_of_range() -> None:
    rates = {"corrupt_rate": 0.1, "dropout_rate": 0.1}
    with pytest.raises(ConfigurationError, match=r"degree must lie in \[1, 99\], got 100"):
        failure_bounds(100, 100, 2, **rates)
    with pytest.raises(ConfigurationError, match=r"threshold must lie in \[2, 11\], got 12"):
        failure_bounds(100, 10, 12, **rates)
    with pytest.raises(ConfigurationError, match="no 9-regular graph on 101 clients"):
        failure_bounds(101, 9, 5, **rates)


# --- Monte Carlo -----------------------------------------------------------------------------------------------
# A uniformly random relabelling of a fixed graph with fixed corrupt and dropped sets is the same experiment as a
# fixed graph with uniformly random disjoint sets of those sizes, which is what is drawn here on harary_graph.


def _monte_carlo(n: int, degree: int, threshold: int, params: GraphParameters, trials: int, seed: int):
    """Observed frequencies of (insecure: S1 or S2, incorrect: some client below t surviving holders)."""
    ids = list(range(1, n + 1))
    graph = harary_graph(ids, degree, hashlib.sha256(b"monte carlo" + bytes([seed])).digest())
    neighbours = np.array([sorted(graph[u]) for u in ids]) - 1
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((trials, n)), axis=1)
    corrupt, dropped = np.zeros((trials, n), bool), np.zeros((trials, n), bool)
    np.put_along_axis(corrupt, order[:, : params.corrupt_clients], True, axis=1)
    np.put_along_axis(
        dropped, order[:, params.corrupt_clients : params.corrupt_clients + params.dropped_clients], True, axis=1
    )
    breach = threshold if params.adversary == "semi_honest" else 2 * threshold - (degree + 1)
    exposed = ((corrupt[:, neighbours].sum(axis=2) >= breach) & ~corrupt).any(axis=1)
    alive = ~dropped
    incorrect = (alive[:, neighbours].sum(axis=2) + alive < threshold).any(axis=1)
    # S1 on all trials at once: one block-diagonal graph over the honest survivors of each trial.
    kept = alive & ~corrupt
    rows, cols = np.repeat(np.arange(n), degree), neighbours.ravel()
    rows, cols = rows[rows < cols], cols[rows < cols]
    edges = kept[:, rows] & kept[:, cols]
    offsets = (np.arange(trials) * n)[:, None]
    sources, targets = (rows + offsets)[edges], (cols + offsets)[edges]
    adjacency = coo_matrix((np.ones(sources.size), (sources, targets)), shape=(trials * n, trials * n))
    labels = np.sort(np.where(kept, connected_components(adjacency, directed=False)[1].reshape(trials, n), -1))
    components = (np.diff(labels, axis=1) != 0).sum(axis=1) + (labels[:, 0] >= 0)
    disconnected = components > 1
    return float((exposed | disconnected).mean()), float(incorrect.mean())


def _mc_slack(p: float, trials: int) -> float:
    return 4 * math.sqrt(max(p, 1 / trials) * (1 - p) / trials)


def _window_lower_bound(n: int, degree: int, threshold: int, dropped: int) -> float:
    """de Caen's lower bound on P[some client has < t surviving holders] on H(k, n), k even.

    Holders are windows of k + 1 ring positions; two windows at ring distance r share
    max(0, k + 1 - r) positions, and the dropped set is a uniform D-subset, so
    P[A_i and A_j] is a sum over the multivariate hypergeometric of the three parts.
    de Caen (1997): P[union] >= sum_i P[A_i]^2 / sum_j P[A_i and A_j], here n p^2 / sum_j P[A_1 and A_j].
    """
    h, excess, total = degree + 1, degree + 2 - threshold, math.comb(n, dropped)

    def both(shared: int) -> float:
        rest, count = n - 2 * h + shared, 0
        for x in range(min(shared, dropped) + 1):
            for y in range(max(0, excess - x), min(h - shared, dropped - x) + 1):
                for z in range(max(0, excess - x), min(h - shared, dropped - x - y) + 1):
                    count += (
                        math.comb(shared, x)
                        * math.comb(h - shared, y)
                        * math.comb(h - shared, z)
                        * math.comb(rest, dropped - x - y - z)
                    )
        return count / total

    single = sum(math.comb(h, x) * math.comb(n - h, dropped - x) for x in range(excess, h + 1)) / total
    overlaps = [max(0, h - min(r, n - r)) for r in range(1, n)]
    cache = {shared: both(shared) for shared in set(overlaps)}
    return n * single**2 / (single + sum(cache[shared] for shared in overlaps))


@pytest.mark.parametrize(
    ("n", "adversary", "corrupt", "dropout", "trials"),
    [(401, "semi_honest", 0.1, 0.1, 3000), (401, "semi_malicious", 0.1, 0.1, 2000)],
)
def test_monte_carlo_failures_stay_within_the_bounds(
    n: int, adversary: str, corrupt: float, dropout: float, trials: int
) -> None:
    params = graph_parameters(
        n, corrupt_rate=corrupt, dropout_rate=dropout, adversary=adversary, security_bits=2, correctness_bits=2
    )
    insecure, incorrect = _monte_carlo(n, params.degree, params.threshold, params, trials, seed=1)
    assert insecure <= params.security_failure + _mc_slack(params.security_failure, trials)
    assert incorrect <= params.correctness_failure + _mc_slack(params.correctness_failure, trials)
    assert insecure > 0 and incorrect > 0  # the relaxed bits make both events observable


def test_monte_carlo_one_degree_below_fails_where_the_analysis_says_it_must() -> None:
    """n odd, so degrees are even and the next degree down is k - 2; with its smallest secure
    threshold the correctness union bound exceeds the target, and de Caen's lower bound does too,
    so every secure threshold of degree k - 2 must fail; the run shows it."""
    n, trials, target = 401, 3000, 2.0**-2
    rates = {"corrupt_rate": 0.1, "dropout_rate": 0.1, "adversary": "semi_honest"}
    params = graph_parameters(n, **rates, security_bits=2, correctness_bits=2)
    below = params.degree - 2
    threshold = next(t for t in range(2, below + 2) if failure_bounds(n, below, t, **rates)[0] <= target)
    assert failure_bounds(n, below, threshold, **rates)[1] > target
    must = _window_lower_bound(n, below, threshold, params.dropped_clients)
    assert must > target
    _, incorrect = _monte_carlo(n, below, threshold, params, trials, seed=2)
    assert incorrect > target
    assert incorrect >= must - _mc_slack(must, trials)
