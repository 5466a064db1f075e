frame = pd.DataFrame(records)
frame["currency_pair"] = frame["base"] + " / " + frame["quote"]
stream_counts = (frame.groupby(["currency_pair", "direction"])
                 .agg(trades=("price", "size"), volume=("volume", "sum"))
                 .reset_index())
