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
    Python types: one Arrow stream from Flink's ArrowUtils, TIMESTAMP_LTZ columns as instants shown in
    the session's time zone."""
    if not enabled("WORKBOOK_ARROW_COLLECT"):
        return _pyflink_to_pandas(table)
    try:
        names, collect = pyflink_internals.arrow_batches(table)
    except Exception:  # noqa: BLE001 - another PyFlink: its own way (before anything ran)
        return _pyflink_to_pandas(table)
    import pandas as pd
    import pyarrow as pa

    batches = collect()
    if not batches.hasNext():
        return pd.DataFrame.from_records([], columns=names)
    frame = pa.ipc.open_stream(io.BufferedReader(_JavaBytes(batches))).read_all().to_pandas()
    return _localized(frame, names, table)


KINDS = {0: "+I", 1: "-U", 2: "+U", 3: "-D"}  # RowKind's byte, as the changelog column `op` shows it


def changelog_to_pandas(table, limit: int | None = None, progress: dict | None = None):
    """The query's update stream as a DataFrame, in arrival order, its row kind first (`op`: +I, -U, +U, -D):
    Arrow batches of Flink's rows with their kinds (pyflink_internals.changelog_arrow), TIMESTAMP_LTZ columns
    localized as to_pandas does. `limit`: the first rows only (then the job is cancelled); `progress["rows"]`
    counts the rows that have come back (a query stopped at its time limit says how many)."""
    import pyarrow as pa

    progress = progress if progress is not None else {}
    if not enabled("WORKBOOK_ARROW_COLLECT"):
        return _changelog_row_by_row(table, limit, progress)
    try:
        names, chunks = pyflink_internals.changelog_arrow(table)
    except Exception:  # noqa: BLE001 - another PyFlink: its own way (before anything ran)
        return _changelog_row_by_row(table, limit, progress)
    progress["rows"], schema, batches = 0, None, []
    for chunk in chunks:
        stream = pa.BufferReader(pa.py_buffer(chunk))
        if schema is None:  # the first chunk: the stream's schema, then a batch
            reader = pa.ipc.open_stream(stream)
            schema, new = reader.schema, list(reader)
        else:
            new = [pa.ipc.read_record_batch(pa.ipc.read_message(stream), schema)]
        batches += new
        progress["rows"] += sum(b.num_rows for b in new)
        if limit is not None and progress["rows"] >= limit:
            chunks.close()  # closes Flink's result iterator: the job is cancelled
            break
    if schema is None:
        import pandas as pd

        return pd.DataFrame(columns=["op", *names])
    frame = pa.Table.from_batches(batches, schema).to_pandas()
    frame["op"] = frame["op"].map(KINDS)
    return _localized(frame.head(limit) if limit is not None else frame, names, table)


def _changelog_row_by_row(table, limit: int | None, progress: dict):
    """PyFlink's collect(): three Py4J calls a row (the way when the Arrow batches cannot be had)."""
    import pandas as pd
    from pyflink.table import DataTypes
    from pyflink.table.expressions import col

    names = table.get_schema().get_field_names()
    ltz = ltz_columns(table)
    zone = pyflink_internals.local_time_zone(table) if any(ltz) else None
    if any(ltz):  # collect() cannot pickle TIMESTAMP_LTZ values: as TIMESTAMP(3), the session zone's wall time
        table = table.select(
            *[(col(n).cast(DataTypes.TIMESTAMP(3)) if z else col(n)).alias(n) for n, z in zip(names, ltz)]
        )
    rows = []
    with table.execute().collect() as results:
        for row in results:
            rows.append([KINDS[row.get_row_kind().value], *row])
            progress["rows"] = len(rows)
            if limit is not None and len(rows) >= limit:
                break  # closing the iterator cancels the job
    frame = pd.DataFrame(rows, columns=["op", *names])
    for name, is_ltz in zip(names, ltz):
        if is_ltz:
            frame[name] = pd.to_datetime(frame[name]).dt.tz_localize(zone)
    return frame


def _pyflink_to_pandas(table):
    """PyFlink's own to_pandas, its TIMESTAMP_LTZ columns mended: PyFlink 2.0 reads the UTC time of the
    instant as a wall time of the session's zone (00:00Z comes back as 00:00-05:00 in America/New_York)."""
    import pandas as pd

    frame = table.to_pandas()
    names = list(frame.columns)
    for name, is_ltz in zip(names, ltz_columns(table)):
        if is_ltz and pd.api.types.is_datetime64_any_dtype(frame[name]):  # no rows: an object column
            frame[name] = frame[name].dt.tz_localize(None)
    return _localized(frame, names, table)


def _localized(frame, names: list, table):
    """TIMESTAMP_LTZ columns as instants in the session's time zone (`table.local-time-zone`); Arrow gives
    their UTC time (epoch based)."""
    import pandas as pd

    zone = None
    for name, is_ltz in zip(names, ltz_columns(table)):
        if is_ltz and pd.api.types.is_datetime64_any_dtype(frame[name]):  # no rows: an object column
            if zone is None:
                import pytz

                zone = pytz.timezone(pyflink_internals.local_time_zone(table))
            frame[name] = frame[name].dt.tz_localize("UTC").dt.tz_convert(zone)
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
