"""Homomorphic aggregation of flat model updates: CKKS (TenSEAL) and packed Paillier (phe).

Top floor (see :mod:`he.interface` for the contract both schemes follow)::

    holder = he.CKKSScheme.generate()          # or he.PaillierScheme.generate(...)
    public = holder.public()                   # ship public.serialize() to clients/server
    ct = public.encrypt(update, weight=w)      # client
    agg = public.aggregate([ct1, ct2, ...], weights=[w1, w2, ...])   # server, no secret
    weighted_sum = holder.decrypt(agg)         # key holder; divide by agg.weight for the mean
"""

from he.ckks import CKKSCiphertext, CKKSKeyHolder, CKKSPublic, CKKSScheme
from he.ckks_presets import PRESETS as CKKS_PRESETS
from he.ckks_presets import CKKSPreset
from he.errors import (
    ContextMismatchError,
    HEError,
    MalformedCiphertextError,
    MalformedKeyError,
    PackingOverflowError,
    ParameterError,
)
from he.interface import Ciphertext, KeyHolder, PublicScheme
from he.packing import PackingLayout
from he.paillier import PackedUpdate, PaillierCiphertext, PaillierKeyHolder, PaillierPublic, PaillierScheme
from he.parallel import ParallelEncryptor

__all__ = [
    "CKKSScheme",
    "CKKSKeyHolder",
    "CKKSPublic",
    "CKKSCiphertext",
    "CKKSPreset",
    "CKKS_PRESETS",
    "PaillierScheme",
    "PaillierKeyHolder",
    "PaillierPublic",
    "PaillierCiphertext",
    "PackedUpdate",
    "ParallelEncryptor",
    "PackingLayout",
    "Ciphertext",
    "PublicScheme",
    "KeyHolder",
    "HEError",
    "ParameterError",
    "PackingOverflowError",
    "MalformedCiphertextError",
    "MalformedKeyError",
    "ContextMismatchError",
]
