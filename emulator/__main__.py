"""Run the emulator from the command line: `python -m emulator --port 8765 --state emu.json`.

Keys come from APCA_API_KEY_ID / APCA_API_SECRET_KEY (the same variables the bot reads), so a paper session can
point APCA_API_BASE_URL at http://127.0.0.1:PORT. Without --start the emulator follows the wall clock; with it,
time stays put until POST /_emulator/time moves it (what `main.py paper --simulate` does).

Bars are a seeded random walk for 2025-2027 with an IWM put chain, or, with `--store STORE --window FROM TO`, the
real IWM and SPY bars of a cutcycle store (the pack, once imported) for a simulated session on history.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date, datetime
from pathlib import Path

from cli.argv import Parser
from cli.dates import DateError, parse_day, parse_instant
from cli.numbers import port, port_in_use, positive_float
from clock import SystemClock, ensure_utc
from emulator.exchange import Exchange
from emulator.seed import demo_exchange, pack_exchange
from emulator.server import EmulatorServer

log = logging.getLogger("emulator")


def main(argv: list[str] | None = None, prog: str = "python -m emulator") -> int:
    parser = Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback only by default)")
    parser.add_argument("--port", type=port, default=8765, help="TCP port; 0 picks a free one")
    parser.add_argument("--state", type=Path, default=None, help="JSON state file kept across restarts")
    parser.add_argument("--start", default=None, help="manual time to start at (ISO, aware); default: follow the wall clock")
    parser.add_argument("--cash", type=positive_float, default=100_000.0, help="starting cash of a new account")
    parser.add_argument("--store", type=Path, default=None, help="serve this cutcycle store's IWM/SPY bars (needs --window)")
    parser.add_argument("--window", nargs=2, metavar=("FROM", "TO"), default=None, help="the sessions to serve from --store")
    args = parser.parse_args(argv)
    if (args.store is None) != (args.window is None):
        parser.error("--store and --window go together")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    key_id, secret = os.environ.get("APCA_API_KEY_ID", ""), os.environ.get("APCA_API_SECRET_KEY", "")
    if not key_id or not secret:
        log.error("set APCA_API_KEY_ID and APCA_API_SECRET_KEY: the emulator accepts only those keys")
        return 2
    system = SystemClock()
    try:
        start = ensure_utc(parse_instant(args.start, "--start")) if args.start else system.now()
        window = (parse_day(args.window[0], "--window FROM"), parse_day(args.window[1], "--window TO")) if args.window else None
    except DateError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.store is not None:
        exchange = _store_exchange(args.store, window, start, args.cash)
        if exchange is None:
            return 2
    else:
        exchange = demo_exchange(start, path=args.state, cash=args.cash)
    exchange.follow_clock = None if args.start else system
    try:
        server = EmulatorServer(exchange, key_id=key_id, secret_key=secret, host=args.host, port=args.port)
    except OSError as exc:
        line = port_in_use(exc, args.port, "emulator")
        if line is None:
            raise
        sys.stderr.write(f"error: {line}\n")
        return 1
    clock_note = f"its clock starts at {start:%Y-%m-%d %H:%M} UTC and moves only when told" if args.start else "its clock follows the wall clock"
    sys.stderr.write(f"Alpaca emulator listening on {server.url} (state: {args.state or 'memory only'}; {clock_note}); Ctrl-C stops it\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log.info("stopped")
    return 0


def _store_exchange(path: Path, window: tuple[date, date] | None, start: datetime, cash: float) -> Exchange | None:
    from datastore.store import Store

    if not path.is_file():
        log.error("--store %s: no such store (run `main.py data status` or a backtest once to import the pack)", path)
        return None
    assert window is not None  # --store and --window go together
    first, last = window
    if last < first:
        log.error("--window %s %s: TO is before FROM", first, last)
        return None
    store = Store(path)
    try:
        exchange = pack_exchange(store, first, last, cash=cash, at=start)
    finally:
        store.close()
    missing = [s for s, bars in exchange.bars.items() if not bars]
    if missing:
        log.error("--store %s has no bars for %s in %s .. %s", path, ", ".join(missing), first, last)
        return None
    return exchange


if __name__ == "__main__":
    sys.exit(main())
