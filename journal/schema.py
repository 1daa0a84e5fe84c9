"""The journal's SQLite schema: one for backtests, sweep members and paper sessions.

The trade log (decisions, intents, order events, fills, equity, events) is append-only, enforced by triggers:
an order's state is the latest of its `order_events`, never an UPDATE. Migrations are versioned; a database
written by a newer version is refused.
"""

from __future__ import annotations

SCHEMA_VERSION = 3  # 2: decision_blocks; 3: events indexed by kind

APPEND_ONLY = ("decisions", "decision_blocks", "intents", "order_events", "fills", "positions", "equity", "events", "job_ledger")

TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('backtest', 'sweep_member', 'paper', 'simulation')),
    label TEXT NOT NULL,
    parent_id TEXT,                 -- the sweep a member belongs to
    created_at TEXT NOT NULL,       -- wall time the run started (UTC)
    start_day TEXT,
    end_day TEXT,
    config_json TEXT NOT NULL,      -- the effective config (no secrets: they are never in config)
    config_hash TEXT NOT NULL,
    data_versions_json TEXT NOT NULL,  -- dataset id -> content hash / fetched_at
    code_version TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    finished_at TEXT,
    summary_json TEXT               -- headline metrics when finished
);

CREATE TABLE IF NOT EXISTS decisions (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    day TEXT NOT NULL,              -- the session whose close the decision follows
    as_of TEXT NOT NULL,            -- the simulated or real instant the decision saw (UTC)
    regime TEXT NOT NULL,
    runner_up TEXT,
    phase TEXT,
    reasons_json TEXT NOT NULL,
    snapshot_json TEXT NOT NULL,    -- indicators and phase ('' in all four: the record is in decision_blocks)
    inputs_json TEXT NOT NULL,      -- series values with their available_at, and prices: enough to replay
    target_json TEXT NOT NULL,
    PRIMARY KEY (run_id, day)
);

-- A backtest's decision records, each part stored on the days it changed (journal.decision_blocks).
CREATE TABLE IF NOT EXISTS decision_blocks (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    kind TEXT NOT NULL CHECK (kind IN ('snapshot', 'decision')),  -- what the signals knew | the run's target and reasons
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    parts BLOB NOT NULL,            -- zlib-compressed JSON; the first day holds every part
    PRIMARY KEY (run_id, kind, first_day)
);

CREATE TABLE IF NOT EXISTS intents (
    client_order_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    decision_day TEXT NOT NULL,
    symbol TEXT NOT NULL,
    asset_class TEXT NOT NULL,
    side TEXT NOT NULL,
    qty INTEGER NOT NULL CHECK (qty > 0),
    kind TEXT NOT NULL,
    limit_price REAL,
    leg INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS order_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    client_order_id TEXT NOT NULL REFERENCES intents(client_order_id),
    broker_order_id TEXT,
    status TEXT NOT NULL,           -- pending_submit, submitted, accepted, partially_filled, filled, canceled, expired, rejected, not_sent, unknown
    filled_qty REAL NOT NULL DEFAULT 0,
    filled_avg_price REAL,
    at TEXT NOT NULL,
    detail_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS order_events_by_order ON order_events (client_order_id, seq);

CREATE TABLE IF NOT EXISTS fills (
    execution_id TEXT PRIMARY KEY,  -- deduplicates fills
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    client_order_id TEXT NOT NULL REFERENCES intents(client_order_id),
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty REAL NOT NULL CHECK (qty > 0),
    price REAL NOT NULL CHECK (price >= 0),
    fees REAL NOT NULL DEFAULT 0,
    at TEXT NOT NULL,
    synthetic INTEGER NOT NULL DEFAULT 0  -- 1: a model price (backtest options), not a market print
);

CREATE TABLE IF NOT EXISTS positions (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    day TEXT NOT NULL,
    symbol TEXT NOT NULL,
    asset_class TEXT NOT NULL,
    qty REAL NOT NULL,
    avg_price REAL,
    mark REAL NOT NULL,
    market_value REAL NOT NULL,
    synthetic INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, day, symbol)
);

CREATE TABLE IF NOT EXISTS equity (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    day TEXT NOT NULL,
    cash REAL NOT NULL,
    shares_value REAL NOT NULL,
    options_value REAL NOT NULL,
    equity REAL NOT NULL,
    interest REAL NOT NULL DEFAULT 0,   -- bill-rate interest credited that day
    fees REAL NOT NULL DEFAULT 0,       -- commissions and fees paid that day
    regime TEXT,
    PRIMARY KEY (run_id, day)
);

CREATE TABLE IF NOT EXISTS job_ledger (
    job TEXT NOT NULL,              -- pre_open, decision, expiry, ...
    trading_day TEXT NOT NULL,      -- the session the job belongs to
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    outcome TEXT NOT NULL,          -- done, skipped (too late to be meaningful), dry_run
    completed_at TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job, trading_day)  -- a daily job runs once per trading day, whatever the restarts
);

CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,             -- halt, alert, outside_event (expiry, exercise, liquidation), job, reconcile
    message TEXT NOT NULL,
    detail_json TEXT NOT NULL DEFAULT '{}'
);
-- the reconciler reads the outside events on every pass (`position_book`): without it, a scan of every event
CREATE INDEX IF NOT EXISTS events_by_kind ON events (kind, seq);
"""


def append_only_triggers() -> str:
    statements = []
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
            )
    return "\n".join(statements)
