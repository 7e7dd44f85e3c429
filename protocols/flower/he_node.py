"""The node side of homomorphic aggregation on Flower: clients encrypt, one key holder decrypts the sum.

A Flower mod (``(msg, ctxt, call_next) -> Message``) answering `HEWorkflow`'s three stages, all in
one ConfigRecord under :data:`RECORD`:

* ``keygen`` (sent to the key holder node only): generate a CKKS or packed-Paillier key pair, keep
  its secret state in the node's Context (``export_secret()`` bytes, never sent), reply with the
  public key;
* ``encrypt`` (with the strategy's FitIns): let the ClientApp train, then encrypt ``[w x, w]`` with
  ``w = num_examples / max_weight`` (`protocols.aggregators.weighting`; CKKS clients also scale by the
  public factor ``1 / max_clients``, so any sum stays inside the preset's range) and upload only the
  ciphertext: the fit reply's arrays are emptied and its ``num_examples`` set to 0;
* ``decrypt`` (key holder only): decrypt the server's aggregate and reply with the plaintext sum.
  The key holder cannot tell an aggregate from one client's ciphertext. As a sanity check it
  refuses ciphertexts declaring less total weight than the ``min_weight`` fixed at key generation
  (the declared weight is unauthenticated metadata, so this is not a guarantee): the key holder
  must not collude with the server. One key holder is one point of trust; threshold decryption
  removes it: the ``enroll``, ``deal``, ``accept`` and ``partial`` stages of
  `protocols.flower.he_committee`.

`he` is imported when a stage needs it, not with the mod: its package loads TenSEAL, which a ClientApp
importing ``he_mod`` (possibly beside ``secagg_mod``) should not pay for at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from flwr.app import ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.clientapp.typing import ClientAppCallable

from fedsecure import checks
from protocols.aggregators.weighting import client_vector, weight_scale
from protocols.flower import he_committee
from protocols.flower.fit import fit_update, hide_update
from protocols.flower.he_committee import record_bytes
from secagg.errors import InvalidMessageError, StateError

if TYPE_CHECKING:
    import he

RECORD = "he"
"""Key of the ConfigRecord that carries HE aggregation in every message and reply."""
KEYGEN, ENCRYPT, DECRYPT = "keygen", "encrypt", "decrypt"
_SECRET = "he.key_holder"
"""Context record holding the key holder's secret state on its own node."""


def he_mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
    """Answer one HE stage of a train message; other message types pass through."""
    if msg.metadata.message_type != MessageType.TRAIN:
        return call_next(msg, ctxt)
    if not msg.has_content() or RECORD not in msg.content.config_records:
        raise InvalidMessageError(f"message carries no '{RECORD}' record")  # else the ClientApp would upload in clear
    record = msg.content.config_records[RECORD]
    stage = record.get("stage")
    if stage == KEYGEN:
        content, reply = RecordDict(), _keygen(record, ctxt)
    elif stage == ENCRYPT:
        fitted = call_next(msg, ctxt)
        reply = _encrypt(record, fitted)
        content = hide_update(fitted.content)
    elif stage == DECRYPT:
        content, reply = RecordDict(), _decrypt(record, ctxt)
    elif stage in he_committee.STAGES:
        content, reply = RecordDict(), he_committee.answer(str(stage), record, ctxt)  # type: ignore[assignment]
    else:
        raise InvalidMessageError(f"unknown HE stage {stage!r}")
    content.config_records[RECORD] = ConfigRecord({"stage": stage, **reply})
    return Message(content, reply_to=msg)


def _keygen(record: ConfigRecord, ctxt: Context) -> dict[str, bytes]:
    import he  # on use (module docstring)

    scheme = record.get("scheme")
    clip = checks.real("clip", record.get("clip"), error=InvalidMessageError, low=0.0, low_open=True)
    holder: he.CKKSKeyHolder | he.PaillierKeyHolder
    if scheme == "ckks":
        holder = he.CKKSScheme.generate(str(record.get("preset")), clip=clip)
    elif scheme == "paillier":
        holder = he.PaillierScheme.generate(
            key_bits=checks.integer("key_bits", record.get("key_bits"), error=InvalidMessageError),
            bits=checks.integer("bits", record.get("bits"), error=InvalidMessageError),
            clip=clip,
            max_total_weight=checks.integer("max_clients", record.get("max_clients"), error=InvalidMessageError),
            fast_encryption=bool(record.get("fast_encryption")),
        )
    else:
        raise InvalidMessageError(f"unknown HE scheme {scheme!r}")
    least = checks.real("min_weight", record.get("min_weight"), error=InvalidMessageError, low=0.0)
    ctxt.state.config_records[_SECRET] = ConfigRecord({"secret": holder.export_secret(), "min_weight": least})
    return {"public": holder.public().serialize()}


def _encrypt(record: ConfigRecord, fitted: Message) -> dict[str, bytes]:
    import he  # on use (module docstring)

    public = he.load_public(record_bytes(record, "public"))
    length = checks.integer("length", record.get("length"), error=InvalidMessageError, low=0)
    max_weight = checks.real("max_weight", record.get("max_weight"), error=InvalidMessageError, low=0.0, low_open=True)
    factor = checks.real("factor", record.get("factor"), error=InvalidMessageError, low=0.0, high=1.0)
    update, examples = fit_update(fitted, length)
    vector = client_vector(update, float(examples), weight_scale({0: float(examples)}, max_weight), protect=True)
    ciphertext = public.encrypt(vector, weight=factor or None)
    return {"ciphertext": ciphertext.serialize()}


def _decrypt(record: ConfigRecord, ctxt: Context) -> dict[str, bytes]:
    saved = ctxt.state.config_records.get(_SECRET)
    if saved is None or not isinstance(saved.get("secret"), bytes):
        raise StateError("decrypt arrived at a node that holds no HE key")
    import he  # on use (module docstring)

    holder = he.load_key_holder(saved["secret"])  # type: ignore[arg-type]
    if isinstance(holder, he.ThresholdKeyHolder):
        raise StateError("this node holds a threshold key share: it answers partial decryptions only")
    aggregate = holder.public().load_ciphertext(record_bytes(record, "ciphertext"))
    least = float(saved.get("min_weight", 0.0))  # type: ignore[arg-type]
    if aggregate.weight < least:
        raise InvalidMessageError(
            f"the ciphertext declares total weight {aggregate.weight}, less than {least}: not an aggregate"
        )
    total = np.asarray(holder.decrypt(aggregate), dtype="<f8")  # type: ignore[arg-type]
    return {"sum": total.tobytes()}


__all__ = ["DECRYPT", "ENCRYPT", "KEYGEN", "RECORD", "he_mod"]
