"""cutcycle command line: the composition root.

Parses the config once, picks the clock, the store and the broker, and hands them to the pure layers. Exit codes:
0 success, 2 bad usage or bad input (config, data, arguments), 1 failure (a source or broker that did not answer,
or a bug).
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from backtest.cluster import ClusterError
from backtest.sweep import GridError
from cli.argv import Parser, chosen_parser, hoist_global_options, label_text, unknown_options_hint
from cli.boundary import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, Failure, UsageError, guarded, state_file
from cli.dates import check_day, check_window, parse_day
from cli.numbers import non_negative_float, non_negative_int, port, port_in_use, positive_float, years
from cli.paths import CHART_SUFFIXES, HTML_SUFFIXES, output_file
from clock import NEW_YORK, Clock, SystemClock
from config.loader import ConfigError, LoadedConfig, load_config, pack_dir, store_dir
from config.schema import scheduler_address
from config.secrets import ENV_DATA_DIR, RedactingFilter, Secrets, install_redaction, redact_url_credentials
from datastore.errors import DataError, SourceConfigError, SourceUnavailable
from datastore.pack_import import import_pack
from datastore.store import Store
from review.runs import ReviewError
from review.tables import fit_width, text_table

log = logging.getLogger("cutcycle")

# Exceptions that are bad input (exit 2, their message on one line) and failures (exit 1): see cli/boundary.py.
BAD_INPUT: tuple[type[BaseException], ...] = (ConfigError, DataError, SourceConfigError, ReviewError, GridError)
FAILURES: tuple[type[BaseException], ...] = (SourceUnavailable, ClusterError)
# Global options also accepted after the subcommand (`main.py backtest --set k=v`).
GLOBAL_OPTIONS = ("--set", "--config", "--log-level")


class App:
    """What every command receives: the parsed config, the environment's secrets, a clock, the store."""

    def __init__(self, loaded: LoadedConfig, env: dict[str, str], clock: Clock) -> None:
        self.loaded = loaded
        self.cfg = loaded.config
        self.env = env
        self.secrets = Secrets.from_env(env)
        self.clock = clock
        self._store: Store | None = None

    def store(self) -> Store:
        """The local store, with the data pack imported (validated, atomically) when it changed."""
        if self._store is None:
            path = store_dir(self.cfg) / "store.sqlite"
            with state_file(path):
                store = Store(path)
                try:
                    import_pack(store, self.cfg, pack_dir(self.cfg, self.env), self.clock.now())
                except BaseException:
                    store.close()
                    raise
            self._store = store
        return self._store

    def derivations(self) -> Any:
        """Each series' release derivation: the pack's release record, the rules, the calendar (datastore.releases)."""
        from datastore.releases import load_derivations

        return load_derivations(self.cfg.series, self.cfg.release_calendar, pack_dir(self.cfg, self.env), self.store().release_dates())

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def end_of_day(day: date) -> datetime:
    """An as-of instant for a calendar day: 23:59 New York time (everything published that day is known)."""
    return datetime.combine(day, time(23, 59), tzinfo=NEW_YORK).astimezone(UTC)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False, default=str, allow_nan=False))


# -- config ------------------------------------------------------------------------------------------------------


def cmd_config_show(app: App, args: argparse.Namespace) -> int:
    effective = app.cfg.model_dump(mode="json")
    override = app.env.get(ENV_DATA_DIR, "").strip()
    if override:  # the pack actually read: the environment wins over the file (config.loader.pack_dir)
        effective["data"]["pack_dir"] = override
    secrets = {
        "APCA_API_KEY_ID": "set (redacted)" if app.secrets.alpaca_key_id else "not set",
        "APCA_API_SECRET_KEY": "set (redacted)" if app.secrets.alpaca_secret_key else "not set",
        "FRED_API_KEY": "set (redacted)" if app.secrets.fred_api_key else "not set",
        "APCA_API_BASE_URL": app.secrets.alpaca_base_url or "not set",
        ENV_DATA_DIR: f"{override} (data.pack_dir)" if override else "not set",
        "CUTCYCLE_NOTIFY_URLS": f"{len(app.secrets.notify_urls)} destination(s) (redacted)" if app.secrets.notify_urls else "not set",
    }
    if args.json:
        shown = {"sources": list(app.loaded.sources), "config": effective, "environment": secrets}
        print(redact_url_credentials(json.dumps(shown, indent=2, default=str, allow_nan=False)))
        return EXIT_OK
    lines = ["# effective configuration, merged from: " + ", ".join(app.loaded.sources), _toml_dump(effective),
             "# environment (secrets are never printed)", *(f"# {key}: {value}" for key, value in secrets.items())]
    print(redact_url_credentials("\n".join(lines)))  # a password typed into a URL (--set alpaca.trading_url=...) is a secret too
    return EXIT_OK


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k) if not k.isidentifier() else k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if value is None:
        return '""'
    return str(value)


def _toml_dump(data: dict[str, Any], prefix: str = "") -> str:
    out: list[str] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) or prefix.count(".") >= 1}
    tables = {k: v for k, v in data.items() if k not in scalars}
    if prefix and scalars:
        out.append(f"[{prefix}]")
    out += [f"{k} = {_toml_value(v)}" for k, v in scalars.items()]
    if scalars:
        out.append("")
    for key, value in tables.items():
        out.append(_toml_dump(value, f"{prefix}.{key}" if prefix else key))
    return "\n".join(out)


# -- data --------------------------------------------------------------------------------------------------------


def cmd_data_status(app: App, args: argparse.Namespace) -> int:
    from datastore.status import data_status

    now = end_of_day(parse_day(args.as_of, "--as-of")) if args.as_of else app.clock.now()
    rows = data_status(app.store(), app.cfg, now, app.derivations())
    if args.json:
        print_json(
            {
                "as_of": now.isoformat(),
                "series": [
                    {
                        "id": r.id,
                        "source": r.source,
                        "kind": r.kind,
                        "first": r.first,
                        "last": r.last,
                        "rows": r.rows,
                        "last_available_at": r.last_available_at,
                        "stale": r.stale,
                        "note": r.note,
                    }
                    for r in rows
                ],
            }
        )
        return EXIT_OK
    print(f"data status as of {now:%Y-%m-%d %H:%M} UTC  (store: {app.store().path})")
    table = [
        (r.id, r.kind, r.source, r.first, r.last, r.rows, (r.last_available_at or "")[:16].replace("T", " "),
         "STALE" if r.stale else "ok" if r.rows else "-", r.note)  # "-": nothing published yet at that date
        for r in rows
    ]
    print(text_table(["id", "kind", "source", "first", "last", "rows", "last available (UTC)", "", "note"], table, wrap=[8]))
    stale = sum(r.stale for r in rows)
    print(f"\n{len(rows)} datasets, {stale} stale. Run `main.py data sync` with FRED_API_KEY / APCA_API_* set to refresh.")
    return EXIT_OK


def cmd_data_sync(app: App, args: argparse.Namespace) -> int:
    from datastore.sync import sync_all

    def bars_client() -> Any:
        from broker.alpaca.clients import build_clients
        from broker.alpaca.safety import EndpointGuard

        guard = EndpointGuard(live=app.cfg.alpaca.live, allow_live=app.secrets.allow_live)
        return build_clients(app.cfg.alpaca, app.secrets, guard=guard, wall=app.clock).stock_data

    report = sync_all(
        app.store(), app.cfg, app.secrets, app.clock, bars_client=bars_client, fred_series=catalogue_ids(args.series, list(app.cfg.series), "--series") or None,
        symbols=[s.upper() for s in args.symbols or []] or None,
        derivations=app.derivations(),
    )
    for line in report.lines:
        print(line)
    if report.ok:
        return EXIT_OK
    return EXIT_BAD_INPUT if report.only_keys_missing else EXIT_FAILURE


def catalogue_ids(asked: Sequence[str] | None, catalogue: Sequence[str], option: str) -> list[str]:
    """`asked` series ids as the catalogue spells them (FRED ids are upper case: `cpiaucsl` is CPIAUCSL); an id the
    catalogue does not hold is a UsageError naming `option`, the closest ids and the catalogue."""
    by_upper = {c.upper(): c for c in catalogue}
    out: list[str] = []
    unknown: list[str] = []
    for name in asked or []:
        found = by_upper.get(name.strip().upper())
        (out if found else unknown).append(found or name)
    if unknown:
        close = sorted({m for u in unknown for m in difflib.get_close_matches(u.upper(), list(by_upper), n=2, cutoff=0.6)})
        hint = f"; did you mean {', '.join(by_upper[c] for c in close)}?" if close else ""
        raise UsageError(f"{option}: {', '.join(unknown)} not in the series catalogue{hint} (it holds {', '.join(catalogue)})")
    return out


def cmd_data_releases(app: App, args: argparse.Namespace) -> int:
    from datastore.release_view import release_lines, upcoming

    derivations = app.derivations()
    series = catalogue_ids(args.series, list(derivations), "--series")
    now = end_of_day(parse_day(args.as_of, "--as-of")) if args.as_of else app.clock.now()
    lines = release_lines(app.store(), derivations, now, series or None)
    if args.upcoming:
        lines = upcoming(lines)

    def et(ts: datetime | None) -> str:
        return "" if ts is None else ts.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M ET")

    if args.json:
        print_json(
            {
                "as_of": now.isoformat(),
                "series": [
                    {
                        "series": x.series,
                        "last_period": x.last_period.isoformat() if x.last_period else None,
                        "last_published": x.last_published.isoformat() if x.last_published else None,
                        "last_from": x.last_basis,
                        "next_period": x.next_period.isoformat() if x.next_period else None,
                        "next_expected": x.next_published.isoformat() if x.next_published else None,
                        "next_from": x.next_basis,
                        "overdue": x.next_published is not None and x.next_published <= now,
                    }
                    for x in lines
                ],
            }
        )
        return EXIT_OK
    print(f"releases as of {et(now)}  (record = the pack's releases/*.csv; rule = the series' release rule, set late)")
    rows = [
        (x.series, x.last_period or "", et(x.last_published), x.last_basis, x.next_period or "",
         et(x.next_published) + (" (overdue)" if x.next_published is not None and x.next_published <= now else ""), x.next_basis)
        for x in lines
    ]
    print(text_table(["series", "last period", "published", "from", "next period", "expected", "from"], rows, wrap=[3, 6]))
    return EXIT_OK


# -- signals ---------------------------------------------------------------------------------------------------


def _signal_inputs(app: App) -> tuple[Any, Any]:
    from config.loader import resolve_path
    from signals.build import load_pit
    from signals.fomc import load_schedule

    return load_pit(app.store()), load_schedule(resolve_path(app.cfg.data.fomc_schedule_file))


def _last_session(pit: Any) -> date:
    from signals.build import session_days

    days = session_days(pit, date(1990, 1, 1), date(2200, 1, 1))
    return days[-1]


def cmd_signals(app: App, args: argparse.Namespace) -> int:
    from signals import cli as sig
    from signals.build import build_snapshot, session_as_of, session_days, snapshot_history

    if args.history and args.as_of:
        raise UsageError("signals: --as-of and --history do not go together: --as-of shows one day, --history START END a series")
    for option, given in (("--csv", args.csv), ("--chart", args.chart)):
        if given and not args.history:
            raise UsageError(f"signals: {option} goes with --history START END (one day's snapshot is a table, or --json)")
    chart = output_file(args.chart, "--chart", CHART_SUFFIXES)
    as_of = parse_day(args.as_of, "--as-of") if args.as_of else None
    if args.history:
        start, end = parse_day(args.history[0], "--history START"), parse_day(args.history[1], "--history END")
    pit, schedule = _signal_inputs(app)
    params = app.cfg.signals
    if args.history:
        known = session_days(pit, date(1900, 1, 1), date(2100, 12, 31))
        days = check_window(start, end, known, "the store's sessions", args=("--history START", "--history END"), min_sessions=1)
        snaps = snapshot_history(pit, days, params, schedule)
        if chart is not None:
            from signals.build import target_path
            from signals.fomc import derive_decisions

            far = end_of_day(date(2200, 1, 1))
            decisions = derive_decisions(target_path(pit, far), pit.meetings, params.phase)
            cuts = [d.day for d in decisions if d.bp < 0 and start <= d.day <= end]
            iwm = pit.bars_as_of("IWM", far)["close"]
            path = sig.regime_chart(snaps, iwm, cuts, chart)
            print(f"chart written: {path}", file=sys.stderr)
        if args.csv:
            print(sig.history_csv(snaps), end="")
        elif args.json:
            print(sig.history_json(snaps))
        elif not args.chart:
            print(sig.history_csv(snaps), end="")
        return EXIT_OK
    last_session = None
    if as_of is not None:
        sessions = session_days(pit, date(1900, 1, 1), date(2100, 12, 31))
        day = check_day(as_of, "--as-of", sessions, "the store's sessions")
        last_session = None if day in sessions else max(d for d in sessions if d < day)
    else:
        day = _last_session(pit)
    snap = build_snapshot(pit, session_as_of(day, params), day, params, schedule)
    print(sig.snapshot_json(snap) if args.json else fit_width(sig.snapshot_table(snap, last_session=last_session)))
    return EXIT_OK


def cmd_events(app: App, args: argparse.Namespace) -> int:
    from signals import cli as sig
    from signals.study import run_event_study

    chart = output_file(args.chart, "--chart", CHART_SUFFIXES)
    pit, schedule = _signal_inputs(app)
    recessions = app.store().observations("USREC").set_index("period")["value"]
    studies = run_event_study(pit, recessions, app.cfg.signals, schedule)
    if chart is not None:
        print(f"chart written: {sig.events_chart(studies, chart)}", file=sys.stderr)
    print(sig.events_json(studies) if args.json else sig.events_table(studies))
    return EXIT_OK


REGIMES_START = date(1995, 1, 3)  # the regime inputs (claims, stress via NFCI, Baa spreads) give a call from here


def recession_months(store: Store) -> Any:
    """NBER recession months (USREC by month: labels for judging calls afterwards, never a decision input), or None."""
    return store.observations("USREC").set_index("period")["value"] if "USREC" in store.series_ids() else None


def cmd_regimes(app: App, args: argparse.Namespace) -> int:
    from signals import cli as sig
    from signals.build import session_days, snapshot_history
    from signals.scorecard import recession_spans, scorecard
    from signals.study import closes

    chart = output_file(args.chart, "--chart", CHART_SUFFIXES)
    pit, schedule = _signal_inputs(app)
    start = parse_day(args.start, "--start") if args.start else REGIMES_START
    end = parse_day(args.end, "--end") if args.end else _last_session(pit)
    known = session_days(pit, date(1900, 1, 1), date(2100, 12, 31))
    days = check_window(start, end, known, "the store's sessions", min_sessions=1)
    labels = recession_months(app.store())
    if labels is None:
        raise UsageError("regimes: the store has no USREC (NBER recession months) to judge the calls against")
    snaps = snapshot_history(pit, days, app.cfg.signals, schedule)
    prices = closes(pit, ("IWM", "SPY"))
    card = scorecard(days, [s.regime.name for s in snaps], prices, labels)
    if chart is not None:
        path = sig.regime_chart(snaps, prices["IWM"], [], chart, recession_spans(labels))
        print(f"chart written: {path}", file=sys.stderr)
    if args.json:
        print_json(card.to_json())
    else:
        print(sig.scorecard_text(card), end="")
    return EXIT_OK


# -- backtests ---------------------------------------------------------------------------------------------------


def cmd_backtest(app: App, args: argparse.Namespace) -> int:
    from backtest.cli import backtest_command

    _check_dates(args)
    outcome = backtest_command(
        args.config, args.overrides, start=args.start, end=args.end, as_json=args.json, clock=app.clock, env=app.env, progress=not args.no_progress,
        label=args.label,
    )
    print(outcome.text)
    for note in outcome.notes:
        print(note, file=sys.stderr)
    return EXIT_OK


def cmd_sweep(app: App, args: argparse.Namespace) -> int:
    from backtest.cli import sweep_command

    _check_dates(args)
    print(
        sweep_command(
            Path(args.grid), args.config, args.overrides, start=args.start, end=args.end, clock=app.clock, env=app.env,
            processes=args.processes, dask=args.dask or "", progress=not args.no_progress, label=args.label,
            full_journal=args.full_journal,
        )
    )
    return EXIT_OK


def _check_dates(args: argparse.Namespace) -> None:
    """The form of --start/--end before any data is read (their range is checked against the data by the run)."""
    for arg, text in (("--start", args.start), ("--end", args.end)):
        if text:
            parse_day(text, arg, bounded=False)


def cmd_validate(app: App, args: argparse.Namespace) -> int:
    from backtest.cli import FoldError, validate_command
    from backtest.cluster import ClusterError
    from backtest.sweep import GridError
    from cli.dates import DateError

    _check_dates(args)
    try:
        outcome = validate_command(
            Path(args.grid), args.config, args.overrides, folds=args.folds, in_sample_years=args.in_sample_years,
            out_of_sample_years=args.out_of_sample_years, rolling=args.rolling, start=args.start, end=args.end, as_json=args.json,
            out=output_file(args.out, "--out", HTML_SUFFIXES), clock=app.clock, env=app.env, processes=args.processes, dask=args.dask or "",
            progress=not args.no_progress,
        )
    except (GridError, DateError, FoldError) as exc:
        raise UsageError(str(exc)) from None
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(outcome.text)
    return EXIT_OK


def add_backtest_commands(sub: Any) -> None:
    backtest = sub.add_parser("backtest", help="run the strategy in backtrader on the data pack; print metrics vs IWM and SPY")
    backtest.add_argument("--start", help="first day YYYY-MM-DD (default: IWM's first full month)")
    backtest.add_argument("--end", help="last day YYYY-MM-DD (default: the end of the data)")
    backtest.add_argument("--json", action="store_true", help="machine-readable output")
    backtest.add_argument("--no-progress", action="store_true", help="no progress bar")
    backtest.add_argument("--label", type=label_text, help="a name for the run, shown by `runs` (default: the command and its --set overrides)")
    backtest.set_defaults(handler=cmd_backtest)

    sweep = sub.add_parser("sweep", help="run a parameter grid in parallel processes; ranked table, CSV and JSON")
    sweep.add_argument("grid", help="grid TOML file (see backtest/sweep.py)")
    sweep.add_argument("--start", help="first day YYYY-MM-DD")
    sweep.add_argument("--end", help="last day YYYY-MM-DD")
    sweep.add_argument("--processes", type=non_negative_int, help="worker processes (default: the grid's, else all cores; 0 = all cores)")
    sweep.add_argument("--dask", metavar="ADDRESS", type=scheduler_address_arg,
                       help="run the variants on the Dask scheduler at ADDRESS, tcp://HOST:PORT (default: cluster.dask_scheduler)")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.add_argument("--label", type=label_text, help="a name for the sweep; each member's label is it plus the member's overrides")
    sweep.add_argument("--full-journal", action="store_true",
                       help="journal every member like a backtest (every decision with its indicators, positions); default: "
                            "metrics, equity, trades and the decisions on days the target changed")
    sweep.set_defaults(handler=cmd_sweep)

    validate = sub.add_parser("validate", help="a grid judged out of sample: folds, deflated Sharpe, PBO, an HTML report")
    validate.add_argument("grid", help="grid TOML file (see backtest/sweep.py)")
    validate.add_argument("--folds", choices=["cycles", "walk-forward"], default="cycles", help="leave-one-easing-cycle-out (default) or walk-forward")
    validate.add_argument("--in-sample-years", type=years, default=8.0, help="walk-forward: in-sample length (default 8)")
    validate.add_argument("--out-of-sample-years", type=years, default=3.0, help="walk-forward: out-of-sample length (default 3)")
    validate.add_argument("--rolling", action="store_true", help="walk-forward: a rolling in-sample window (default: anchored at the start)")
    validate.add_argument("--start", help="first day YYYY-MM-DD")
    validate.add_argument("--end", help="last day YYYY-MM-DD")
    validate.add_argument("--json", action="store_true", help="machine-readable output")
    validate.add_argument("--out", metavar="FILE.html", help="where to write the report (default: beside the member journals)")
    validate.add_argument("--processes", type=non_negative_int, help="worker processes (default: the grid's, else all cores; 0 = all cores)")
    validate.add_argument("--dask", metavar="ADDRESS", type=scheduler_address_arg,
                       help="run the variants on the Dask scheduler at ADDRESS, tcp://HOST:PORT (default: cluster.dask_scheduler)")
    validate.add_argument("--no-progress", action="store_true", help="no progress bar")
    validate.set_defaults(handler=cmd_validate)


# -- paper trading -----------------------------------------------------------------------------------------------


def cmd_paper(app: App, args: argparse.Namespace) -> int:
    if args.notify and not args.simulate:
        raise UsageError("paper: --notify goes with --simulate START END (the paper trader itself always notifies CUTCYCLE_NOTIFY_URLS)")
    if args.simulate:
        from runner.simulate import simulate_command

        start, end = parse_day(args.simulate[0], "--simulate START"), parse_day(args.simulate[1], "--simulate END")
        if end < start:
            raise UsageError(f"--simulate END {end} is before START {start}")
        sessions = [ts.date() for ts in app.store().bars(app.cfg.strategy.symbol).index]  # the pack imported before the session reads it
        check_window(start, end, sessions, f"{app.cfg.strategy.symbol}'s bars in the store", args=("--simulate START", "--simulate END"), min_sessions=1)
        code, text = simulate_command(app.cfg, app.env, start, end, wall=app.clock, dry_run=args.dry_run, notify=args.notify)
        print(text, file=sys.stderr if text.startswith("error:") else sys.stdout)
        if code == EXIT_OK:
            from review.cli import session_summary
            from review.report import benchmark_closes_from_bars

            closes = benchmark_closes_from_bars({s: app.store().bars(s) for s in ("IWM", "SPY")})
            print(session_summary([store_dir(app.cfg) / "simulations"], "simulation", closes))
        return code
    from runner.paper import data_refresh, paper_command

    app.store()  # the pack imported (idempotent) before the session reads the store
    return paper_command(app.cfg, app.env, app.clock, dry_run=args.dry_run, refresh=data_refresh(app.cfg, app.clock, app.derivations()))


def cmd_emulator(app: App, args: argparse.Namespace) -> int:
    from emulator.__main__ import main as emulator_main

    forwarded = list(args.emulator_args)
    return emulator_main(forwarded[1:] if forwarded[:1] == ["--"] else forwarded, prog="main.py emulator --")


def cmd_status(app: App, args: argparse.Namespace) -> int:
    from runner.compose import paper_state_dir
    from runner.status import collect_status, render_status

    if args.serve:
        return serve_status(app, args)
    state, offline, note = None, args.offline, ""
    simulations = sorted((store_dir(app.cfg) / "simulations").glob("*/paper.sqlite"), key=lambda p: p.stat().st_mtime)
    if not (paper_state_dir(app.cfg) / "paper.sqlite").exists() and simulations:
        # no paper session yet: the latest simulated one, read from its journal (its emulator may be gone)
        state, offline = simulations[-1].parent, True
        note = (f"no paper session in {paper_state_dir(app.cfg)}; showing the latest simulated session, {state.name} "
                f"({len(simulations)} under {state.parent})")
    status = collect_status(app.cfg, app.env, app.clock, offline=offline, state_dir=state)
    if note and not args.json:
        print(note)
    print(status.to_json() if args.json else fit_width(render_status(status)))
    return EXIT_OK


def cmd_doctor(app: App, args: argparse.Namespace) -> int:
    from runner.doctor import exit_code, render, run_doctor, to_json

    checks = run_doctor(app.cfg, app.env, app.clock, send_test=args.test_notify, min_free_mb=args.min_free_mb)
    print(to_json(checks) if args.json else fit_width(render(checks)))
    return exit_code(checks)


def serve_status(app: App, args: argparse.Namespace) -> int:
    import signal
    import threading

    from runner.status import collect_status
    from runner.status_page import CachedStatus, make_server

    status = CachedStatus(lambda: collect_status(app.cfg, app.env, app.clock, offline=args.offline), args.refresh)
    try:
        server = make_server(status, args.port, args.refresh)
    except OSError as exc:
        line = port_in_use(exc, args.port, "status page")
        if line is None:
            raise
        raise Failure(line) from exc
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"status page: http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops it)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK


def add_paper_commands(sub: Any) -> None:
    paper = sub.add_parser("paper", help="the long-running scheduled paper trader (Alpaca paper endpoint or a local emulator)")
    paper.add_argument("--dry-run", action="store_true", help="do everything but send orders")
    paper.add_argument("--simulate", nargs=2, metavar=("START", "END"), help="replay the same jobs on a simulated clock (e.g. against the emulator)")
    paper.add_argument("--notify", action="store_true", help="with --simulate: send the session's notifications (CUTCYCLE_NOTIFY_URLS)")
    paper.set_defaults(handler=cmd_paper)

    doctor = sub.add_parser("doctor", help="before the first paper run: keys, endpoint, account, clock, data, FOMC schedule, disk, journal, notifications")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument("--test-notify", action="store_true", help="send a test message to each notification destination")
    doctor.add_argument("--min-free-mb", type=non_negative_int, default=500, metavar="MB", help="free disk space the journal needs (default 500)")
    doctor.set_defaults(handler=cmd_doctor)

    emulator = sub.add_parser("emulator", help="run the local Alpaca emulator for manual paper runs (see `main.py emulator -- --help`)")
    emulator.add_argument("emulator_args", nargs=argparse.REMAINDER, help="arguments for the emulator")
    emulator.set_defaults(handler=cmd_emulator)

    status = sub.add_parser("status", help="the paper trader now: process, health, last decision, positions, orders, next jobs, data")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--offline", action="store_true", help="do not ask the broker: positions and open orders from the journal")
    status.add_argument("--serve", action="store_true", help="serve the status as a read-only HTML page and JSON on 127.0.0.1")
    status.add_argument("--port", type=port, default=8377, help="with --serve: the port (0 picks a free one)")
    status.add_argument("--refresh", type=positive_float, default=30.0, metavar="S", help="with --serve: seconds between refreshes")
    status.set_defaults(handler=cmd_status)


# -- reviewing runs ----------------------------------------------------------------------------------------------


def journal_paths(app: App) -> list[Path]:
    """Where journals live: backtests and sweeps under `<store_dir>/journals`, the paper trader under `<store_dir>/paper`,
    simulated sessions under `<store_dir>/simulations/<run id>/`."""
    root = store_dir(app.cfg)
    return [p for p in (root / "journals", root / "paper", root / "simulations") if p.exists()]


def _fmt(args: argparse.Namespace) -> Any:
    return "json" if getattr(args, "json", False) else "csv" if getattr(args, "csv", False) else "text"


def cmd_runs(app: App, args: argparse.Namespace) -> int:
    from review.cli import runs_command

    print(runs_command(journal_paths(app), kind=args.kind, fmt=_fmt(args), wide=args.wide))
    return EXIT_OK


def cmd_runs_prune(app: App, args: argparse.Namespace) -> int:
    from review.cli import human_bytes
    from review.prune import prune_runs

    if args.older_than is None and not args.kind and args.keep is None:
        raise UsageError("runs prune: say which runs: --older-than DAYS, --kind KIND and/or --keep N (see --help)")
    roots = [p.resolve() for p in journal_paths(app)]
    result = prune_runs(roots, app.clock.now(), older_than_days=args.older_than, kinds=args.kind or [], keep=args.keep, force=args.force,
                        dry_run=args.dry_run, roots=roots)
    verb = "would remove" if args.dry_run else "removed"
    for ref in result.removed:
        print(f"{verb} {ref.run_id} ({ref.info.kind}, {ref.info.created_at[:10]})")
    print(f"{verb} {len(result.removed)} run(s), {len(result.paths)} file(s)/folder(s), {human_bytes(result.freed)}")
    if result.protected:
        print(f"kept {len(result.protected)} paper session(s): add --force to remove a paper trader's journal")
    if result.kept_shared:
        print(f"kept {len(result.kept_shared)} run(s) whose journal file also holds runs that stay")
    return EXIT_OK


def cmd_trades(app: App, args: argparse.Namespace) -> int:
    from review.cli import trades_command

    start = parse_day(args.from_day, "--from") if args.from_day else None
    end = parse_day(args.to_day, "--to") if args.to_day else None
    if start is not None and end is not None and end < start:
        raise UsageError(f"trades: --to {end} is before --from {start}")
    print(trades_command(journal_paths(app), args.run, start=start, end=end, symbol=args.symbol, fmt=_fmt(args)))
    return EXIT_OK


def cmd_explain(app: App, args: argparse.Namespace) -> int:
    from review.cli import explain_command

    print(explain_command(journal_paths(app), args.run, parse_day(args.date, "DATE"), fmt=_fmt(args), wide=args.wide))
    return EXIT_OK


def cmd_report(app: App, args: argparse.Namespace) -> int:
    from review.cli import report_command
    from review.report import benchmark_closes_from_bars

    store = app.store()
    closes = benchmark_closes_from_bars({s: store.bars(s) for s in ("IWM", "SPY")})
    out = output_file(args.out, "--out", HTML_SUFFIXES)
    reports = store_dir(app.cfg) / "reports"
    for path in report_command(journal_paths(app), args.run, out=out, benchmark_closes=closes, progress=sys.stderr, reports_dir=reports):
        print(path)
    return EXIT_OK


def cmd_compare(app: App, args: argparse.Namespace) -> int:
    from review.cli import compare_command

    out = output_file(args.out, "--out", HTML_SUFFIXES)
    closes: dict[str, Any] | None = None
    labels = None
    try:  # the regime scorecards need the store's IWM/SPY closes and NBER months; the rest of compare reads journals only
        store = app.store()
        closes, labels = {s: store.bars(s)["close"].astype(float) for s in ("IWM", "SPY") if s in store.symbols()}, recession_months(store)
    except DataError as exc:
        log.warning("compare without the regime scorecards: %s", exc)
    print(compare_command(journal_paths(app), args.run_a, args.run_b, fmt=_fmt(args), out=out, closes=closes, recession_months=labels))
    return EXIT_OK


def cmd_parity(app: App, args: argparse.Namespace) -> int:
    from review.cli import parity_command
    from review.parity import Replayer

    replay: Replayer | None = None
    if args.against is None:  # replay the session's window now, on this store, into <store_dir>/journals
        from backtest.replay import store_replayer

        replay = store_replayer(app.cfg, app.store(), app.clock)
    print(parity_command(journal_paths(app), args.session, against=args.against, replay=replay, fmt=_fmt(args)))
    return EXIT_OK


def add_review_commands(sub: Any) -> None:
    runs = sub.add_parser("runs", help="list backtests, sweep members and paper sessions with headline metrics")
    runs.add_argument("--kind", choices=["backtest", "sweep_member", "paper", "simulation"], help="only this kind of run")
    runs.add_argument("--json", action="store_true", help="machine-readable output")
    runs.add_argument("--csv", action="store_true", help="CSV output")
    runs.add_argument("--wide", action="store_true", help="every column (parent, config, journal), not only what fits 120 columns")
    runs.set_defaults(handler=cmd_runs)
    prune = runs.add_subparsers(dest="action", metavar="ACTION").add_parser("prune", help="remove old runs' journals to free disk")
    prune.add_argument("--older-than", type=non_negative_float, metavar="DAYS", help="runs started more than DAYS days ago")
    prune.add_argument("--kind", action="append", choices=["backtest", "sweep_member", "paper", "simulation"], help="only this kind (repeatable)")
    prune.add_argument("--keep", type=non_negative_int, metavar="N", help="keep the newest N runs of the selected kinds (0: keep none)")
    prune.add_argument("--force", action="store_true", help="also remove paper sessions (the paper trader's record)")
    prune.add_argument("--dry-run", action="store_true", help="list what would go, remove nothing")
    prune.set_defaults(handler=cmd_runs_prune)

    trades = sub.add_parser("trades", help="a run's trades with the regime and reasons behind each, and their P&L")
    trades.add_argument("run", help="run id (or a unique prefix)")
    trades.add_argument("--from", dest="from_day", metavar="D", help="first day (YYYY-MM-DD)")
    trades.add_argument("--to", dest="to_day", metavar="D", help="last day (YYYY-MM-DD)")
    trades.add_argument("--symbol", help="only this symbol (an OCC symbol or its underlying)")
    trades.add_argument("--json", action="store_true", help="machine-readable output")
    trades.add_argument("--csv", action="store_true", help="CSV output")
    trades.set_defaults(handler=cmd_trades)

    explain = sub.add_parser("explain", help="the full decision record of a day: inputs, rules, target, orders, fills")
    explain.add_argument("run", help="run id (or a unique prefix)")
    explain.add_argument("date", help="session date YYYY-MM-DD")
    explain.add_argument("--json", action="store_true", help="machine-readable output")
    explain.add_argument("--wide", action="store_true", help="do not wrap lines to 120 columns")
    explain.set_defaults(handler=cmd_explain)

    report = sub.add_parser("report", help="a self-contained HTML report (charts embedded) plus the charts as PNG files")
    report.add_argument("run", help="run id (or a unique prefix)")
    report.add_argument("--out", metavar="FILE.html", help="where to write it (default: <data.store_dir>/reports/<run>.html)")
    report.set_defaults(handler=cmd_report)

    compare = sub.add_parser("compare", help="two runs side by side: metrics, equity, the days their decisions differ")
    compare.add_argument("run_a", help="run id (or a unique prefix)")
    compare.add_argument("run_b", help="run id (or a unique prefix)")
    compare.add_argument("--out", metavar="FILE.html", help="also write an HTML page with both equity curves")
    compare.add_argument("--json", action="store_true", help="machine-readable output")
    compare.set_defaults(handler=cmd_compare)

    parity = sub.add_parser("parity", help="a paper session against a backtest of the same window: every difference and its cause")
    parity.add_argument("session", help="paper (or simulated) session run id, or a unique prefix")
    parity.add_argument("--against", metavar="RUN", help="compare with this run instead of replaying the window as a backtest now (into <store_dir>/journals)")
    parity.add_argument("--json", action="store_true", help="machine-readable output")
    parity.set_defaults(handler=cmd_parity)


# -- wiring ------------------------------------------------------------------------------------------------------

Handler = Callable[[App, argparse.Namespace], int]


def scheduler_address_arg(text: str) -> str:
    """argparse's type for --dask: `config.schema.scheduler_address`, its message as argparse's."""
    try:
        return scheduler_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="main.py", description="cutcycle: trade IWM through Fed rate-cut cycles, backtest and paper")
    parser.add_argument("--config", type=Path, help="a config or variant TOML file merged over config/default.toml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable)")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log verbosity (stderr)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    config = sub.add_parser("config", help="show the effective configuration").add_subparsers(dest="action", required=True, metavar="ACTION")
    show = config.add_parser("show", help="print the merged config (secrets redacted)")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=cmd_config_show)

    data = sub.add_parser("data", help="the local data store").add_subparsers(dest="action", required=True, metavar="ACTION")
    status = data.add_parser("status", help="each series: range, rows, last available_at, staleness")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--as-of", help="judge staleness at this date (YYYY-MM-DD) instead of now")
    status.set_defaults(handler=cmd_data_status)
    sync = data.add_parser("sync", help="fetch FRED series and Alpaca daily bars into the store (needs keys)")
    sync.add_argument("--series", action="append", help="only this FRED series (repeatable)")
    sync.add_argument("--symbols", action="append", help="only these symbols' bars (repeatable)")
    sync.set_defaults(handler=cmd_data_sync)
    releases = data.add_parser("releases", help="per series: the last publication and the next expected (from the record or the rule)")
    releases.add_argument("--upcoming", action="store_true", help="only what the bot waits for: next releases, soonest first (overdue ones first)")
    releases.add_argument("--series", action="append", help="only this series (repeatable)")
    releases.add_argument("--as-of", help="as the store knew it at the end of this date (YYYY-MM-DD) instead of now")
    releases.add_argument("--json", action="store_true", help="machine-readable output")
    releases.set_defaults(handler=cmd_data_releases)

    signals = sub.add_parser("signals", help="the snapshot at a date: FOMC phase, indicators, regime and its reasons")
    signals.add_argument("--as-of", help="session date YYYY-MM-DD (default: the latest session in the store)")
    signals.add_argument("--history", nargs=2, metavar=("START", "END"), help="the daily series between two dates")
    signals.add_argument("--json", action="store_true", help="machine-readable output")
    signals.add_argument("--csv", action="store_true", help="with --history: CSV (the default for --history)")
    signals.add_argument("--chart", metavar="FILE.png", help="with --history: draw the regime timeline over IWM with FOMC cuts")
    signals.set_defaults(handler=cmd_signals)

    events = sub.add_parser("events", help="event study of every easing cycle since 1990: small vs large caps")
    events.add_argument("--json", action="store_true", help="machine-readable output")
    events.add_argument("--chart", metavar="FILE.png", help="also draw the cycles' returns")
    events.set_defaults(handler=cmd_events)

    regimes = sub.add_parser("regimes", help="the regime scorecard: how the calls behaved, what followed them, NBER recessions")
    regimes.add_argument("--start", help=f"first session YYYY-MM-DD (default {REGIMES_START})")
    regimes.add_argument("--end", help="last session YYYY-MM-DD (default: the latest in the store)")
    regimes.add_argument("--json", action="store_true", help="machine-readable output, with every spell")
    regimes.add_argument("--chart", metavar="FILE.png", help="also draw the calls over IWM with the recessions shaded")
    regimes.set_defaults(handler=cmd_regimes)

    add_backtest_commands(sub)
    add_paper_commands(sub)
    add_review_commands(sub)
    return parser


def setup_logging(level: str, secrets: Secrets) -> None:
    logging.basicConfig(level=getattr(logging, level), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    install_redaction(secrets)


def main(argv: Sequence[str] | None = None, env: dict[str, str] | None = None, clock: Clock | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(hoist_global_options(sys.argv[1:] if argv is None else argv, GLOBAL_OPTIONS, GLOBAL_OPTIONS))
    if extra:  # argparse's own message, with the option this CLI has for a misspelt or borrowed one
        chosen_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}{unknown_options_hint(parser, args, extra)}")
    environment = dict(os.environ if env is None else env)
    setup_logging(args.log_level, Secrets.from_env(environment))
    app: App | None = None

    def run() -> int:
        nonlocal app
        app = App(load_config(args.config, args.overrides), environment, clock or SystemClock())
        handler: Handler = args.handler
        return handler(app, args)

    try:
        return guarded(run, bad_input=(*BAD_INPUT, UsageError), failure=FAILURES, state_dir=lambda: store_dir(app.cfg) if app else None,
                       redact=RedactingFilter(Secrets.from_env(environment).values()).redact)
    finally:
        if app is not None:
            app.close()


if __name__ == "__main__":
    sys.exit(main())
