"""Committed notebooks: in order, no machine paths, no stored errors, a kernel
the set-up installs, deterministic cells marked for nbval."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
MACHINE_PATH = re.compile(r"(/work|/root|/home|/tmp|/Users|[A-Z]:\\\\)[/\\]")


def test_numbered_in_order():
    names = [p.name for p in NOTEBOOKS]
    assert names and all(re.match(r"\d\d_", n) for n in names), names
    assert [int(n[:2]) for n in names] == list(range(1, len(names) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_clean_committed_notebook(path):
    text = path.read_text()
    nb = json.loads(text)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"  # the venv's own ipykernel
    assert not MACHINE_PATH.search(text), f"machine path in {path.name}: {MACHINE_PATH.search(text).group(0)}"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in code:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"stored error output in {path.name}"

    def compared(c) -> bool:  # the comment marker, or the tag (a %%flinksql cell's lines are all SQL)
        return "NBVAL_CHECK_OUTPUT" in "".join(c["source"]) or "nbval-check-output" in c["metadata"].get("tags", [])

    assert any(compared(c) for c in code), "no cell is compared by nbval"
    assert all(c.get("outputs") for c in code if compared(c)), "a compared cell has no stored output to compare with"
