"""The switches of the speed-ups of Flink jobs and of collecting their results, all behind one setting.

- compiled plans (`plan_cache`): planning the SQL takes ~1.5 s of every start;
- a class-data-sharing archive of the classes Flink loads (`class_archive`): ~2 s of every JVM start, on Java 17
  only (on Java 21 a mapped archive broke Flink's code generation; Java 11 writes none);
- results as one Arrow stream (`results.to_pandas`): PyFlink's Table.to_pandas takes ~0.7 s of a 0.5 s query;
- a warm-up: `%load_ext workbook` starts the kernel's session in the background
  (JVM, MiniCluster, one query), while the student reads on (course.magic).

WORKBOOK_SPEEDUPS=0 turns them off (WORKBOOK_PLAN_CACHE=0, WORKBOOK_JVM_CDS=0,
WORKBOOK_ARROW_COLLECT=0 or WORKBOOK_WARM_UP=0 turns off one); the results are the same either way
(tests/test_processor_flink.py, tests/test_magic.py).
"""

from __future__ import annotations

import os

_OFF = ("0", "false", "no", "off")


def enabled(setting: str | None = None) -> bool:
    """Whether the speed-ups are on (WORKBOOK_SPEEDUPS), and the one named by `setting`."""
    if os.environ.get("WORKBOOK_SPEEDUPS", "1").strip().lower() in _OFF:
        return False
    return setting is None or os.environ.get(setting, "1").strip().lower() not in _OFF
