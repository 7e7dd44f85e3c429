"""Removable noise components: the secure-aggregation side of XNoise.

Dordis (Jiang, Wang, Chen, EuroSys 2024, Sec. 4, "add-then-remove" noise enforcement): each of
the n clients of a session adds, besides the noise it always keeps, ``T = config.noise_components``
noise components, component k drawn from its own fresh 32-byte seed. In the ShareKeys round
(Bonawitz et al. 2017, Fig. 4, Round 1) it Shamir-shares every seed among its holders, inside the
AES-GCM-sealed plaintext that carries its self-mask share, and commits to each seed
(:func:`secagg.keys.noise_commitment`). Once the server knows U3, ``d = n - |U3|`` clients are
missing, and components ``d + 1, ..., T`` of every survivor are excess (:func:`excess_components`):
in the unmasking round each holder reveals its shares of exactly those seeds, beside its b-share of
that survivor and never for a dropped client (whose noise is absent from the sum anyway), and the
server reconstructs them, checks each against its commitment and subtracts their noise.

The variances that make the noise left over exact are the sampler's business (:mod:`dp.xnoise`);
this module fixes the protocol's rule and the interface a sampler implements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from secagg.config import SessionConfig
from secagg.errors import ConfigurationError
from secagg.packing import word_dtype


@runtime_checkable
class NoiseSampler(Protocol):
    """Draws noise component ``index`` (1..``components``) deterministically from a 32-byte key,
    so that the server regenerates exactly the components the client added."""

    @property
    def components(self) -> int: ...

    def component(self, key: bytes, index: int, length: int) -> NDArray[np.integer]: ...


def excess_components(config: SessionConfig, survivors: int) -> range:
    """The components every survivor's noise loses when ``survivors`` of the n clients sent their
    masked input: ``d + 1 .. T`` with ``d = n - survivors`` (Dordis Sec. 4); none once d >= T."""
    dropped = len(config.client_ids) - survivors
    return range(max(dropped, 0) + 1, config.noise_components + 1)


def check_sampler(config: SessionConfig, sampler: NoiseSampler | None, party: str) -> None:
    """Refuse a sampler that does not match the session's number of noise components."""
    if config.noise_components and sampler is None:
        raise ConfigurationError(f"{party}: the session has {config.noise_components} noise components, no sampler")
    if sampler is not None and sampler.components != config.noise_components:
        raise ConfigurationError(
            f"{party}: the noise sampler draws {sampler.components} components, "
            f"the session has {config.noise_components}"
        )


def noise_words(
    sampler: NoiseSampler, keys: Sequence[tuple[int, bytes]], config: SessionConfig, *, negate: bool = False
) -> NDArray[np.unsignedinteger]:
    """The sum (or its negation) of the components ``(index, key)`` as ring words mod 2^k.

    Added in uint64 with wrap-around, which 2^k divides, so the result is exact whatever the count.
    """
    length = config.vector_length
    total = np.zeros(length, dtype=np.uint64)
    for index, key in keys:
        values = np.asarray(sampler.component(key, index, length))
        if values.shape != (length,) or values.dtype.kind not in "iu":
            raise ConfigurationError(
                f"noise component {index}: the sampler returned {values.dtype} of shape {values.shape}, "
                f"expected {length} integers"
            )
        total += values.astype(np.int64).astype(np.uint64)
    if negate:
        total = np.uint64(0) - total
    return (total & np.uint64((1 << config.modulus_bits) - 1)).astype(word_dtype(config.modulus_bits))
