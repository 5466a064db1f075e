"""The Flink job: the SQL files of sql/ become statements, run as one job
(`run`) or as one bounded query over fixed trades (`query`), in a
TableEnvironment set up by `flink_env`, with the speed-ups of `plan_cache`,
`class_archive` and `results` (turned on and off in `switches`). Every use of
PyFlink's private API is in `pyflink_internals`. Uses the bottom of the package
(`config`, `kafka`, `java`, `paths`).
"""

from .errors import ProcessorError, flink_message
from .query import query
from .runner import PIPELINE_NAME, RunOptions, RunResult, pipeline_name, run
from .sql_files import SqlFileError, load_sql
from .statements import Statement, jdbc_url_with_schema, load_statements, sql_values

__all__ = [
    "PIPELINE_NAME",
    "ProcessorError",
    "RunOptions",
    "RunResult",
    "SqlFileError",
    "Statement",
    "flink_message",
    "jdbc_url_with_schema",
    "load_sql",
    "load_statements",
    "pipeline_name",
    "query",
    "run",
    "sql_values",
]
