"""Homomorphic aggregation of flat model updates: CKKS (TenSEAL) and packed Paillier (phe).

Top floor (see :mod:`he.interface` for the contract both schemes follow)::

    holder = he.CKKSScheme.generate()          # or he.PaillierScheme.generate(...)
    public = holder.public()                   # ship public.serialize() to clients/server
    ct = public.encrypt(update, weight=w)      # client
    agg = public.aggregate([ct1, ct2, ...], weights=[w1, w2, ...])   # server, no secret
    weighted_sum = holder.decrypt(agg)         # key holder; divide by agg.weight for the mean

Threshold Paillier (:mod:`he.threshold_paillier`): ``dealing = he.ThresholdPaillierScheme.generate(k, t)``
gives ``dealing.public()`` and ``dealing.holders``; any ``t`` holders' ``partial_decrypt(agg)`` go to
``public.combine(agg, partials)`` instead of ``holder.decrypt(agg)``.
"""

from he.ckks import CKKSCiphertext, CKKSKeyHolder, CKKSPublic, CKKSScheme
from he.ckks_presets import PRESETS as CKKS_PRESETS
from he.ckks_presets import CKKSPreset
from he.errors import (
    ContextMismatchError,
    HEError,
    InvalidPartialError,
    MalformedCiphertextError,
    MalformedKeyError,
    MalformedPartialError,
    PackingOverflowError,
    ParameterError,
    TooFewPartialsError,
    WeakKeyWarning,
)
from he.interface import Ciphertext, KeyHolder, PublicScheme
from he.loading import load_key_holder, load_public
from he.packing import PackingLayout
from he.paillier import PackedUpdate, PaillierCiphertext, PaillierKeyHolder, PaillierPublic, PaillierScheme
from he.parallel import ParallelEncryptor
from he.threshold_paillier import (
    ThresholdDealing,
    ThresholdKeyHolder,
    ThresholdPaillierPublic,
    ThresholdPaillierScheme,
    ThresholdPartial,
)

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
    "ThresholdPaillierScheme",
    "ThresholdDealing",
    "ThresholdKeyHolder",
    "ThresholdPaillierPublic",
    "ThresholdPartial",
    "ParallelEncryptor",
    "PackingLayout",
    "Ciphertext",
    "PublicScheme",
    "KeyHolder",
    "load_public",
    "load_key_holder",
    "HEError",
    "ParameterError",
    "PackingOverflowError",
    "MalformedCiphertextError",
    "MalformedKeyError",
    "ContextMismatchError",
    "MalformedPartialError",
    "TooFewPartialsError",
    "InvalidPartialError",
    "WeakKeyWarning",
]
