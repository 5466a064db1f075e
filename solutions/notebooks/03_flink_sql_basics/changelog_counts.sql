SELECT currency_pair, COUNT(*) AS num_trades FROM valid_trades GROUP BY currency_pair
