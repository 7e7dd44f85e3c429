"""Sizing a session: graph degree, threshold, and the threat model they were chosen for.

The share threshold t of a client with h share holders (itself and its
neighbours) decides two things (Bonawitz et al. CCS 2017, Sec. 4 and 6):

* fewer than t colluding holders learn nothing about the client's two secrets
  (its self-mask seed b_u and its mask-agreement key s_u^SK), and at least t
  holders must survive for the round to finish;
* an honest client reveals, for each peer, only one of the two secrets. A
  server that *deviates* from the protocol, telling some holders that u survived
  (asking for b_u shares) and others that u dropped (asking for s_u^SK shares),
  gets t shares of both, and so u's input, once 2 (t - c) <= h - c for c holders
  colluding with it, that is c >= 2t - h. With 2t <= h no collusion is needed.

The active setting (a server that may deviate) therefore refuses t <= h/2 and
adds the consistency check with signatures; the honest-but-curious setting
keeps low thresholds legal, since SecAgg+ (Bell et al. CCS 2020) relies on them,
and :meth:`SessionPlan.threat_model` says what a deviating server could do.

A session is sized either from raw numbers (a degree and a threshold, for experts)
or from a threat model: the rates of corrupt and dropping clients and the adversary,
from which :func:`secagg.graph_parameters` derives the smallest SecAgg+ degree and
its threshold (Bell et al. 2020, Sec. 3-4; :mod:`secagg.threat_model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fedsecure import checks
from secagg.errors import ConfigurationError
from secagg.graph import default_threshold

if TYPE_CHECKING:
    from secagg.threat_model import GraphParameters


def check_threshold(threshold: object, smallest: int, largest: int, active: bool) -> int:
    """Refuse a threshold outside [2, smallest holders], or at most half the largest in the active setting."""
    if not isinstance(threshold, int) or isinstance(threshold, bool) or not 2 <= threshold <= smallest:
        raise ConfigurationError(f"threshold must lie in [2, {smallest}] (share holders per client), got {threshold!r}")
    if active and 2 * threshold <= largest:
        raise ConfigurationError(
            f"the active setting needs a threshold above half the {largest} share holders of a client "
            f"(else a deviating server can collect both secrets of one client), got {threshold}"
        )
    return threshold


_ADVERSARY = {
    "none": "no adversary: correctness only",
    "semi_honest": "semi-honest adversary",
    "semi_malicious": "semi-malicious adversary",
}


@dataclass(frozen=True)
class SessionPlan:
    """The degree (``None``: complete graph) and threshold of a session of ``clients`` clients."""

    clients: int
    degree: int | None
    threshold: int
    active: bool
    derived_from: GraphParameters | None = None
    """The threat model the degree and threshold were derived from (``None``: given as numbers)."""

    @property
    def holders(self) -> int:
        """Share holders per client: every client on the complete graph, else degree + 1."""
        return self.clients if self.degree is None else self.degree + 1

    @property
    def resists_deviating_server(self) -> bool:
        """Whether a deviating server needs colluding holders to read an input (2t > h)."""
        return 2 * self.threshold > self.holders

    def threat_model(self) -> str:
        """One sentence: the adversary this plan was sized for and what lies outside it."""
        t, h = self.threshold, self.holders
        graph = "complete graph (SecAgg)" if self.degree is None else f"degree-{self.degree} graph (SecAgg+)"
        head = f"{self.clients} clients on a {graph}, threshold {t} of {h} share holders per client"
        if (model := self.derived_from) is not None:
            head += (
                f", derived for up to {model.corrupt_clients} corrupt and {model.dropped_clients} dropped clients "
                f"({_ADVERSARY[model.adversary]}; security failure <= {model.security_failure:.2g}, "
                f"correctness failure <= {model.correctness_failure:.2g})"
            )
        if self.active:
            return (
                f"{head}; active server: signed messages and the consistency check, and a server that "
                f"deviates needs at least {2 * t - h} colluding holders of a client to read its input"
            )
        if self.resists_deviating_server:
            return (
                f"{head}; honest-but-curious server: fewer than {t} colluding holders learn nothing, and a "
                f"server that deviates needs at least {2 * t - h} colluding holders of a client to read its input"
            )
        return (
            f"{head}; honest-but-curious server: fewer than {t} colluding holders learn nothing, but a server "
            f"that deviates (different unmask requests to different clients) can read any client's input "
            f"since 2t <= {h}; use --active or a threshold above {h // 2} against such a server"
        )


def plan_session(
    clients: int,
    *,
    degree: int | None = None,
    threshold: int | None = None,
    active: bool = False,
    corrupt_rate: float | None = None,
    dropout_rate: float | None = None,
    adversary: str | None = None,
) -> SessionPlan:
    """Plan a session of ``clients`` clients, refusing with :class:`ConfigurationError` what cannot run.

    Raw numbers: a SecAgg+ ``degree`` is capped at ``clients - 1`` (the complete graph) and made
    even when the count is odd, as a regular graph needs; ``threshold=None`` takes
    :func:`~secagg.graph.default_threshold` of the holders, an explicit one is kept
    as given and checked (:func:`check_threshold`).

    Threat model (any of ``corrupt_rate``, ``dropout_rate``, ``adversary`` given, the rates
    defaulting to 0): degree and threshold come from :func:`secagg.graph_parameters`, which
    refuses an infeasible model; neither may then be given. The adversary defaults to
    ``"semi_malicious"`` in the active setting (which must face it) and ``"semi_honest"`` otherwise.
    """
    clients = _count("clients", clients, 2)
    if corrupt_rate is not None or dropout_rate is not None or adversary is not None:
        if degree is not None or threshold is not None:
            raise ConfigurationError("give a threat model or a raw degree and threshold, not both")
        return _from_threat_model(clients, corrupt_rate or 0.0, dropout_rate or 0.0, adversary, active)
    if degree is not None:
        degree = min(_count("degree", degree, 1), clients - 1)
        degree -= degree % 2 and clients % 2
        if degree >= clients - 1:
            degree = None
    holders = clients if degree is None else degree + 1
    chosen = default_threshold(holders, active) if threshold is None else threshold
    return SessionPlan(clients, degree, check_threshold(chosen, holders, holders, active), active)


def _from_threat_model(
    clients: int, corrupt_rate: float, dropout_rate: float, adversary: str | None, active: bool
) -> SessionPlan:
    """The plan :func:`secagg.graph_parameters` derives (Bell et al. 2020, Sec. 3-4)."""
    from secagg.threat_model import graph_parameters  # here: it builds on secagg.config, which builds on this module

    adversary = ("semi_malicious" if active else "semi_honest") if adversary is None else adversary
    if active and adversary != "semi_malicious":
        raise ConfigurationError(
            f"the active setting faces a server that deviates: its threat model needs adversary "
            f"'semi_malicious', got {adversary!r}"
        )
    model = graph_parameters(clients, corrupt_rate=corrupt_rate, dropout_rate=dropout_rate, adversary=adversary)
    degree = None if model.complete else model.degree
    check_threshold(model.threshold, model.holders, model.holders, active)
    return SessionPlan(clients, degree, model.threshold, active, model)


def _count(name: str, value: object, low: int) -> int:
    return checks.integer(name, value, error=ConfigurationError, low=low)
