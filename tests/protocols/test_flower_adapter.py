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

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

flwr = pytest.importorskip("flwr")

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from flwr.app import ConfigRecord, Context, Message, MessageType, RecordDict  # noqa: E402
from flwr.common import ndarrays_to_parameters  # noqa: E402
from flwr.common.constant import SUPERLINK_NODE_ID  # noqa: E402
from flwr.compat.common import recorddict_compat as compat  # noqa: E402
from flwr.server import LegacyContext  # noqa: E402
from flwr.supercore.task_identity import TaskIdentity  # noqa: E402

import secagg  # noqa: E402
from fedsecure.wire import DIGEST_BYTES, seal_body  # noqa: E402
from protocols.aggregators.base import AggregationError  # noqa: E402
from protocols.flower import OUTCOME_RECORD, SecAggWorkflow, SessionSetup, make_secagg_mod  # noqa: E402
from protocols.flower.session import RECORD, Entry, read_entries, to_record  # noqa: E402

from flower_testing import (  # noqa: E402
    MAX_WEIGHT,
    SHAPES,
    Federation,
    app_of,
    global_arrays,
    make_federation,
    updates_of,
    wire,
)


def _check_average(context: LegacyContext, federation: Federation, updates, examples, workflow: SecAggWorkflow) -> None:
    """The new global model is the survivors' weighted average within the codec's bound."""
    outcome = context.state.config_records[OUTCOME_RECORD]
    assert outcome["status"] == "completed", outcome
    included = [federation.nodes.index(node) for node in outcome["included"]]
    weights = np.array([examples[i] / MAX_WEIGHT for i in included])
    flat = np.array([np.concatenate([a.ravel() for a in updates[i]]) for i in included])
    expected = weights @ flat / weights.sum()
    got = np.concatenate([a.ravel() for a in global_arrays(context)])
    codec = secagg.FixedPointCodec(workflow.clip, len(federation.nodes), workflow.modulus_bits)
    delta = codec.max_sum_error(len(included))
    bound = delta * (1 + np.abs(expected).max()) / (weights.sum() - delta)
    assert np.abs(got - expected).max() <= bound
    assert outcome["total_weight"] == pytest.approx(sum(examples[i] for i in included), abs=delta * MAX_WEIGHT)


@pytest.mark.parametrize("degree", [None, 4])
def test_aggregate_is_the_weighted_average_and_nothing_else_leaves_a_client(degree: int | None) -> None:
    federation, updates, examples = make_federation(7, seed=1)
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
    federation, updates, examples = make_federation(6, seed=2, offline={3: stage})
    workflow = SecAggWorkflow(threshold=3, max_weight=MAX_WEIGHT)
    with federation:
        context = federation.fit_round(workflow, [np.zeros(s) for s in SHAPES])
    _check_average(context, federation, updates, examples, workflow)
    assert (federation.nodes[3] in context.state.config_records[OUTCOME_RECORD]["included"]) is included


def test_a_silent_node_is_dropped_when_the_stage_times_out() -> None:
    federation, updates, examples = make_federation(5, seed=3, silent={0: "masked_input"})
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
    federation, updates, examples = make_federation(6, seed=seed, offline=drops)
    workflow = SecAggWorkflow(threshold=3, max_weight=MAX_WEIGHT)
    with federation:
        context = federation.fit_round(workflow, [np.zeros(s) for s in SHAPES])
    _check_average(context, federation, updates, examples, workflow)
    dropped_early = {federation.nodes[i] for i, s in drops.items() if s != "unmasking"}
    assert set(context.state.config_records[OUTCOME_RECORD]["included"]) == set(federation.nodes) - dropped_early


def test_below_threshold_the_round_halts_and_the_model_is_unchanged() -> None:
    federation, _, _ = make_federation(4, seed=4, offline={0: "share_keys", 1: "share_keys"})
    initial = [np.full(s, 0.25) for s in SHAPES]
    with federation:
        context = federation.fit_round(SecAggWorkflow(threshold=3, max_weight=MAX_WEIGHT), initial)
    outcome = context.state.config_records[OUTCOME_RECORD]
    assert outcome["status"] == "halted"
    assert "threshold" in str(outcome["reason"])
    for got, want in zip(global_arrays(context), initial, strict=True):
        np.testing.assert_array_equal(got, want)


def test_active_setting_runs_the_consistency_round_with_out_of_band_keys() -> None:
    updates, examples = updates_of(5, seed=5)
    holder: list[Federation] = []
    signing: dict[int, Ed25519PrivateKey] = {}

    def identity(context: Context):
        return signing[context.node_id], {node: key.public_key() for node, key in signing.items()}

    app = app_of(updates, examples, lambda: holder[0].nodes, mod=make_secagg_mod(identity))
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
    updates, examples = updates_of(1, seed=6)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, SUPERLINK_NODE_ID
    app = app_of(updates, examples, lambda: [7])
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
    message = wire(Message(RecordDict({RECORD: to_record([entry])}), dst_node_id=5, message_type=MessageType.TRAIN))
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
    federation, updates, examples = make_federation(7, seed=8)
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
    federation, updates, examples = make_federation(6, seed=9, offline={3: stage})
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
    federation, updates, examples = make_federation(6, seed=10, offline=drops)
    workflow = SecAggWorkflow(threshold=3, max_weight=MAX_WEIGHT)
    with federation:
        _, outcomes = federation.fit_rounds(workflow, [np.zeros(s) for s in SHAPES], 3)
    _check_rounds(federation, updates, examples, outcomes[:1])
    assert [o["status"] for o in outcomes] == ["completed", "halted", "halted"]
    assert all("threshold" in str(o["reason"]) for o in outcomes[1:])
    for halted in outcomes[1:]:
        for got, want in zip(halted["global"], outcomes[0]["global"], strict=True):
            np.testing.assert_array_equal(got, want)


def _setups_received(federation: Federation) -> list[SessionSetup]:
    """The session setups the nodes received (the payloads of their ``advertise_keys`` entries)."""
    return [
        SessionSetup.from_bytes(entry.payload)
        for _, message in federation.delivered
        for entry in read_entries(message)
        if entry.stage == secagg.Stage.ADVERTISE_KEYS
    ]


def test_sessions_are_sized_from_the_threat_model() -> None:
    """Eight nodes, up to 25% corrupt and 25% dropping out, semi-honest server: every node runs the session
    `secagg.plan_session` derives (a degree-6 graph at threshold 3, not the default plan's degree and
    threshold), and the two modelled dropouts at the masked input still give the survivors' average."""
    model = {"corrupt_rate": 0.25, "dropout_rate": 0.25, "adversary": "semi_honest"}
    plan = secagg.plan_session(8, **model)
    default = secagg.plan_session(8, degree=4)
    assert (plan.degree, plan.threshold) == (6, 3) != (default.degree, default.threshold)
    federation, updates, examples = make_federation(8, seed=30, offline={2: "masked_input", 5: "masked_input"})
    workflow = SecAggWorkflow(max_weight=MAX_WEIGHT, **model)
    with federation:
        context = federation.fit_round(workflow, [np.zeros(s) for s in SHAPES])
    _check_average(context, federation, updates, examples, workflow)
    outcome = context.state.config_records[OUTCOME_RECORD]
    assert (outcome["degree"], outcome["threshold"]) == (plan.degree, plan.threshold)
    assert len(outcome["included"]) == 6
    setups = _setups_received(federation)
    assert len(setups) == 8 and len({s.to_bytes() for s in setups}) == 1  # one setup, sent to every node
    config = setups[0].session_config()
    assert config.threshold == plan.threshold
    assert {len(neighbours) for neighbours in config.neighbours.values()} == {plan.degree}


def test_an_infeasible_threat_model_is_refused_up_front() -> None:
    for kwargs, error in (
        ({"corrupt_rate": 0.5, "dropout_rate": 0.5}, "corrupt_rate \\+ dropout_rate must be below 1"),
        ({"corrupt_rate": 0.3, "dropout_rate": 0.4, "adversary": "semi_malicious"}, "2 \\* dropout_rate"),
        ({"adversary": "curious"}, "adversary must be one of"),
        ({"corrupt_rate": 0.1, "degree": 4}, "not both"),
        ({"corrupt_rate": 0.1, "adversary": "semi_honest", "active": True, "verify_keys": {}}, "semi_malicious"),
    ):
        with pytest.raises(AggregationError, match=error):
            SecAggWorkflow(**kwargs)


def test_a_round_too_small_for_the_threat_model_halts_before_any_message() -> None:
    """Half of two nodes dropping leaves one holder: no threshold of at least 2 can be met."""
    federation, _, _ = make_federation(2, seed=31)
    with federation:
        context = federation.fit_round(SecAggWorkflow(dropout_rate=0.5, max_weight=MAX_WEIGHT), [np.zeros(3)])
    outcome = context.state.config_records[OUTCOME_RECORD]
    assert outcome["status"] == "halted" and "no degree" in str(outcome["reason"])
    assert outcome["exchanges"] == 0 and federation.delivered == []
