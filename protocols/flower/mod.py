"""The client side: a Flower mod that runs `secagg.Client` on the stage messages of `SecAggWorkflow`.

It has the shape of Flower's ``secaggplus_mod`` (``(msg, ctxt, call_next) ->
Message``) and answers each stage of Bonawitz et al. (CCS 2017, Sec. 4) with
the `secagg` message the client's method returns. At the masked-input stage it
lets the ClientApp train (``call_next``), flattens the fit result's arrays,
scales them by ``num_examples / max_weight`` with that normalized weight
appended as a protected coordinate (`protocols.aggregators.weighting`),
encodes them with `secagg.FixedPointCodec`, and uploads only the masked
vector: the reply's arrays are emptied and its ``num_examples`` set to 0.
Fit metrics the ClientApp chooses to return still travel in the clear, as
with Flower's SecAgg+.

Client state between stages. Flower's Context holds only records, and a
SuperNode may run the ClientApp in another process with the Context
serialized in between; `secagg.Client` keeps its X25519 keys and shares as
live objects with no export. So the mod keeps each node's `secagg.Client` in a
process-local dict keyed by (run id, node id), dropped when the session ends
or fails. This works wherever one process serves all stages of a node (an
in-process ClientApp, as in the tests); a ClientApp that is restarted between
stages loses the session and drops out of it (the server then handles it as a
dropout at that stage).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flwr.app import ConfigRecord, Context, Message, MessageType, MetricRecord, RecordDict
from flwr.clientapp.typing import ClientAppCallable, Mod
from flwr.common import Code, parameters_to_ndarrays
from flwr.compat.common import recorddict_compat as compat

import secagg
from protocols.aggregators.weighting import client_vector, weight_scale
from protocols.flower import session as wire
from secagg.errors import InvalidMessageError
from secagg.messages import KeyDirectory, ShareInbox, SurvivorList, UnmaskRequest

Identity = Callable[[Context], tuple[Ed25519PrivateKey, Mapping[int, Ed25519PublicKey]]]
"""Active setting: a node's own signing key and every node's verification key (by Flower node id),
obtained out of band (never from the server)."""


@dataclass
class _Session:
    setup: wire.SessionSetup
    config: secagg.SessionConfig
    client: secagg.Client


_SESSIONS: dict[tuple[int, int], _Session] = {}


def make_secagg_mod(identity: Identity | None = None) -> Mod:
    """A mod for `SecAggWorkflow`; pass ``identity`` to take part in sessions with ``active=True``."""

    def secagg_mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
        """Run one stage of our secure aggregation; other message types pass through."""
        if msg.metadata.message_type != MessageType.TRAIN:
            return call_next(msg, ctxt)
        # A train message without our record would make the ClientApp upload a plain update.
        stage, record = wire.read_stage(msg)
        key = (msg.metadata.run_id, msg.metadata.dst_node_id)
        try:
            if stage == wire.SETUP:
                _SESSIONS.pop(key, None)
                setup = wire.SessionSetup.from_record(record)
                session = _start(setup, msg.metadata.dst_node_id, ctxt, identity)
                _SESSIONS[key] = session
                reply, payload = RecordDict(), session.client.advertise_keys().to_bytes()
            else:
                session = _SESSIONS.get(key) or _no_session(stage)
                reply, payload = _run_stage(session, stage, record, msg, ctxt, call_next)
            if stage == wire.UNMASKING:
                _SESSIONS.pop(key, None)
        except BaseException:
            _SESSIONS.pop(key, None)  # whatever failed, this node has left the session
            raise
        reply.config_records[wire.RECORD] = wire.stage_record(stage, session.config.session_id, payload)
        return Message(reply, reply_to=msg)

    return secagg_mod


def _no_session(stage: str) -> _Session:
    raise secagg.StateError(f"stage {stage} arrived without a session set up on this node")


def _start(setup: wire.SessionSetup, node_id: int, ctxt: Context, identity: Identity | None) -> _Session:
    config = setup.session_config()
    signing_key = verify_keys = None
    if config.active:
        if identity is None:
            raise secagg.ConfigurationError("the active setting needs make_secagg_mod(identity=...)")
        signing_key, by_node = identity(ctxt)
        missing = [n for n in setup.node_ids if n not in by_node]
        if missing:
            raise secagg.ConfigurationError(f"no verification key for nodes {missing[:5]}")
        verify_keys = {setup.client_id(n): by_node[n] for n in setup.node_ids}
    client = secagg.Client(setup.client_id(node_id), config, signing_key=signing_key, verify_keys=verify_keys)
    return _Session(setup, config, client)


def _run_stage(
    session: _Session,
    stage: str,
    record: ConfigRecord,
    msg: Message,
    ctxt: Context,
    call_next: ClientAppCallable,
) -> tuple[RecordDict, bytes]:
    """Parse the server's message for ``stage``, run the client's round, return (reply content, payload)."""
    config, client = session.config, session.client
    payload = wire.read_payload(record, config.session_id)
    if stage == wire.SHARE_KEYS:
        return RecordDict(), client.share_keys(KeyDirectory.from_bytes(payload, config)).to_bytes()
    if stage == wire.MASKED_INPUT:
        inbox = ShareInbox.from_bytes(payload, config)
        fitted = call_next(msg, ctxt)
        words = _encode_fit_result(session.setup, fitted)
        return _hide_update(fitted.content), client.masked_input(inbox, words).to_bytes(config)
    if stage == wire.CONSISTENCY_CHECK:
        return RecordDict(), client.consistency_check(SurvivorList.from_bytes(payload, config)).to_bytes()
    return RecordDict(), client.unmask(UnmaskRequest.from_bytes(payload, config)).to_bytes()


def _encode_fit_result(setup: wire.SessionSetup, fitted: Message) -> np.ndarray:
    """[w x, w] with w = num_examples / max_weight, fixed-point encoded into Z_{2^k}."""
    if not fitted.has_content():
        raise InvalidMessageError("the ClientApp's fit returned an error, not a result")
    fitres = compat.recorddict_to_fitres(fitted.content, keep_input=True)
    if fitres.status.code != Code.OK:
        raise InvalidMessageError(f"the ClientApp's fit failed: {fitres.status.message}")
    arrays = parameters_to_ndarrays(fitres.parameters)
    update = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays]) if arrays else np.zeros(0)
    if update.shape[0] + 1 != setup.vector_length:
        raise InvalidMessageError(
            f"fit result has {update.shape[0]} parameters, the session expects {setup.vector_length - 1}"
        )
    weight = fitres.num_examples
    if not (isinstance(weight, int) and weight >= 0):
        raise InvalidMessageError(f"num_examples must be a non-negative integer, got {weight!r}")
    scale = weight_scale({0: float(weight)}, setup.max_weight)
    return setup.codec().encode(client_vector(update, float(weight), scale, protect=True))


def _hide_update(content: RecordDict) -> RecordDict:
    """The fit reply without what the masked vector protects: no arrays, num_examples 0."""
    for arrays in content.array_records.values():
        arrays.clear()
    content.metric_records["fitres.num_examples"] = MetricRecord({"num_examples": 0})
    return content


secagg_mod: Mod = make_secagg_mod()
"""The mod for `SecAggWorkflow` in the honest-but-curious setting (``active=False``)."""
