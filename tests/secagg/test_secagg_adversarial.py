"""Attacks a malicious server (or client) could try, and how each one fails."""

from __future__ import annotations

import dataclasses
import pathlib
import re

import numpy as np
import pytest

from secagg import ConsistencyError, InvalidMessageError, RefusedRequestError, StateError
from secagg.messages import AdvertiseKeys, KeyDirectory, ShareInbox, SurvivorList, UnmaskRequest

from secagg_testing import Harness


def test_client_refuses_to_reveal_both_secrets_of_one_peer() -> None:
    """The server asks for client 3's self-mask share and its key share at once: with both it
    could strip all of 3's masks and read 3's input (Bonawitz et al. 2017, Sec. 4)."""
    h = Harness(6, 4)
    survivors = h.run_to_masked_input()
    greedy = UnmaskRequest(survivors.survivors, dropped=(3,))
    with pytest.raises(RefusedRequestError, match="both the self-mask and the key share of client 3"):
        h.clients[1].unmask(greedy)


def test_sparse_client_reveals_nothing_about_non_neighbours() -> None:
    """SecAgg+: a client holds shares of its neighbours only; naming others gets no answer about them."""
    h = Harness(8, 3, degree=2)
    survivors = h.run_to_masked_input()
    stranger = next(v for v in h.config.client_ids if v not in h.config.holders(1))
    request = UnmaskRequest(tuple(v for v in survivors.survivors if v != stranger), dropped=(stranger,))
    answer = h.clients[1].unmask(request)
    owners = {v for v, _ in answer.self_mask_shares} | {v for v, _ in answer.key_shares}
    assert owners == h.config.holders(1)


def test_client_refuses_a_request_silent_about_a_neighbour() -> None:
    h = Harness(6, 3)
    survivors = h.run_to_masked_input()
    request = UnmaskRequest(tuple(v for v in survivors.survivors if v != 4), dropped=())
    with pytest.raises(InvalidMessageError, match=r"says nothing of neighbours \[4\]"):
        h.clients[1].unmask(request)


def test_a_second_unmasking_request_is_refused() -> None:
    """Answering twice would let the server ask for b-shares first and key shares later."""
    h = Harness(5, 3)
    survivors = h.run_to_masked_input()
    h.clients[1].unmask(UnmaskRequest(survivors.survivors, ()))
    with pytest.raises(StateError):
        h.clients[1].unmask(UnmaskRequest(tuple(v for v in survivors.survivors if v != 2), (2,)))


def _signed_views(h: Harness, views: dict[int, tuple[int, ...]]) -> dict[int, bytes]:
    return {u: h.clients[u].consistency_check(SurvivorList(view)).survivors_signature for u, view in views.items()}


def test_consistency_check_with_a_forged_survivor_list_aborts() -> None:
    """Active server equivocates: tells clients 1-3 that client 6 survived and 4-6 that it dropped,
    then presents one list with everyone's signatures. The signatures over the other list fail."""
    h = Harness(6, 4, active=True)
    survivors = h.run_to_masked_input()
    full = survivors.survivors
    without_6 = tuple(v for v in full if v != 6)
    signatures = _signed_views(h, {1: full, 2: full, 3: full, 4: without_6, 5: without_6, 6: full})
    forged = UnmaskRequest(full, (), tuple(sorted(signatures.items())))
    with pytest.raises(ConsistencyError, match="no valid consistency signature of client 4"):
        h.clients[1].unmask(forged)


def test_unmask_request_must_repeat_the_signed_list() -> None:
    h = Harness(6, 4, active=True)
    survivors = h.run_to_masked_input(drop_before_masking=[6])
    signatures = _signed_views(h, {u: survivors.survivors for u in survivors.survivors})
    swapped = tuple(v for v in survivors.survivors if v != 5)
    with pytest.raises(ConsistencyError, match="differs from the one it signed"):
        h.clients[1].unmask(UnmaskRequest(swapped, (5, 6), tuple(sorted(signatures.items()))))


def test_too_few_consistency_signatures_abort() -> None:
    h = Harness(6, 5, active=True)
    survivors = h.run_to_masked_input()
    signatures = _signed_views(h, {u: survivors.survivors for u in (1, 2, 3, 4)})
    with pytest.raises(ConsistencyError, match="4 neighbours signed"):
        h.clients[1].unmask(UnmaskRequest(survivors.survivors, (), tuple(sorted(signatures.items()))))


def test_substituted_public_key_is_detected_in_the_active_setting() -> None:
    """A server that swaps a client's advertised key (to man-in-the-middle its shares) is caught."""
    h = Harness(5, 3, active=True)
    ads = [c.advertise_keys() for c in h.clients.values()]
    directories = h.server.advertise_keys(ads)
    attacker = Harness(5, 3).clients[2].advertise_keys()
    entries = tuple(
        dataclasses.replace(e, s_public=attacker.s_public) if e.sender == 2 else e for e in directories[1].entries
    )
    with pytest.raises(InvalidMessageError, match="client 2 carry no valid signature"):
        h.clients[1].share_keys(KeyDirectory(1, entries))


def test_tampered_or_misrouted_shares_are_detected() -> None:
    h = Harness(5, 3)
    h.run_to_masked_input()
    inbox = h.inboxes[1]
    sender, sealed = inbox.sealed[0]
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    victim = Harness(5, 3)
    directories = victim.server.advertise_keys([c.advertise_keys() for c in victim.clients.values()])
    victim.inboxes = victim.server.share_keys([victim.clients[u].share_keys(d) for u, d in directories.items()])
    box = victim.inboxes[1]
    forged = ShareInbox(1, tuple((v, tampered if i == 0 else s) for i, (v, s) in enumerate(box.sealed)))
    victim.clients[1].masked_input(forged, victim.inputs[1])
    survivors = tuple(victim.config.client_ids)
    with pytest.raises(InvalidMessageError, match="fail authentication"):
        victim.clients[1].unmask(UnmaskRequest(survivors, ()))
    with pytest.raises(InvalidMessageError, match="share inbox of client 2"):
        h2 = Harness(5, 3)
        dirs = h2.server.advertise_keys([c.advertise_keys() for c in h2.clients.values()])
        boxes = h2.server.share_keys([h2.clients[u].share_keys(d) for u, d in dirs.items()])
        h2.clients[1].masked_input(boxes[2], h2.inputs[1])


def test_masks_hide_the_input_and_differ_across_sessions() -> None:
    outputs = []
    for _ in range(2):
        h = Harness(4, 3, length=256)
        h.inputs = {u: np.zeros(256, dtype=np.uint64) for u in h.inputs}
        directories = h.server.advertise_keys([c.advertise_keys() for c in h.clients.values()])
        inboxes = h.server.share_keys([h.clients[u].share_keys(d) for u, d in directories.items()])
        outputs.append(h.clients[1].masked_input(inboxes[1], h.inputs[1]).words)
    assert np.count_nonzero(outputs[0]) > 250  # an all-zero input is fully masked
    assert not np.array_equal(outputs[0], outputs[1])


def test_no_non_cryptographic_randomness_in_the_package() -> None:
    source = pathlib.Path(__file__).parents[2] / "secagg"
    pattern = re.compile(r"np\.random|numpy\.random|^\s*import random|from random import", re.M)
    offenders = [p.name for p in source.glob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_advertisement_signature_is_required_when_active() -> None:
    h = Harness(4, 3, active=True)
    ads = [c.advertise_keys() for c in h.clients.values()]
    unsigned = [AdvertiseKeys(a.sender, a.c_public, a.s_public) for a in ads]
    with pytest.raises(InvalidMessageError, match="no valid signature"):
        h.server.advertise_keys(unsigned)
