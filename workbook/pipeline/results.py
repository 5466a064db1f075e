"""Results as a DataFrame: PyFlink's Table.to_pandas converts the table's schema to Python types
field by field, three times, each type a dozen Py4J calls: ~0.7 s of a 0.5 s query. `to_pandas`
reads the same Arrow stream with the schema Arrow already carries (bench/bench_magic.py).
WORKBOOK_ARROW_COLLECT=0 turns this off (`switches`); another PyFlink gets its own way.
"""

from __future__ import annotations

import io

from . import pyflink_internals
from .switches import enabled

_LTZ_ROOT = "TIMESTAMP_WITH_LOCAL_TIME_ZONE"


def to_pandas(table):
    """table.to_pandas(), the same frame (dtypes included), without converting the schema to
    Python types: one Arrow stream from Flink's ArrowUtils, TIMESTAMP_LTZ columns localized
    to the session's time zone as PyFlink does."""
    if not enabled("WORKBOOK_ARROW_COLLECT"):
        return table.to_pandas()
    try:
        names, collect = pyflink_internals.arrow_batches(table)
    except Exception:  # noqa: BLE001 - another PyFlink: its own way (before anything ran)
        return table.to_pandas()
    ltz = ltz_columns(table)
    import pandas as pd
    import pyarrow as pa

    batches = collect()
    if not batches.hasNext():
        return pd.DataFrame.from_records([], columns=names)
    frame = pa.ipc.open_stream(io.BufferedReader(_JavaBytes(batches))).read_all().to_pandas()
    zone = None
    for name, is_ltz in zip(names, ltz):
        if is_ltz:
            if zone is None:
                import pytz

                zone = pytz.timezone(pyflink_internals.local_time_zone(table))
            frame[name] = frame[name].dt.tz_localize(zone)
    return frame


def ltz_columns(table) -> list[bool]:
    """For each column of the table: is it TIMESTAMP_LTZ? Read from the Java schema (one call per
    column; PyFlink's get_schema() converts every type to Python, a dozen calls each)."""
    try:
        return [root == _LTZ_ROOT for root in pyflink_internals.column_type_roots(table)]
    except Exception:  # noqa: BLE001 - another PyFlink: through its Python types
        from pyflink.table.types import LocalZonedTimestampType

        return [isinstance(t, LocalZonedTimestampType) for t in table.get_schema().get_field_data_types()]


class _JavaBytes(io.RawIOBase):
    """A Java iterator of byte arrays as a readable stream (for Arrow's reader)."""

    def __init__(self, iterator):
        super().__init__()
        self._iterator, self._chunk, self._at = iterator, memoryview(b""), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._at >= len(self._chunk):
            if not self._iterator.hasNext():
                return 0
            self._chunk, self._at = memoryview(bytes(self._iterator.next())), 0
        n = min(len(buffer), len(self._chunk) - self._at)  # no copy of the rest: big results stay linear
        buffer[:n] = self._chunk[self._at : self._at + n]
        self._at += n
        return n
