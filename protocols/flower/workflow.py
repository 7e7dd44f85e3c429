"""The server side: a Flower fit workflow that drives `secagg.Server` through the Grid.

A drop-in for Flower's ``SecAggPlusWorkflow`` inside ``DefaultWorkflow(fit_workflow=...)``.
Each round: the strategy samples clients; the workflow fixes a fresh
`secagg.SessionConfig` (SecAgg of Bonawitz et al., CCS 2017, or SecAgg+ of Bell
et al., CCS 2020) and sends its public description; then each protocol round
is one ``grid.send_and_receive``: advertise keys, share keys, masked input
(with the strategy's FitIns, so clients train then), the consistency check
when ``active``, unmasking. A node whose reply is missing (error reply, offline
node, ``timeout``) or does not parse is a dropout at that stage, handled by
`secagg.Server`. The unmasked sum is decoded into the weighted average, handed
to ``strategy.aggregate_fit`` as every included client's parameters (as Flower
does), and the outcome is written to ``context.state`` under
``"secagg.outcome"``.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from logging import ERROR, INFO
from typing import TypeVar, cast

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flwr.app import ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.common import FitIns, FitRes, log, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.compat.common import recorddict_compat as compat
from flwr.server import LegacyContext
from flwr.server.client_proxy import ClientProxy
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD, Key
from flwr.serverapp.grid import Grid

import secagg
from protocols.aggregators.base import AggregationError
from protocols.aggregators.masking import SecAggAggregator
from protocols.aggregators.weighting import weighted_mean
from protocols.flower import session as wire
from secagg.config import SESSION_ID_BYTES
from secagg.envelope import Upload
from secagg.errors import InvalidMessageError
from secagg.messages import (
    AdvertiseKeys,
    ConsistencySignature,
    EncryptedShares,
    MaskedInput,
    UnmaskingShares,
)

M = TypeVar("M", bound=Upload)


@dataclass
class _Round:
    """One round's session: who is who, what came back, what failed."""

    grid: Grid
    group_id: str
    setup: wire.SessionSetup
    config: secagg.SessionConfig
    proxies: dict[int, ClientProxy]
    fitins: dict[int, FitIns]
    results: dict[int, FitRes] = field(default_factory=dict)
    failures: list[tuple[ClientProxy, FitRes] | BaseException] = field(default_factory=list)

    def node(self, client: int) -> int:
        return self.setup.node_ids[client - 1]

    def stage(self, stage: str, payloads: Mapping[int, bytes]) -> dict[int, ConfigRecord]:
        """Each client's record for ``stage``, carrying its serialized `secagg` message."""
        return {client: wire.stage_record(stage, self.setup.session_id, p) for client, p in payloads.items()}


class SecAggWorkflow:
    """Fit workflow running our SecAgg / SecAgg+ inside Flower; clients need `secagg_mod`.

    ``degree=None`` is the complete graph (SecAgg), an integer the SecAgg+
    graph degree (capped at n - 1 and made even for odd n, as the FedAvg
    driver's `SecAggAggregator` plans it; ``threshold=None`` takes
    `secagg.default_threshold` of the holders). Updates are clipped to
    ``clip`` after weighting by ``num_examples / max_weight``; clients
    reporting more than ``max_weight`` examples are refused. ``active=True``
    adds signed keys and the consistency round and needs every node's
    Ed25519 ``verify_keys`` (by Flower node id) on the server and an
    ``identity`` in `make_secagg_mod` on the clients. ``timeout`` (seconds per
    stage, ``None`` = wait for every reply) bounds how long a silent node can
    stall a stage; nodes that go offline answer with an error at once.
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
        timeout: float | None = None,
    ) -> None:
        # The session plan's and codec's checks (degree, threshold vs holders, clip >= 1, ring size), once up
        # front, for an even client count large enough that neither the threshold nor the degree is capped.
        smallest = max(2, threshold or 2, 0 if degree is None else degree + 2)
        capped = None if degree is None else min(degree, smallest - 1)
        SecAggAggregator(
            smallest + smallest % 2,
            degree=capped,
            threshold=threshold,
            modulus_bits=modulus_bits,
            active=active,
            clip=clip,
        )
        if not (isinstance(max_weight, (int, float)) and math.isfinite(max_weight) and max_weight > 0):
            raise AggregationError(f"max_weight must be a positive finite number, got {max_weight!r}")
        if timeout is not None and not timeout > 0:
            raise AggregationError(f"timeout must be positive or None, got {timeout!r}")
        if active and verify_keys is None:
            raise AggregationError("the active setting needs the nodes' verify_keys")
        self.threshold = threshold
        self.degree = degree
        self.modulus_bits = modulus_bits
        self.clip = float(clip)
        self.max_weight = float(max_weight)
        self.active = active
        self.verify_keys = dict(verify_keys or {})
        self.timeout = timeout

    def __call__(self, grid: Grid, context: Context) -> None:
        """Run one fit round with secure aggregation (the shape of Flower's fit workflows)."""
        if not isinstance(context, LegacyContext):
            raise TypeError(f"Expect a LegacyContext, but get {type(context).__name__}.")
        current_round = cast(int, context.state.config_records[MAIN_CONFIGS_RECORD][Key.CURRENT_ROUND])
        parameters = compat.arrayrecord_to_parameters(context.state.array_records[MAIN_PARAMS_RECORD], keep_input=True)
        instructions = context.strategy.configure_fit(current_round, parameters, context.client_manager)
        if not instructions:
            log(INFO, "configure_fit: no clients selected, cancel")
            return
        log(INFO, "configure_fit: strategy sampled %s clients for secure aggregation", len(instructions))
        template = parameters_to_ndarrays(parameters)
        outcome: dict[str, object] = {"round": current_round, "sampled": [p.node_id for p, _ in instructions]}
        try:
            run = self._open(grid, current_round, instructions, 1 + sum(a.size for a in template))
            arrays, total_weight, included = self._aggregate(run, template)
        except (secagg.ProtocolError, AggregationError) as exc:
            log(ERROR, "Secure aggregation halted: %s", exc)
            context.state.config_records[wire.OUTCOME_RECORD] = ConfigRecord(
                {**outcome, "status": "halted", "reason": str(exc)}  # type: ignore[dict-item]
            )
            return
        aggregate = ndarrays_to_parameters(arrays)
        results = []
        for client in included:
            fitres = run.results[client]
            # Example counts stay protected: the strategy averages identical parameters.
            fitres.parameters, fitres.num_examples = aggregate, 1
            results.append((run.proxies[client], fitres))
        log(INFO, "aggregate_fit: %s clients included, %s failures", len(results), len(run.failures))
        parameters_aggregated, metrics = context.strategy.aggregate_fit(current_round, results, run.failures)
        context.state.config_records[wire.OUTCOME_RECORD] = ConfigRecord(
            {
                **outcome,  # type: ignore[dict-item]
                "status": "completed",
                "included": [run.node(c) for c in included],
                "total_weight": total_weight,
            }
        )
        if parameters_aggregated:
            context.state.array_records[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(
                parameters_aggregated, True
            )
            context.history.add_metrics_distributed_fit(server_round=current_round, metrics=metrics)

    def _open(
        self, grid: Grid, current_round: int, instructions: Sequence[tuple[ClientProxy, FitIns]], length: int
    ) -> _Round:
        """Plan the session for the sampled nodes: ids, graph, threshold, fresh session id and graph seed."""
        if len(instructions) < 2:
            raise AggregationError(f"secure aggregation needs at least 2 sampled clients, got {len(instructions)}")
        node_ids = tuple(sorted(proxy.node_id for proxy, _ in instructions))
        if self.active and set(node_ids) - set(self.verify_keys):
            raise AggregationError(f"no verification key for nodes {sorted(set(node_ids) - set(self.verify_keys))}")
        plan = secagg.plan_session(len(node_ids), degree=self.degree, threshold=self.threshold, active=self.active)
        setup = wire.SessionSetup(
            session_id=secrets.token_bytes(SESSION_ID_BYTES),
            round_index=current_round,
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
        index = {node: i + 1 for i, node in enumerate(node_ids)}
        return _Round(
            grid=grid,
            group_id=str(current_round),
            setup=setup,
            config=setup.session_config(),
            proxies={index[p.node_id]: p for p, _ in instructions},
            fitins={index[p.node_id]: ins for p, ins in instructions},
        )

    def _aggregate(self, run: _Round, template: list[np.ndarray]) -> tuple[list[np.ndarray], float, tuple[int, ...]]:
        """Drive `secagg.Server` stage by stage; return the weighted mean as arrays, the total weight, U3."""
        config = run.config
        verify = {run.setup.client_id(n): self.verify_keys[n] for n in run.setup.node_ids} if self.active else None
        server = secagg.Server(config, verify_keys=verify)
        replies = self._exchange(run, {c: run.setup.to_record() for c in range(1, len(run.setup.node_ids) + 1)})
        directories = server.advertise_keys(self._parse(run, replies, AdvertiseKeys))

        payloads = {c: d.to_bytes(config) for c, d in directories.items()}
        replies = self._exchange(run, run.stage(wire.SHARE_KEYS, payloads))
        inboxes = server.share_keys(self._parse(run, replies, EncryptedShares))

        payloads = {c: i.to_bytes(config) for c, i in inboxes.items()}
        replies = self._exchange(run, run.stage(wire.MASKED_INPUT, payloads))
        masked = self._parse(run, replies, MaskedInput)
        for m in masked:
            run.results[m.sender] = compat.recorddict_to_fitres(replies[m.sender].content, keep_input=True)
        survivors = server.masked_input(masked)

        if config.active:
            frame = survivors.to_bytes(config)
            replies = self._exchange(run, run.stage(wire.CONSISTENCY_CHECK, dict.fromkeys(survivors.survivors, frame)))
            server.consistency_check(self._parse(run, replies, ConsistencySignature))

        request, recipients = server.unmask_request()
        replies = self._exchange(run, run.stage(wire.UNMASKING, dict.fromkeys(recipients, request.to_bytes(config))))
        total = server.unmask(self._parse(run, replies, UnmaskingShares))

        mean, total_weight = weighted_mean(run.setup.codec().decode_sum(total.total), 0.0, run.setup.max_weight, True)
        return _unflatten(mean, template), total_weight, total.included

    def _exchange(self, run: _Round, records: Mapping[int, ConfigRecord]) -> dict[int, Message]:
        """Send each client its stage record (beside its FitIns at the masked-input stage);
        return the replies that answer this stage, by client id."""
        stage = str(next(iter(records.values()))["stage"]) if records else ""
        messages = []
        for client, record in records.items():
            content = (
                compat.fitins_to_recorddict(run.fitins[client], True) if stage == wire.MASKED_INPUT else RecordDict()
            )
            content.config_records[wire.RECORD] = record
            messages.append(
                Message(
                    content=content, dst_node_id=run.node(client), message_type=MessageType.TRAIN, group_id=run.group_id
                )
            )
        replies: dict[int, Message] = {}
        for reply in run.grid.send_and_receive(messages, timeout=self.timeout):
            try:
                if reply.has_error():
                    raise InvalidMessageError(f"node {reply.metadata.src_node_id}: {reply.error.reason}")
                client = run.setup.client_id(reply.metadata.src_node_id)
                if client not in records or client in replies or wire.read_stage(reply)[0] != stage:
                    raise InvalidMessageError(f"node {reply.metadata.src_node_id}: unexpected reply at {stage}")
            except InvalidMessageError as exc:
                run.failures.append(exc)
                continue
            replies[client] = reply
        log(INFO, "[secagg %s] %s of %s clients replied", stage, len(replies), len(records))
        return replies

    @staticmethod
    def _parse(run: _Round, replies: Mapping[int, Message], kind: type[M]) -> list[M]:
        """Parse each reply's payload against the session and the node it came from;
        one that fails is that client's dropout."""
        out = []
        for client, reply in replies.items():
            try:
                record = reply.content.config_records[wire.RECORD]
                message = kind.from_bytes(wire.read_payload(record, run.config.session_id), run.config, sender=client)
            except InvalidMessageError as exc:
                run.failures.append(exc)
                continue
            out.append(message)
        return out


def _unflatten(vector: np.ndarray, template: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Split the averaged vector into arrays shaped (and, if floating, typed) like the global parameters."""
    arrays, offset = [], 0
    for a in template:
        chunk = vector[offset : offset + a.size].reshape(a.shape)
        arrays.append(chunk.astype(a.dtype) if np.issubdtype(a.dtype, np.floating) else chunk)
        offset += a.size
    return arrays
