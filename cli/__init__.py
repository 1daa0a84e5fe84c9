"""What every command shares at the edge of the process: one date parser and range check, one error boundary."""
