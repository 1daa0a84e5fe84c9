"""The long broker soak: many more SIGKILLs and a longer 20% fault soak than the test suite runs.

    .venv/bin/python benchmarks/broker_soak.py --kills 300 --soak-kills 100

Same assertions as tests/acceptance/test_broker_crash.py (it reuses its helpers): nothing sent twice, nothing lost,
positions equal to the emulator's. Prints the fault tally and the time taken.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clock import monotonic
from emulator import EmulatorServer, FaultRule
from emulator.faults import SOAK_KINDS
from tests.acceptance.test_broker_crash import check_books, drive, settle
from tests.servers.alpaca_rig import KEY_ID, SECRET_KEY, make_exchange


def run(kills: int, faults: bool, seed: int) -> None:
    server = EmulatorServer(make_exchange(), key_id=KEY_ID, secret_key=SECRET_KEY).start()
    try:
        rng = random.Random(seed)
        if faults:
            server.faults.replace([FaultRule("*", "random", times=None, rate=0.2, seconds=0.2, kinds=[*SOAK_KINDS, "hang"])], seed=seed)
        else:
            server.faults.add(FaultRule("orders.submit", "random", times=None, seconds=0.05, kinds=["latency", "commit_then_latency"]))
        with tempfile.TemporaryDirectory() as tmp:
            stages: dict[str, int] = {}
            started = monotonic()
            drive(server, Path(tmp) / "state", kills=kills, rng=rng, read_timeout=0.5 if faults else 2.0, stages=stages)
            fired = dict(server.faults.fired)
            settle(server, Path(tmp) / "state", rng)
            check_books(server, Path(tmp) / "state")
            print(f"{'fault soak' if faults else 'crash'}: {kills} kills in {monotonic() - started:.0f} s; kill points {stages}; faults {fired}")
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--soak-kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    run(args.kills, False, args.seed)
    run(args.soak_kills, True, args.seed)
    print("ok: nothing sent twice, nothing lost, positions equal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
