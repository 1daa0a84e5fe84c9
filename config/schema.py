"""The configuration schema: frozen pydantic models, unknown keys forbidden, every field documented.

`config/default.toml` holds the defaults; a variant file and `--set section.key=value` overrides are merged over
it by `config.loader`. Secrets never live here: see `config.secrets`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator

from config.numeric import Frozen
from signals.params import SignalParams
from strategies.params import BacktestParams, StrategyParams

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _check_hhmm(value: str) -> str:
    if not _HHMM.match(value):
        raise ValueError(f"expected a New York wall time 'HH:MM', got {value!r}")
    return value


class NextBusinessDay(Frozen):
    """Daily series published on the next US federal business day (FRED's H.15-style daily series)."""

    rule: Literal["next_business_day"]
    time: str = Field(description="New York wall time of publication, 'HH:MM'")
    _t = field_validator("time")(_check_hhmm)


class SameDay(Frozen):
    """Known on the observation day itself (e.g. a target rate announced before it takes effect)."""

    rule: Literal["same_day"]
    time: str = Field(description="New York wall time from which the value is known, 'HH:MM'")
    _t = field_validator("time")(_check_hhmm)


class DaysAfter(Frozen):
    """Weekly series published a fixed number of days after the period date (claims, NFCI, STLFSI)."""

    rule: Literal["days_after"]
    days: int = Field(ge=0, le=60, description="calendar days after the period date")
    time: str = Field(description="New York wall time of publication, 'HH:MM'")
    _t = field_validator("time")(_check_hhmm)


class MonthDay(Frozen):
    """Monthly series published on a day of a later month, moved forward to a business day (CPI, INDPRO)."""

    rule: Literal["month_day"]
    months_after: int = Field(ge=1, le=6, description="months after the period's month")
    day: int = Field(ge=1, le=28, description="day of that month; a non-business day moves forward")
    time: str = Field(description="New York wall time of publication, 'HH:MM'")
    _t = field_validator("time")(_check_hhmm)


class MonthLastBusinessDay(Frozen):
    """Monthly series published on the last business day of a later month (PCE, about four weeks after)."""

    rule: Literal["month_last_business_day"]
    months_after: int = Field(ge=1, le=6, description="months after the period's month")
    time: str = Field(description="New York wall time of publication, 'HH:MM'")
    _t = field_validator("time")(_check_hhmm)


class EmploymentSituation(Frozen):
    """BLS Employment Situation: the third Friday after the reference week (the week holding the 12th)."""

    rule: Literal["employment_situation"]
    time: str = Field(description="New York wall time of publication, 'HH:MM'")
    _t = field_validator("time")(_check_hhmm)


class LabelOnly(Frozen):
    """Published so late (NBER recession dates) that it may label history but never feed a decision."""

    rule: Literal["label_only"]


_RULE_MODELS = (NextBusinessDay, SameDay, DaysAfter, MonthDay, MonthLastBusinessDay, EmploymentSituation, LabelOnly)
ReleaseRule = Annotated[
    NextBusinessDay | SameDay | DaysAfter | MonthDay | MonthLastBusinessDay | EmploymentSituation | LabelOnly,
    Field(discriminator="rule"),
]
# The discriminator values; pydantic puts them in error locations, which config errors leave out.
RELEASE_RULE_NAMES: frozenset[str] = frozenset(get_args(m.model_fields["rule"].annotation)[0] for m in _RULE_MODELS)


class ReleaseRecordLink(Frozen):
    """Where a series' real publication dates come from: a file of the pack's `releases/` folder."""

    release: str = Field(description="file stem under the pack's releases/ folder, e.g. 'cpi'")
    complete_from: date | None = Field(
        default=None,
        description="from this period to the record's last, the record is complete: a period it lacks was never published",
    )
    time: str | None = Field(
        default=None, description="New York time this series is out on the record's day when it is derived later (FRED's Sahm: 10:00)"
    )
    _t = field_validator("time")(lambda v: v if v is None else _check_hhmm(v))


class SeriesSpec(Frozen):
    """One FRED series: what it is, how often it comes, when each value becomes known."""

    title: str = Field(description="what the series measures")
    frequency: Literal["daily", "weekly", "monthly"] = Field(description="the period of one observation")
    release: ReleaseRule = Field(description="when a value for a period becomes known")
    release_source: str = Field(description="where the release rule comes from (a schedule or a document)")
    release_overrides: dict[str, str] = Field(
        default_factory=dict,
        description="period (YYYY-MM-DD) -> actual release 'YYYY-MM-DDTHH:MM' New York time, for known exceptions",
    )
    allowed_gaps: list[date] = Field(
        default_factory=list, description="periods genuinely never published (e.g. during a government shutdown)"
    )
    max_gap_days: int = Field(default=0, ge=0, description="daily/weekly: largest gap between periods; 0 = default")
    stale_after_days: int = Field(
        default=0, ge=0, description="days past the next expected release before the series counts as stale; 0 = default"
    )
    discontinued: str | None = Field(default=None, description="why the series ends (it is never stale)")
    release_record: ReleaseRecordLink | None = Field(
        default=None, description="the real publication dates (they win over the rule and the overrides where they cover a period)"
    )
    agency: str = Field(default="", description="publishing agency (BLS, BEA, DOL, FED, ...): a shutdown of it delays the rule's date")

    @field_validator("release_overrides")
    @classmethod
    def _overrides_are_dates(cls, value: dict[str, str]) -> dict[str, str]:
        for period, when in value.items():
            date.fromisoformat(period)
            if not re.match(r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d$", when):
                raise ValueError(f"override for {period}: expected 'YYYY-MM-DDTHH:MM', got {when!r}")
        return value


class PriceSpec(Frozen):
    """A daily price history: an ETF we trade or benchmark, or an index for history before the ETFs."""

    file: str = Field(description="CSV file under the pack's prices/ folder")
    kind: Literal["etf", "index"] = Field(description="tradable ETF or index level")
    dividend_adjusted: bool = Field(description="true when open/high/low/close include dividends (total return)")
    close_time: str = Field(default="16:00", description="New York time a regular session's bar is final")
    reference: str = Field(default="", description="an index in [prices] this ETF must move with at import (IWM: RUT): a split-like gap check")
    _t = field_validator("close_time")(_check_hhmm)


class Shutdown(Frozen):
    """A federal funding lapse: a release of a named agency that the rule puts in [start, resumed] comes on `resumed`."""

    start: date = Field(description="first day of the lapse")
    end: date = Field(description="last day of the lapse")
    agencies: list[str] = Field(description="agencies that stopped publishing (the Fed never does)")
    resumed: date = Field(description="the day by which the agencies' delayed releases were all out (the latest catch-up date)")
    source: str = Field(description="where the dates come from")

    @model_validator(mode="after")
    def _ordered(self) -> Shutdown:
        if not self.start <= self.end <= self.resumed:
            raise ValueError(f"shutdown {self.start}: expected start <= end <= resumed")
        return self


class ReleaseCalendarConfig(Frozen):
    """What the release rules respect where the record is silent (the record itself needs none of it)."""

    shutdowns: list[Shutdown] = Field(default_factory=list, description="federal shutdowns that delayed releases")
    closed_days: list[date] = Field(
        default_factory=list, description="extra federal closures (executive orders, national days of mourning): not business days"
    )
    december_employment_min_day: int = Field(
        default=0, ge=0, le=14, description="a December Employment Situation by the rule comes no earlier than this January day (0 = off)"
    )


class DataConfig(Frozen):
    """Where data comes from and where the local store lives."""

    pack_dir: str = Field(description="the data pack; relative paths are from the project root; CUTCYCLE_DATA_DIR wins")
    store_dir: str = Field(description="local state: the store, journals; relative paths are from the project root")
    fomc_schedule_file: str = Field(description="TOML file with the published schedule of upcoming FOMC meetings")

    @field_validator("pack_dir", "store_dir", "fomc_schedule_file")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():  # "" would resolve to the project root itself
            raise ValueError("an empty path: give a directory or file (relative paths are from the project root)")
        return value


class FredConfig(Frozen):
    """FRED / ALFRED access through fredapi."""

    root_url: str = Field(description="FRED API root; point at a local server for tests")
    timeout_seconds: float = Field(gt=0, le=120, description="connect+read timeout per request")
    max_attempts: int = Field(ge=1, le=10, description="attempts per request on 429/5xx/timeouts")
    backoff_seconds: float = Field(ge=0, le=60, description="first back-off; doubles each retry")
    vintages: bool = Field(description="fetch ALFRED vintages so available_at is the real first release")
    release_dates: bool = Field(
        default=True, description="for series with a release record: also fetch each period's first-release day from ALFRED (vintage dates)"
    )
    series: list[str] = Field(description="series `data sync` fetches")


class AlpacaConfig(Frozen):
    """Alpaca access. Keys come from the environment only."""

    trading_url: str = Field(description="trading API base URL; APCA_API_BASE_URL overrides")
    data_url: str = Field(description="market data API base URL")
    feed: Literal["iex", "sip", "delayed_sip", "boats", "overnight", "otc"] = Field(description="stock data feed")
    live: bool = Field(description="allow a live endpoint; also needs CUTCYCLE_ALLOW_LIVE=1 in the environment")
    connect_timeout_seconds: float = Field(gt=0, le=60, description="TCP connect timeout")
    read_timeout_seconds: float = Field(gt=0, le=120, description="read timeout per request")
    requests_per_minute: int = Field(ge=1, le=10_000, description="shared rate limit across all calls")
    symbols: list[str] = Field(description="symbols whose daily bars `data sync` fetches")


class PaperConfig(Frozen):
    """The long-running paper trader's process (`main.py paper`)."""

    tick_seconds: int = Field(default=30, ge=1, le=30, description="how often the process writes its heartbeat and asks the "
                              "run ledger what is due: a job dropped by a suspend or a clock jump runs within one tick of waking")


SCHEMES = ("tcp", "tls", "ws", "wss", "inproc", "ucx")  # distributed's comm protocols


def scheduler_address(text: str) -> str:
    """A Dask scheduler address as distributed takes it, `tcp://HOST:PORT` (or `HOST:PORT`, which means tcp), checked
    before anything connects. Raises ValueError saying what is wrong (distributed itself raises deep in its client and
    leaves a background thread that prints a traceback)."""
    value = text.strip()
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "tcp", value
    host, colon, port = rest.rpartition(":")
    if scheme not in SCHEMES:
        raise ValueError(f"{text!r}: unknown protocol {scheme!r} (one of {', '.join(SCHEMES)}); expected tcp://HOST:PORT")
    if scheme != "inproc" and (not colon or not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in host):
        raise ValueError(f"{text!r}: expected tcp://HOST:PORT with a port 1 .. 65535")
    return value


class ClusterConfig(Frozen):
    """Where sweeps and validations run their variants."""

    dask_scheduler: str = Field(
        default="", description="a Dask scheduler address (tcp://host:8786) to run sweep variants on; empty = local processes"
    )

    @field_validator("dask_scheduler")
    @classmethod
    def _address(cls, value: str) -> str:
        return scheduler_address(value) if value.strip() else ""


NotifyEvent = Literal["start", "stop", "orders", "fills", "regime", "summary", "halt", "failure", "missed", "stale_data",
                      "reconcile_gap", "test"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = get_args(NotifyEvent)


class NotifyConfig(Frozen):
    """Notifications through Apprise. The destinations are URLs in CUTCYCLE_NOTIFY_URLS (whitespace-separated, each
    optionally `NAME=URL`): they carry tokens, so they live in the environment, never here."""

    events: list[NotifyEvent] = Field(default_factory=lambda: list(NOTIFY_EVENTS), description="what an unnamed destination receives")
    routes: dict[str, list[NotifyEvent]] = Field(default_factory=dict, description="NAME -> events, for destinations set as NAME=URL")
    timeout_seconds: float = Field(default=10.0, gt=0, le=60, description="connect and read timeout of one send")
    queue_size: int = Field(default=200, ge=1, le=10_000, description="messages waiting per destination; beyond it new ones are dropped and counted")
    collapse_minutes: float = Field(default=30.0, ge=0, le=1440, description="repeats of the same alert within this window are counted, not sent")
    pause_after_failures: int = Field(default=3, ge=1, le=100, description="failed sends in a row before a destination is paused")
    pause_minutes: float = Field(default=15.0, ge=0, le=1440, description="how long a failing destination is skipped (messages dropped, counted)")
    stop_flush_seconds: float = Field(default=5.0, ge=0, le=60, description="how long stopping waits for queued messages")


class AppConfig(Frozen):
    """The whole effective configuration."""

    data: DataConfig
    fred: FredConfig
    alpaca: AlpacaConfig
    series: dict[str, SeriesSpec] = Field(description="the FRED series catalogue, keyed by FRED id")
    prices: dict[str, PriceSpec] = Field(description="price histories keyed by symbol")
    release_calendar: ReleaseCalendarConfig = Field(
        default_factory=ReleaseCalendarConfig, description="shutdowns, extra closures and patterns the release rules respect"
    )
    signals: SignalParams = Field(default_factory=SignalParams, description="phase, indicator and regime rules (signals/params.py)")
    strategy: StrategyParams = Field(default_factory=StrategyParams, description="the playbook's weights, hedges and limits (strategies/params.py)")
    backtest: BacktestParams = Field(default_factory=BacktestParams, description="backtest window, cash and costs (strategies/params.py)")
    paper: PaperConfig = Field(default_factory=PaperConfig, description="the paper trader's process")
    cluster: ClusterConfig = Field(default_factory=ClusterConfig, description="where sweeps and validations run (local processes or Dask)")
    notify: NotifyConfig = Field(default_factory=NotifyConfig, description="which events go to which notification destination")

    @model_validator(mode="after")
    def _fred_series_known(self) -> AppConfig:
        unknown = [s for s in self.fred.series if s not in self.series]
        if unknown:
            raise ValueError(f"fred.series lists {unknown} which have no [series.<ID>] entry")
        return self
