"""Write the project's kernel (jupyter/kernels/python3: it loads %%flinksql and hint itself) as "python3" into a
Jupyter data folder, on this project's venv Python, for a JupyterLab that is not the project's own: Binder's
(postBuild) and a JupyterHub's, such as The Littlest JupyterHub (docs/classroom.md).

    .venv/bin/python scripts/install_kernel.py [KERNELS_FOLDER]    default: the user's Jupyter data folder's kernels/

The spec's "python" becomes the Python that runs this script (the project's venv: `make kernel`) by its absolute
path: a server on another Python would otherwise start the kernel on its own one, without PyFlink."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    from jupyter_core.paths import jupyter_data_dir  # ~/.local/share/jupyter on Linux, JUPYTER_DATA_DIR if set

    folder = Path(argv[0]) if argv else Path(jupyter_data_dir()) / "kernels"
    spec = json.loads((ROOT / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    spec["argv"][0] = str(Path(sys.executable).absolute())
    target = folder / "python3" / "kernel.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(spec, indent=1) + "\n")
    print(f"the project's kernel: {target} (Python {spec['argv'][0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
