def watermark_delay(stream):
    """The smallest watermark delay, in whole seconds, that leaves at most 1 % of `stream`'s trades late:
    fewer trades are late as the delay grows, so the first delay from 0 up that keeps them under 1 %."""
    delay = 0
    while simulate(stream, delay_ms=delay * 1000).late_fraction > 0.01:
        delay += 1
    return delay
