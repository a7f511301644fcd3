"""Betting intelligence: value bets, Kelly staking, arbitrage, parlays and the bankroll backtest. Pure functions
over pandas frames and NumPy arrays (the quote frame of `matchday.features.frames`), no I/O."""
