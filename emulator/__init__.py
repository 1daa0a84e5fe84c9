"""A local Alpaca: trading and market-data REST endpoints with real state and fault knobs.

Tests start `EmulatorServer` on 127.0.0.1 (port 0) and point the real alpaca-py clients at it with
`url_override=`; `python -m emulator --port N` runs one for a manual paper session. See `server` for the control
API, `faults` for the fault knobs and `exchange` for how orders fill.
"""

from emulator.exchange import Exchange, OrderError
from emulator.faults import FaultPlan, FaultRule
from emulator.market import Calendar, Session
from emulator.server import EmulatorServer

__all__ = ["Calendar", "EmulatorServer", "Exchange", "FaultPlan", "FaultRule", "OrderError", "Session"]
