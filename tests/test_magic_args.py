"""The `%%flinksql` options, read by IPython's magic_arguments: `%%flinksql?` lists them, and a wrong one is
a "Usage" block that says what is wrong (no JVM: nothing runs)."""

from __future__ import annotations

import pytest

from workbook.course import magic


def test_help_lists_every_option():
    doc = magic.flinksql.__doc__
    for option in ("--data", "--limit", "--changelog", "--out", "--exercise", "--file", "--timeout"):
        assert option in doc, option
    assert "{check,sample,replayed,topic}" in doc


def test_options_are_parsed():
    opts = magic.parse_args("--data sample --limit 5 --changelog --out rows --timeout 2.5")
    assert (opts.data, opts.limit, opts.changelog, opts.out, opts.timeout) == ("sample", 5, True, "rows", 2.5)
    defaults = magic.parse_args("")
    assert (defaults.data, defaults.limit, defaults.exercise, defaults.file) == ("check", None, None, False)


@pytest.mark.parametrize(
    "line, says",
    [
        ("--data nope", "invalid choice: 'nope'"),
        ("--limit 0", "0: must be more than 0"),
        ("--timeout soon", "soon: expected a number"),
        ("--bogus", "unrecognized arguments: --bogus"),
        ("--data", "expected one argument"),
    ],
)
def test_a_wrong_option_is_a_usage_block(line, says):
    out = magic.run(line, "SELECT 1")
    assert isinstance(out, magic.ErrorBlock) and out.title == "Usage"
    assert says in out.body and out.body.startswith("%%flinksql: "), out.body


def test_a_cell_that_would_wait_for_flink_says_so(capsys, monkeypatch):
    """A wait over 5 s says what it waits for: a kernel whose Flink has not started yet (a fresh session)."""
    from workbook.course import feedback
    from workbook.pipeline.session import Session

    fresh = Session({})
    monkeypatch.setattr(feedback, "session", lambda: fresh)
    assert not fresh.running and fresh.starting
    magic.say_if_flink_is_starting()
    assert capsys.readouterr().out == magic.STARTING + "\n"
