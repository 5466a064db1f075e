"""`python -m workbook up | down | status | logs`: control the embedded stack."""

import sys

from .stack.cli import main

if __name__ == "__main__":
    sys.exit(main())
