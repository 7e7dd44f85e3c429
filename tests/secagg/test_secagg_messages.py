"""Wire format: every message round-trips, and truncated, mutated, oversized or
foreign bytes are rejected with InvalidMessageError (a ProtocolError)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg import InvalidMessageError, ProtocolError, SessionConfig
from secagg.messages import (
    AdvertiseKeys,
    ConsistencySignature,
    EncryptedShares,
    KeyDirectory,
    MaskedInput,
    ShareInbox,
    SurvivorList,
    UnmaskingShares,
    UnmaskRequest,
)

from secagg_testing import Harness


def _frames() -> tuple[SessionConfig, list[tuple[type, bytes]]]:
    """One real frame of every message kind, produced by running a session."""
    h = Harness(6, 5, active=True, length=5)
    ads = [c.advertise_keys() for c in h.clients.values()]
    directories = h.server.advertise_keys(ads)
    shares = [h.clients[u].share_keys(d) for u, d in directories.items()]
    inboxes = h.server.share_keys(shares)
    masked = [h.clients[u].masked_input(inboxes[u], h.inputs[u]) for u in inboxes]
    survivors = h.server.masked_input(masked)
    signatures = [h.clients[u].consistency_check(survivors) for u in survivors.survivors]
    h.server.consistency_check(signatures)
    request, recipients = h.server.unmask_request()
    answers = [h.clients[u].unmask(request) for u in recipients]
    config = h.config
    return config, [
        (AdvertiseKeys, ads[0].to_bytes()),
        (KeyDirectory, directories[1].to_bytes()),
        (EncryptedShares, shares[0].to_bytes()),
        (ShareInbox, inboxes[2].to_bytes()),
        (MaskedInput, masked[0].to_bytes(config)),
        (SurvivorList, survivors.to_bytes()),
        (ConsistencySignature, signatures[0].to_bytes()),
        (UnmaskRequest, request.to_bytes()),
        (UnmaskingShares, answers[0].to_bytes()),
    ]


SESSION, FRAMES = _frames()
IDS = [kind.__name__ for kind, _ in FRAMES]


@pytest.mark.parametrize(("kind", "frame"), FRAMES, ids=IDS)
def test_round_trip(kind: type, frame: bytes) -> None:
    message = kind.from_bytes(frame, SESSION)
    again = message.to_bytes(SESSION) if kind is MaskedInput else message.to_bytes()
    assert again == frame


@settings(max_examples=60, deadline=None)
@given(index=st.integers(0, len(FRAMES) - 1), data=st.data())
def test_mutated_bytes_are_rejected(index: int, data: st.DataObject) -> None:
    kind, frame = FRAMES[index]
    position = data.draw(st.integers(0, len(frame) - 1))
    flip = data.draw(st.integers(1, 255))
    mutated = frame[:position] + bytes([frame[position] ^ flip]) + frame[position + 1 :]
    with pytest.raises(InvalidMessageError):
        kind.from_bytes(mutated, SESSION)


@settings(max_examples=60, deadline=None)
@given(index=st.integers(0, len(FRAMES) - 1), data=st.data())
def test_truncated_bytes_are_rejected(index: int, data: st.DataObject) -> None:
    kind, frame = FRAMES[index]
    cut = data.draw(st.integers(0, len(frame) - 1))
    with pytest.raises(InvalidMessageError):
        kind.from_bytes(frame[:cut], SESSION)


@pytest.mark.parametrize(("kind", "frame"), FRAMES, ids=IDS)
def test_oversized_and_padded_bytes_are_rejected(kind: type, frame: bytes) -> None:
    with pytest.raises(InvalidMessageError):
        kind.from_bytes(frame + b"\x00", SESSION)
    with pytest.raises(InvalidMessageError, match="exceeds the limit|digest"):
        kind.from_bytes(frame + bytes(1 << 20), SESSION)


@pytest.mark.parametrize(("kind", "frame"), FRAMES, ids=IDS)
def test_wrong_kind_and_garbage_are_rejected(kind: type, frame: bytes) -> None:
    other = next(f for k, f in FRAMES if k is not kind)
    with pytest.raises(InvalidMessageError):
        kind.from_bytes(other, SESSION)
    with pytest.raises(InvalidMessageError):
        kind.from_bytes(b"garbage", SESSION)
    with pytest.raises(InvalidMessageError):
        kind.from_bytes("not bytes", SESSION)  # type: ignore[arg-type]


def test_messages_from_a_bigger_session_are_rejected() -> None:
    """Ids unknown to the session are refused even inside a well-formed frame."""
    small = SessionConfig.create(range(1, 4), threshold=2, vector_length=5, modulus_bits=20)
    with pytest.raises(ProtocolError, match="unknown client|exceeds"):
        KeyDirectory.from_bytes(dict(FRAMES)[KeyDirectory], small)


def test_masked_input_length_must_match_the_session() -> None:
    frame = MaskedInput(1, np.zeros(6, dtype=np.uint32)).to_bytes(SESSION)
    with pytest.raises(InvalidMessageError):
        MaskedInput.from_bytes(frame, SESSION)
