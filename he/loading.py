"""Load any scheme's public side or key holder from its bytes: the frame kind says which scheme."""

from __future__ import annotations

from fedsecure.wire import Kind, kind_of
from he.ckks import CKKSKeyHolder, CKKSPublic, CKKSScheme
from he.errors import MalformedKeyError
from he.paillier import PaillierKeyHolder, PaillierPublic, PaillierScheme
from he.threshold_paillier import ThresholdKeyHolder, ThresholdPaillierPublic, ThresholdPaillierScheme

__all__ = ["load_key_holder", "load_public"]


def load_public(data: bytes) -> CKKSPublic | PaillierPublic | ThresholdPaillierPublic:
    """The public side serialized by ``public().serialize()`` of any scheme, validated."""
    kind = kind_of(data)
    if kind == Kind.CKKS_PUBLIC:
        return CKKSScheme.load_public(data)
    if kind == Kind.PAILLIER_PUBLIC:
        return PaillierScheme.load_public(data)
    if kind == Kind.THRESHOLD_PAILLIER_PUBLIC:
        return ThresholdPaillierScheme.load_public(data)
    raise MalformedKeyError(f"not an HE public key frame (kind {kind})")


def load_key_holder(data: bytes) -> CKKSKeyHolder | PaillierKeyHolder | ThresholdKeyHolder:
    """A key holder restored from its own ``export_secret()`` bytes."""
    kind = kind_of(data)
    if kind == Kind.CKKS_KEY_HOLDER:
        return CKKSScheme.load_key_holder(data)
    if kind == Kind.PAILLIER_KEY_HOLDER:
        return PaillierScheme.load_key_holder(data)
    if kind == Kind.THRESHOLD_PAILLIER_KEY_HOLDER:
        return ThresholdPaillierScheme.load_key_holder(data)
    raise MalformedKeyError(f"not an HE key holder frame (kind {kind})")
