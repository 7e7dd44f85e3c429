"""The client side: a Flower mod that answers `SecAggWorkflow`'s messages with `secagg`'s client.

It has the shape of Flower's ``secaggplus_mod`` (``(msg, ctxt, call_next) -> Message``). A message
may serve two sessions at once (the current round's and the next round's setup, see
`protocols.flower.workflow`); each entry is answered by `secagg.coordinator.respond` for its own
session. Only a ``masked_input`` entry lets the ClientApp train (``call_next``): the mod flattens the
fit result's arrays, scales them by ``num_examples / max_weight`` with that normalized weight
appended as a protected coordinate (`protocols.aggregators.weighting`), encodes them with
`secagg.FixedPointCodec`, and uploads only the masked vector: the reply's arrays are emptied and its
``num_examples`` set to 0. Fit metrics the ClientApp chooses to return still travel in the clear,
as with Flower's SecAgg+. Under XNoise the client also draws the session's removable noise components
(`SessionSetup.noise_sampler`, rebuilt from the setup alone) and shares their seeds (`secagg.noise`).

Between messages each session's client lives in the node's Flower Context (``context.state``),
which the SuperNode keeps between the messages of a run: the session setup and
`secagg.Client.export_state()` bytes, keyed by session id. A ClientApp may therefore run every
message in a fresh process. Those bytes hold the client's private keys and shares; they stay in the
node's own state and are dropped when the session ends or fails, and sessions two rounds old are
dropped when a new one opens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from logging import WARNING

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flwr.app import ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.clientapp.typing import ClientAppCallable, Mod
from flwr.common import log

import secagg
from fedsecure.errors import FedsecureError
from protocols.flower import session as wire
from protocols.flower.fit import fit_update, hide_update
from secagg.coordinator import respond
from secagg.errors import InvalidMessageError

Identity = Callable[[Context], tuple[Ed25519PrivateKey, Mapping[int, Ed25519PublicKey]]]
"""Active setting: a node's own signing key and every node's verification key (by Flower node id),
obtained out of band (never from the server)."""

_STATE = "secagg.session."
"""Prefix of the Context records holding one session's setup and client state, by session id."""


@dataclass
class _Session:
    setup: wire.SessionSetup
    client: secagg.Client


def make_secagg_mod(identity: Identity | None = None) -> Mod:
    """A mod for `SecAggWorkflow`; pass ``identity`` to take part in sessions with ``active=True``."""

    def secagg_mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
        """Answer every session entry of a train message; other message types pass through."""
        if msg.metadata.message_type != MessageType.TRAIN:
            return call_next(msg, ctxt)
        # A train message without our record would make the ClientApp upload a plain update.
        answers, content = [], RecordDict()
        for entry in wire.read_entries(msg):
            try:
                answer, fitted = _answer(entry, msg, ctxt, call_next, identity)
            except FedsecureError as exc:
                # This node leaves that session only (its entry is missing from the reply: a dropout
                # there); the other session the message serves goes on.
                log(WARNING, "secure aggregation: leaving session %s: %s", entry.session_id.hex()[:12], exc)
                continue
            answers.append(answer)
            if fitted is not None:
                content = hide_update(fitted.content)
        content.config_records[wire.RECORD] = wire.to_record(answers)
        return Message(content, reply_to=msg)

    return secagg_mod


def _answer(
    entry: wire.Entry, msg: Message, ctxt: Context, call_next: ClientAppCallable, identity: Identity | None
) -> tuple[wire.Entry, Message | None]:
    """One session's reply, and the ClientApp's fit result when this entry opened the masked-input round."""
    fitted: list[Message] = []
    try:
        session = _open(entry, msg.metadata.dst_node_id, ctxt, identity)

        def update() -> np.ndarray:
            fitted.append(call_next(msg, ctxt))
            return _encode_fit_result(session.setup, fitted[0])

        frame = None if entry.stage == secagg.Stage.ADVERTISE_KEYS else entry.payload
        answer = respond(session.client, frame, update)
    except BaseException:
        _forget(ctxt, entry.session_id)  # whatever failed, this node has left that session
        raise
    if session.client.expecting is None:
        _forget(ctxt, entry.session_id)
    else:
        _save(ctxt, session)
    return wire.Entry(entry.stage, entry.session_id, answer), fitted[0] if fitted else None


def _open(entry: wire.Entry, node: int, ctxt: Context, identity: Identity | None) -> _Session:
    """A new session's client (its setup is the payload), or the saved client of a running one."""
    if entry.stage == secagg.Stage.ADVERTISE_KEYS:
        setup = wire.SessionSetup.from_bytes(entry.payload)
        if setup.session_id != entry.session_id:
            raise InvalidMessageError("the session setup names another session")
        _forget_older(ctxt, setup.round_index)
        config = setup.session_config()
        signing_key, verify_keys = _identities(setup, config, ctxt, identity)
        client = secagg.Client(
            setup.client_id(node), config, signing_key=signing_key, verify_keys=verify_keys, noise=setup.noise_sampler()
        )
        return _Session(setup, client)
    record = ctxt.state.config_records.get(_STATE + entry.session_id.hex())
    if record is None:
        raise secagg.StateError(f"{entry.stage.name} arrived for a session this node has not set up")
    saved_setup, saved = record.get("setup"), record.get("client")
    if not isinstance(saved_setup, bytes) or not isinstance(saved, bytes):
        raise secagg.StateError("the saved session state is not bytes")
    setup = wire.SessionSetup.from_bytes(saved_setup)
    config = setup.session_config()
    signing_key, verify_keys = _identities(setup, config, ctxt, identity)
    client = secagg.Client.restore(
        saved, config, signing_key=signing_key, verify_keys=verify_keys, noise=setup.noise_sampler()
    )
    if client.id != setup.client_id(node):
        raise secagg.StateError("the saved client state belongs to another node")
    return _Session(setup, client)


def _save(ctxt: Context, session: _Session) -> None:
    key = _STATE + session.setup.session_id.hex()
    ctxt.state.config_records[key] = ConfigRecord(
        {"setup": session.setup.to_bytes(), "client": session.client.export_state(), "round": session.setup.round_index}
    )


def _forget(ctxt: Context, session_id: bytes) -> None:
    ctxt.state.config_records.pop(_STATE + session_id.hex(), None)


def _forget_older(ctxt: Context, round_index: int) -> None:
    """Drop sessions two or more rounds older than a new one: their server has moved on."""
    records = ctxt.state.config_records
    for key in [k for k in records if k.startswith(_STATE)]:
        saved_round = records[key].get("round")
        if not isinstance(saved_round, int) or saved_round < round_index - 1:
            records.pop(key)


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


def _encode_fit_result(setup: wire.SessionSetup, fitted: Message) -> np.ndarray:
    """The fit result's ring words in the session's encoding (`SessionSetup.encode`)."""
    update, examples = fit_update(fitted, setup.update_length)
    return setup.encode(update, examples)


secagg_mod: Mod = make_secagg_mod()
"""The mod for `SecAggWorkflow` in the honest-but-curious setting (``active=False``)."""
