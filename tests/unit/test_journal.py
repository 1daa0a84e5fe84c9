"""The journal's own guarantees: append-only trade log, one account per file, the run ledger, batched commits."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from journal.journal import Journal, JournalError
from strategies.intents import OrderIntent

NOW = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)


def journal(path: Path) -> Journal:
    j = Journal(path)
    j.start_run("r1", kind="backtest", label="t", created_at=NOW, config={}, config_hash="h", data_versions={}, code_version="v")
    return j


def intent(qty: int = 10) -> OrderIntent:
    return OrderIntent(date(2024, 1, 2), "IWM", "equity", "buy", qty, "market_on_open", "test")


def test_trade_log_is_append_only_and_intents_are_stored_once(tmp_path: Path) -> None:
    j = journal(tmp_path / "j.sqlite")
    assert j.record_intent("r1", intent(), at=NOW) is True
    assert j.record_intent("r1", intent(), at=NOW) is False
    assert j.order_state(intent().client_order_id)["status"] == "pending_submit"
    j.mark_job("r1", "decision", "2024-01-02", outcome="done", at=NOW)
    for sql in ("UPDATE intents SET qty = 1", "DELETE FROM order_events", "DELETE FROM job_ledger"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            j.query(sql)
    assert (tmp_path / "j.sqlite").stat().st_mode & 0o777 == 0o600


def test_a_database_belongs_to_one_account_and_endpoint(tmp_path: Path) -> None:
    journal(tmp_path / "j.sqlite").bind("PA1", "https://paper-api.alpaca.markets")
    again = Journal(tmp_path / "j.sqlite")
    again.bind("PA1", "https://paper-api.alpaca.markets")
    with pytest.raises(JournalError, match="belongs to account PA1"):
        again.bind("PA2", "https://paper-api.alpaca.markets")


def test_run_ledger_records_a_daily_job_once(tmp_path: Path) -> None:
    j = journal(tmp_path / "j.sqlite")
    assert j.mark_job("r1", "decision", "2024-01-02", outcome="done", at=NOW) is True
    assert j.mark_job("r1", "decision", "2024-01-02", outcome="done", at=NOW) is False
    assert j.job_done("decision", "2024-01-02") and not j.job_done("decision", "2024-01-03")


def test_batched_writes_commit_at_checkpoints_and_at_close(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = journal(path)
    j.checkpoint()  # outside a batch: nothing to do, no transaction left open
    j.open_batch()
    j.record_event("r1", at=NOW, kind="job", message="one")
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == 0  # not committed yet
    j.checkpoint()
    assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    j.record_event("r1", at=NOW, kind="job", message="two")
    j.close_batch()
    assert reader.execute("SELECT count(*) FROM events").fetchone()[0] == 2
    reader.close()


def test_commits_wait_for_the_disk_unless_the_journal_can_be_rebuilt(tmp_path: Path) -> None:
    """The paper trader's journal (the default) is synchronous=FULL; a backtest's (durable=False) NORMAL, still in WAL."""
    paper = Journal(tmp_path / "paper.sqlite")
    backtest = Journal(tmp_path / "backtest.sqlite", durable=False)
    try:
        assert paper._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert backtest._db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        assert backtest._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        paper.close()
        backtest.close()
