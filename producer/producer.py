#!/usr/bin/env python3
"""Command-line entry of the trade producer: `python producer/producer.py --help`.

Run as a script, Python puts this folder (producer/) first on sys.path, where
this very file would shadow the `producer` package; swap it for the project
root so that `import producer` finds the package.
"""
import os
import sys

if __name__ == "__main__" and not __package__:
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.path.insert(0, os.path.dirname(_here))
    sys.modules.pop("producer", None)

from producer.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
