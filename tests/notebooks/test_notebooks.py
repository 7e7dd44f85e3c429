"""Execute every research notebook top to bottom in quick mode; any cell error fails its test.

Notebooks are stored with the outputs of a full-size run (``notebooks/execute.py``); here each
runs again, shrunk by ``FEDSECURE_NOTEBOOK_QUICK=1``, and asserts its own
invariants (exact secure sums, error bounds, no skipped rounds), so a run that completes is a check,
not just a smoke test. The kernel is started from this interpreter (``sys.executable``), so a fresh
virtualenv needs no registered kernel spec.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import get_kernel_dict
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_SECONDS = 120


class ThisInterpreter(KernelSpecManager):
    """Resolves ``python3`` to an ipykernel running ``sys.executable``, whatever specs are installed."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(resource_dir="", **get_kernel_dict())


def test_the_four_notebooks_exist() -> None:
    names = [path.name for path in NOTEBOOKS]
    for prefix in ("01_", "02_", "03_", "04_"):
        assert any(name.startswith(prefix) for name in names), f"no notebook {prefix}* in {names}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_stored_with_the_outputs_of_a_full_run(path: Path) -> None:
    """A reader on a code host sees every table and figure: ``notebooks/execute.py`` stores them."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells, f"{path.name} has no code"
    assert notebook.metadata.get("fedsecure", {}).get("mode") == "full", (
        f"{path.name} is not stored from a full run: python notebooks/execute.py {path.stem}"
    )
    assert [cell.execution_count for cell in code_cells] == list(range(1, len(code_cells) + 1)), (
        f"{path.name}: cells not executed once each, in order"
    )
    outputs = [output for cell in code_cells for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"], f"{path.name} stored an error"
    assert any(o.output_type == "display_data" and "image/png" in o.data for o in outputs), f"{path.name}: no figure"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_executes_in_quick_mode(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel inherits this process's environment.
    monkeypatch.setenv("FEDSECURE_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=ThisInterpreter())
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=CELL_TIMEOUT_SECONDS,
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    figures = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "display_data" and "image/png" in output.data
    ]
    assert figures, f"{path.name} produced no figure"
