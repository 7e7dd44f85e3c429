"""Every Python sample in the README runs as pasted, each in a fresh namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SAMPLES = re.findall(r"^```python\n(.*?)^```$", README.read_text(), flags=re.S | re.M)


def test_the_readme_has_samples() -> None:
    assert len(SAMPLES) >= 5


@pytest.mark.parametrize("source", SAMPLES, ids=[f"sample{i}" for i in range(len(SAMPLES))])
def test_readme_sample_runs_as_pasted(source: str) -> None:
    if "flwr" in source:
        pytest.importorskip("flwr")
    exec(compile(source, str(README), "exec"), {"__name__": "readme_sample"})
