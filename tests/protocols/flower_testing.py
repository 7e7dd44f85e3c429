"""The in-memory Flower federation the adapter tests run on (see test_flower_adapter's docstring).

A harness playing a SuperLink with SuperNodes the way Flower's own simulation does
(`flwr.simulation.run_simulation._main_loop`): an `InMemoryLinkState` with registered nodes and a
run, an `InMemoryGrid` the server workflow talks to, and a fleet thread that pulls each node's
messages, passes them through Flower's protobuf wire format, runs the real `ClientApp` (its mod
chain included) and stores the replies. Every node's Context goes through protobuf after each
message, as when the ClientApp runs in its own process.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable

import numpy as np
from flwr.app import Context, Error, Message, RecordDict
from flwr.client import NumPyClient
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import Mod
from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
from flwr.common.constant import (
    HEARTBEAT_INTERVAL_INF,
    NOOP_ACCOUNT_NAME,
    NOOP_FLWR_AID,
    SUPERLINK_NODE_ID,
    ErrorCode,
)
from flwr.common.serde import context_from_proto, context_to_proto, message_from_proto, message_to_proto
from flwr.compat.common import recorddict_compat as compat
from flwr.proto.message_pb2 import Context as ProtoContext
from flwr.proto.message_pb2 import Message as ProtoMessage
from flwr.proto.task_pb2 import Task
from flwr.server import LegacyContext, ServerConfig
from flwr.server.strategy import FedAvg
from flwr.server.superlink.linkstate import LinkStateFactory
from flwr.server.superlink.linkstate.in_memory_linkstate import RunRecord
from flwr.server.workflow import DefaultWorkflow
from flwr.supercore.constant import FLWR_IN_MEMORY_DB_NAME, NOOP_FEDERATION_ID
from flwr.supercore.object_store import ObjectStoreFactory
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity
from flwr.superlink.federation import NoOpFederationManager
from flwr.superlink.grid import InMemoryGrid

from protocols.flower import OUTCOME_RECORD, secagg_mod
from protocols.flower.he_node import RECORD as HE_RECORD
from protocols.flower.session import RECORD

SHAPES = ((3, 2), (4,))
MAX_WEIGHT = 100.0


def wire_context(context: Context) -> Context:
    """A Context after a trip through Flower's protobuf form (as between SuperNode and ClientApp process)."""
    return context_from_proto(ProtoContext.FromString(context_to_proto(context).SerializeToString()))


def wire(message: Message) -> Message:
    """What crosses the network: Flower's protobuf encoding, decoded on the other side."""
    return message_from_proto(ProtoMessage.FromString(message_to_proto(message).SerializeToString()))


def stages_of(message: Message) -> tuple[str, ...]:
    """The stages a message opens: secure aggregation's (two when the next round's setup rides along), or HE's."""
    records = message.content.config_records if message.has_content() else {}
    if RECORD in records:
        return tuple(str(stage) for stage in records[RECORD]["stages"])
    return (str(records[HE_RECORD]["stage"]),) if HE_RECORD in records else ()


class Federation:
    """n SuperNodes on an in-memory SuperLink; ``offline``/``silent`` map a node index to the stage it drops at,
    ``"stage"`` for the first message that opens it or ``"stage#k"`` for the k-th (a later round's)."""

    def __init__(self, n: int, app: ClientApp, *, offline: dict[int, str] = {}, silent: dict[int, str] = {}) -> None:  # noqa: B006
        self.factory = LinkStateFactory(FLWR_IN_MEMORY_DB_NAME, NoOpFederationManager(), ObjectStoreFactory())
        self.state = self.factory.state()
        self.nodes = []
        for _ in range(n):
            node = self.state.create_node(
                NOOP_FLWR_AID, NOOP_ACCOUNT_NAME, secrets.token_bytes(32), heartbeat_interval=HEARTBEAT_INTERVAL_INF
            )
            self.state.acknowledge_node_heartbeat(node_id=node, heartbeat_interval=HEARTBEAT_INTERVAL_INF)
            self.nodes.append(node)
        run = Run.create_empty(run_id=secrets.randbelow(2**40) + 1)
        run.primary_task_id = secrets.randbelow(2**40) + 1
        run.federation_id = NOOP_FEDERATION_ID
        self.state.run_ids[run.run_id] = RunRecord(run=run)
        self.state.task_store[run.primary_task_id] = Task(task_id=run.primary_task_id, run_id=run.run_id)
        TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, run.run_id, SUPERLINK_NODE_ID
        self.run = run
        self.grid = InMemoryGrid(self.factory, pull_interval=0.005)
        self.grid.set_run(run)
        self.app = app
        self.contexts = {
            node: Context(run_id=run.run_id, node_id=node, node_config={}, state=RecordDict(), run_config={})
            for node in self.nodes
        }
        self.offline = {self.nodes[i]: s for i, s in offline.items()}
        self.silent = {self.nodes[i]: s for i, s in silent.items()}
        self.replies: list[tuple[tuple[str, ...], Message]] = []
        self.delivered: list[tuple[int, Message]] = []
        """Every message a node received (as it crossed the wire), with the node."""
        self._seen: dict[tuple[int, str], int] = {}
        self._stop = threading.Event()
        self._fleet = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Federation:
        self._fleet.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._fleet.join()

    def _serve(self) -> None:
        while not self._stop.is_set():
            idle = True
            for node in self.nodes:
                for message in self.state.get_message_ins(node_id=node, limit=None):
                    idle = False
                    self._deliver(node, wire(message))
            if idle:
                self._stop.wait(0.005)

    def _drops(self, node: int, stages: tuple[str, ...], schedule: dict[int, str]) -> bool:
        stage, _, count = schedule.get(node, "").partition("#")
        return stage in stages and self._seen[node, stage] == int(count or 1)

    def _deliver(self, node: int, message: Message) -> None:
        self.delivered.append((node, message))
        stages = stages_of(message)
        for stage in set(stages):
            self._seen[node, stage] = self._seen.get((node, stage), 0) + 1
        if self._drops(node, stages, self.offline):
            self.state.deactivate_node(node)  # heartbeats stop; the LinkState answers for it
            return
        if self._drops(node, stages, self.silent):
            return
        try:
            reply = self.app(message, self.contexts[node])
            # As a SuperNode running the ClientApp in its own process does, keep only what
            # survives Flower's Context serialization: the mod holds no state elsewhere.
            self.contexts[node] = wire_context(self.contexts[node])
        except Exception as exc:  # as Flower's runtime does: the failure travels back as an error reply
            reply = Message(Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=repr(exc)), reply_to=message)
        reply.metadata.__dict__["_message_id"] = str(uuid.uuid4())
        reply = wire(reply)
        self.replies.append((stages, reply))
        self.state.store_message_res(reply)

    def fit_round(self, workflow: Callable, initial: list[np.ndarray]) -> LegacyContext:
        """One FedAvg round of the ServerApp: DefaultWorkflow with our fit workflow, every node sampled."""
        return self.fit_rounds(workflow, initial, 1, min_clients=len(self.nodes))[0]

    def fit_rounds(
        self,
        workflow: Callable,
        initial: list[np.ndarray],
        rounds: int,
        *,
        min_clients: int = 2,
        fraction_fit: float = 1.0,
    ) -> tuple[LegacyContext, list[dict]]:
        """``rounds`` FedAvg rounds sampling every available node; returns the context and each round's outcome."""
        strategy = FedAvg(
            fraction_fit=fraction_fit,
            fraction_evaluate=0.0,
            min_fit_clients=min_clients,
            min_available_clients=min_clients,
            initial_parameters=ndarrays_to_parameters(initial),
        )
        server_context = Context(run_id=self.run.run_id, node_id=0, node_config={}, state=RecordDict(), run_config={})
        context = LegacyContext(server_context, config=ServerConfig(num_rounds=rounds), strategy=strategy)
        outcomes: list[dict] = []

        def recording(grid, context: LegacyContext) -> None:
            workflow(grid, context)
            outcomes.append({**context.state.config_records[OUTCOME_RECORD], "global": global_arrays(context)})

        DefaultWorkflow(fit_workflow=recording)(self.grid, context)
        return context, outcomes


class Trainer(NumPyClient):
    """A client whose 'training' returns fixed arrays and example count."""

    def __init__(self, arrays: list[np.ndarray], examples: int) -> None:
        self.arrays, self.examples = arrays, examples

    def fit(self, parameters: list[np.ndarray], config: dict) -> tuple[list[np.ndarray], int, dict]:
        return self.arrays, self.examples, {}


def updates_of(n: int, seed: int) -> tuple[list[list[np.ndarray]], list[int]]:
    rng = np.random.default_rng(seed)
    arrays = [[rng.uniform(-1, 1, shape) for shape in SHAPES] for _ in range(n)]
    return arrays, [int(e) for e in rng.integers(1, int(MAX_WEIGHT) + 1, n)]


def app_of(
    updates: list[list[np.ndarray]], examples: list[int], nodes: Callable[[], list[int]], mod=secagg_mod
) -> ClientApp:
    def client_fn(context: Context):
        i = nodes().index(context.node_id)
        return Trainer(updates[i], examples[i]).to_client()

    return ClientApp(client_fn=client_fn, mods=[mod])


def make_federation(
    n: int, seed: int, mod: Mod = secagg_mod, **drops: dict[int, str]
) -> tuple[Federation, list[list[np.ndarray]], list[int]]:
    updates, examples = updates_of(n, seed)
    holder: list[Federation] = []
    federation = Federation(n, app_of(updates, examples, lambda: holder[0].nodes, mod), **drops)
    holder.append(federation)
    return federation, updates, examples


def global_arrays(context: LegacyContext) -> list[np.ndarray]:
    return parameters_to_ndarrays(compat.arrayrecord_to_parameters(context.state.array_records["parameters"], True))
