"""Trade producer: exchange websockets, replay files and a synthetic market
into Kafka, as the course lab's trade records (see producer/README.md).

Run it as ``python -m producer --source NAME ...`` (or the console script
``trade-producer``). It imports nothing from the rest of the project.
"""

from pathlib import Path

PRODUCER_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PRODUCER_DIR.parent
SAMPLE_FILE = PROJECT_ROOT / "data" / "sample-trades.jsonl.gz"
