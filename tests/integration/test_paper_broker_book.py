"""R42: everything the broker holds reaches the decision book. Long IWM puts exercised without the shares leave the
account short IWM; the paper session books the short (true equity, not phantom cash), covers it at the next open by
the documented rule (`strategies.orders`), and ends holding the target. A written option halts the session."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path

from clock import NEW_YORK
from datastore.store import Store
from emulator.records import EmuPosition
from emulator.seed import seed_put_chain
from tests.integration.test_paper_support import rig

EXPIRY = date(2024, 7, 19)  # the July monthly expiry; IWM closed near $219, far below the $250 strike
NEXT = date(2024, 7, 22)


def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=NEW_YORK)


def test_short_stock_from_an_exercised_put_reaches_the_book_and_is_covered(pack_store: Store, tmp_path: Path) -> None:
    with rig(pack_store, tmp_path, EXPIRY, NEXT, at=_at(EXPIRY, 12, 0)) as r:
        [put] = seed_put_chain(r.exchange, "IWM", as_of=EXPIRY, spot=219.0, expirations=[EXPIRY], strikes=[250.0])
        r.exchange.positions[put] = EmuPosition(put, "us_option", 2, 20.0)  # bought by hand; Alpaca exercises it at the close
        r.move(_at(EXPIRY, 16, 31))
        assert r.exchange.positions["IWM"].qty == -200
        with r.session(mode="paper") as (s, runner):
            runner.wake()  # the decision of the 19th
            [decision] = s.deps.journal.query("SELECT inputs_json, target_json FROM decisions WHERE day=?", (EXPIRY.isoformat(),))
            inputs, target = json.loads(decision["inputs_json"]), json.loads(decision["target_json"])
            assert inputs["shares"] == {"IWM": -200}
            book_equity = inputs["cash"] - 200 * inputs["marks"]["IWM"]  # what the core sized from: the short is owed
            assert abs(book_equity - r.exchange.equity()) < 0.01 * r.exchange.equity()  # not the short's cash as phantom equity
            sides = [(i["side"], i["qty"], i["reason"].split(":")[0]) for i in target["intents"]]
            assert sides[0] == ("buy", 200, "cover short IWM")
            wanted = sides[1][1] if len(sides) > 1 else 0
            r.move(_at(NEXT, 8, 46))
            runner.wake()  # the pre-open sends the cover and the target buy
            r.move(_at(NEXT, 10, 0))
            s.deps.reconcile()
            assert s.deps.journal.position_book().get("IWM") == wanted  # the journal agrees: exercise, cover and buy booked
            assert s.deps.journal.query("SELECT 1 FROM events WHERE message LIKE 'position_adjustment IWM %'") == []
        assert r.exchange.positions["IWM"].qty == wanted > 0


def test_a_written_option_halts_the_decision_with_a_clear_message(pack_store: Store, tmp_path: Path) -> None:
    with rig(pack_store, tmp_path, EXPIRY, NEXT, at=_at(date(2024, 7, 16), 16, 31)) as r:
        [put] = seed_put_chain(r.exchange, "IWM", as_of=date(2024, 7, 16), spot=219.0, expirations=[EXPIRY], strikes=[200.0])
        r.exchange.positions[put] = EmuPosition(put, "us_option", -1, 2.0)
        with r.session(mode="paper") as (s, runner):
            runner.wake()
            assert s.deps.journal.query("SELECT 1 FROM decisions") == []
            assert s.deps.health.halted is not None and "short options" in s.deps.health.halted and put in s.deps.health.halted
        assert r.exchange.post_log == []
