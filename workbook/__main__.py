"""`python -m workbook up | down | status | logs | sql`: the workbook command (workbook/cli.py)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
