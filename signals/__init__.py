"""The signal layer: FOMC calendar and cycle phase, point-in-time indicators, the regime, and the event study."""
