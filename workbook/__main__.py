"""`python -m workbook up | down | status | logs`: control the embedded stack;
`python -m workbook sql`: the Flink SQL client over sql/ (workbook.pipeline.sql_client)."""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["sql"]:
        from .pipeline.sql_client import main as sql_main

        sys.exit(sql_main(sys.argv[2:]))
    from .stack.cli import main

    sys.exit(main())
