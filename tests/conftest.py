"""Suite-wide settings.

Under CI (``CI=true``), hypothesis runs derandomized: the same generated cases on every
run, so a landing is never decided by a lucky draw. Developers' runs keep exploring new
cases (and hypothesis's example database replays any failure they find).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")
