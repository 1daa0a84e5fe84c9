"""What `main.py signals` prints and draws, on the real pack."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

from signals.build import build_snapshot, session_as_of, session_days, snapshot_history
from signals.cli import history_csv, history_json, regime_chart, snapshot_json, snapshot_table
from signals.params import SignalParams
from tests.integration.signals_data import pack_store

P = SignalParams()


def test_snapshot_table_and_json() -> None:
    pit = pack_store()[1]
    d = date(2025, 9, 17)
    s = build_snapshot(pit, session_as_of(d, P), d, P)
    text = snapshot_table(s)
    assert "cutting_later" in text and "REGIME" in text and "core_pce_12m" in text
    data = json.loads(snapshot_json(s))
    assert data["as_of"].startswith("2025-09-17T20:30")
    assert data["phase"]["name"] == "cutting_later"
    assert data["regime"]["name"] in {"soft_landing", "recession_risk", "crisis", "late_cuts", "tightening", "neutral"}
    assert data["regime"]["reasons"] and "runner_up" in data["regime"]
    assert "value" in data["indicators"]["unemployment"]


def test_history_csv_json_and_chart(tmp_path: Path) -> None:
    pit = pack_store()[1]
    days = session_days(pit, date(2024, 7, 1), date(2025, 12, 31))
    snaps = snapshot_history(pit, days, P)
    rows = list(csv.DictReader(io.StringIO(history_csv(snaps))))
    assert len(rows) == len(days) and rows[0]["day"] == "2024-07-01" and "regime" in rows[0]
    assert json.loads(history_json(snaps))[-1]["day"] == "2025-12-31"
    iwm = pit.bars_as_of("IWM", datetime(2100, 1, 1, tzinfo=UTC))["close"]
    out = regime_chart(snaps, iwm, [date(2024, 9, 18), date(2025, 9, 17)], tmp_path / "regimes.png")
    assert out.stat().st_size > 10_000
