"""XNoise inside SecAgg (Dordis 2024, Sec. 4): each client's noise components are shared like its self-mask
seed, and the server removes exactly the excess components of the survivors, whatever the dropout pattern;
forged noise-seed shares, or shares of another component, are corrected or abort like forged self-mask shares."""

from __future__ import annotations

import hashlib
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import secagg
from secagg import ConfigurationError, ForgedSharesError, InvalidMessageError, SessionConfig, Stage
from secagg.coordinator import Coordinator, act, incoming
from secagg.crypto import generate_signing_key
from secagg.messages import UnmaskingShares, split_shares
from secagg.shamir import FIELD

from secagg_testing import plain_sum, random_inputs

BITS = 32


class RecordingNoise:
    """A deterministic sampler that records every component it draws, by key.

    Component k has "variance" 1 / ((n - k)(n - k + 1)) on top of a base of 1 / n (XNoise's
    schedule with V = 1), so the test can add up the variance each party adds and removes.
    """

    def __init__(self, components: int) -> None:
        self.components = components
        self.drawn: dict[bytes, int] = {}

    def component(self, key: bytes, index: int, length: int) -> np.ndarray:
        self.drawn[key] = index
        words = np.frombuffer(hashlib.shake_256(key).digest(4 * length), dtype="<u4")
        return (words % 2001).astype(np.int64) - 1000


def _run(
    n: int,
    threshold: int,
    components: int,
    dropouts: dict[int, Stage],
    *,
    active: bool = False,
    tamper=None,
):
    """One session moved frame by frame, with separate samplers for the clients and the server."""
    config = SessionConfig.create(
        range(1, n + 1), threshold=threshold, vector_length=5, active=active, noise_components=components
    )
    client_noise, server_noise = RecordingNoise(components), RecordingNoise(components)
    signing = {u: generate_signing_key() for u in config.client_ids} if active else {}
    verify = {u: k.public_key() for u, k in signing.items()} if active else None
    clients = {
        u: secagg.Client(u, config, signing_key=signing.get(u), verify_keys=verify, noise=client_noise)
        for u in config.client_ids
    }
    coordinator = Coordinator(config, verify_keys=verify, noise=server_noise)
    inputs = random_inputs(n, config.vector_length, BITS)
    while (exchange := coordinator.pending) is not None:
        replies = {}
        for u, frame in exchange.frames.items():
            if u in dropouts and dropouts[u] <= exchange.stage:
                continue
            reply = act(clients[u], incoming(clients[u], frame), lambda u=u: inputs[u])
            if tamper is not None and exchange.stage == Stage.UNMASKING:
                reply = tamper(reply, config, signing)
            replies[u] = reply.to_bytes(config)
        coordinator.receive(replies)
    return config, inputs, coordinator.result, client_noise, server_noise


def _left_over(config: SessionConfig, inputs, result, client_noise: RecordingNoise, server_noise: RecordingNoise):
    """The noise words in the sum: what the survivors added minus what the server removed."""
    kept = [(index, key) for key, index in client_noise.drawn.items() if key not in server_noise.drawn]
    return secagg.noise.noise_words(client_noise, kept, config), plain_sum(inputs, result.included, BITS)


schedules = st.integers(5, 9).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.integers(0, n - 3),
        st.dictionaries(st.integers(1, n), st.sampled_from(list(Stage)), max_size=n // 2),
        st.booleans(),
    )
)


@settings(max_examples=25, deadline=None)
@given(schedules)
def test_the_server_removes_exactly_the_excess_components_and_the_variance_left_is_the_target(case) -> None:
    n, components, dropouts, active = case
    threshold = n // 2 + 1 if not active else (2 * n) // 3 + 1
    try:
        config, inputs, result, client_noise, server_noise = _run(n, threshold, components, dropouts, active=active)
    except secagg.TooFewSurvivorsError:
        return  # the paper's abort: no sum, nothing to remove
    survivors = len(result.included)
    missing = n - survivors
    excess = list(secagg.excess_components(config, survivors))
    assert excess == list(range(missing + 1, components + 1))
    # Exactly the survivors' components k > d were regenerated, each once per survivor.
    assert Counter(server_noise.drawn.values()) == Counter({k: survivors for k in excess})
    assert set(server_noise.drawn) <= set(client_noise.drawn)
    assert len(client_noise.drawn) == survivors * components  # only clients whose masked input arrived add noise
    # The sum is the inputs plus exactly the components that were not removed.
    noise, inputs_sum = _left_over(config, inputs, result, client_noise, server_noise)
    assert np.array_equal(result.total, (inputs_sum + noise) & np.uint64((1 << BITS) - 1))
    # With XNoise's schedule (V = 1) the variance left is the target exactly, up to `components` dropouts.
    added = Counter(client_noise.drawn.values())
    removed = Counter(server_noise.drawn.values())
    variance = survivors * Fraction(1, n) + sum(
        (added[k] - removed[k]) * Fraction(1, (n - k) * (n - k + 1)) for k in range(1, components + 1)
    )
    if missing <= components:
        assert variance == 1
    else:
        assert variance == Fraction(survivors, n - components) < 1


def _garbled(share: bytes) -> bytes:
    return FIELD.encode_share((FIELD.decode_share(share) + 1) % FIELD.prime)


def _replacing(sender: int, owner: int, change):
    """A tamper hook: ``sender`` rewrites its noise shares of ``owner`` with ``change(shares)``."""

    def tamper(reply, config, signing):
        if not isinstance(reply, UnmaskingShares) or reply.sender != sender:
            return reply
        noise = tuple((v, b"".join(change(split_shares(e))) if v == owner else e) for v, e in reply.noise_shares)
        forged = UnmaskingShares(reply.sender, reply.self_mask_shares, reply.key_shares, noise, reply.excess)
        return forged.signed_by(signing[sender], config) if config.active else forged

    return tamper


@pytest.mark.parametrize("active", [False, True], ids=["honest-but-curious", "active"])
def test_a_forged_noise_seed_share_is_corrected_and_its_sender_named(active: bool) -> None:
    tamper = _replacing(2, 5, lambda shares: [_garbled(shares[0]), *shares[1:]])
    dropouts = {} if active else {7: Stage.MASKED_INPUT}  # active: 7 shares at t = 5 correct one forgery
    config, inputs, result, client_noise, server_noise = _run(
        7, 5 if active else 3, 3, dropouts, active=active, tamper=tamper
    )
    assert result.forged_shares_from == (2,)
    noise, inputs_sum = _left_over(config, inputs, result, client_noise, server_noise)
    assert np.array_equal(result.total, (inputs_sum + noise) & np.uint64((1 << BITS) - 1))


def test_a_share_of_a_component_that_must_stay_is_caught_by_the_commitment() -> None:
    """One client dropped (d = 1): a holder passes off its share of client 5's component 1, which must stay
    in the sum, as its share of the excess component 2; the commitment, bound to the component, exposes it."""
    config = SessionConfig.create(range(1, 8), threshold=3, vector_length=5, noise_components=3)
    clients = {u: secagg.Client(u, config, noise=RecordingNoise(3)) for u in config.client_ids}
    server = secagg.Server(config, noise=RecordingNoise(3))
    directories = server.advertise_keys([c.advertise_keys() for c in clients.values()])
    inboxes = server.share_keys([clients[u].share_keys(d) for u, d in directories.items()])
    server.masked_input([clients[u].masked_input(box, np.zeros(5, np.uint32)) for u, box in inboxes.items() if u != 7])
    requests = server.unmask_requests()
    answers = [clients[u].unmask(r) for u, r in requests.items()]
    own = clients[2]._open(5).noise_shares  # what client 2 holds of client 5's three seeds
    assert split_shares(dict(answers[1].noise_shares)[5]) == own[1:]  # it reveals components 2 and 3 only
    swapped = tuple((v, own[0] + own[2] if v == 5 else e) for v, e in answers[1].noise_shares)
    answers[1] = UnmaskingShares(2, answers[1].self_mask_shares, answers[1].key_shares, swapped, answers[1].excess)
    outcome = server.unmask(answers)
    assert outcome.forged_shares_from == (2,)


def test_too_many_forged_noise_shares_abort_the_round_naming_the_suspects() -> None:
    tampers = [_replacing(s, 4, lambda shares: [_garbled(x) for x in shares]) for s in (1, 2, 3)]

    def tamper(reply, config, signing):
        for t in tampers:
            reply = t(reply, config, signing)
        return reply

    with pytest.raises(ForgedSharesError, match="noise seed") as caught:
        _run(6, 3, 2, {6: Stage.MASKED_INPUT}, tamper=tamper)
    assert caught.value.owner == 4


def test_noise_shares_for_other_clients_than_the_revealed_survivors_are_refused() -> None:
    def tamper(reply, config, signing):
        if isinstance(reply, UnmaskingShares) and reply.sender == 1:
            return UnmaskingShares(1, reply.self_mask_shares, reply.key_shares, reply.noise_shares[1:], reply.excess)
        return reply

    with pytest.raises(InvalidMessageError, match="noise shares"):
        _run(6, 3, 2, {6: Stage.MASKED_INPUT}, tamper=tamper)


def test_dropped_clients_reveal_no_noise_and_beyond_the_tolerance_nothing_is_removed() -> None:
    config, inputs, result, client_noise, server_noise = _run(
        8, 4, 2, {1: Stage.SHARE_KEYS, 2: Stage.MASKED_INPUT, 3: Stage.MASKED_INPUT}
    )
    assert server_noise.drawn == {} and len(result.included) == 5
    assert result.reconstructed["noise_seeds"] == 0


def test_state_export_keeps_the_noise_seeds() -> None:
    config = SessionConfig.create(range(1, 5), threshold=3, vector_length=5, noise_components=2)
    noise = RecordingNoise(2)
    client = secagg.Client(1, config, noise=noise)
    server = secagg.Server(config, noise=noise)
    others = {u: secagg.Client(u, config, noise=noise) for u in (2, 3, 4)}
    directories = server.advertise_keys([client.advertise_keys()] + [c.advertise_keys() for c in others.values()])
    client.share_keys(directories[1])
    restored = secagg.Client.restore(client.export_state(), config, noise=noise)
    assert restored._noise_seeds == client._noise_seeds and len(client._noise_seeds) == 2
    assert restored.export_state() == client.export_state()


def test_a_sampler_must_match_the_session() -> None:
    config = SessionConfig.create(range(1, 5), threshold=3, vector_length=5, noise_components=2)
    with pytest.raises(ConfigurationError, match="no sampler"):
        secagg.Client(1, config)
    with pytest.raises(ConfigurationError, match="draws 3 components"):
        secagg.Server(config, noise=RecordingNoise(3))
    with pytest.raises(ConfigurationError, match="noise_components"):
        SessionConfig.create(range(1, 5), threshold=3, vector_length=5, noise_components=4)


def test_without_noise_components_the_byte_formats_are_unchanged() -> None:
    plain = SessionConfig.create(range(1, 4), threshold=2, vector_length=3)
    assert secagg.messages.share_plaintext_bytes(plain) == 8 + 2 * FIELD.share_bytes
    answer = UnmaskingShares(1, ((1, bytes(FIELD.share_bytes)),), ())
    signature_field = 4
    assert len(answer.to_bytes(plain)) == secagg.envelope.ENVELOPE_BYTES + 8 + 4 + FIELD.share_bytes + signature_field
