"""Reviewing what the bot did and why: runs, trades, a day's decision, reports, comparisons and parity.

Everything here only reads journals, so it works the same for backtests, sweep members and paper sessions.
"""
