"""A Flower ClientApp starts a fresh process per message: what it imports is paid every time.

The client mod and the core packages import only what they use: never torch, scikit-learn,
TenSEAL or matplotlib unless the caller asks for the driver or HE.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "sklearn", "tenseal", "matplotlib", "protocols.fedavg")


@pytest.mark.parametrize(
    "statement",
    [
        "import protocols.flower; from protocols.flower import secagg_mod",
        "import secagg",
        "import dp",
        "import fedsecure.wire",
    ],
)
def test_light_imports(statement: str) -> None:
    probe = f"import sys; {statement}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.strip() == ""


def test_the_driver_still_loads_on_demand() -> None:
    probe = "import sys, protocols; protocols.FedAvgConfig; print('protocols.fedavg' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.strip() == "True"
