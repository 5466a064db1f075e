SELECT ts, direction, price, volume, price * volume AS notional
FROM valid_trades WHERE currency_pair = 'bitcoin / tether'
