"""Shamir sharing: any t shares reconstruct, t-1 shares say nothing (checked exhaustively on GF(11))."""

from __future__ import annotations

import itertools
import secrets
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secagg import ConfigurationError, ForgedSharesError, InvalidMessageError
from secagg.reed_solomon import decode
from secagg.shamir import FIELD, ShamirField, reconstruct_secret, recover_secret, split_secret


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 40), data=st.data())
def test_any_t_shares_reconstruct(n: int, data: st.DataObject) -> None:
    t = data.draw(st.integers(1, n))
    holders = data.draw(st.lists(st.integers(1, 2**32 - 1), min_size=n, max_size=n, unique=True))
    secret = secrets.token_bytes(32)
    shares = split_secret(secret, holders, t)
    subset = data.draw(st.lists(st.sampled_from(holders), min_size=t, max_size=n, unique=True))
    assert reconstruct_secret({h: shares[h] for h in subset}, t) == secret


@pytest.mark.parametrize("secret", [0, 3, 10])
def test_t_minus_one_shares_are_independent_of_the_secret(secret: int) -> None:
    """Over GF(11) with t=3: two real shares are consistent with every possible secret,
    each through exactly one value of a third share, so they carry no information."""
    field = ShamirField(11)
    shares = field.split(secret, [1, 2, 3, 4, 5], 3)
    completions: Counter[int] = Counter()
    for third in range(11):
        completions[field.reconstruct({1: shares[1], 2: shares[2], 7: third}, 3)] += 1
    assert completions == Counter({candidate: 1 for candidate in range(11)})


def test_small_field_sharing_uses_the_real_splitter() -> None:
    small = ShamirField(257)
    for secret in (0, 1, 200, 256):
        shares = small.split(secret, range(1, 8), 4)
        for subset in itertools.combinations(sorted(shares), 4):
            assert small.reconstruct({x: shares[x] for x in subset}, 4) == secret
        wrong = small.reconstruct({x: shares[x] for x in (1, 2, 3)} | {4: (shares[4] + 1) % 257}, 4)
        assert wrong != secret


def test_too_few_shares() -> None:
    shares = split_secret(bytes(32), [1, 2, 3, 4], 3)
    with pytest.raises(InvalidMessageError):
        reconstruct_secret({1: shares[1], 2: shares[2]}, 3)


def test_malformed_shares() -> None:
    with pytest.raises(InvalidMessageError):
        FIELD.decode_share(b"\xff" * FIELD.share_bytes)  # above the prime
    with pytest.raises(InvalidMessageError):
        FIELD.decode_share(b"\x00" * 5)


def test_bad_parameters() -> None:
    with pytest.raises(ConfigurationError):
        ShamirField(15)
    with pytest.raises(ConfigurationError):
        split_secret(bytes(32), [1, 2], 3)
    with pytest.raises(ConfigurationError):
        split_secret(bytes(31), [1, 2], 2)
    with pytest.raises(ConfigurationError):
        FIELD.split(1, [0, 1], 2)


@settings(max_examples=60, deadline=None)
@given(m=st.integers(1, 30), data=st.data())
def test_reed_solomon_corrects_up_to_half_the_redundancy(m: int, data: st.DataObject) -> None:
    """Shares with at most floor((m - t) / 2) errors decode to the secret, naming exactly the wrong ones."""
    t = data.draw(st.integers(1, m), label="threshold")
    holders = data.draw(st.lists(st.integers(1, 2**32 - 2), min_size=m, max_size=m, unique=True), label="holders")
    secret = secrets.randbelow(FIELD.prime)
    points = FIELD.split(secret, holders, t)
    wrong = data.draw(st.sets(st.sampled_from(holders), max_size=(m - t) // 2), label="wrong")
    for x in wrong:
        points[x] = (points[x] + 1 + secrets.randbelow(FIELD.prime - 1)) % FIELD.prime
    decoded = decode(points, t, FIELD.prime)
    assert decoded is not None
    assert decoded.secret == secret
    assert set(decoded.wrong) == wrong


@settings(max_examples=60, deadline=None)
@given(m=st.integers(2, 20), data=st.data())
def test_reed_solomon_never_returns_a_polynomial_far_from_the_shares(m: int, data: st.DataObject) -> None:
    """Beyond the bound decoding may fail, but whatever it returns agrees with all but (m - t) / 2 shares."""
    t = data.draw(st.integers(1, m - 1), label="threshold")
    points = {x: secrets.randbelow(FIELD.prime) for x in range(1, m + 1)}
    decoded = decode(points, t, FIELD.prime)
    if decoded is not None:
        assert 2 * len(decoded.wrong) <= m - t


def test_recovery_checks_the_secret_and_names_forgers() -> None:
    secret = secrets.token_bytes(32)
    shares = split_secret(secret, range(1, 8), 3)
    shares[1] = FIELD.encode_share((FIELD.decode_share(shares[1]) + 5) % FIELD.prime)
    shares[2] = b"\xff" * FIELD.share_bytes  # not even a field element
    recovery = recover_secret(shares, 3, lambda s: s == secret, owner=9, what="seed")
    assert recovery.secret == secret and recovery.forged == (1, 2)
    with pytest.raises(ForgedSharesError, match="client 9 is the suspect"):
        recover_secret(split_secret(secret, range(1, 8), 3), 3, lambda s: False, owner=9, what="seed")
