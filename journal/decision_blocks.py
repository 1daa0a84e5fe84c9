"""Decision records stored once: a backtest journals each part of a decision only on the days it changed.

A decision record is the four documents `journal.records` describes (snapshot, inputs, target, reasons). Most of
it does not change from one session to the next: a CPI reading holds for a month, a rule's thresholds for the
whole run. Each record is split into parts (the phase, each indicator reading, each regime rule, the regime's
verdict, the market inputs; the target and the reasons) and a block of consecutive days (250) is stored column by
column: one column per part, or per field of a part that is a dataclass. A column whose value holds for several days
is written as runs, [value, days], so a reading that did not change is not written again. A block is one
zlib-compressed JSON row in `decision_blocks` and decodes on its own. The `decisions` row of such a day keeps its
columns (day, as_of, regime, runner-up, phase) with '' in the four document columns.

Two kinds of block: `snapshot` blocks hold what the signal layer knew (the same for every run on one snapshot
history, so `SnapshotBlocks` packs each block once and every run, sweep member or repeat, copies the bytes) and
`decision` blocks hold the run's own target and reasons.

`decision_rows` is the one reader: it returns the `decisions` rows of a run with every document rebuilt, as the
same JSON text a full row holds, so nothing that reads decisions can tell the two storages apart. Paper sessions
write full rows (one a day); both read back alike.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from itertools import groupby
from operator import attrgetter
from typing import Any, Literal

from journal.records import field_names, plain
from signals.snapshot import RegimeCall, Snapshot

Detail = Literal["full", "compact"]
BlockKind = Literal["snapshot", "decision"]
Block = tuple[str, str, str, bytes]  # kind, first day, last day, compressed parts
COMPACT_REGIME = ("name", "runner_up", "reasons", "fallback")  # what a compact record keeps of the regime call
IN_BLOCKS = ""  # the document columns of a decision whose record lives in `decision_blocks`
BLOCK_DAYS = 250
_REGIME_FIELDS = tuple(f.name for f in fields(RegimeCall) if f.name != "rules")


def snapshot_parts(snapshot: Snapshot, detail: Detail) -> dict[str, Any]:
    """The snapshot's parts of a decision record, as objects (compared with the previous day's before encoding)."""
    regime = snapshot.regime
    parts: dict[str, Any] = {"phase": snapshot.phase, "warnings": snapshot.warnings, "market": snapshot.market}
    if detail == "full":
        parts["regime"] = {name: getattr(regime, name) for name in _REGIME_FIELDS}
        parts["indicators"] = tuple(snapshot.indicators)
        for name, reading in snapshot.indicators.items():
            parts["ind:" + name] = reading
        parts["rules"] = len(regime.rules)
        for i, rule in enumerate(regime.rules):
            parts[f"rule:{i}"] = rule
    else:
        parts["regime"] = {name: getattr(regime, name) for name in COMPACT_REGIME}
        parts["indicators"] = ()
    return parts


def decision_parts(day: str, target: Mapping[str, Any], reasons: Sequence[Any]) -> dict[str, Any]:
    """The run's own parts: the target (without the day and reasons it repeats: rebuilt on read) and the reasons."""
    listed = list(reasons)
    return {"target": {k: v for k, v in target.items() if not ((k == "day" and v == day) or (k == "reasons" and v == listed))}, "reasons": listed}


def _encoder(iso: dict[Any, str]) -> Callable[[Any], Any]:
    """json.dumps' hook for what `plain` converts: dataclasses to dicts, dates to ISO text, anything else as the
    journal stores it (its str)."""

    def default(value: Any) -> Any:
        kind: Any = type(value)
        if kind is datetime or kind is date:
            return _iso(value, iso)
        if is_dataclass(value):
            return {name: getattr(value, name) for name in field_names(kind)}
        return str(value)

    return default


def _iso(value: date, iso: dict[Any, str]) -> str:
    text = iso.get(value)
    if text is None:
        text = iso[value] = value.isoformat()
    return text


def _column(values: list[Any], iso: dict[Any, str]) -> Any:
    """One part's (or field's) values over the block's days: [[value, days it holds], ...] when it changes less
    often than every other day (a value that did not change is not written again), else the plain list."""
    runs = [[v, len(list(group))] for v, group in groupby(values)]
    if values and type(values[0]) in (date, datetime):  # dates and instants: ISO text, each distinct one encoded once
        text = {v: _iso(v, iso) for v in {run[0] for run in runs} if v is not None}
        for run in runs:
            run[0] = text.get(run[0])
        if 2 * len(runs) > len(values):
            values = [text.get(v) for v in values]
    return {"runs": runs} if 2 * len(runs) <= len(values) else values


def _expand(column: Any) -> list[Any]:
    if isinstance(column, dict):
        return [v for v, n in column["runs"] for _ in range(n)]
    return list(column)


class _Block:
    """Consecutive days of parts, stored column by column: one column per part, or per field of a part that is the
    same kind of dataclass every day."""

    def __init__(self) -> None:
        self.days: list[str] = []
        self._parts: list[dict[str, Any]] = []

    def add(self, day: str, parts: dict[str, Any]) -> None:
        self.days.append(day)
        self._parts.append(parts)

    def pack(self, kind: BlockKind, detail: Detail) -> Block:
        iso: dict[Any, str] = {}
        names = list(dict.fromkeys(name for parts in self._parts for name in parts))
        columns: dict[str, Any] = {}
        for name in names:
            values = [parts.get(name) for parts in self._parts]
            kinds = {type(v) for v in values}
            dataclass_kind: Any = next(iter(kinds)) if len(kinds) == 1 else None
            if hasattr(dataclass_kind, "__dataclass_fields__"):
                columns[name] = {"fields": {f: _column(list(map(attrgetter(f), values)), iso) for f in field_names(dataclass_kind)}}
            else:
                columns[name] = {"values": _column(values, iso)}
        doc = {"detail": detail, "days": self.days, "parts": columns}
        text = json.dumps(doc, default=_encoder(iso), check_circular=False)
        if "NaN" in text:  # a NaN somewhere: `plain` turns it into null, as a full row stores it
            text = json.dumps(plain(doc), allow_nan=False)
        block = (kind, self.days[0], self.days[-1], zlib.compress(text.encode(), 1))
        self.days, self._parts = [], []
        return block


class SnapshotBlocks:
    """The snapshot blocks of one snapshot history (`days` in order, `lookup(day)` the snapshot after its close),
    each packed on first use and kept: every run on the history stores the same bytes."""

    def __init__(self, days: Iterable[date], lookup: Callable[[date], Snapshot | None], block_days: int = BLOCK_DAYS) -> None:
        self._days = list(days)
        self._index = {d: i // block_days for i, d in enumerate(self._days)}
        self._lookup = lookup
        self._block_days = block_days
        self._packed: dict[tuple[int, Detail], Block] = {}

    def block_of(self, day: date) -> int | None:
        return self._index.get(day)

    def packed(self, index: int, detail: Detail) -> Block:
        key = (index, detail)
        if key not in self._packed:
            block = _Block()
            for day in self._days[index * self._block_days : (index + 1) * self._block_days]:
                snapshot = self._lookup(day)
                if snapshot is not None:
                    block.add(day.isoformat(), snapshot_parts(snapshot, detail))
            self._packed[key] = block.pack("snapshot", detail)
        return self._packed[key]

    def pack_all(self, detail: Detail) -> None:
        for index in range((len(self._days) + self._block_days - 1) // self._block_days):
            self.packed(index, detail)

    def packed_blocks(self) -> dict[tuple[int, Detail], Block]:
        """Every block packed so far (for a cache to keep)."""
        return dict(self._packed)

    def preload(self, blocks: Mapping[tuple[int, Detail], Block]) -> None:
        """Blocks packed earlier for the same history (from a cache)."""
        self._packed.update(blocks)


class DecisionWriter:
    """Collects one run's decisions: heads (the `decisions` columns), the snapshot blocks they need and the run's
    own decision blocks; `take` hands over what is ready for the journal at each commit."""

    def __init__(self, blocks: SnapshotBlocks, detail: Detail = "full") -> None:
        self.detail: Detail = detail
        self._blocks = blocks
        self._block = _Block()
        self._heads: list[tuple[str, datetime, str, str | None, str | None]] = []
        self._needed: list[int] = []
        self._written: set[int] = set()

    def add(self, snapshot: Snapshot, target: Mapping[str, Any], reasons: Sequence[Any]) -> None:
        day = snapshot.day.isoformat()
        index = self._blocks.block_of(snapshot.day)
        if index is None:
            raise ValueError(f"{day}: the snapshot history has no such day")
        if index not in self._written:
            self._written.add(index)
            self._needed.append(index)
        self._block.add(day, decision_parts(day, target, reasons))
        self._heads.append((day, snapshot.as_of, snapshot.regime.name, snapshot.regime.runner_up, snapshot.phase.name))

    def cover(self, day: date) -> None:
        """A day decided but not stored (a compact journal's unchanged target): its snapshot block is still copied, so
        the journal knows every day's market inputs and regime (the metrics' bill rate, the regime scorecard)."""
        index = self._blocks.block_of(day)
        if index is not None and index not in self._written:
            self._written.add(index)
            self._needed.append(index)

    def take(self) -> tuple[list[tuple[str, datetime, str, str | None, str | None]], list[Block]]:
        """(heads, blocks) collected since the last call: every decision taken is complete in the journal."""
        blocks = [self._blocks.packed(i, self.detail) for i in self._needed]
        if self._block.days:
            blocks.append(self._block.pack("decision", self.detail))
        heads, self._heads, self._needed = self._heads, [], []
        return heads, blocks


def _dumps(value: Any) -> str:
    # the journal's own encoding (Journal._json): the rebuilt text equals what a full row holds
    return json.dumps(value, sort_keys=True, default=str, allow_nan=False)


def _unpack(blob: bytes, wanted: set[str] | None, build: Callable[[dict[str, Any], str, str], Any], only: set[str] | None = None) -> dict[str, Any]:
    """The block's days in `wanted` (None: all), each built by `build(parts, day, detail)` from its `only` parts."""
    doc = json.loads(zlib.decompress(blob))
    days: list[str] = doc["days"]
    rows = [i for i, day in enumerate(days) if wanted is None or day in wanted]
    if not rows:
        return {}
    parts: list[dict[str, Any]] = [{} for _ in rows]
    for name, column in doc["parts"].items():
        if only is not None and name not in only:
            continue
        if "fields" in column:
            by_field = {f: _expand(c) for f, c in column["fields"].items()}
            for out, i in zip(parts, rows, strict=True):
                out[name] = {f: c[i] for f, c in by_field.items()}
        else:
            values = _expand(column["values"])
            for out, i in zip(parts, rows, strict=True):
                out[name] = values[i]
    return {days[i]: build(out, days[i], doc["detail"]) for out, i in zip(parts, rows, strict=True)}


def _snapshot_documents(parts: dict[str, Any], day: str, detail: str) -> tuple[str, str]:
    regime = dict(parts["regime"])
    if detail == "full":
        regime["rules"] = [parts[f"rule:{i}"] for i in range(parts["rules"])]
    snapshot = {"phase": parts["phase"], "indicators": {n: parts["ind:" + n] for n in parts["indicators"]}, "regime": regime, "warnings": parts["warnings"]}
    return _dumps(snapshot), _dumps({"market": parts["market"]})


def _decision_documents(parts: dict[str, Any], day: str, detail: str) -> tuple[str, str]:
    target = dict(parts["target"])
    target.setdefault("day", day)
    target.setdefault("reasons", parts["reasons"])
    return _dumps(target), _dumps(parts["reasons"])


_DOCUMENT_COLUMNS = ("snapshot_json", "inputs_json", "target_json", "reasons_json")


def decision_rows(db: sqlite3.Connection, run_id: str, day: str | None = None) -> list[sqlite3.Row]:
    """The run's decisions in day order (or the one of `day`), each with its documents, rebuilt where they live in
    blocks. Rows have the `decisions` table's columns."""
    where = "run_id=?" + (" AND day=?" if day is not None else "")
    params: tuple[str, ...] = (run_id, day) if day is not None else (run_id,)
    cur = db.execute(f"SELECT * FROM decisions WHERE {where} ORDER BY day", params)
    columns = [c[0] for c in cur.description]
    rows = [tuple(r) for r in cur.fetchall()]
    day_at, doc_at = columns.index("day"), [columns.index(c) for c in _DOCUMENT_COLUMNS]
    wanted = {r[day_at] for r in rows if r[doc_at[0]] == IN_BLOCKS}
    snapshots: dict[str, tuple[str, str]] = {}
    decisions: dict[str, tuple[str, str]] = {}
    if wanted:
        sql = "SELECT kind, parts FROM decision_blocks WHERE run_id=?" + (" AND first_day<=? AND last_day>=?" if day is not None else "")
        for kind, blob in db.execute(sql, (run_id, day, day) if day is not None else (run_id,)):
            if kind == "snapshot":
                snapshots.update(_unpack(blob, wanted, _snapshot_documents))
            else:
                decisions.update(_unpack(blob, wanted, _decision_documents))
    out = []
    for values in rows:
        filled = list(values)
        if values[doc_at[0]] == IN_BLOCKS:
            key = values[day_at]
            if key not in snapshots or key not in decisions:
                raise sqlite3.DatabaseError(f"decision {run_id} {key}: its record block is missing")
            for pos, text in zip(doc_at, (*snapshots[key], *decisions[key]), strict=True):
                filled[pos] = text
        out.append(sqlite3.Row(cur, tuple(filled)))
    return out


def blocks_detail(db: sqlite3.Connection, run_id: str) -> Detail | None:
    """How the run stored its records in blocks: "full", "compact" (a sweep member's default: decisions only on the
    days its target changed), or None (full rows, a paper session's)."""
    row = db.execute("SELECT parts FROM decision_blocks WHERE run_id=? AND kind='snapshot' LIMIT 1", (run_id,)).fetchone()
    return None if row is None else "compact" if json.loads(zlib.decompress(row[0]))["detail"] == "compact" else "full"


def daily_signals(db: sqlite3.Connection, run_id: str) -> dict[str, tuple[dict[str, Any], str]]:
    """(market inputs, regime called) of every day the run's journal knows, by day: each day of its snapshot blocks
    (a backtest's, or a compact sweep member's, whose blocks cover every day it ran though it keeps decisions only
    where its target changed) and each full decision row (a paper session's). The market part is `inputs_json`'s
    "market" (closes, VIX, the bill rate); only these parts are decoded."""
    out: dict[str, tuple[dict[str, Any], str]] = {}
    for (blob,) in db.execute("SELECT parts FROM decision_blocks WHERE run_id=? AND kind='snapshot'", (run_id,)):
        out.update(_unpack(blob, None, lambda parts, _day, _detail: (parts["market"], str(parts["regime"]["name"])), only={"market", "regime"}))
    for day, regime, inputs in db.execute("SELECT day, regime, inputs_json FROM decisions WHERE run_id=? AND inputs_json != ?", (run_id, IN_BLOCKS)):
        market = (json.loads(inputs or "{}") or {}).get("market")
        out[str(day)] = (market if isinstance(market, dict) else {}, str(regime))
    return dict(sorted(out.items()))
