"""`python -m producer ...`: the trade producer's command line."""

import sys

from producer.cli import main

if __name__ == "__main__":
    sys.exit(main())
