"""The core every package of the toolkit builds on: one error root and one framing layer.

* :class:`FedsecureError` is the root of every error the toolkit raises on
  purpose: ``secagg.ProtocolError``, ``he.HEError``, ``dp.DPError`` and the
  driver's errors all derive from it, so an embedding system can catch one type.
* :mod:`fedsecure.wire` is the bounded, versioned binary framing that secure
  aggregation messages, client state, and homomorphic ciphertexts and keys
  are all written in. No pickle anywhere.
"""

from fedsecure.errors import FedsecureError

__all__ = ["FedsecureError"]
