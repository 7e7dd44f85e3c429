"""A key holder's secret state as bytes (kept on its own node between Flower messages): it restores
exactly the holder that made it, and anything else is refused with a typed error."""

from __future__ import annotations

import numpy as np
import pytest
from he_cases import PAILLIER_TEST_PARAMS

import he
from fedsecure.wire import DIGEST_BYTES, seal_body


@pytest.fixture(scope="module", params=["ckks", "paillier"])
def holder(request: pytest.FixtureRequest, ckks_holder, paillier_holder):
    return ckks_holder if request.param == "ckks" else paillier_holder


def test_exported_state_restores_a_holder_that_decrypts(holder) -> None:
    restored = he.load_key_holder(holder.export_secret())
    public = holder.public()
    ciphertext = public.encrypt(np.array([0.25, -0.5]))
    np.testing.assert_allclose(restored.decrypt(ciphertext), holder.decrypt(ciphertext), atol=1e-6)
    assert restored.public().serialize() == public.serialize()
    assert isinstance(he.load_public(public.serialize()), type(public))


def test_damaged_or_foreign_state_is_refused(holder) -> None:
    state = holder.export_secret()
    for bad in (state[:-1], b"garbage", holder.public().serialize(), seal_body(state[: -DIGEST_BYTES - 3])):
        with pytest.raises(he.HEError):
            he.load_key_holder(bad)


def test_paillier_state_with_primes_of_another_key_is_refused(paillier_holder) -> None:
    other = he.PaillierScheme.generate(**PAILLIER_TEST_PARAMS)
    state, foreign = paillier_holder.export_secret(), other.export_secret()
    public_field = 4 + len(paillier_holder.public().serialize())
    body = state[5 : 5 + public_field] + foreign[5 + 4 + len(other.public().serialize()) : -DIGEST_BYTES]
    with pytest.raises(he.MalformedKeyError, match="do not factor"):
        he.load_key_holder(seal_body(state[:5] + body))
