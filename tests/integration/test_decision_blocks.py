"""Decision records stored in blocks read back as the very rows a full write holds: every document of every day,
one day on its own, a NaN stored as null, compact records, and a version-1 journal upgraded in place."""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

from backtest.inputs import Inputs, SnapshotHistory, history
from backtest.run import RunSpec, run_backtest
from config.loader import load_config
from journal.decision_blocks import DecisionWriter, SnapshotBlocks, daily_signals, decision_rows
from journal.journal import Journal, _json, open_read_only
from journal.records import decision_documents
from journal.schema import SCHEMA_VERSION
from tests.integration.test_backtest_support import pack_inputs

__all__ = ["pack_inputs"]

START, END = date(2007, 6, 1), date(2009, 6, 30)  # a crisis: regimes, puts and orders change
CREATED = datetime(2026, 8, 22, tzinfo=UTC)


def _history(inputs: Inputs) -> SnapshotHistory:
    return history(inputs.pit, inputs.market.sessions("IWM", START, END), load_config().config.signals)


def test_every_rebuilt_row_equals_the_full_documents(pack_inputs: Inputs, tmp_path: Path) -> None:
    cfg = load_config().config
    snaps = _history(pack_inputs)
    result = run_backtest(pack_inputs.market, snaps, cfg.strategy, cfg.backtest, start=START, end=END,
                          spec=RunSpec("blocks", "blocks", CREATED, {}, "test"), journal_path=tmp_path / "j.sqlite")
    db = open_read_only(tmp_path / "j.sqlite")
    rows = decision_rows(db, "blocks")
    targets = {d.isoformat(): t for d, _, t in result.decisions}
    assert [r["day"] for r in rows] == sorted(targets) and len(rows) == len(snaps)
    for row in rows:
        snapshot, inputs = decision_documents(snaps[date.fromisoformat(row["day"])])
        target = targets[row["day"]]
        assert (row["snapshot_json"], row["inputs_json"], row["target_json"], row["reasons_json"]) == (
            _json(snapshot), _json(inputs), _json(target), _json(target["reasons"])), row["day"]
    one = decision_rows(db, "blocks", "2008-10-10")
    assert len(one) == 1 and tuple(one[0]) == tuple(next(r for r in rows if r["day"] == "2008-10-10"))
    assert db.execute("SELECT COUNT(*) FROM decision_blocks").fetchone()[0] < len(rows) / 50  # blocks, not rows
    # the market part alone (what the metrics read for the bill rate) is the same as in the rebuilt rows
    known = daily_signals(db, "blocks")
    markets = {day: market for day, (market, _) in known.items()}
    assert markets == {r["day"]: json.loads(r["inputs_json"])["market"] for r in rows}
    assert {day: regime for day, (_, regime) in known.items()} == {r["day"]: r["regime"] for r in rows}
    assert all(isinstance(m.get("bill_rate"), float) for m in markets.values())
    db.close()


def test_a_nan_reads_back_as_null_and_compact_records_hold_no_readings(pack_inputs: Inputs, tmp_path: Path) -> None:
    snaps = _history(pack_inputs)
    days = list(snaps)[:30]
    first = snaps[days[0]]
    name = next(iter(first.indicators))
    odd = dataclasses.replace(first, indicators={**first.indicators, name: dataclasses.replace(first.indicators[name], value=math.nan)})
    lookup = {d: (odd if d == days[0] else snaps[d]) for d in days}
    for detail in ("full", "compact"):
        journal = Journal(tmp_path / f"{detail}.sqlite")
        journal.start_run("r", kind="backtest", label="r", created_at=CREATED, config={}, config_hash="h", data_versions={}, code_version="c")
        writer = DecisionWriter(SnapshotBlocks(days, lookup.get), detail)  # type: ignore[arg-type]
        for d in days:
            writer.add(lookup[d], {"day": d.isoformat(), "reasons": ["why"], "weights": {"IWM": 0.5}}, ["why"])
        heads, blocks = writer.take()
        journal.record_decision_heads("r", heads)
        journal.record_decision_blocks("r", blocks)
        journal.close()
        db = open_read_only(tmp_path / f"{detail}.sqlite")
        rows = decision_rows(db, "r")
        db.close()
        snapshot, _ = decision_documents(odd)
        if detail == "full":
            assert rows[0]["snapshot_json"] == _json(snapshot) and f'"{name}": {{"available_at"' in rows[0]["snapshot_json"]
            assert '"value": null' in rows[0]["snapshot_json"]
        else:
            assert '"indicators": {}' in rows[0]["snapshot_json"] and '"rules"' not in rows[0]["snapshot_json"]
        assert [r["target_json"] for r in rows] == [_json({"day": d.isoformat(), "reasons": ["why"], "weights": {"IWM": 0.5}}) for d in days]


def test_a_version_1_journal_is_upgraded_and_its_full_rows_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    journal = Journal(path)
    journal.start_run("old", kind="paper", label="old", created_at=CREATED, config={}, config_hash="h", data_versions={}, code_version="c")
    journal.record_decision("old", day="2024-01-02", as_of=CREATED, regime="neutral", runner_up=None, phase="on_hold", reasons=["r"],
                            snapshot={"phase": {}}, inputs={"market": {}}, target={"day": "2024-01-02"})
    journal.close()
    db = sqlite3.connect(path)  # as version 1 left it: no decision_blocks table
    db.executescript("DROP TRIGGER decision_blocks_no_update; DROP TRIGGER decision_blocks_no_delete; DROP TABLE decision_blocks;"
                     "DROP INDEX events_by_kind; UPDATE meta SET value='1' WHERE key='schema_version';")
    db.close()
    Journal(path).close()
    ro = open_read_only(path)
    assert ro.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    (row,) = decision_rows(ro, "old")
    assert (row["snapshot_json"], row["target_json"]) == ('{"phase": {}}', '{"day": "2024-01-02"}')
    assert daily_signals(ro, "old") == {"2024-01-02": ({}, "neutral")}  # a full row's market and regime, read from the row
    # the reconciler's outside events (journal.position_book) are read through the index version 3 adds
    plan = " ".join(str(r[-1]) for r in ro.execute("EXPLAIN QUERY PLAN SELECT detail_json FROM events WHERE kind='outside_event'"))
    assert "USING INDEX events_by_kind" in plan, plan
    ro.close()


def test_a_compact_member_reads_back_the_metrics_calls_and_decisions_of_its_full_twin(pack_inputs: Inputs, tmp_path: Path) -> None:
    """A compact journal stores decisions only where the target changed, yet review measures it over the bill rate the
    run earned every day and scores the regime it called every day: the same as the same run journaled in full and
    as the backtest's own metrics (the Sharpe a sweep table shows is the one `runs`, `report` and `compare` show)."""
    from review.compare import compare_runs, render_compare
    from review.runs import open_runs

    cfg = load_config().config
    snaps = _history(pack_inputs)
    results = {}
    for detail in ("full", "compact"):
        spec = RunSpec(detail, detail, CREATED, {}, "test", kind="sweep_member", parent_id="sweep")
        results[detail] = run_backtest(pack_inputs.market, snaps, cfg.strategy, cfg.backtest, start=START, end=END, spec=spec,
                                       journal_path=tmp_path / f"{detail}.sqlite", snapshot_detail=detail)
    with open_runs([tmp_path / "full.sqlite", tmp_path / "compact.sqlite"]) as source:
        full, compact = source.run("full"), source.run("compact")
        assert source.compact(compact) and not source.compact(full)
        assert len(source.decisions(compact)) < len(source.decisions(full)) / 5  # it is compact
        own = results["compact"].strategy
        for ref in (full, compact):
            measured = source.measure(ref)
            assert measured.sharpe is not None and own.sharpe is not None and measured.sortino is not None and own.sortino is not None
            assert math.isclose(measured.sharpe, own.sharpe, rel_tol=1e-9) and math.isclose(measured.sortino, own.sortino, rel_tol=1e-9)
        assert source.regime_calls(compact) == source.regime_calls(full) == [(r["day"], r["regime"]) for r in source.decisions(full)]
        compared = compare_runs(source, compact, full)
        text = render_compare(compared)
    assert compared.diffs == [] and compared.days_only_a == compared.days_only_b == 0
    assert "A is a sweep member with a compact journal" in text and "B is a sweep member" not in text


def test_a_compact_writer_copies_the_snapshot_block_of_every_day_it_ran(pack_inputs: Inputs) -> None:
    """Days whose target did not change are not stored, but their snapshot blocks are (their bill rate and regime)."""
    snaps = _history(pack_inputs)
    days = list(snaps)[:12]
    blocks = SnapshotBlocks(days, snaps.get, block_days=5)
    writer = DecisionWriter(blocks, "compact")
    writer.add(snaps[days[0]], {"day": days[0].isoformat()}, [])
    for day in days[1:]:
        writer.cover(day)
    heads, written = writer.take()
    assert [h[0] for h in heads] == [days[0].isoformat()]
    assert [b for b in written if b[0] == "snapshot"] == [blocks.packed(i, "compact") for i in range(3)]
