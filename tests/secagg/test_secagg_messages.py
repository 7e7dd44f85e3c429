"""Wire format: every message round-trips, and truncated, mutated, oversized or
foreign bytes are rejected with InvalidMessageError (a ProtocolError)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg import InvalidMessageError, ProtocolError, SessionConfig
from secagg.config import SERVER
from secagg.envelope import Download, Upload, open_frame
from secagg.messages import (
    KeyDirectory,
    MaskedInput,
    SurvivorList,
    UnmaskRequest,
)

from secagg_testing import Harness

Route = dict[str, int]


def _frames() -> tuple[SessionConfig, list[tuple[type, bytes, Route]]]:
    """One real frame of every message kind, produced by running a session, with its route."""
    h = Harness(6, 5, active=True, length=5)
    ads = [c.advertise_keys() for c in h.clients.values()]
    directories = h.server.advertise_keys(ads)
    shares = [h.clients[u].share_keys(d) for u, d in directories.items()]
    inboxes = h.server.share_keys(shares)
    masked = [h.clients[u].masked_input(inboxes[u], h.inputs[u]) for u in inboxes]
    survivors = h.server.masked_input(masked)
    signatures = [h.clients[u].consistency_check(survivors) for u in survivors.survivors]
    h.server.consistency_check(signatures)
    requests = h.server.unmask_requests()
    request = requests[4]
    answers = [h.clients[u].unmask(r) for u, r in requests.items()]
    config = h.config

    def up(message: Upload) -> tuple[type, bytes, Route]:
        return type(message), message.to_bytes(config), {"sender": message.sender}

    def down(message: Download, receiver: int) -> tuple[type, bytes, Route]:
        return type(message), message.to_bytes(config), {"receiver": receiver}

    return config, [
        up(ads[0]),
        down(directories[1], 1),
        up(shares[0]),
        down(inboxes[2], 2),
        up(masked[0]),
        down(survivors, 3),
        up(signatures[0]),
        down(request, 4),
        up(answers[0]),
    ]


SESSION, FRAMES = _frames()
IDS = [kind.__name__ for kind, _, _ in FRAMES]


@pytest.mark.parametrize(("kind", "frame", "route"), FRAMES, ids=IDS)
def test_round_trip(kind: type, frame: bytes, route: Route) -> None:
    assert kind.from_bytes(frame, SESSION, **route).to_bytes(SESSION) == frame


@settings(max_examples=60, deadline=None)
@given(index=st.integers(0, len(FRAMES) - 1), data=st.data())
def test_mutated_bytes_are_rejected(index: int, data: st.DataObject) -> None:
    kind, frame, route = FRAMES[index]
    position = data.draw(st.integers(0, len(frame) - 1))
    flip = data.draw(st.integers(1, 255))
    mutated = frame[:position] + bytes([frame[position] ^ flip]) + frame[position + 1 :]
    with pytest.raises(InvalidMessageError):
        kind.from_bytes(mutated, SESSION, **route)


@settings(max_examples=60, deadline=None)
@given(index=st.integers(0, len(FRAMES) - 1), data=st.data())
def test_truncated_bytes_are_rejected(index: int, data: st.DataObject) -> None:
    kind, frame, route = FRAMES[index]
    cut = data.draw(st.integers(0, len(frame) - 1))
    with pytest.raises(InvalidMessageError):
        kind.from_bytes(frame[:cut], SESSION, **route)


@pytest.mark.parametrize(("kind", "frame", "route"), FRAMES, ids=IDS)
def test_oversized_and_padded_bytes_are_rejected(kind: type, frame: bytes, route: Route) -> None:
    with pytest.raises(InvalidMessageError):
        kind.from_bytes(frame + b"\x00", SESSION, **route)
    with pytest.raises(InvalidMessageError, match="exceeds the limit|digest"):
        kind.from_bytes(frame + bytes(1 << 20), SESSION, **route)


@pytest.mark.parametrize(("kind", "frame", "route"), FRAMES, ids=IDS)
def test_wrong_kind_and_garbage_are_rejected(kind: type, frame: bytes, route: Route) -> None:
    other = next(f for k, f, _ in FRAMES if k is not kind)
    with pytest.raises(InvalidMessageError):
        kind.from_bytes(other, SESSION, **route)
    with pytest.raises(InvalidMessageError):
        kind.from_bytes(b"garbage", SESSION, **route)
    with pytest.raises(InvalidMessageError):
        kind.from_bytes("not bytes", SESSION, **route)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kind", "frame", "route"), FRAMES, ids=IDS)
def test_frames_are_bound_to_their_session_and_route(kind: type, frame: bytes, route: Route) -> None:
    """A frame of another session or round, or delivered from/to another party, is refused."""
    other_session = dataclasses.replace(SESSION, session_id=bytes(32))
    with pytest.raises(InvalidMessageError, match="another session"):
        kind.from_bytes(frame, other_session, **route)
    next_round = dataclasses.replace(SESSION, round_index=SESSION.round_index + 1)
    with pytest.raises(InvalidMessageError, match="round"):
        kind.from_bytes(frame, next_round, **route)
    ((party, who),) = route.items()
    if getattr(kind, "BROADCAST", False):
        return  # addressed to all clients: see test_broadcasts_must_be_addressed_to_all_clients
    with pytest.raises(InvalidMessageError, match="delivered as from|addressed to"):
        kind.from_bytes(frame, SESSION, **{party: who % len(SESSION.client_ids) + 1})


def test_the_survivor_list_must_be_addressed_to_all_clients() -> None:
    """U3 framed for one client is refused even by that client: every client must see the same list."""
    message = SurvivorList.from_bytes(next(f for k, f, _ in FRAMES if k is SurvivorList), SESSION, receiver=1)
    w = open_frame(SurvivorList.KIND, SESSION, SERVER, 1)
    message._write_payload(w, SESSION)
    with pytest.raises(InvalidMessageError, match="addressed to client 1, not to all clients"):
        SurvivorList.from_bytes(w.finish(), SESSION, receiver=1)


def test_an_unmask_request_is_for_all_clients_or_for_its_receiver_only() -> None:
    """Honest-but-curious sessions send each client its own request (its holders only); another
    client's is refused."""
    own = UnmaskRequest((1, 2), (3,), receiver=2).to_bytes(SESSION)
    assert UnmaskRequest.from_bytes(own, SESSION, receiver=2).survivors == (1, 2)
    with pytest.raises(InvalidMessageError, match="addressed to client 2"):
        UnmaskRequest.from_bytes(own, SESSION, receiver=1)


def test_messages_from_a_bigger_session_are_rejected() -> None:
    """Ids unknown to the session are refused even inside a well-formed frame."""
    small = SessionConfig.create(range(1, 4), threshold=2, vector_length=5, modulus_bits=20)
    with pytest.raises(ProtocolError, match="unknown client|exceeds"):
        KeyDirectory.from_bytes(FRAMES[1][1], dataclasses.replace(small, session_id=SESSION.session_id), receiver=1)


def test_masked_input_length_must_match_the_session() -> None:
    frame = MaskedInput(1, np.zeros(6, dtype=np.uint32)).to_bytes(SESSION)
    with pytest.raises(InvalidMessageError):
        MaskedInput.from_bytes(frame, SESSION, sender=1)
