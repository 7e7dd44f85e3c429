"""Client state export and restore: a session survives every client being rebuilt from
bytes between every round, and foreign or damaged state is refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg import Client, InvalidMessageError, SessionConfig, StateError, default_threshold
from secagg.messages import UnmaskRequest

from secagg_testing import Harness, plain_sum


def _reborn(h: Harness, u: int) -> Client:
    """Replace client u by one restored from its exported state (as a new process would)."""
    signing = h.signing.get(u)
    h.clients[u] = Client.restore(h.clients[u].export_state(), h.config, signing_key=signing, verify_keys=h.verify)
    return h.clients[u]


@settings(max_examples=10, deadline=None)
@given(active=st.booleans(), sparse=st.booleans(), drop=st.sampled_from([None, 2, 5]))
def test_session_survives_restoring_every_client_between_rounds(active: bool, sparse: bool, drop: int | None) -> None:
    n = 10
    degree = 6 if sparse else None
    h = Harness(n, default_threshold(degree + 1 if degree else n, active), active=active, degree=degree, length=50)
    ads = [_reborn(h, u).advertise_keys() for u in h.clients]
    directories = h.server.advertise_keys(ads)
    shares = [_reborn(h, u).share_keys(d) for u, d in directories.items()]
    inboxes = h.server.share_keys(shares)
    masked = [_reborn(h, u).masked_input(box, h.inputs[u]) for u, box in inboxes.items() if u != drop]
    survivors = h.server.masked_input(masked)
    if active:
        h.server.consistency_check([_reborn(h, u).consistency_check(survivors) for u in survivors.survivors])
    requests = h.server.unmask_requests()
    outcome = h.server.unmask([_reborn(h, u).unmask(r) for u, r in requests.items()])
    assert drop not in outcome.included
    np.testing.assert_array_equal(outcome.total, plain_sum(h.inputs, outcome.included, 32))


def test_restored_client_keeps_its_place_in_the_protocol() -> None:
    h = Harness(5, 3)
    survivors = h.run_to_masked_input()
    request = UnmaskRequest(survivors.survivors, ())
    h.clients[1].unmask(request)
    again = _reborn(h, 1)
    with pytest.raises(StateError):
        again.unmask(request)


def test_state_of_another_session_or_damaged_state_is_refused() -> None:
    h = Harness(5, 3)
    h.run_to_masked_input()
    state = h.clients[2].export_state()
    other = SessionConfig.create(range(1, 6), threshold=3, vector_length=4)
    with pytest.raises(InvalidMessageError, match="another session"):
        Client.restore(state, other)
    with pytest.raises(InvalidMessageError):
        Client.restore(state[:-1], h.config)
    flipped = bytearray(state)
    flipped[len(state) // 2] ^= 1
    with pytest.raises(InvalidMessageError):
        Client.restore(bytes(flipped), h.config)
