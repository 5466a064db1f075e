"""`python -m producer ...` is the same as `python producer/producer.py ...`."""
import sys

from producer.cli import main

sys.exit(main())
