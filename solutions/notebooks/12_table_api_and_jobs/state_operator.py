# The plan of STATE_QUERY, result first: GroupAggregate(groupBy=[currency_pair], changelogMode=[I,UA]) above
# GlobalWindowAggregate (changelogMode=[I]). The window aggregation frees a minute's state when the watermark
# passes the minute's end; the GROUP BY without a window updates each pair's maximum forever.
state_operator = "GroupAggregate"
