"""The replay behind `main.py parity SESSION`: a paper session's window backtested with its config on the same data.

`store_replayer(cfg, store, clock)` is the `review.parity.Replayer` the composition root hands to `parity`. Given a
session (run kind `paper` or `simulation`) it

- rebuilds the session's `StrategyParams`, `SignalParams` and (when journaled) `BacktestParams` from the config the session journaled
  (`runner.compose.open_session`); a stored config this code cannot parse stops with a `ReviewError` naming the field;
- backtests the session's decision days, first to last, on the same store, with the published FOMC schedule the
  session read (`signals.fomc.load_schedule`), so a decision made from the same data is the same decision;
- starts from the session's book: the starting cash is the book the first decision sized from (cash plus shares at
  their marks). A backtest cannot start holding shares, so a session that began with a position is replayed from the
  same equity in cash: its first orders then differ and parity says the books differed. Option positions are not in a
  paper decision's inputs and are not counted;
- prices fills as a broker that charges nothing: stock fills at the open with no slippage or commission, and no option
  fee. Alpaca (and the emulator `paper --simulate` runs against) charges no commission and fills market-on-open orders
  at a market print, so parity's `fill price` rows are the real distance between the paper fills and the open rather
  than a cost model, and decisions are compared on equal books. The option model's haircut (its bid/ask spread) stays:
  the store has no option quotes. The backtest credits the bill rate on cash; a broker that pays no interest leaves the
  books apart by that much, and parity attributes the gap to interest;
- journals the replay in the backtest journal folder (`<store_dir>/journals/`) as a run of kind `backtest` (the
  journal's kinds are fixed) labelled `replay of <session>` with the session as its parent, and returns
  (journal path, run id).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from backtest.inputs import journal_dir, load_inputs
from backtest.run import PROJECT_ROOT, RunSpec, code_version, run_backtest
from clock import Clock
from config.loader import resolve_path
from config.schema import AppConfig
from datastore.store import Store
from review.parity import REPLAYABLE, Replayer
from review.runs import ReviewError, RunRef, open_runs
from signals.build import snapshot_history
from signals.fomc import load_schedule
from signals.params import SignalParams
from strategies.params import BacktestParams, StrategyParams

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """What a replay needs from the session's journal."""

    session_id: str
    strategy: StrategyParams
    signals: SignalParams
    days: tuple[date, ...]  # the session's decision days
    starting_cash: float  # the book the first decision sized from: cash + shares at their marks
    backtest: BacktestParams | None = None  # the session's [backtest] (journaled since R38); None: the app's config
    memory: dict[str, date] = field(default_factory=dict)  # the playbook's memory the first decision read (see session_plan)

    @property
    def first(self) -> date:
        return self.days[0]

    @property
    def last(self) -> date:
        return self.days[-1]


def _rebuild(model: type[M], config: dict[str, Any], key: str, run_id: str) -> M:
    if not isinstance(config.get(key), dict):
        raise ReviewError(f"session {run_id}: its stored config has no [{key}] section to replay it with (keys: {', '.join(sorted(config)) or 'none'})")
    try:
        return model.model_validate(config[key])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ReviewError(
            f"session {run_id}: its stored {key} config cannot be rebuilt by this code ({key}.{where}: {first['msg']}; {exc.error_count()} error(s)):"
            " it was journaled by another version; compare it with a backtest of that version through `parity --against`"
        ) from None


def session_plan(session: RunRef) -> SessionPlan:
    """The session's parameters, decision days and starting book, read from its journal."""
    if session.info.kind not in REPLAYABLE:
        raise ReviewError(f"run {session.run_id} is a {session.info.kind}, not a paper session: only paper and simulated sessions are replayed")
    config = session.config()
    strategy = _rebuild(StrategyParams, config, "strategy", session.run_id)
    signals = _rebuild(SignalParams, config, "signals", session.run_id)
    with open_runs([session.path]) as source:
        decisions = source.decisions(session)
    if len(decisions) < 2:
        raise ReviewError(f"session {session.run_id} made {len(decisions)} decision(s): a replay needs a window of two sessions at least")
    days = tuple(date.fromisoformat(row["day"]) for row in decisions)
    book = json.loads(decisions[0]["inputs_json"])
    try:
        cash = float(book["cash"])
        marks = {str(k): float(v) for k, v in book.get("marks", {}).items()}
        held = sum(float(qty) * marks[symbol] for symbol, qty in book.get("shares", {}).items())
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReviewError(f"session {session.run_id}: the first decision ({days[0]}) does not record the book it sized from ({exc!r})") from None
    starting = cash + held
    if not math.isfinite(starting) or starting <= 0:
        raise ReviewError(f"session {session.run_id}: the first decision's book is worth {starting:,.2f}: nothing to replay")
    backtest = _rebuild(BacktestParams, config, "backtest", session.run_id) if "backtest" in config else None
    return SessionPlan(session.run_id, strategy, signals, days, starting, backtest, _memory_before(session, days[0]))


def _memory_before(session: RunRef, first: date) -> dict[str, date]:
    """The memory the session's first decision read: the target memory of the journal's last decision before that
    day, whichever run made it (a resumed or restarted session reads the one before it, as `runner.decision.last_memory`
    does at decision time); empty for a session that started the journal."""
    with open_runs([session.path]) as source:
        rows = source.query(session, "SELECT target_json FROM decisions WHERE day < ? AND target_json <> '' ORDER BY day DESC, rowid DESC LIMIT 1",
                            (first.isoformat(),))
    if not rows:
        return {}
    memory = json.loads(rows[0]["target_json"]).get("memory", {})
    return {str(k): date.fromisoformat(str(v)) for k, v in memory.items()}


def replay_costs(configured: BacktestParams, starting_cash: float) -> BacktestParams:
    """The configured backtest with the costs of a broker that charges nothing (see the module docstring)."""
    return BacktestParams.model_validate(
        {**configured.model_dump(), "initial_cash": starting_cash, "slippage_bps": 0.0, "commission_per_share": 0.0, "option_fee_per_contract": 0.0}
    )


def replay_session(session: RunRef, cfg: AppConfig, store: Store, clock: Clock, *, journal_folder: Path | None = None) -> tuple[Path, str]:
    """Backtest the session's window with its config on `store`; journal it; return (journal path, run id)."""
    plan = session_plan(session)
    strategy = plan.strategy
    costs = replay_costs(plan.backtest or cfg.backtest, plan.starting_cash)
    symbols = sorted({strategy.symbol, *costs.benchmarks} | ({strategy.crisis.defensive_symbol} - {""}))
    missing = [s for s in [*symbols, "VIX"] if s not in store.symbols()]
    if missing:
        raise ReviewError(f"cannot replay session {plan.session_id}: no bars for {', '.join(missing)} in the store {store.path}")
    inputs = load_inputs(store, cfg, symbols)
    days = inputs.market.sessions(strategy.symbol, plan.first, plan.last)
    if not days or days[0] != plan.first or days[-1] != plan.last:
        held = f"{days[0]} .. {days[-1]}" if days else "none"
        raise ReviewError(f"cannot replay session {plan.session_id}: it decided {plan.first} .. {plan.last}, the store's {strategy.symbol} bars in that window"
                          f" cover {held} (`main.py data sync` brings the store up to date)")
    schedule = load_schedule(resolve_path(cfg.data.fomc_schedule_file))
    snapshots = {s.day: s for s in snapshot_history(inputs.pit, days, plan.signals, schedule)}
    created = clock.now()
    folder = journal_folder if journal_folder is not None else journal_dir(cfg)
    base_id = f"replay-{plan.session_id}-{created:%Y%m%dT%H%M%S}"
    run_id, n = base_id, 1
    while (folder / f"{run_id}.sqlite").exists():  # one journal file per run: never reuse one
        n += 1
        run_id = f"{base_id}-{n}"
    effective = {
        "strategy": strategy.model_dump(),
        "backtest": costs.model_dump(),
        "signals": plan.signals.model_dump(),
        "replay_of": plan.session_id,
        "costs": "none: stock fills at the open without slippage or commission, no option fee (as a commission-free broker)",
    }
    spec = RunSpec(run_id, f"replay of {plan.session_id}", created, effective, code_version(PROJECT_ROOT), kind="backtest", parent_id=plan.session_id)
    path = folder / f"{run_id}.sqlite"
    run_backtest(inputs.market, snapshots, strategy, costs, start=days[0], end=days[-1], spec=spec, journal_path=path, clock=clock, memory=plan.memory)
    return path, run_id


def store_replayer(cfg: AppConfig, store: Store, clock: Clock, *, journal_folder: Path | None = None) -> Replayer:
    """The `Replayer` for `parity`, bound to the app's config, store and clock."""

    def replay(session: RunRef) -> tuple[Path, str]:
        return replay_session(session, cfg, store, clock, journal_folder=journal_folder)

    return replay
