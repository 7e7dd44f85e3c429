"""SecAgg+ degree and threshold derived from the threat model (Bell et al. CCS 2020).

Setting. ``n`` clients on the Harary graph H(k, n) under a uniformly random
relabelling (:func:`secagg.graph.harary_graph`); a client shares its two secrets
(self-mask seed b_u, key s_u^SK) among its h = k + 1 holders, itself and its k
neighbours, at threshold t. Before the relabelling is drawn, the adversary fixes at
most C = floor(gamma n) corrupt clients, and at most D = floor(delta n) clients
drop out (a corrupt client that stops answering counts as a dropout).

Conditions (Bell et al., Sec. 3-4: the protocol on a k-regular graph, secure against
a semi-honest and a semi-malicious server; the same three events drive the
parameter finder of Google's federated-compute). The round is *secure* when

* (S1) the honest surviving clients induce a connected subgraph, else the server
  learns the sum of each component;
* (S2) every honest client has fewer than t corrupt holders (semi-honest), or fewer
  than 2t - h (semi-malicious: a deviating server tells some holders "u survived"
  and others "u dropped", so with c corrupt holders it gets t shares of both
  secrets of u once the h - c honest ones can supply t - c of each, i.e. once
  c >= 2t - h; see :mod:`secagg.plan`);

and *correct* when (R) every client has at least t surviving holders, its own share
counted when it survives (what :class:`secagg.Server` checks).

Bounds. Under the relabelling a client's neighbours are a uniformly random k-subset
of the other n - 1 clients, so its corrupt neighbours X ~ HG(n-1, C, k) and its
dropped neighbours Y ~ HG(n-1, D, k) if it survives, Y' ~ HG(n-1, D-1, k) if it
dropped (hypergeometric; the tails are summed exactly). With m = floor(k/2),
[x]_j = x (x-1) ... (x-j+1) and a union bound over clients:

* P[not S1] <= n (n - 2m - 1) / 2 * [C + D]_{2m} / [n]_{2m}: removing nodes from
  the circulant with offsets 1..m disconnects it only if two disjoint, non-adjacent
  runs of m consecutive nodes are all removed (n (n - 2m - 1) / 2 pairs of runs, and
  C u D is a uniformly random set of positions); the antipodal chords of an odd
  degree only add edges. Zero on the complete graph (k = n - 1).
* P[not S2] <= n P[X >= t] (semi-honest), n P[X >= 2t - k - 1] (semi-malicious).
* P[not R] <= (n - D) P[Y >= k + 2 - t] + D P[Y' >= k + 1 - t].

The tails grow with C and D, so the worst case is |C| = C and |D| = D. The degree
is the smallest k in [1, n - 1] (even when n is odd, as a regular graph needs) for
which some t in [2, k + 1] makes P[not S1] + P[not S2] <= 2^-security_bits and
P[not R] <= 2^-correctness_bits; the threshold is the smallest such t (the best
correctness for that degree, and the cheapest reconstruction). Reaching
k = n - 1 means the complete graph (SecAgg). Adversary ``"none"`` keeps (R) only.

Reference: ``fcp/secagg/server/graph_parameter_finder.cc`` (google-parfait/
federated-compute) scans even k with the same three events; this module differs
where that finder is looser or does not match this protocol: it splits the
security budget evenly between S1 and S2 (we bound their sum); it draws neighbours
from n clients instead of the n - 1 others; it ignores the own share in (R); its
semi-malicious rule is Bell's 2t > k + c for shares on k neighbours, while a client
here also holds (and reveals as b-share) its own share, hence 2t > k + 1 + c; it
keeps S1 without an adversary; it tries neither odd k nor the complete graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from fedsecure import checks
from secagg.config import MAX_CLIENT_ID
from secagg.errors import ConfigurationError

ADVERSARIES: Final = ("none", "semi_honest", "semi_malicious")
"""No adversary (correctness only), an honest-but-curious server, a server that may deviate."""

_TAIL_CUT = 250.0
"""Hypergeometric tails are summed exactly down to e^-250, far below any budget 2^-128 / 2^32."""

_RATE_SLACK = 1e-14
"""Added to a rate before flooring rate * n, so that 0.29 * 100 counts 29 clients, not 28 (as fcp's kSmall)."""


@dataclass(frozen=True)
class GraphParameters:
    """A SecAgg+ degree and threshold for ``clients`` clients, with the failure bounds they guarantee.

    ``degree`` is even when ``clients`` is odd, and ``clients - 1`` means the complete
    graph (what :func:`secagg.plan_session` makes of it). ``security_failure`` bounds the
    probability, over the graph's relabelling, that the round is not secure (S1 or S2,
    zero for adversary ``"none"``); ``correctness_failure`` that some client lacks
    ``threshold`` surviving holders (R). See the module docstring.
    """

    clients: int
    degree: int
    threshold: int
    adversary: str
    corrupt_clients: int
    dropped_clients: int
    security_failure: float
    correctness_failure: float

    @property
    def holders(self) -> int:
        """Share holders per client: itself and its neighbours."""
        return self.degree + 1

    @property
    def complete(self) -> bool:
        """Whether the degree is that of the complete graph (SecAgg)."""
        return self.degree == self.clients - 1


def graph_parameters(
    clients: int,
    *,
    corrupt_rate: float,
    dropout_rate: float,
    adversary: str = "semi_honest",
    security_bits: float = 40,
    correctness_bits: float = 20,
) -> GraphParameters:
    """The smallest degree, and its smallest threshold, meeting the bounds of the module docstring.

    Raises :class:`ConfigurationError` on a value out of range, on a threat model no
    degree can meet (corrupt + dropout >= 1 semi-honest, corrupt + 2 dropout >= 1
    semi-malicious, or ``clients`` too few even for the complete graph).
    """
    model = _model(clients, corrupt_rate, dropout_rate, adversary)
    security = 2.0 ** -checks.real("security_bits", security_bits, error=ConfigurationError, low=1, high=128)
    correctness = 2.0 ** -checks.real("correctness_bits", correctness_bits, error=ConfigurationError, low=1, high=64)
    degree = 1
    while degree < model.clients:
        if (degree % 2 and model.clients % 2) or _disconnection(model, degree) > security:
            degree += 1
            continue
        bounds = _DegreeBounds.of(model, degree)
        secure = bounds.first_secure(security - bounds.disconnection)
        if bounds.correctness[secure] <= correctness:
            return GraphParameters(
                model.clients,
                degree,
                secure,
                model.adversary,
                model.corrupt,
                model.dropped,
                float(bounds.security[secure]),
                float(bounds.correctness[secure]),
            )
        # From degree k to k + i the largest correct threshold grows by at most i (one more
        # neighbour adds at most one surviving holder), and the smallest secure one is at
        # least first_secure(2^-sigma) of degree k (S1 only shrinks S2's budget, and the
        # corrupt neighbours only grow with k): the degrees skipped here all fail.
        correct = int(np.count_nonzero(bounds.correctness[1:] <= correctness))
        degree += max(1, bounds.first_secure(security) - correct)
    raise ConfigurationError(
        f"no degree up to the complete graph meets 2^-{security_bits} security and 2^-{correctness_bits} "
        f"correctness for {model.clients} clients, {model.corrupt} corrupt and {model.dropped} dropping out"
    )


def failure_bounds(
    clients: int,
    degree: int,
    threshold: int,
    *,
    corrupt_rate: float,
    dropout_rate: float,
    adversary: str = "semi_honest",
) -> tuple[float, float]:
    """The (security, correctness) bounds of the module docstring at one degree and threshold, capped at 1."""
    model = _model(clients, corrupt_rate, dropout_rate, adversary)
    degree = checks.integer("degree", degree, error=ConfigurationError, low=1, high=model.clients - 1)
    if degree % 2 and model.clients % 2:
        raise ConfigurationError(f"no {degree}-regular graph on {model.clients} clients exists (odd degree, odd count)")
    threshold = checks.integer("threshold", threshold, error=ConfigurationError, low=2, high=degree + 1)
    bounds = _DegreeBounds.of(model, degree)
    return min(1.0, float(bounds.security[threshold])), min(1.0, float(bounds.correctness[threshold]))


@dataclass(frozen=True)
class _Model:
    """The threat model in client counts."""

    clients: int
    corrupt: int
    dropped: int
    adversary: str


def _model(clients: object, corrupt_rate: object, dropout_rate: object, adversary: object) -> _Model:
    n = checks.integer("clients", clients, error=ConfigurationError, low=2, high=MAX_CLIENT_ID)
    gamma = checks.real("corrupt_rate", corrupt_rate, error=ConfigurationError, low=0, high=1, high_open=True)
    delta = checks.real("dropout_rate", dropout_rate, error=ConfigurationError, low=0, high=1, high_open=True)
    if not isinstance(adversary, str) or adversary not in ADVERSARIES:
        raise ConfigurationError(f"adversary must be one of {', '.join(map(repr, ADVERSARIES))}, got {adversary!r}")
    if adversary == "none" and gamma:
        raise ConfigurationError(f"adversary 'none' considers no corrupt clients, got corrupt_rate {gamma}")
    if adversary == "semi_honest" and gamma + delta >= 1:
        raise ConfigurationError(
            f"against a semi-honest adversary corrupt_rate + dropout_rate must be below 1 (t > corrupt and "
            f"t <= surviving holders), got {gamma} + {delta}"
        )
    if adversary == "semi_malicious" and gamma + 2 * delta >= 1:
        raise ConfigurationError(
            f"against a semi-malicious adversary corrupt_rate + 2 * dropout_rate must be below 1 "
            f"(2t > holders + corrupt holders and t <= surviving holders), got {gamma} + 2 * {delta}"
        )
    return _Model(n, _count(gamma, n), _count(delta, n), adversary)


def _count(rate: float, clients: int) -> int:
    return min(clients - 1, math.floor((rate + _RATE_SLACK) * clients))


@dataclass(frozen=True)
class _DegreeBounds:
    """The bounds at one degree k, as arrays indexed by the threshold t in [0, k + 1]."""

    disconnection: float
    exposure: NDArray[np.float64]
    """S2's bound alone: n P[X >= the corrupt holders that breach t]."""
    correctness: NDArray[np.float64]

    @classmethod
    def of(cls, model: _Model, degree: int) -> _DegreeBounds:
        n, k, dropped = model.clients, degree, model.dropped
        t = np.arange(k + 2)
        # (R): a surviving client has 1 + k - Y surviving holders, a dropped one k - Y'.
        correctness = (n - dropped) * _upper_tail(n - 1, dropped, k)[k + 2 - t]
        if dropped:
            correctness += dropped * _upper_tail(n - 1, dropped - 1, k)[k + 1 - t]
        if model.adversary == "none":
            return cls(0.0, np.zeros(k + 2), correctness)
        # (S2): an honest client's corrupt holders reach t, or 2t - h against a deviating server.
        breach = t if model.adversary == "semi_honest" else np.clip(2 * t - k - 1, 0, k + 1)
        return cls(_disconnection(model, k), n * _upper_tail(n - 1, model.corrupt, k)[breach], correctness)

    @property
    def security(self) -> NDArray[np.float64]:
        return self.disconnection + self.exposure

    def first_secure(self, budget: float) -> int:
        """The smallest t >= 2 with S2's bound within ``budget`` (>= 0; S2 is impossible at t = k + 1)."""
        return 2 + int(np.argmax(self.exposure[2:] <= budget))


def _upper_tail(population: int, marked: int, draws: int) -> NDArray[np.float64]:
    """Upper bounds on P[X >= j] for j = 0..draws + 2, X hypergeometric (``draws`` of ``population``, ``marked``).

    Exact (to rounding) from the mean up to Hoeffding's cut, mean + sqrt(draws L / 2),
    beyond which the mass is at most e^-L (Hoeffding 1963, Thm. 4, holds without
    replacement) and is added to every tail; 1 below the mean, where no budget lies.
    The pmf is anchored by log-binomials and extended by its term ratios; the tails
    sum from the far end, keeping their relative precision.
    """
    low, high = max(0, draws - (population - marked)), min(draws, marked)
    mean = draws * marked / population
    start = max(low, math.floor(mean))
    stop = min(high, math.ceil(mean + math.sqrt(draws * _TAIL_CUT / 2)))
    beyond = math.exp(-_TAIL_CUT) if stop < high else 0.0
    x = np.arange(start, stop, dtype=np.float64)
    ratio = (marked - x) * (draws - x) / ((x + 1) * (population - marked - draws + x + 1))
    anchor = _log_choose(marked, start) + _log_choose(population - marked, draws - start)
    log_pmf = anchor - _log_choose(population, draws) + np.concatenate(([0.0], np.cumsum(np.log(ratio))))
    tail = np.zeros(draws + 3)
    tail[: start + 1] = 1.0
    tail[start + 1 : stop + 1] = np.cumsum(np.exp(log_pmf[:0:-1]))[::-1] + beyond
    tail[stop + 1 : high + 1] = beyond
    return tail


def _disconnection(model: _Model, degree: int) -> float:
    """Bound on P[not S1]: two disjoint runs of floor(k/2) consecutive clients, all corrupt or dropped."""
    n, bad, gap = model.clients, model.corrupt + model.dropped, 2 * (degree // 2)
    pairs = n * (n - gap - 1) / 2
    if model.adversary == "none" or degree == n - 1 or pairs <= 0 or bad < gap:
        return 0.0
    # [bad]_gap / [n]_gap: the chance that ``gap`` given positions all fall in a random ``bad``-set.
    return min(1.0, pairs * math.exp(_log_choose(n - gap, bad - gap) - _log_choose(n, bad)))


def _log_choose(a: int, b: int) -> float:
    return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)
