"""Our secure aggregation inside Flower 1.42's real machinery, in one process, without ray or network.

Every node's Context goes through Flower's protobuf serialization after each
message, as when the ClientApp runs in its own process, so the client's protocol
state must survive in the Context alone. The harness plays a SuperLink with SuperNodes the way Flower's own simulation
does (`flwr.simulation.run_simulation._main_loop`): an `InMemoryLinkState` with
registered nodes and a run, an `InMemoryGrid` the server workflow talks to,
and a fleet thread that pulls each node's messages from the LinkState, passes
them through Flower's protobuf wire format, runs the real `ClientApp` (its mod
chain included) and stores the replies. A node can drop at a stage by going
offline (the LinkState then answers for it with an error) or by staying silent
(the workflow's timeout ends the stage).
"""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

flwr = pytest.importorskip("flwr")

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from flwr.app import ConfigRecord, Context, Error, Message, MessageType, RecordDict  # noqa: E402
from flwr.client import NumPyClient  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402
from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays  # noqa: E402
from flwr.common.constant import (  # noqa: E402
    HEARTBEAT_INTERVAL_INF,
    NOOP_ACCOUNT_NAME,
    NOOP_FLWR_AID,
    SUPERLINK_NODE_ID,
    ErrorCode,
)
from flwr.common.serde import (  # noqa: E402
    context_from_proto,
    context_to_proto,
    message_from_proto,
    message_to_proto,
)
from flwr.compat.common import recorddict_compat as compat  # noqa: E402
from flwr.proto.message_pb2 import Context as ProtoContext  # noqa: E402
from flwr.proto.message_pb2 import Message as ProtoMessage  # noqa: E402
from flwr.proto.task_pb2 import Task  # noqa: E402
from flwr.server import LegacyContext, ServerConfig  # noqa: E402
from flwr.server.strategy import FedAvg  # noqa: E402
from flwr.server.superlink.linkstate import LinkStateFactory  # noqa: E402
from flwr.server.superlink.linkstate.in_memory_linkstate import RunRecord  # noqa: E402
from flwr.server.workflow import DefaultWorkflow  # noqa: E402
from flwr.supercore.constant import FLWR_IN_MEMORY_DB_NAME, NOOP_FEDERATION_ID  # noqa: E402
from flwr.supercore.object_store import ObjectStoreFactory  # noqa: E402
from flwr.supercore.run import Run  # noqa: E402
from flwr.supercore.task_identity import TaskIdentity  # noqa: E402
from flwr.superlink.federation import NoOpFederationManager  # noqa: E402
from flwr.superlink.grid import InMemoryGrid  # noqa: E402

import secagg  # noqa: E402
from fedsecure.wire import DIGEST_BYTES, seal_body  # noqa: E402
from protocols.aggregators.base import AggregationError  # noqa: E402
from protocols.flower import OUTCOME_RECORD, SecAggWorkflow, SessionSetup, make_secagg_mod, secagg_mod  # noqa: E402
from protocols.flower.session import RECORD, Entry, read_entries, to_record  # noqa: E402

SHAPES = ((3, 2), (4,))
MAX_WEIGHT = 100.0


def _wire_context(context: Context) -> Context:
    """A Context after a trip through Flower's protobuf form (as between SuperNode and ClientApp process)."""
    return context_from_proto(ProtoContext.FromString(context_to_proto(context).SerializeToString()))


def _wire(message: Message) -> Message:
    """What crosses the network: Flower's protobuf encoding, decoded on the other side."""
    return message_from_proto(ProtoMessage.FromString(message_to_proto(message).SerializeToString()))


def _stages(message: Message) -> tuple[str, ...]:
    """The secure-aggregation stages a message opens (two when the next round's setup rides along)."""
    records = message.content.config_records if message.has_content() else {}
    return tuple(str(stage) for stage in records[RECORD]["stages"]) if RECORD in records else ()


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
                    self._deliver(node, _wire(message))
            if idle:
                self._stop.wait(0.005)

    def _drops(self, node: int, stages: tuple[str, ...], schedule: dict[int, str]) -> bool:
        stage, _, count = schedule.get(node, "").partition("#")
        return stage in stages and self._seen[node, stage] == int(count or 1)

    def _deliver(self, node: int, message: Message) -> None:
        stages = _stages(message)
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
            self.contexts[node] = _wire_context(self.contexts[node])
        except Exception as exc:  # as Flower's runtime does: the failure travels back as an error reply
            reply = Message(Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=repr(exc)), reply_to=message)
        reply.metadata.__dict__["_message_id"] = str(uuid.uuid4())
        reply = _wire(reply)
        self.replies.append((stages, reply))
        self.state.store_message_res(reply)

    def fit_round(self, workflow: SecAggWorkflow, initial: list[np.ndarray]) -> LegacyContext:
        """One FedAvg round of the ServerApp: DefaultWorkflow with our fit workflow, every node sampled."""
        return self.fit_rounds(workflow, initial, 1, min_clients=len(self.nodes))[0]

    def fit_rounds(
        self, workflow: SecAggWorkflow, initial: list[np.ndarray], rounds: int, *, min_clients: int = 2
    ) -> tuple[LegacyContext, list[dict]]:
        """``rounds`` FedAvg rounds sampling every available node; returns the context and each round's outcome."""
        strategy = FedAvg(
            fraction_fit=1.0,
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
            outcomes.append({**context.state.config_records[OUTCOME_RECORD], "global": _global(context)})

        DefaultWorkflow(fit_workflow=recording)(self.grid, context)
        return context, outcomes


class Trainer(NumPyClient):
    """A client whose 'training' returns fixed arrays and example count."""

    def __init__(self, arrays: list[np.ndarray], examples: int) -> None:
        self.arrays, self.examples = arrays, examples

    def fit(self, parameters: list[np.ndarray], config: dict) -> tuple[list[np.ndarray], int, dict]:
        return self.arrays, self.examples, {}


def _updates(n: int, seed: int) -> tuple[list[list[np.ndarray]], list[int]]:
    rng = np.random.default_rng(seed)
    arrays = [[rng.uniform(-1, 1, shape) for shape in SHAPES] for _ in range(n)]
    return arrays, [int(e) for e in rng.integers(1, int(MAX_WEIGHT) + 1, n)]


def _app(
    updates: list[list[np.ndarray]], examples: list[int], nodes: Callable[[], list[int]], mod=secagg_mod
) -> ClientApp:
    def client_fn(context: Context):
        i = nodes().index(context.node_id)
        return Trainer(updates[i], examples[i]).to_client()

    return ClientApp(client_fn=client_fn, mods=[mod])


def _federation(n: int, seed: int, **drops: dict[int, str]) -> tuple[Federation, list[list[np.ndarray]], list[int]]:
    updates, examples = _updates(n, seed)
    holder: list[Federation] = []
    federation = Federation(n, _app(updates, examples, lambda: holder[0].nodes), **drops)
    holder.append(federation)
    return federation, updates, examples


def _global(context: LegacyContext) -> list[np.ndarray]:
    return parameters_to_ndarrays(compat.arrayrecord_to_parameters(context.state.array_records["parameters"], True))


def _check_average(context: LegacyContext, federation: Federation, updates, examples, workflow: SecAggWorkflow) -> None:
    """The new global model is the survivors' weighted average within the codec's bound."""
    outcome = context.state.config_records[OUTCOME_RECORD]
    assert outcome["status"] == "completed", outcome
    included = [federation.nodes.index(node) for node in outcome["included"]]
    weights = np.array([examples[i] / MAX_WEIGHT for i in included])
    flat = np.array([np.concatenate([a.ravel() for a in updates[i]]) for i in included])
    expected = weights @ flat / weights.sum()
    got = np.concatenate([a.ravel() for a in _global(context)])
    codec = secagg.FixedPointCodec(workflow.clip, len(federation.nodes), workflow.modulus_bits)
    delta = codec.max_sum_error(len(included))
    bound = delta * (1 + np.abs(expected).max()) / (weights.sum() - delta)
    assert np.abs(got - expected).max() <= bound
    assert outcome["total_weight"] == pytest.approx(sum(examples[i] for i in included), abs=delta * MAX_WEIGHT)


@pytest.mark.parametrize("degree", [None, 4])
def test_aggregate_is_the_weighted_average_and_nothing_else_leaves_a_client(degree: int | None) -> None:
    federation, updates, examples = _federation(7, seed=1)
    workflow = SecAggWorkflow(degree=degree, max_weight=MAX_WEIGHT)
    with federation:
        context = federation.fit_round(workflow, [np.zeros(s) for s in SHAPES])
    _check_average(context, federation, updates, examples, workflow)
    assert sorted(context.state.config_records[OUTCOME_RECORD]["included"]) == sorted(federation.nodes)
    masked = [reply for stages, reply in federation.replies if "masked_input" in stages]
    assert len(masked) == 7
    for reply in masked:  # the fit reply keeps no arrays and no example count
        assert all(len(record) == 0 for record in reply.content.array_records.values())
        assert reply.content.metric_records["fitres.num_examples"]["num_examples"] == 0


@pytest.mark.parametrize(
    ("stage", "included"),
    [("advertise_keys", False), ("share_keys", False), ("masked_input", False), ("unmasking", True)],
)
def test_a_node_going_offline_is_a_dropout_at_that_stage(stage: str, included: bool) -> None:
    federation, updates, examples = _federation(6, seed=2, offline={3: stage})
    workflow = SecAggWorkflow(threshold=3, max_weight=MAX_WEIGHT)
    with federation:
        context = federation.fit_round(workflow, [np.zeros(s) for s in SHAPES])
    _check_average(context, federation, updates, examples, workflow)
    assert (federation.nodes[3] in context.state.config_records[OUTCOME_RECORD]["included"]) is included


def test_a_silent_node_is_dropped_when_the_stage_times_out() -> None:
    federation, updates, examples = _federation(5, seed=3, silent={0: "masked_input"})
    workflow = SecAggWorkflow(degree=2, max_weight=MAX_WEIGHT, timeout=1.0)
    with federation:
        context = federation.fit_round(workflow, [np.zeros(s) for s in SHAPES])
    _check_average(context, federation, updates, examples, workflow)
    assert federation.nodes[0] not in context.state.config_records[OUTCOME_RECORD]["included"]


@settings(max_examples=15, deadline=None)
@given(
    drops=st.dictionaries(
        st.integers(0, 5), st.sampled_from(["advertise_keys", "share_keys", "masked_input", "unmasking"]), max_size=2
    ),
    seed=st.integers(0, 2**16),
)
def test_any_two_dropouts_of_six_still_give_the_survivors_average(drops: dict[int, str], seed: int) -> None:
    federation, updates, examples = _federation(6, seed=seed, offline=drops)
    workflow = SecAggWorkflow(threshold=3, max_weight=MAX_WEIGHT)
    with federation:
        context = federation.fit_round(workflow, [np.zeros(s) for s in SHAPES])
    _check_average(context, federation, updates, examples, workflow)
    dropped_early = {federation.nodes[i] for i, s in drops.items() if s != "unmasking"}
    assert set(context.state.config_records[OUTCOME_RECORD]["included"]) == set(federation.nodes) - dropped_early


def test_below_threshold_the_round_halts_and_the_model_is_unchanged() -> None:
    federation, _, _ = _federation(4, seed=4, offline={0: "share_keys", 1: "share_keys"})
    initial = [np.full(s, 0.25) for s in SHAPES]
    with federation:
        context = federation.fit_round(SecAggWorkflow(threshold=3, max_weight=MAX_WEIGHT), initial)
    outcome = context.state.config_records[OUTCOME_RECORD]
    assert outcome["status"] == "halted"
    assert "threshold" in str(outcome["reason"])
    for got, want in zip(_global(context), initial, strict=True):
        np.testing.assert_array_equal(got, want)


def test_active_setting_runs_the_consistency_round_with_out_of_band_keys() -> None:
    updates, examples = _updates(5, seed=5)
    holder: list[Federation] = []
    signing: dict[int, Ed25519PrivateKey] = {}

    def identity(context: Context):
        return signing[context.node_id], {node: key.public_key() for node, key in signing.items()}

    app = _app(updates, examples, lambda: holder[0].nodes, mod=make_secagg_mod(identity))
    federation = Federation(5, app, offline={2: "consistency_check"})
    holder.append(federation)
    signing.update({node: Ed25519PrivateKey.generate() for node in federation.nodes})
    workflow = SecAggWorkflow(
        active=True, max_weight=MAX_WEIGHT, verify_keys={node: key.public_key() for node, key in signing.items()}
    )
    with federation:
        context = federation.fit_round(workflow, [np.zeros(s) for s in SHAPES])
    _check_average(context, federation, updates, examples, workflow)
    assert any("consistency_check" in stages for stages, _ in federation.replies)
    assert federation.nodes[2] in context.state.config_records[OUTCOME_RECORD]["included"]


def test_the_mod_refuses_a_train_message_without_a_secure_aggregation_stage() -> None:
    updates, examples = _updates(1, seed=6)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, SUPERLINK_NODE_ID
    app = _app(updates, examples, lambda: [7])
    fit = Message(
        compat.fitins_to_recorddict(
            flwr.common.FitIns(ndarrays_to_parameters([np.zeros(s) for s in SHAPES]), {}), True
        ),
        dst_node_id=7,
        message_type=MessageType.TRAIN,
    )
    context = Context(run_id=1, node_id=7, node_config={}, state=RecordDict(), run_config={})
    with pytest.raises(secagg.InvalidMessageError, match="no 'secagg' record"):
        app(fit, context)


def _setup() -> SessionSetup:
    return SessionSetup(
        session_id=secrets.token_bytes(32),
        round_index=3,
        node_ids=(11, 2**62, 5),
        degree=0,
        graph_seed=secrets.token_bytes(32),
        threshold=2,
        modulus_bits=32,
        vector_length=9,
        active=False,
        clip=8.0,
        max_weight=10.0,
    )


def test_session_setup_round_trips_through_the_wire_and_rebuilds_the_same_config() -> None:
    setup = _setup()
    entry = Entry(secagg.Stage.ADVERTISE_KEYS, setup.session_id, setup.to_bytes())
    message = _wire(Message(RecordDict({RECORD: to_record([entry])}), dst_node_id=5, message_type=MessageType.TRAIN))
    (parsed_entry,) = read_entries(message)
    parsed = SessionSetup.from_bytes(parsed_entry.payload)
    assert parsed == setup
    assert parsed.session_config() == setup.session_config()
    assert parsed.client_id(5) == 3


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("node_ids", (1, 1), "node ids must be distinct"),
        ("active", 2, "active flag"),
        ("max_weight", -1.0, "max_weight"),
        ("threshold", 1, "threshold"),
        ("degree", 1, "regular graph"),
        ("modulus_bits", 1, "modulus_bits"),
    ],
)
def test_a_bad_session_setup_is_refused_naming_the_field(field: str, value: object, error: str) -> None:
    frame = dataclasses.replace(_setup(), **{field: value}).to_bytes()
    with pytest.raises(secagg.ProtocolError, match=error):
        SessionSetup.from_bytes(frame).session_config()
    with pytest.raises(secagg.InvalidMessageError, match="truncated"):
        SessionSetup.from_bytes(seal_body(frame[: -DIGEST_BYTES - 4]))


def test_workflow_parameters_are_checked_before_any_round() -> None:
    with pytest.raises(AggregationError):
        SecAggWorkflow(clip=0.5)
    with pytest.raises(AggregationError):
        SecAggWorkflow(threshold=6, degree=4)
    with pytest.raises(AggregationError):
        SecAggWorkflow(active=True)
    with pytest.raises(AggregationError):
        SecAggWorkflow(timeout=0)
    SecAggWorkflow(threshold=5, degree=4)


def test_importing_protocols_does_not_import_flwr() -> None:
    code = "import sys, protocols; assert 'flwr' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_config_record_holds_only_plain_values() -> None:
    setup = _setup()
    record = to_record([Entry(secagg.Stage.ADVERTISE_KEYS, setup.session_id, setup.to_bytes())])
    assert isinstance(record, ConfigRecord)
    assert all(isinstance(v, list) and all(isinstance(x, (bytes, str)) for x in v) for v in record.values())


def _expected_average(federation: Federation, updates, examples, included_nodes) -> np.ndarray:
    included = [federation.nodes.index(node) for node in included_nodes]
    weights = np.array([examples[i] / MAX_WEIGHT for i in included])
    return weights @ np.array([np.concatenate([a.ravel() for a in updates[i]]) for i in included]) / weights.sum()


def _check_rounds(federation: Federation, updates, examples, outcomes: list[dict]) -> None:
    for outcome in outcomes:
        assert outcome["status"] == "completed", outcome
        got = np.concatenate([a.ravel() for a in outcome["global"]])
        np.testing.assert_allclose(
            got, _expected_average(federation, updates, examples, outcome["included"]), atol=1e-5
        )


@pytest.mark.parametrize(("pipeline", "exchanges"), [(True, [4, 2, 2, 2]), (False, [4, 4, 4, 4])])
def test_pipelining_costs_two_exchanges_per_round_after_the_first(pipeline: bool, exchanges: list[int]) -> None:
    """Round r+1's keys and shares ride in round r's masked-input and unmasking exchanges (Flower's SecAgg+: 4)."""
    federation, updates, examples = _federation(7, seed=8)
    workflow = SecAggWorkflow(degree=4, max_weight=MAX_WEIGHT, pipeline=pipeline)
    with federation:
        _, outcomes = federation.fit_rounds(workflow, [np.zeros(s) for s in SHAPES], 4)
    assert [o["exchanges"] for o in outcomes] == exchanges
    assert all(sorted(o["included"]) == sorted(federation.nodes) for o in outcomes)
    _check_rounds(federation, updates, examples, outcomes)
    sessions = {
        bytes(entry) for _, reply in federation.replies for entry in reply.content.config_records[RECORD]["sessions"]
    }
    assert len(sessions) == 4  # one fresh session (keys, seeds, graph) per round


@pytest.mark.parametrize(
    ("stage", "in_round_2"),
    [("advertise_keys#2", False), ("share_keys#2", True)],
    ids=["lost at the next round's key setup", "lost at the next round's key sharing"],
)
def test_a_node_lost_while_the_next_round_is_set_up(stage: str, in_round_2: bool) -> None:
    """Round 1 sets up rounds 1 and 2 side by side; round 2's masked-input (unmasking) message also carries
    round 3's key advertisement (key sharing): a node lost there is a dropout of both sessions, each
    handled by its own rules, and round 3 still needs only two exchanges."""
    federation, updates, examples = _federation(6, seed=9, offline={3: stage})
    workflow = SecAggWorkflow(threshold=3, max_weight=MAX_WEIGHT)
    with federation:
        _, outcomes = federation.fit_rounds(workflow, [np.zeros(s) for s in SHAPES], 3)
    _check_rounds(federation, updates, examples, outcomes)
    lost = federation.nodes[3]
    assert lost in outcomes[0]["included"]
    assert (lost in outcomes[1]["included"]) is in_round_2
    assert lost not in outcomes[2]["included"]
    assert [o["exchanges"] for o in outcomes] == [4, 2, 2]


def test_losing_too_many_nodes_mid_pipeline_halts_cleanly() -> None:
    """Four of six nodes lost at the message carrying round 2's unmasking and round 3's key sharing: round 2
    falls below its threshold after the masked inputs (halted, model unchanged), round 3's prepared session
    falls below its threshold before any input, and with two nodes left no new session can open: every
    round halts cleanly, never a wrong sum."""
    drops = {i: "share_keys#2" for i in range(4)}
    federation, updates, examples = _federation(6, seed=10, offline=drops)
    workflow = SecAggWorkflow(threshold=3, max_weight=MAX_WEIGHT)
    with federation:
        _, outcomes = federation.fit_rounds(workflow, [np.zeros(s) for s in SHAPES], 3)
    _check_rounds(federation, updates, examples, outcomes[:1])
    assert [o["status"] for o in outcomes] == ["completed", "halted", "halted"]
    assert all("threshold" in str(o["reason"]) for o in outcomes[1:])
    for halted in outcomes[1:]:
        for got, want in zip(halted["global"], outcomes[0]["global"], strict=True):
            np.testing.assert_array_equal(got, want)
