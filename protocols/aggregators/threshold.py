"""A decryption committee for the HE aggregator: t of k threshold Paillier key holders per round.

`he.ThresholdPaillierScheme` (Damgard and Jurik, PKC 2001, Sec. 4, with Shoup's decryption shares
and proofs of correctness, EUROCRYPT 2000, Sec. 3) deals k key holders; any t decrypt together and
fewer learn nothing, so no single party, the server included, can decrypt an update. Each round:

1. pick t holders uniformly at random (OS CSPRNG) among those never refused;
2. send each the aggregate ciphertext as bytes; it parses it under its own copy of the public key
   and answers with its partial decryption as bytes (``c_i = c^(2 Delta s_i)`` and its proof);
3. combine (`ThresholdPaillierPublic.combine`, which verifies every proof first). A refused partial
   (a proof that fails, a share of another ciphertext or key, unparseable bytes) names its holder:
   the committee records why in `refused`, warns (`DistrustedHolderWarning`), never asks it again,
   and asks another holder in its place; once fewer than t trusted holders remain, the round aborts.

The dealer is trusted at key generation (see `he.threshold_paillier`).
"""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from he.errors import HEError, InvalidPartialError
from he.paillier import PaillierCiphertext
from he.threshold_paillier import ThresholdDealing, ThresholdPaillierPublic, ThresholdPartial
from protocols.aggregators.base import AggregationAborted


class DistrustedHolderWarning(UserWarning):
    """A key holder's partial decryption was refused; it is named and replaced."""


class PartialDecryptor(Protocol):
    """One key holder as the committee sees it (`he.ThresholdKeyHolder`)."""

    @property
    def index(self) -> int: ...

    def public(self) -> ThresholdPaillierPublic: ...

    def partial_decrypt(self, ciphertext: PaillierCiphertext) -> ThresholdPartial: ...


class ThresholdKeyHolders:
    """The k holders of a threshold Paillier key, t of whom decrypt each aggregate (module docstring)."""

    def __init__(self, dealing: ThresholdDealing, holders: Sequence[PartialDecryptor] | None = None) -> None:
        self._combiner = dealing.public()
        members = list(dealing.holders if holders is None else holders)
        self._holders = {holder.index: holder for holder in members}
        self._views = {holder.index: holder.public() for holder in members}  # each holder parses with its own copy
        self.threshold = self._combiner.threshold
        self.refused: dict[int, str] = {}
        """Holders whose partial decryption was refused, with why; they are not asked again."""

    @property
    def trust(self) -> str:
        k, t = len(self._holders), self.threshold
        return (
            f"{t} of {k} threshold key holders decrypt the aggregate together and fewer learn nothing, so "
            f"decrypting a single update takes {t} holders colluding with the server; the key dealer is trusted"
        )

    def public(self) -> ThresholdPaillierPublic:
        return self._combiner

    def decrypt(self, ciphertext: PaillierCiphertext) -> tuple[np.ndarray, dict[str, float]]:
        """The plaintext of ``ciphertext`` from t trusted holders' partial decryptions (module docstring, 1-3).

        Seconds: ``keyholder.partial_decrypt`` (the holders' total) and ``server.combine``.
        """
        data = ciphertext.serialize()
        partials: dict[int, ThresholdPartial] = {}
        seconds = {"keyholder.partial_decrypt": 0.0, "server.combine": 0.0}
        while True:
            for index in self._pick(self.threshold - len(partials), exclude=partials):
                start = time.perf_counter()
                reply = self._ask(index, data)
                seconds["keyholder.partial_decrypt"] += time.perf_counter() - start
                if reply is not None:
                    partials[index] = reply
            if len(partials) < self.threshold:
                continue
            start = time.perf_counter()
            try:
                plaintext = self._combiner.combine(ciphertext, list(partials.values()))
            except InvalidPartialError as exc:
                for index, reason in exc.reasons.items():
                    self._refuse(index, reason)
                    del partials[index]
                continue
            finally:
                seconds["server.combine"] += time.perf_counter() - start
            return plaintext, seconds

    def _pick(self, count: int, exclude: dict[int, ThresholdPartial]) -> list[int]:
        """``count`` trusted holders not yet asked this round, uniformly at random."""
        available = sorted(set(self._holders) - set(self.refused) - set(exclude))
        if len(available) < count:
            raise AggregationAborted(
                f"threshold decryption needs {self.threshold} trusted key holders; only "
                f"{len(available) + len(exclude)} remain (refused: {sorted(self.refused)})"
            )
        return secrets.SystemRandom().sample(available, count)

    def _ask(self, index: int, data: bytes) -> ThresholdPartial | None:
        """Holder ``index``'s partial decryption of the ciphertext ``data``, moved as bytes both ways."""
        try:
            partial = self._holders[index].partial_decrypt(self._views[index].load_ciphertext(data))
            return self._combiner.load_partial(partial.serialize())
        except HEError as exc:
            self._refuse(index, f"its partial decryption does not parse: {exc}")
            return None

    def _refuse(self, index: int, reason: str) -> None:
        self.refused[index] = reason
        warnings.warn(
            DistrustedHolderWarning(f"key holder {index} refused ({reason}); another holder takes its place"),
            stacklevel=3,
        )
