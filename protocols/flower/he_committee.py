"""The node side of threshold Paillier on Flower: k key-holder nodes, any t of whom decrypt the sum.

`he.ThresholdPaillierScheme` (Damgard and Jurik, PKC 2001, Sec. 4; Shoup's decryption shares and
proofs, EUROCRYPT 2000, Sec. 3) deals a key to k holders. On Flower the dealing crosses the ServerApp,
so each share travels sealed to its holder, in three exchanges once per run:

1. ``enroll`` (every holder): generate an X25519 key for the dealing, keep its private half in the
   node's Context, reply with the public half;
2. ``deal`` (the dealer, one of the holders): draw the key, and seal holder i's state
   (`ThresholdKeyHolder.export_secret`) under HKDF-SHA256(X25519(dealer ephemeral, holder i's key))
   with AES-GCM bound to the dealing id and the pair (dealer 0, holder i) (`secagg.crypto`); reply
   with the public key, the dealer's ephemeral public key and the k sealed states, then forget the
   factorization and every share (the trust assumption of a dealer, `he.threshold_paillier`);
3. ``accept`` (every holder): open its sealed state, check it against the public key the server
   announces (its share must match its verification key) and keep it in the Context.

Each round, ``partial`` (every holder): the partial decryption of the server's aggregate with its
proof of correctness; the server combines any t that verify (`ThresholdPaillierPublic.combine`) and
names a holder whose proof fails. Like the single key holder, a holder refuses ciphertexts declaring
less total weight than ``min_weight`` (unauthenticated metadata: a sanity check, not a guarantee).

The dealing's X25519 keys are not signed: this protects the shares against a server that follows
the protocol (honest-but-curious, the setting of `SecAggWorkflow` without identities), not against
one that substitutes the enrollment keys.
"""

from __future__ import annotations

import secrets
from typing import cast

from flwr.app import ConfigRecord, Context

from fedsecure import checks
from secagg import crypto
from secagg.errors import InvalidMessageError, StateError

ENROLL, DEAL, ACCEPT, PARTIAL = "enroll", "deal", "accept", "partial"
STAGES = (ENROLL, DEAL, ACCEPT, PARTIAL)
DEALING_ID_BYTES = 16
_DEALER = 0
"""The dealer's party number in the sealing's key derivation and associated data (holders are 1..k)."""
_PURPOSE = b"fedsecure/he-threshold-dealing/v1"
_ENROLLMENT = "he.enrollment"
_HOLDER = "he.threshold_holder"


def answer(stage: str, record: ConfigRecord, ctxt: Context) -> dict[str, object]:
    """The reply fields of a threshold stage (module docstring)."""
    if stage == ENROLL:
        return _enroll(ctxt)
    if stage == DEAL:
        return _deal(record)
    if stage == ACCEPT:
        return _accept(record, ctxt)
    return _partial(record, ctxt)


def _enroll(ctxt: Context) -> dict[str, object]:
    key = crypto.generate_x25519()
    ctxt.state.config_records[_ENROLLMENT] = ConfigRecord({"private": crypto.private_bytes(key)})
    return {"public": crypto.public_bytes(key)}


def _sealing_key(shared: bytes, dealing_id: bytes, index: int) -> bytes:
    return crypto.derive_key(
        shared, purpose=_PURPOSE, session_id=dealing_id, round_index=0, a=_DEALER, b=index, length=32
    )


def _deal(record: ConfigRecord) -> dict[str, object]:
    import he  # on use (see protocols.flower.he_node)

    dealing_id = record_bytes(record, "dealing_id")
    enrolled = record.get("holders")
    if not isinstance(enrolled, list) or not all(isinstance(k, bytes) for k in enrolled):
        raise InvalidMessageError("the deal record's 'holders' is not a list of public keys")
    dealing = he.ThresholdPaillierScheme.generate(
        holders=len(enrolled),
        threshold=checks.integer("threshold", record.get("threshold"), error=InvalidMessageError, low=1),
        key_bits=checks.integer("key_bits", record.get("key_bits"), error=InvalidMessageError),
        bits=checks.integer("bits", record.get("bits"), error=InvalidMessageError),
        clip=checks.real("clip", record.get("clip"), error=InvalidMessageError, low=0.0, low_open=True),
        max_total_weight=checks.integer("max_clients", record.get("max_clients"), error=InvalidMessageError),
        fast_encryption=bool(record.get("fast_encryption")),
    )
    ephemeral = crypto.generate_x25519()
    sealed = []
    for holder, public in zip(dealing.holders, cast(list[bytes], enrolled), strict=True):
        key = _sealing_key(crypto.agree(ephemeral, public), dealing_id, holder.index)
        sealed.append(
            crypto.seal(key, holder.export_secret(), session_id=dealing_id, sender=_DEALER, receiver=holder.index)
        )
    return {"public": dealing.public_bytes, "dealer": crypto.public_bytes(ephemeral), "sealed": sealed}


def _accept(record: ConfigRecord, ctxt: Context) -> dict[str, object]:
    import he  # on use

    enrollment = ctxt.state.config_records.get(_ENROLLMENT)
    if enrollment is None or not isinstance(enrollment.get("private"), bytes):
        raise StateError("a sealed key share arrived at a node that did not enroll")
    private = crypto.x25519_from_private(enrollment["private"])  # type: ignore[arg-type]
    dealing_id = record_bytes(record, "dealing_id")
    index = checks.integer("index", record.get("index"), error=InvalidMessageError, low=1)
    key = _sealing_key(crypto.agree(private, record_bytes(record, "dealer")), dealing_id, index)
    sealed = record_bytes(record, "sealed")
    state = crypto.open_sealed(key, sealed, session_id=dealing_id, sender=_DEALER, receiver=index)
    holder = he.load_key_holder(state)
    if not isinstance(holder, he.ThresholdKeyHolder) or holder.index != index:
        raise InvalidMessageError(f"the sealed state is not threshold key holder {index}'s")
    if holder.public().serialize() != record_bytes(record, "public"):
        raise InvalidMessageError("the server announces another public key than the dealt one")
    least = checks.real("min_weight", record.get("min_weight"), error=InvalidMessageError, low=0.0)
    del ctxt.state.config_records[_ENROLLMENT]
    ctxt.state.config_records[_HOLDER] = ConfigRecord({"secret": state, "min_weight": least})
    return {"index": index}


def _partial(record: ConfigRecord, ctxt: Context) -> dict[str, object]:
    import he  # on use

    saved = ctxt.state.config_records.get(_HOLDER)
    if saved is None or not isinstance(saved.get("secret"), bytes):
        raise StateError("a partial decryption was asked of a node that holds no key share")
    holder = he.load_key_holder(saved["secret"])  # type: ignore[arg-type]
    assert isinstance(holder, he.ThresholdKeyHolder)  # only _accept saves it, after checking
    aggregate = holder.public().load_ciphertext(record_bytes(record, "ciphertext"))
    least = float(saved.get("min_weight", 0.0))  # type: ignore[arg-type]
    if aggregate.weight < least:
        raise InvalidMessageError(
            f"the ciphertext declares total weight {aggregate.weight}, less than {least}: not an aggregate"
        )
    return {"partial": holder.partial_decrypt(aggregate).serialize()}


def new_dealing_id() -> bytes:
    return secrets.token_bytes(DEALING_ID_BYTES)


def record_bytes(record: ConfigRecord, name: str) -> bytes:
    """The ``name`` field of an HE record, which must be bytes."""
    value = record.get(name)
    if not isinstance(value, bytes):
        raise InvalidMessageError(f"the HE record's {name!r} is not bytes")
    return value
