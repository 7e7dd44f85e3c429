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

Client state between stages lives in the node's Flower Context
(``context.state``), which the SuperNode keeps between the messages of a run:
the session setup record and `secagg.Client.export_state()` bytes, from which
each stage restores the client. A ClientApp may therefore run every stage in a
fresh process. Those bytes hold the client's private keys and shares; they stay
in the node's own state and are dropped when the session ends or fails.
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


_SETUP_STATE = "secagg.setup"
_CLIENT_STATE = "secagg.client"


def make_secagg_mod(identity: Identity | None = None) -> Mod:
    """A mod for `SecAggWorkflow`; pass ``identity`` to take part in sessions with ``active=True``."""

    def secagg_mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
        """Run one stage of our secure aggregation; other message types pass through."""
        if msg.metadata.message_type != MessageType.TRAIN:
            return call_next(msg, ctxt)
        # A train message without our record would make the ClientApp upload a plain update.
        stage, record = wire.read_stage(msg)
        try:
            if stage == wire.SETUP:
                _forget(ctxt)
                setup = wire.SessionSetup.from_record(record)
                session = _start(setup, msg.metadata.dst_node_id, ctxt, identity)
                reply, payload = RecordDict(), session.client.advertise_keys().to_bytes(session.config)
            else:
                session = _resume(stage, msg.metadata.dst_node_id, ctxt, identity)
                reply, payload = _run_stage(session, stage, record, msg, ctxt, call_next)
        except BaseException:
            _forget(ctxt)  # whatever failed, this node has left the session
            raise
        if stage == wire.UNMASKING:
            _forget(ctxt)
        else:
            _save(ctxt, session)
        reply.config_records[wire.RECORD] = wire.stage_record(stage, session.config.session_id, payload)
        return Message(reply, reply_to=msg)

    return secagg_mod


def _save(ctxt: Context, session: _Session) -> None:
    ctxt.state.config_records[_SETUP_STATE] = session.setup.to_record()
    ctxt.state.config_records[_CLIENT_STATE] = ConfigRecord({"state": session.client.export_state()})


def _forget(ctxt: Context) -> None:
    for name in (_SETUP_STATE, _CLIENT_STATE):
        ctxt.state.config_records.pop(name, None)


def _resume(stage: str, node_id: int, ctxt: Context, identity: Identity | None) -> _Session:
    """Rebuild this node's client from the state saved after its previous stage."""
    records = ctxt.state.config_records
    if _SETUP_STATE not in records or _CLIENT_STATE not in records:
        raise secagg.StateError(f"stage {stage} arrived without a session set up on this node")
    setup = wire.SessionSetup.from_record(records[_SETUP_STATE])
    config = setup.session_config()
    saved = records[_CLIENT_STATE]["state"]
    if not isinstance(saved, bytes):
        raise secagg.StateError("the saved client state is not bytes")
    signing_key, verify_keys = _identities(setup, config, ctxt, identity)
    client = secagg.Client.restore(saved, config, signing_key=signing_key, verify_keys=verify_keys)
    if client.id != setup.client_id(node_id):
        raise secagg.StateError("the saved client state belongs to another node")
    return _Session(setup, config, client)


def _start(setup: wire.SessionSetup, node_id: int, ctxt: Context, identity: Identity | None) -> _Session:
    config = setup.session_config()
    signing_key, verify_keys = _identities(setup, config, ctxt, identity)
    client = secagg.Client(setup.client_id(node_id), config, signing_key=signing_key, verify_keys=verify_keys)
    return _Session(setup, config, client)


def _identities(
    setup: wire.SessionSetup, config: secagg.SessionConfig, ctxt: Context, identity: Identity | None
) -> tuple[Ed25519PrivateKey | None, dict[int, Ed25519PublicKey] | None]:
    """The active setting's own signing key and the peers' verification keys, by protocol id."""
    if not config.active:
        return None, None
    if identity is None:
        raise secagg.ConfigurationError("the active setting needs make_secagg_mod(identity=...)")
    signing_key, by_node = identity(ctxt)
    missing = [n for n in setup.node_ids if n not in by_node]
    if missing:
        raise secagg.ConfigurationError(f"no verification key for nodes {missing[:5]}")
    return signing_key, {setup.client_id(n): by_node[n] for n in setup.node_ids}


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
    me = client.id
    if stage == wire.SHARE_KEYS:
        return RecordDict(), client.share_keys(KeyDirectory.from_bytes(payload, config, receiver=me)).to_bytes(config)
    if stage == wire.MASKED_INPUT:
        inbox = ShareInbox.from_bytes(payload, config, receiver=me)
        fitted = call_next(msg, ctxt)
        words = _encode_fit_result(session.setup, fitted)
        return _hide_update(fitted.content), client.masked_input(inbox, words).to_bytes(config)
    if stage == wire.CONSISTENCY_CHECK:
        survivors = SurvivorList.from_bytes(payload, config, receiver=me)
        return RecordDict(), client.consistency_check(survivors).to_bytes(config)
    return RecordDict(), client.unmask(UnmaskRequest.from_bytes(payload, config, receiver=me)).to_bytes(config)


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
