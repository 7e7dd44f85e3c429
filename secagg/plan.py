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
"""

from __future__ import annotations

from dataclasses import dataclass

from fedsecure import checks
from secagg.errors import ConfigurationError
from secagg.graph import default_threshold


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


@dataclass(frozen=True)
class SessionPlan:
    """The degree (``None``: complete graph) and threshold of a session of ``clients`` clients."""

    clients: int
    degree: int | None
    threshold: int
    active: bool

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
    clients: int, *, degree: int | None = None, threshold: int | None = None, active: bool = False
) -> SessionPlan:
    """Plan a session of ``clients`` clients, refusing with :class:`ConfigurationError` what cannot run.

    A SecAgg+ ``degree`` is capped at ``clients - 1`` (the complete graph) and made
    even when the count is odd, as a regular graph needs; ``threshold=None`` takes
    :func:`~secagg.graph.default_threshold` of the holders, an explicit one is kept
    as given and checked (:func:`check_threshold`).
    """
    clients = _count("clients", clients, 2)
    if degree is not None:
        degree = min(_count("degree", degree, 1), clients - 1)
        degree -= degree % 2 and clients % 2
        if degree >= clients - 1:
            degree = None
    holders = clients if degree is None else degree + 1
    chosen = default_threshold(holders, active) if threshold is None else threshold
    return SessionPlan(clients, degree, check_threshold(chosen, holders, holders, active), active)


def _count(name: str, value: object, low: int) -> int:
    return checks.integer(name, value, error=ConfigurationError, low=low)
