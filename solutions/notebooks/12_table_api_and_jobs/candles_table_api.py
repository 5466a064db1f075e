from pyflink.table.expressions import col, lit
from pyflink.table.window import Tumble


def candles_table_api(trades):
    """candle_stats in the Table API: per 1-minute tumbling window and pair, min, max, VWAP, volume and count."""
    return (
        trades.window(Tumble.over(lit(1).minutes).on(col("ts")).alias("w"))
        .group_by(col("w"), col("currency_pair"))
        .select(
            col("w").start.alias("ts_start"),
            col("w").end.alias("ts_end"),
            col("currency_pair"),
            col("price").min.alias("price_min"),
            col("price").max.alias("price_max"),
            ((col("price") * col("volume")).sum / col("volume").sum).alias("price_avg"),
            col("volume").sum.alias("volume"),
            col("price").count.alias("num_trades"),
        )
    )
