"""Helpers of the real-time crypto trade workbook, in rooms:

- bottom: `paths`, `config` (the one settings object), `kafka` (topics and
  records), `java` (a Java runtime for Flink);
- `stack`: the embedded stack (`python -m workbook up | down | status | logs`);
- `pipeline`: the Flink job (`python -m workbook.processor`) and bounded queries;
- `course`: exercises, checks, datasets, the student release;
- `dashboard`: Grafana's panels in Plotly.

See docs/architecture.md.

`%load_ext workbook` in a notebook adds the `%%flinksql` magic (workbook.course.magic);
it is imported only then, so `import workbook` stays cheap.
"""


def load_ipython_extension(ipython) -> None:
    from .course.magic import load_ipython_extension as load  # deferred on purpose: `import workbook` stays cheap

    load(ipython)
