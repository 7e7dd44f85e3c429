"""The server side: a Flower fit workflow that drives `secagg.Coordinator` through the Grid.

A drop-in for Flower's ``SecAggPlusWorkflow`` inside ``DefaultWorkflow(fit_workflow=...)``. Each
FL round runs one secure-aggregation session (SecAgg of Bonawitz et al., CCS 2017, or SecAgg+ of
Bell et al., CCS 2020): key advertisement, key sharing, masked input (with the strategy's FitIns,
so clients train then), the consistency check when ``active``, unmasking. Each exchange is one
``grid.send_and_receive``; on Flower's deployment engine an exchange costs about as much as a whole
plaintext round, so the number of exchanges is the cost.

**Pipelining.** With ``pipeline=True`` (default) the session of round r+1 is set up while round r
runs: its clients are sampled (``strategy.configure_fit(r + 1, ...)``) when round r starts, their
key advertisements ride in round r's masked-input exchange and their encrypted shares in round r's
unmasking exchange. In steady state a round then costs two exchanges, fit included (three in the
active setting, for the consistency check), against four for Flower's SecAgg+; the first round
pays two more for its own setup. Security: the two sessions are independent instances of the
protocol. Each has a fresh session id, fresh X25519 key pairs, a fresh self-mask seed and its own
graph, and every key, mask and share is bound to its session id and round (HKDF info, AES-GCM
associated data, frame routes; see `secagg.envelope`), so nothing of one session is usable in the
other. Sending two sessions' messages in one Flower message changes when they travel, not what
they are: each client runs each session's rounds in the paper's order (Bonawitz et al. 2017,
Fig. 4) and keeps, per session, the rule that it never reveals both secrets of one peer, so the
server's view of the pair is the union of two views each simulatable from its own output (their
independence makes the union simulatable too). The abort rules are the paper's, per session: the
next round's setup can fail (a new session is then set up from scratch in that round) without
touching the current sum, and a current session that aborts leaves the model unchanged.

A node whose reply is missing (error reply, offline node, ``timeout``) or does not parse is a
dropout at that stage of that session. The unmasked sum is decoded into the weighted average,
handed to ``strategy.aggregate_fit`` as every included client's parameters (as Flower does), and
the outcome is written to ``context.state`` under ``"secagg.outcome"``, with the number of
exchanges the round used and the session's degree (0: the complete graph) and threshold. An XNoise
session (``privacy=FlowerDP("skellam-xnoise", ...)``) carries its removable noise components: the
coordinator gets the round's noise sampler and removes the excess in the unmasking round (Dordis,
EuroSys 2024, Sec. 4), and the outcome counts the components removed.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from logging import ERROR, INFO
from typing import cast

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flwr.app import Context, Message, MessageType, RecordDict
from flwr.common import FitIns, FitRes, Parameters, log, parameters_to_ndarrays
from flwr.compat.common import recorddict_compat as compat
from flwr.server import LegacyContext
from flwr.server.client_proxy import ClientProxy
from flwr.serverapp.grid import Grid

import secagg
from protocols.aggregators.base import AggregationError, AggregationOutcome, Cost
from protocols.aggregators.masking import SecAggAggregator
from protocols.dpfedavg import CentralDP, DistributedDP
from protocols.flower import session as wire
from protocols.flower.fit import apply_mean, current_round, flat_length, global_parameters, record_outcome, round_trip
from protocols.flower.privacy import FlowerDP, encoding_of
from secagg.config import SESSION_ID_BYTES
from secagg.coordinator import Coordinator, Exchange
from secagg.errors import InvalidMessageError

SETUP_STAGES = (secagg.Stage.ADVERTISE_KEYS, secagg.Stage.SHARE_KEYS)
DEFAULT_TIMEOUT = 300.0
"""Seconds a stage waits for replies by default: a node that hangs is a dropout after this."""
MODEL_CHECK_CLIENTS = 1000
"""The client count at which a threat model is checked up front: its rates and adversary are refused at any
count (`secagg.graph_parameters`), and this one is large enough not to refuse a model for being small."""


@dataclass
class _Session:
    """One round's session: who is who, its coordinator, what came back, what failed."""

    round: int
    setup: wire.SessionSetup
    coordinator: Coordinator
    proxies: dict[int, ClientProxy]
    fitins: dict[int, FitIns]
    results: dict[int, FitRes] = field(default_factory=dict)
    failures: list[BaseException] = field(default_factory=list)
    error: secagg.ProtocolError | None = None

    def node(self, client: int) -> int:
        return self.setup.node_ids[client - 1]

    @property
    def waiting(self) -> Exchange | None:
        """The exchange this session needs next, unless it is finished or failed."""
        return None if self.error is not None else self.coordinator.pending

    @property
    def ready_to_fit(self) -> bool:
        """Set up and waiting for the masked-input (fit) exchange."""
        pending = self.waiting
        return pending is not None and pending.stage == secagg.Stage.MASKED_INPUT


class SecAggWorkflow:
    """Fit workflow running our SecAgg / SecAgg+ inside Flower; clients need `secagg_mod`.

    Each round's session is sized by `secagg.plan_session` for its sampled node count, from a threat
    model or from raw numbers. Threat model: ``corrupt_rate``, ``dropout_rate``, ``adversary`` (any of
    them given) derive the smallest SecAgg+ degree and its threshold (`secagg.graph_parameters`, Bell
    et al., CCS 2020, Sec. 3-4); a model no degree meets (rates, adversary, the active setting's
    semi-malicious one) is refused here, planning :data:`MODEL_CHECK_CLIENTS` clients, and a round too
    small for it halts before any message. Raw numbers, for experts (not together with a threat model):
    ``degree=None`` is the complete graph (SecAgg), an integer the SecAgg+ graph degree (capped at
    n - 1 and made even for odd n by `secagg.plan_session`; ``threshold=None`` takes
    `secagg.default_threshold` of the holders). Updates are clipped to ``clip`` after weighting by
    ``num_examples / max_weight``; clients reporting more than ``max_weight`` examples are refused.
    ``active=True`` adds signed messages and the consistency round and needs every node's Ed25519
    ``verify_keys`` (by Flower node id) on the server and an ``identity`` in `make_secagg_mod` on the
    clients. ``timeout`` (seconds per exchange) bounds how long a silent node can stall a stage;
    nodes that go offline answer with an error at once. ``pipeline`` sets up round r+1 during round
    r (see the module docstring).
    """

    def __init__(
        self,
        threshold: int | None = None,
        degree: int | None = None,
        *,
        modulus_bits: int = 32,
        clip: float = 8.0,
        max_weight: float = 1000.0,
        active: bool = False,
        verify_keys: Mapping[int, Ed25519PublicKey] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        pipeline: bool = True,
        privacy: FlowerDP | None = None,
        dimension: int | None = None,
        corrupt_rate: float | None = None,
        dropout_rate: float | None = None,
        adversary: str | None = None,
    ) -> None:
        # The session plan's and codec's checks (degree, threshold vs holders, clip >= 1, ring size), once up
        # front, for an even client count large enough that neither the threshold nor the degree is capped.
        smallest = max(2, threshold or 2, 0 if degree is None else degree + 2)
        SecAggAggregator(
            smallest + smallest % 2,
            degree=degree,
            threshold=threshold,
            modulus_bits=modulus_bits,
            active=active,
            clip=clip,
        )
        if not (isinstance(max_weight, (int, float)) and math.isfinite(max_weight) and max_weight > 0):
            raise AggregationError(f"max_weight must be a positive finite number, got {max_weight!r}")
        if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
            raise AggregationError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if active and verify_keys is None:
            raise AggregationError("the active setting needs the nodes' verify_keys")
        self.threshold = threshold
        self.degree = degree
        self.active = active
        self.corrupt_rate, self.dropout_rate, self.adversary = corrupt_rate, dropout_rate, adversary
        if (corrupt_rate, dropout_rate, adversary) != (None, None, None):
            try:
                self.plan(MODEL_CHECK_CLIENTS)
            except secagg.ConfigurationError as exc:
                raise AggregationError(f"threat model refused: {exc}") from exc
        self.modulus_bits = modulus_bits
        self.clip = float(clip)
        self.max_weight = float(max_weight)
        self.verify_keys = dict(verify_keys or {})
        self.timeout = float(timeout)
        self.pipeline = pipeline
        self.privacy = privacy
        self._prepared: _Session | None = None
        self._dp: CentralDP | DistributedDP | None = None
        if privacy is not None and dimension is not None:  # calibrate now: an impossible budget refuses to start
            self._dp = privacy.build(dimension, modulus_bits)

    def plan(self, clients: int) -> secagg.SessionPlan:
        """The session plan for ``clients`` sampled nodes (`secagg.plan_session`, from the threat model or the
        raw degree and threshold); raises `secagg.ConfigurationError` when it cannot serve that many."""
        return secagg.plan_session(
            clients,
            degree=self.degree,
            threshold=self.threshold,
            active=self.active,
            corrupt_rate=self.corrupt_rate,
            dropout_rate=self.dropout_rate,
            adversary=self.adversary,
        )

    def __call__(self, grid: Grid, context: Context) -> None:
        """Run one fit round with secure aggregation (the shape of Flower's fit workflows)."""
        if not isinstance(context, LegacyContext):
            raise TypeError(f"Expect a LegacyContext, but get {type(context).__name__}.")
        round_index, parameters = current_round(context), global_parameters(context)
        template = parameters_to_ndarrays(parameters)
        length = 1 + flat_length(template)
        if self.privacy is not None and self._dp is None:  # before any message: refuse an impossible budget
            self._dp = self.privacy.build(flat_length(template), self.modulus_bits)
        available = context.client_manager.num_available()
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared.round == round_index and prepared.ready_to_fit:
            current = prepared
            log(INFO, "[secagg round %s] clients set up during the previous round", round_index)
        else:
            instructions = context.strategy.configure_fit(round_index, parameters, context.client_manager)
            try:
                current = self._open(round_index, instructions, length, available)
            except (secagg.ProtocolError, AggregationError) as exc:
                record_outcome(context, {"round": round_index, "exchanges": 0, "status": "halted", "reason": str(exc)})
                log(ERROR, "[secagg round %s] cannot open a session: %s", round_index, exc)
                return
        upcoming = None
        if self.pipeline and round_index < context.config.num_rounds:
            following = context.strategy.configure_fit(round_index + 1, parameters, context.client_manager)
            try:
                upcoming = self._open(round_index + 1, following, length, available)
            except (secagg.ProtocolError, AggregationError) as exc:  # round r+1 then opens its own session
                log(INFO, "[secagg round %s] not set up ahead: %s", round_index + 1, exc)
        exchanges = self._run(grid, current, upcoming, parameters)
        if upcoming is not None and upcoming.ready_to_fit:
            self._prepared = upcoming
        self._finish(context, current, template, exchanges)

    def _open(
        self, round_index: int, instructions: Sequence[tuple[ClientProxy, FitIns]], length: int, available: int
    ) -> _Session:
        """Plan a session for the sampled nodes: ids, graph, threshold, fresh session id and graph seed."""
        if len(instructions) < 2:
            raise AggregationError(f"secure aggregation needs at least 2 sampled clients, got {len(instructions)}")
        if self._dp is not None and len(instructions) < available:
            raise AggregationError(
                f"DP-FedAvg here accounts for every client in every round; {len(instructions)} of {available} "
                "available nodes were sampled (use fraction_fit=1.0)"
            )
        node_ids = tuple(sorted(proxy.node_id for proxy, _ in instructions))
        if self.active and set(node_ids) - set(self.verify_keys):
            raise AggregationError(f"no verification key for nodes {sorted(set(node_ids) - set(self.verify_keys))}")
        plan = self.plan(len(node_ids))
        setup = wire.SessionSetup(
            session_id=secrets.token_bytes(SESSION_ID_BYTES),
            round_index=round_index,
            node_ids=node_ids,
            degree=plan.degree or 0,
            graph_seed=secrets.token_bytes(wire.GRAPH_SEED_BYTES),
            threshold=plan.threshold,
            modulus_bits=self.modulus_bits,
            vector_length=length,
            active=self.active,
            clip=self.clip,
            max_weight=self.max_weight,
        )
        setup = encoding_of(self._dp, setup)
        index = {node: i + 1 for i, node in enumerate(node_ids)}
        verify = {index[n]: self.verify_keys[n] for n in node_ids} if self.active else None
        return _Session(
            round=round_index,
            setup=setup,
            coordinator=Coordinator(setup.session_config(), verify_keys=verify, noise=setup.noise_sampler()),
            proxies={index[p.node_id]: p for p, _ in instructions},
            fitins={index[p.node_id]: ins for p, ins in instructions},
        )

    def _run(self, grid: Grid, current: _Session, upcoming: _Session | None, parameters: Parameters) -> int:
        """Drive ``current`` to its sum (or its abort) and ``upcoming`` through its setup; returns the exchanges.

        Every exchange carries each session's pending stage, ``upcoming``'s only while it is in setup.
        """
        exchanges = 0
        while True:
            parts = [current] if current.waiting is not None else []
            if upcoming is not None and upcoming.waiting is not None and upcoming.waiting.stage in SETUP_STAGES:
                parts.append(upcoming)
            if not parts:
                return exchanges
            self._exchange(grid, parts, parameters)
            exchanges += 1

    def _exchange(self, grid: Grid, parts: list[_Session], parameters: Parameters) -> None:
        """One ``send_and_receive`` carrying each session's pending stage to its clients."""
        by_node: dict[int, list[tuple[_Session, int, bytes]]] = {}
        for part in parts:
            exchange = cast(Exchange, part.waiting)
            for client, frame in exchange.frames.items():
                payload = part.setup.to_bytes() if exchange.stage == secagg.Stage.ADVERTISE_KEYS else frame
                by_node.setdefault(part.node(client), []).append((part, client, cast(bytes, payload)))
        messages = []
        for node, items in by_node.items():
            content = RecordDict()
            for part, client, _ in items:
                if cast(Exchange, part.waiting).stage == secagg.Stage.MASKED_INPUT:
                    fitins = part.fitins[client]
                    content = compat.fitins_to_recorddict(FitIns(parameters, fitins.config), True)
            entries = [wire.Entry(cast(Exchange, p.waiting).stage, p.setup.session_id, b) for p, _, b in items]
            content.config_records[wire.RECORD] = wire.to_record(entries)
            messages.append(
                Message(content=content, dst_node_id=node, message_type=MessageType.TRAIN, group_id=str(parts[0].round))
            )
        replies: dict[bytes, dict[int, bytes]] = {p.setup.session_id: {} for p in parts}
        for reply in round_trip(grid, messages, self.timeout):
            node = reply.metadata.src_node_id
            asked = {part.setup.session_id: part for part, _, _ in by_node.get(node, [])}
            try:
                if reply.has_error():
                    raise InvalidMessageError(f"node {node}: {reply.error.reason}")
                entries = wire.read_entries(reply)
            except InvalidMessageError as exc:
                for part in asked.values():
                    part.failures.append(exc)
                continue
            for entry in entries:
                target = asked.get(entry.session_id)
                if target is None or entry.stage != cast(Exchange, target.waiting).stage:
                    log(ERROR, "[secagg] node %s answered a session or stage it was not asked", node)
                    continue
                client = target.setup.client_id(node)
                replies[entry.session_id][client] = entry.payload
                if entry.stage == secagg.Stage.MASKED_INPUT:
                    target.results[client] = compat.recorddict_to_fitres(reply.content, keep_input=True)
        for part in parts:
            stage = cast(Exchange, part.waiting).stage
            log(
                INFO,
                "[secagg round %s %s] %s of %s clients replied",
                part.round,
                stage.name.lower(),
                len(replies[part.setup.session_id]),
                len(cast(Exchange, part.waiting).frames),
            )
            try:
                part.coordinator.receive(replies[part.setup.session_id])
            except secagg.ProtocolError as exc:
                part.error = exc
                log(ERROR, "[secagg round %s] session halted at %s: %s", part.round, stage.name.lower(), exc)
            part.failures.extend(error for _, _, error in part.coordinator.failures)
            part.coordinator.failures.clear()

    def _finish(self, context: LegacyContext, current: _Session, template: list[np.ndarray], exchanges: int) -> None:
        """Hand the average to the strategy and record the outcome (or record the halt)."""
        setup = current.setup
        outcome: dict[str, object] = {
            "round": current.round,
            "sampled": list(setup.node_ids),
            "exchanges": exchanges,
            "degree": setup.degree,
            "threshold": setup.threshold,
        }
        if current.error is not None:
            record_outcome(context, {**outcome, "status": "halted", "reason": str(current.error)})
            return
        total = current.coordinator.result
        if setup.noise_components:
            outcome["noise_components_removed"] = total.reconstructed.get("noise_seeds", 0)
        try:
            mean, total_weight = setup.decode(total.total, len(total.included))
        except AggregationError as exc:
            record_outcome(context, {**outcome, "status": "halted", "reason": str(exc)})
            return
        metrics: dict[str, float] = {}
        if self._dp is not None:
            released = AggregationOutcome(mean, total_weight, tuple(total.included), Cost(), len(setup.node_ids))
            mean = self._dp.release(released)
            metrics["epsilon"] = outcome["epsilon"] = self._dp.account(released, 1.0)
            log(INFO, "[dp round %s] epsilon %.4f at delta %g", current.round, metrics["epsilon"], self._dp.delta)
        included = [(current.proxies[c], current.results[c]) for c in total.included]
        apply_mean(context, current.round, mean, template, included, current.failures, metrics)
        record_outcome(
            context,
            {
                **outcome,
                "status": "completed",
                "included": [current.node(c) for c in total.included],
                "total_weight": total_weight,
                "forged_shares_from": [current.node(c) for c in total.forged_shares_from],
            },
        )
