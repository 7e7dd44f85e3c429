"""Forged shares, replayed and relabelled frames: every attack fails loudly or is corrected, never a wrong sum."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedsecure.wire import DIGEST_BYTES, seal_body
from secagg import ForgedSharesError, InvalidMessageError
from secagg.config import SERVER, SESSION_ID_BYTES
from secagg.messages import (
    AdvertiseKeys,
    EncryptedShares,
    MaskedInput,
    SurvivorList,
    UnmaskingShares,
    UnmaskRequest,
)
from secagg.shamir import FIELD, _lagrange_at_zero

from secagg_testing import Harness, plain_sum

SETTINGS = [pytest.param(False, id="honest-but-curious"), pytest.param(True, id="active")]


def _unmask_answers(h: Harness, drop: tuple[int, ...] = ()) -> list[UnmaskingShares]:
    h.run_to_masked_input(drop_before_masking=drop)
    if h.config.active:
        survivors = h.server._u3
        h.server.consistency_check([h.clients[u].consistency_check(SurvivorList(survivors)) for u in survivors])
    return [h.clients[u].unmask(r) for u, r in h.server.unmask_requests().items()]


def _forge(
    h: Harness, answer: UnmaskingShares, *, self_mask_of: int | None = None, key_of: int | None = None
) -> UnmaskingShares:
    """The liar replaces one share with garbage and (active setting) signs the forgery with its own key."""

    def garble(items: tuple[tuple[int, bytes], ...], owner: int | None) -> tuple[tuple[int, bytes], ...]:
        return tuple((v, _shifted(s) if v == owner else s) for v, s in items)

    forged = UnmaskingShares(
        answer.sender, garble(answer.self_mask_shares, self_mask_of), garble(answer.key_shares, key_of)
    )
    return forged.signed_by(h.signing[answer.sender], h.config) if h.config.active else forged


def _shifted(share: bytes) -> bytes:
    return FIELD.encode_share((FIELD.decode_share(share) + 1) % FIELD.prime)


def _expected(h: Harness, survivors: tuple[int, ...]) -> np.ndarray:
    return plain_sum(h.inputs, survivors, h.config.modulus_bits)


@pytest.mark.parametrize("active", SETTINGS)
def test_a_forged_self_mask_share_is_corrected_and_its_sender_named(active: bool) -> None:
    """Client 2 lies about its share of client 5's self-mask seed: the commitment exposes the lie,
    Reed-Solomon decoding of the other shares recovers the seed, and the sum is exact."""
    h = Harness(7, 5 if active else 3, active=active)
    answers = _unmask_answers(h)
    answers = [_forge(h, a, self_mask_of=5) if a.sender == 2 else a for a in answers]
    outcome = h.server.unmask(answers)
    assert np.array_equal(outcome.total, _expected(h, outcome.included))
    assert outcome.forged_shares_from == (2,)


@pytest.mark.parametrize("active", SETTINGS)
def test_a_forged_key_share_of_a_dropped_client_is_corrected(active: bool) -> None:
    h = Harness(10, 6 if active else 3, active=active)
    answers = _unmask_answers(h, drop=(10,))
    answers = [_forge(h, a, key_of=10) if a.sender == 1 else a for a in answers]
    outcome = h.server.unmask(answers)
    assert 10 not in outcome.included
    assert np.array_equal(outcome.total, _expected(h, outcome.included))
    assert outcome.forged_shares_from == (1,)


def test_too_many_forged_shares_abort_naming_the_suspects() -> None:
    """Three liars among six shares with t = 3 exceed what decoding corrects: the round aborts."""
    h = Harness(6, 3)
    answers = _unmask_answers(h)
    answers = [_forge(h, a, self_mask_of=6) if a.sender in (1, 2, 3) else a for a in answers]
    with pytest.raises(ForgedSharesError, match="client 6") as info:
        h.server.unmask(answers)
    assert info.value.owner == 6 and {1, 2, 3} <= set(info.value.suspects)


def test_a_client_whose_commitment_disagrees_with_its_shares_is_the_suspect() -> None:
    h = Harness(5, 3)
    directories = h.server.advertise_keys([c.advertise_keys() for c in h.clients.values()])
    shares = [h.clients[u].share_keys(d) for u, d in directories.items()]
    shares = [dataclasses.replace(m, commitment=bytes(32)) if m.sender == 4 else m for m in shares]
    inboxes = h.server.share_keys(shares)
    h.server.masked_input([h.clients[u].masked_input(box, h.inputs[u]) for u, box in inboxes.items()])
    requests = h.server.unmask_requests()
    with pytest.raises(ForgedSharesError, match="client 4 is the suspect") as info:
        h.server.unmask([h.clients[u].unmask(r) for u, r in requests.items()])
    assert info.value.suspects == (4,)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(5, 9),
    data=st.data(),
)
def test_any_correctable_set_of_liars_leaves_the_sum_exact(n: int, data: st.DataObject) -> None:
    """Up to floor((m - t) / 2) liars per secret, anywhere: exact sum. Liars are named once their lies
    matter: when the t lowest-id shares (the fast path) interpolate to a wrong seed, decoding names them
    all. Each lie adds 1 to a share, so the fast path is wrong exactly when the liars' Lagrange
    coefficients at zero do not cancel (they can: 1 and 4 among holders 1..5 have +5 and -5)."""
    threshold = data.draw(st.integers(2, n - 2), label="threshold")
    h = Harness(n, threshold)
    answers = _unmask_answers(h)
    victim = data.draw(st.sampled_from(sorted(h.config.client_ids)), label="victim")
    bound = (n - threshold) // 2
    liars = data.draw(st.sets(st.sampled_from(sorted(h.config.client_ids)), max_size=bound), label="liars")
    answers = [_forge(h, a, self_mask_of=victim) if a.sender in liars else a for a in answers]
    outcome = h.server.unmask(answers)
    assert np.array_equal(outcome.total, _expected(h, outcome.included))
    fast_path = tuple(sorted(a.sender for a in answers)[:threshold])
    weights = dict(zip(fast_path, _lagrange_at_zero(FIELD.prime, fast_path), strict=True))
    fast_path_wrong = sum(weights.get(liar, 0) for liar in liars) % FIELD.prime != 0
    assert outcome.forged_shares_from == (tuple(sorted(liars)) if fast_path_wrong else ())


def _two_sessions(active: bool) -> tuple[Harness, Harness]:
    return Harness(5, 4 if active else 3, active=active), Harness(5, 4 if active else 3, active=active)


@pytest.mark.parametrize("active", SETTINGS)
def test_a_masked_input_from_another_session_is_rejected(active: bool) -> None:
    """The frame of an earlier round's session never parses in the next one (it would add a stale vector)."""
    old, new = _two_sessions(active)
    old.run_to_masked_input()
    stale = MaskedInput(1, old.inputs[1].astype(np.uint32))
    stale = stale.signed_by(old.signing[1], old.config) if active else stale
    with pytest.raises(InvalidMessageError, match="another session"):
        MaskedInput.from_bytes(stale.to_bytes(old.config), new.config, sender=1)


@pytest.mark.parametrize("active", SETTINGS)
def test_a_replayed_frame_with_its_session_rewritten_is_rejected(active: bool) -> None:
    """An attacker copies the new session id into an old frame and recomputes the (keyless) digest:
    the old session's transport keys and signatures do not carry over, so it still fails."""
    old, new = _two_sessions(active)
    directories = old.server.advertise_keys([c.advertise_keys() for c in old.clients.values()])
    frame = old.clients[1].share_keys(directories[1]).to_bytes(old.config)
    body = bytearray(frame[:-DIGEST_BYTES])
    body[5 : 5 + SESSION_ID_BYTES] = new.config.session_id
    replayed = EncryptedShares.from_bytes(seal_body(bytes(body)), new.config, sender=1)
    new_directories = new.server.advertise_keys([c.advertise_keys() for c in new.clients.values()])
    if active:
        with pytest.raises(InvalidMessageError, match="client 1 carries no valid signature"):
            new.server.share_keys([replayed])
        return
    honest = [new.clients[u].share_keys(d) for u, d in new_directories.items() if u != 1]
    inboxes = new.server.share_keys([replayed, *honest])
    new.clients[2].masked_input(inboxes[2], new.inputs[2])
    with pytest.raises(InvalidMessageError, match="from 1 to 2 fail authentication"):
        new.clients[2].unmask(UnmaskRequest(tuple(new.config.client_ids), ()))


@pytest.mark.parametrize("active", SETTINGS)
def test_a_relabelled_upload_is_rejected(active: bool) -> None:
    """Client 2's masked input delivered as client 3's: the route says 2, so the parse fails; an attacker
    who also rewrites the route (and the digest) is stopped by client 3's signature in the active setting."""
    h = Harness(5, 4 if active else 3, active=active)
    directories = h.server.advertise_keys([c.advertise_keys() for c in h.clients.values()])
    inboxes = h.server.share_keys([h.clients[u].share_keys(d) for u, d in directories.items()])
    frame = h.clients[2].masked_input(inboxes[2], h.inputs[2]).to_bytes(h.config)
    with pytest.raises(InvalidMessageError, match="from client 2 delivered as from client 3"):
        MaskedInput.from_bytes(frame, h.config, sender=3)
    body = bytearray(frame[:-DIGEST_BYTES])
    sender_at = 5 + SESSION_ID_BYTES + 8
    body[sender_at : sender_at + 4] = (3).to_bytes(4, "little")
    relabelled = MaskedInput.from_bytes(seal_body(bytes(body)), h.config, sender=3)
    assert relabelled.sender == 3
    others = [h.clients[u].masked_input(inboxes[u], h.inputs[u]) for u in (1, 4, 5)]
    if active:
        with pytest.raises(InvalidMessageError, match="client 3 carries no valid signature"):
            h.server.masked_input([relabelled, *others])


def test_unmasking_shares_of_another_session_are_rejected() -> None:
    old, new = _two_sessions(False)
    answers = _unmask_answers(old)
    with pytest.raises(InvalidMessageError, match="another session"):
        UnmaskingShares.from_bytes(answers[0].to_bytes(old.config), new.config, sender=answers[0].sender)


def test_a_frame_addressed_to_another_party_is_rejected() -> None:
    h = Harness(4, 3)
    frame = h.clients[1].advertise_keys().to_bytes(h.config)
    body = bytearray(frame[:-DIGEST_BYTES])
    receiver_at = 5 + SESSION_ID_BYTES + 8 + 4
    assert int.from_bytes(body[receiver_at : receiver_at + 4], "little") == SERVER
    body[receiver_at : receiver_at + 4] = (2).to_bytes(4, "little")
    with pytest.raises(InvalidMessageError, match="addressed to client 2, not to the server"):
        AdvertiseKeys.from_bytes(seal_body(bytes(body)), h.config, sender=1)
