"""README.md's table of SecAgg+ parameters derived from the threat model is the one the script prints."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).parents[2]


def test_the_readme_holds_the_generated_parameter_table() -> None:
    script = ROOT / "benchmarks" / "secagg_parameters_table.py"
    printed = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    assert printed.strip() in (ROOT / "README.md").read_text(), (
        "regenerate: python benchmarks/secagg_parameters_table.py"
    )
