"""The append-only journal shared by backtests and paper sessions."""
