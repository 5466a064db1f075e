"""The failure box: its example row is one line per column (a candle's ten columns fit the box), the
values that differ marked."""

from workbook.course.feedback import CheckResult


def test_the_example_row_is_one_line_per_column_with_differences_marked():
    got = {"ts_start": "00:01", "currency_pair": "bitcoin / tether", "volume": 1.5, "num_trades": 12}
    expected = dict(got, num_trades=13)
    box = CheckResult(
        "candlesticks", False, "candlesticks: not yet", ["num_trades differ"], got, expected
    )._repr_html_()
    assert box.count("<tr>") == 1 + len(expected)  # a header, then one line per column
    assert (
        "<th style='text-align:left'>num_trades</th><td style='color:#cf222e;font-weight:bold'>12</td><td>13</td>"
        in box
    )
    assert "<th style='text-align:left'>volume</th><td>1.5</td><td>1.5</td>" in box
    assert "overflow-x:auto" in box
