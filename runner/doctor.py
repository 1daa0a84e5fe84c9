"""`main.py doctor`: before the first paper run, what a user would otherwise find out the hard way.

Each check gives a status (ok | warn | fail), a one-line verdict and, when not ok, what to do. `fail` is for what
trading needs (keys, a paper or loopback endpoint that answers, an active account allowed to buy puts, a clock that
agrees with Alpaca's, decision inputs within their release schedule, the FOMC schedule ahead, disk space, a sound
journal); `warn` for what only degrades the service (other stale datasets, notification destinations). Exit 0 only
without a `fail`. The broker is asked with short timeouts and no retries, behind the endpoint guard; nothing is
written anywhere except by `--test-notify`, which sends one message to each destination.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from broker.alpaca.clients import build_clients, trading_url
from broker.alpaca.reads import AlpacaReads, RetryPolicy
from broker.alpaca.safety import EndpointGuard, SanityLimits
from broker.contract import AccountView, BrokerError
from clock import Clock
from config.loader import resolve_path
from config.schema import AppConfig
from config.secrets import ENV_FRED_API_KEY, Secrets
from journal.journal import JournalError, open_read_only
from journal.schema import SCHEMA_VERSION
from runner.compose import paper_state_dir
from runner.notify import Level, apprise_sender, parse_destinations, with_timeouts
from runner.status import data_freshness, redactor

Status = Literal["ok", "warn", "fail"]
OPTIONS_LEVEL_NEEDED = 2  # buying puts (safety.check_account_gates)
MIN_FUTURE_MEETINGS = 4
MIN_FREE_MB = 500
TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    verdict: str
    action: str = ""


def ok(name: str, verdict: str) -> Check:
    return Check(name, "ok", verdict)


def fail(name: str, verdict: str, action: str) -> Check:
    return Check(name, "fail", verdict, action)


def warn(name: str, verdict: str, action: str) -> Check:
    return Check(name, "warn", verdict, action)


@dataclass(frozen=True, slots=True)
class Broker:
    """What the broker said (or why it could not be asked)."""

    account: AccountView | None
    clock: datetime | None
    error: str | None


def ask_broker(cfg: AppConfig, secrets: Secrets, clock: Clock, guard: EndpointGuard) -> Broker:
    quick = cfg.alpaca.model_copy(update={"connect_timeout_seconds": min(cfg.alpaca.connect_timeout_seconds, TIMEOUT_SECONDS),
                                          "read_timeout_seconds": min(cfg.alpaca.read_timeout_seconds, TIMEOUT_SECONDS)})
    try:
        reads = AlpacaReads(build_clients(quick, secrets, guard=guard, wall=clock), sleep=clock.sleep, policy=RetryPolicy(attempts=1))
        return Broker(reads.account()[0], reads.market_clock().timestamp, None)
    except BrokerError as exc:
        return Broker(None, None, f"{type(exc).__name__}: {exc}")


def check_keys(secrets: Secrets) -> Check:
    missing = secrets.missing_alpaca() + ([] if secrets.fred_api_key else [ENV_FRED_API_KEY])
    if missing:
        return fail("keys", f"missing {', '.join(missing)}", "export them (or put them in the service's 0600 environment file); "
                    "the Alpaca paper keys come from the paper dashboard, the FRED key from fred.stlouisfed.org")
    return ok("keys", "Alpaca paper keys and the FRED key are set")


def check_endpoint(url: str, guard: EndpointGuard, broker: Broker | None) -> Check:
    try:
        guard.check(url)
    except BrokerError as exc:
        return fail("endpoint", str(exc), "use https://paper-api.alpaca.markets (or a local emulator) in alpaca.trading_url / APCA_API_BASE_URL")
    if broker is None:
        return fail("endpoint", f"{url} is allowed but was not asked (no keys)", "set the keys, then run doctor again")
    if broker.clock is None:
        return fail("endpoint", f"{url} did not answer: {broker.error}", "check the network, the URL and the keys; Alpaca's status page")
    return ok("endpoint", f"{url} is a paper (or loopback) endpoint and answers")


def check_account(broker: Broker | None) -> list[Check]:
    if broker is None or broker.account is None:
        return [fail("account", "not read: " + (broker.error if broker is not None and broker.error else "the endpoint was not asked"),
                     "fix the keys and the endpoint first")]
    a = broker.account
    blocks = [n for n in ("trading_blocked", "account_blocked", "trade_suspended_by_user") if getattr(a, n)]
    out = [fail("account", f"account {a.account_number} is {a.status}{' and ' + ', '.join(blocks) if blocks else ''}",
                "resolve it in the Alpaca dashboard; no order is sent until the account is ACTIVE and unblocked")
           if a.status != "ACTIVE" or blocks else ok("account", f"account {a.account_number} is ACTIVE, equity {a.equity:,.2f}")]
    if a.options_level is None or a.options_level < OPTIONS_LEVEL_NEEDED:
        out.append(fail("options", f"options level {a.options_level}; the hedge buys puts, which needs level {OPTIONS_LEVEL_NEEDED}",
                        "request options trading level 2 in the Alpaca dashboard (paper accounts: Account > Configure)"))
    else:
        out.append(ok("options", f"options level {a.options_level} (>= {OPTIONS_LEVEL_NEEDED}: long puts allowed)"))
    return out


def check_clock(now: datetime, broker: Broker | None) -> Check:
    if broker is None or broker.clock is None:
        return fail("clock", "Alpaca's clock was not read", "fix the endpoint first")
    skew = abs((now - broker.clock).total_seconds())
    limit = SanityLimits().max_clock_skew_seconds
    if skew > limit:
        return fail("clock", f"this machine's clock differs from Alpaca's by {skew:.0f} s (> {limit:.0f} s)",
                    "enable time synchronisation (timedatectl set-ntp true / chrony)")
    return ok("clock", f"within {skew:.1f} s of Alpaca's")


def check_data(cfg: AppConfig, now: datetime) -> list[Check]:
    from backtest.inputs import decision_series

    fresh = data_freshness(cfg, now)
    if not fresh.found:
        return [fail("data", fresh.note, "run `main.py data sync` (or `main.py data status` to import the data pack)")]
    needed = set(decision_series(cfg)) | {cfg.strategy.symbol, "SPY"}
    late = [s for s in fresh.stale if s.id in needed]
    other = [s for s in fresh.stale if s.id not in needed]
    named = ", ".join(f"{s.id} (last {s.last})" for s in late[:5]) + (f" and {len(late) - 5} more" if len(late) > 5 else "")
    out = [fail("data", f"decision inputs past their release schedule: {named}",
                "run `main.py data sync` with FRED_API_KEY and the Alpaca keys set; `main.py data status` shows each schedule")
           if late else ok("data", f"{fresh.datasets - len(fresh.stale)} of {fresh.datasets} datasets current; every decision input is")]
    if other:
        out.append(warn("data-other", "stale, not used by decisions: " + ", ".join(s.id for s in other), "`main.py data sync` refreshes them"))
    return out


def check_fomc(cfg: AppConfig, now: datetime) -> Check:
    from signals.fomc import load_schedule

    path = resolve_path(cfg.data.fomc_schedule_file)
    try:
        meetings = load_schedule(path)
    except (OSError, ValueError) as exc:
        return fail("fomc", f"cannot read {path}: {exc}", "restore the file from the repository")
    ahead = [m for m in meetings if m.day >= now.date()]
    if len(ahead) < MIN_FUTURE_MEETINGS:
        return fail("fomc", f"{path.name} lists {len(ahead)} future meeting(s); the phase rules need at least {MIN_FUTURE_MEETINGS}",
                    "add the Fed's published meeting dates (federalreserve.gov/monetarypolicy/fomccalendars.htm) to the file")
    return ok("fomc", f"{len(ahead)} future meetings scheduled, the last on {ahead[-1].day}")


def check_disk(state: Path, min_free_mb: int) -> Check:
    probe = state
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free_mb = shutil.disk_usage(probe).free // 2**20
    if free_mb < min_free_mb:
        return fail("disk", f"{free_mb:,} MB free at {probe} (< {min_free_mb:,} MB)", "free space or move data.store_dir to a larger disk")
    return ok("disk", f"{free_mb:,} MB free for the journal at {probe}")


def check_journal(state: Path, account: AccountView | None) -> Check:
    path = state / "paper.sqlite"
    if not path.exists():
        return ok("journal", f"none yet at {path}: the first run creates it (schema {SCHEMA_VERSION})")
    try:
        db = open_read_only(path)
    except (JournalError, sqlite3.Error) as exc:
        return fail("journal", str(exc), f"move {path} aside and restore it from a backup; the paper trader refuses it")
    try:
        result = [str(r[0]) for r in db.execute("PRAGMA integrity_check").fetchall()]
        meta = {str(r[0]): str(r[1]) for r in db.execute("SELECT key, value FROM meta")}
    except sqlite3.Error as exc:
        return fail("journal", f"{path} cannot be read: {exc}", f"move {path} aside and restore it from a backup")
    finally:
        db.close()
    if result != ["ok"]:
        return fail("journal", f"{path} is damaged: {'; '.join(result[:3])}", f"stop the trader, move {path} aside and restore a backup")
    bound = meta.get("account")
    if account is not None and bound is not None and bound != account.account_number:
        return fail("journal", f"{path} belongs to account {bound}, not {account.account_number}",
                    "use these keys with a separate data.store_dir, or the keys of the account the journal belongs to")
    return ok("journal", f"{path.name} intact, schema {meta.get('schema_version')} (this code: {SCHEMA_VERSION})"
              + (f", bound to account {bound}" if bound else ""))


Sender = Callable[[str], Callable[[str, str, Level], bool]]


def check_notify(cfg: AppConfig, secrets: Secrets, *, send_test: bool, sender: Sender = apprise_sender) -> list[Check]:
    destinations = parse_destinations(secrets, cfg.notify)
    if not destinations:
        return [warn("notify", "no destination: nobody is told about trades or failures", "set CUTCYCLE_NOTIFY_URLS to an Apprise URL "
                     "(e.g. ntfy://topic, mailto://..., tgram://..., json://host/path); see the README")]
    out = []
    for name, url, events in destinations:
        try:
            send = sender(with_timeouts(url.reveal(), cfg.notify.timeout_seconds))
        except ValueError as exc:
            out.append(warn(f"notify {name}", f"not a URL Apprise knows: {exc}", "check the scheme against Apprise's list of services"))
            continue
        if not send_test:
            out.append(ok(f"notify {name}", f"Apprise accepts it ({len(events)} event kinds); `doctor --test-notify` sends a test message"))
        elif send("cutcycle: test message", "`main.py doctor --test-notify` reached this destination.", "info"):
            out.append(ok(f"notify {name}", "test message delivered"))
        else:
            out.append(warn(f"notify {name}", "the test message was not delivered (see the log)", "check the URL, its token and the network"))
    return out


def run_doctor(cfg: AppConfig, env: Mapping[str, str], clock: Clock, *, send_test: bool = False, min_free_mb: int = MIN_FREE_MB) -> list[Check]:
    secrets = Secrets.from_env(env)
    now = clock.now()
    url = trading_url(cfg.alpaca, secrets)
    guard = EndpointGuard(live=cfg.alpaca.live, allow_live=secrets.allow_live)
    checks = [check_keys(secrets)]
    broker: Broker | None = None
    allowed = True
    try:
        guard.check(url)
    except BrokerError:
        allowed = False
    if allowed and secrets.has_alpaca():
        broker = ask_broker(cfg, secrets, clock, guard)
    checks.append(check_endpoint(url, guard, broker))
    checks += check_account(broker)
    checks.append(check_clock(now, broker))
    checks += check_data(cfg, now)
    checks.append(check_fomc(cfg, now))
    state = paper_state_dir(cfg)
    checks.append(check_disk(state, min_free_mb))
    checks.append(check_journal(state, broker.account if broker is not None else None))
    checks += check_notify(cfg, secrets, send_test=send_test)
    redact = redactor(secrets)
    return [Check(c.name, c.status, redact(c.verdict), redact(c.action)) for c in checks]


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status.upper():4}  {c.name.ljust(width)}  {c.verdict}")
        if c.action:
            lines.append(f"{'':4}  {'':{width}}  -> {c.action}")
    failed = [c.name for c in checks if c.status == "fail"]
    lines.append("")
    lines.append(f"not ready to trade: {', '.join(failed)}" if failed else "ready to trade"
                 + (f" ({sum(c.status == 'warn' for c in checks)} warning(s))" if any(c.status == "warn" for c in checks) else ""))
    return "\n".join(lines)


def to_json(checks: list[Check]) -> str:
    return json.dumps({"ready": not any(c.status == "fail" for c in checks), "checks": [asdict(c) for c in checks]}, indent=2)


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == "fail" for c in checks) else 0
