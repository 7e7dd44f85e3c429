"""Execute research notebooks at full size and store them with their outputs.

    python notebooks/execute.py                  # every notebook
    python notebooks/execute.py 05_bonawitz      # those whose name starts with this

Each notebook runs top to bottom in a kernel of this interpreter, without
``FEDSECURE_NOTEBOOK_QUICK``, and is written back with its outputs and a
``fedsecure`` metadata entry (mode, seconds, date), so a reader on a code host
sees every table and figure without running anything. The test suite executes
them again in quick mode and checks what is stored (``tests/notebooks``).
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
CELL_TIMEOUT_SECONDS = 1800


def execute(path: Path) -> float:
    """Run ``path`` at full size and store it with its outputs; returns the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    NotebookClient(
        notebook, timeout=CELL_TIMEOUT_SECONDS, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}
    ).execute()
    seconds = time.perf_counter() - started
    notebook.metadata["fedsecure"] = {
        "mode": "full",
        "seconds": round(seconds, 1),
        "executed": datetime.date.today().isoformat(),
    }
    nbformat.write(notebook, path)
    return seconds


def main(prefixes: list[str]) -> None:
    os.environ.pop("FEDSECURE_NOTEBOOK_QUICK", None)
    for path in sorted(HERE.glob("*.ipynb")):
        if prefixes and not any(path.name.startswith(p) for p in prefixes):
            continue
        print(f"{path.name} ...", file=sys.stderr, flush=True)
        print(f"{path.name}: {execute(path):.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
