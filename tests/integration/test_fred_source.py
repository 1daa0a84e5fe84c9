"""The FRED source through the real fredapi client against a local FRED-compatible server, into a real store.

Nothing is patched: fredapi builds its URLs and parses the XML as it would against api.stlouisfed.org; the
server (tests/servers/fred_server.py) answers over real sockets and injects the faults.
"""

from __future__ import annotations

import csv
import traceback
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from clock import ManualClock, monotonic
from config.loader import load_config
from config.schema import AppConfig
from config.secrets import Secret, Secrets
from datastore.errors import SourceConfigError, SourceUnavailable, UnknownSeries
from datastore.fred_source import (
    VINTAGE_ALFRED,
    VINTAGE_LATEST,
    FredClient,
    MissingApiKey,
    SyncResult,
    fetch_series,
    sync_fred,
)
from datastore.releases import SeriesDerivation, load_derivations
from datastore.store import Store
from datastore.sync import sync_all
from tests.servers.fred_server import OBSERVATIONS_PATH, Fault, FredServer, ServedSeries

KEY = "zqsentinelfredkey0123456789abcdz"  # shaped like a real key: 32 lower-case alphanumerics
FRED_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "fred"
FETCHED = datetime(2026, 8, 31, 12, 0, tzinfo=UTC)
SECRET = Secret(KEY)
SECRETS = Secrets(fred_api_key=SECRET)


class SleepLog(ManualClock):
    """A manual clock that records the back-off sleeps instead of waiting."""

    def __init__(self) -> None:
        super().__init__(FETCHED)
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        super().sleep(seconds)


def pack_csv(series_id: str, start: date | None = None, end: date | None = None) -> ServedSeries:
    return ServedSeries.from_pack_csv(FRED_DIR / f"{series_id}.csv", released=date(2026, 6, 1), start=start, end=end)


def pack_values(series_id: str) -> dict[date, float]:
    with (FRED_DIR / f"{series_id}.csv").open(newline="") as fh:
        return {date.fromisoformat(r[0]): float(r[1]) for r in list(csv.reader(fh))[1:] if r[1]}


def config(server: FredServer, *, vintages: bool = False, timeout: float = 2.0, attempts: int = 3, release_dates: bool = False) -> AppConfig:
    """The real default config, through the real loader, pointed at the local server (first-release days off unless asked)."""
    overrides = [
        f'fred.root_url="{server.root_url}"',
        f"fred.timeout_seconds={timeout}",
        f"fred.max_attempts={attempts}",
        "fred.backoff_seconds=0.5",
        f"fred.vintages={str(vintages).lower()}",
        f"fred.release_dates={str(release_dates).lower()}",
    ]
    return load_config(overrides=overrides).config


def at_utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture
def server() -> Iterator[FredServer]:
    with FredServer(api_key=KEY, hang_seconds=5.0) as srv:
        srv.add(pack_csv("CPIAUCSL"))
        srv.add(pack_csv("AAA10Y", date(2016, 12, 19), date(2017, 1, 6)))
        yield srv


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store(tmp_path / "store.sqlite")
    yield st
    st.close()


def derivations(cfg: AppConfig) -> dict[str, SeriesDerivation]:
    return load_derivations(cfg.series, cfg.release_calendar, FRED_DIR.parent)


def test_latest_vintage_lands_in_the_store_with_release_record_times(server: FredServer, store: Store) -> None:
    clock = SleepLog()
    cfg = config(server)
    results = sync_fred(store, cfg, SECRETS, clock, ["CPIAUCSL"], derivations(cfg))

    expected = pack_values("CPIAUCSL")
    assert results == [SyncResult("CPIAUCSL", True, len(expected), "fred", VINTAGE_LATEST)]
    frame = store.observations("CPIAUCSL").set_index("period")
    assert len(frame) == len(expected)
    jan = frame.loc[pd.Timestamp("2024-01-01")]
    assert jan["value"] == expected[date(2024, 1, 1)]
    assert jan["available_at"] == at_utc("2024-02-13 13:30")  # the record: 2024-02-13, 08:30 ET (EST)
    assert frame.loc[pd.Timestamp("2024-06-01"), "available_at"] == at_utc("2024-07-11 12:30")  # 08:30 EDT
    before, after = store.as_of("CPIAUCSL", at_utc("2024-02-13 13:29")), store.as_of("CPIAUCSL", at_utc("2024-02-13 13:30"))
    assert before.index[-1] == pd.Timestamp("2023-12-01")
    assert after.index[-1] == pd.Timestamp("2024-01-01")

    info = store.dataset("fred:CPIAUCSL")
    assert info is not None
    assert (info.source, info.vintage, info.rows) == ("fred", VINTAGE_LATEST, len(expected))
    assert info.origin == f"{server.root_url}/series/observations?series_id=CPIAUCSL"
    assert info.fetched_at == "2026-08-31T12:00:00Z"
    assert len(info.content_hash) == 64
    assert len(server.requests(OBSERVATIONS_PATH)) == 1
    assert clock.sleeps == []


def test_dot_and_empty_values_stay_missing_never_zero(server: FredServer, store: Store) -> None:
    [result] = sync_fred(store, config(server), SECRETS, SleepLog(), ["AAA10Y"])

    assert result.ok
    frame = store.observations("AAA10Y").set_index("period")
    assert frame["value"].isna().sum() == 2  # 2016-12-26 and 2017-01-02, '.' on the wire
    assert frame["value"].isna()[pd.Timestamp("2016-12-26")]
    assert (frame["value"].dropna() != 0).all()
    known = store.as_of("AAA10Y", at_utc("2017-02-01"))
    assert pd.Timestamp("2016-12-26") not in known.index
    assert len(known) == len(frame) - 2


def test_alfred_vintages_first_release_before_the_revision_and_revised_after(server: FredServer, store: Store) -> None:
    server.add(
        ServedSeries.with_vintages(
            "CPIAUCSL",
            {
                date(2023, 12, 1): [(date(2024, 1, 11), 306.746), (date(2025, 2, 12), 308.741)],
                date(2024, 1, 1): [(date(2024, 2, 13), 308.417), (date(2025, 2, 12), 309.698)],
                date(2025, 10, 1): [(date(2025, 12, 18), ".")],  # never collected (shutdown): '.' in ALFRED
            },
        )
    )
    [result] = sync_fred(store, config(server, vintages=True), SECRETS, SleepLog(), ["CPIAUCSL"])  # no record: the rule

    assert (result.ok, result.source, result.vintage, result.rows) == (True, "alfred", VINTAGE_ALFRED, 5)
    rows = store.observations("CPIAUCSL")
    jan = rows[rows["period"] == pd.Timestamp("2024-01-01")]
    # first release: ALFRED says 2024-02-13, the rule (26th 08:30 ET, CPI's latest day) is later and wins; revision at 08:30 ET
    assert list(jan["available_at"]) == [at_utc("2024-02-26 13:30"), at_utc("2025-02-12 13:30")]
    assert list(jan["value"]) == [308.417, 309.698]
    assert list(jan["realtime_start"]) == ["2024-02-13", "2025-02-12"]
    assert rows.loc[rows["period"] == pd.Timestamp("2025-10-01"), "value"].isna().all()

    def jan_as_of(ts: str) -> float:
        return float(store.as_of("CPIAUCSL", at_utc(ts))["value"][pd.Timestamp("2024-01-01")])

    assert jan_as_of("2024-06-01 00:00") == 308.417
    assert jan_as_of("2025-02-12 13:29") == 308.417
    assert jan_as_of("2025-02-12 13:30") == 309.698
    assert pd.Timestamp("2024-01-01") not in store.as_of("CPIAUCSL", at_utc("2024-02-26 13:29")).index
    assert pd.Timestamp("2025-10-01") not in store.as_of("CPIAUCSL", at_utc("2026-08-01")).index

    info = store.dataset("fred:CPIAUCSL")
    assert info is not None
    assert (info.source, info.vintage) == ("alfred", VINTAGE_ALFRED)
    assert "realtime_start=1776-07-04" in info.origin
    [request] = server.requests(OBSERVATIONS_PATH)
    assert request.params["realtime_start"] == ["1776-07-04"]
    assert request.params["realtime_end"] == ["9999-12-31"]


def test_a_daily_series_with_too_many_vintages_falls_back_to_the_release_rule(server: FredServer, store: Store) -> None:
    days = [date(2024, 1, d) for d in (2, 3, 4, 5, 8, 9, 10)]
    server.add(ServedSeries.with_vintages("DGS10", {d: [(d.replace(day=d.day + 1), 4.0 + d.day / 100)] for d in days}))
    server.max_vintage_dates = 5  # FRED's limit is 2,000; a smaller one keeps the test small

    [result] = sync_fred(store, config(server, vintages=True), SECRETS, SleepLog(), ["DGS10"])

    assert (result.ok, result.source, result.vintage, result.rows) == (True, "fred", VINTAGE_LATEST, 7)
    assert "2,000" in result.message
    requests = server.requests(OBSERVATIONS_PATH)
    assert ["realtime_start" in r.params for r in requests] == [True, False]  # refused once, no retry, then latest
    frame = store.observations("DGS10").set_index("period")
    assert frame.loc[pd.Timestamp("2024-01-05"), "available_at"] == at_utc("2024-01-08 21:15")  # next business day 16:15 ET


def test_429_twice_then_ok_is_retried_with_backoff_and_retry_after(server: FredServer, store: Store) -> None:
    server.fail(OBSERVATIONS_PATH, Fault.too_many_requests(times=1))
    server.fail(OBSERVATIONS_PATH, Fault.too_many_requests(times=1, retry_after=3))
    clock = SleepLog()

    [result] = sync_fred(store, config(server), SECRETS, clock, ["CPIAUCSL"])

    assert result.ok
    assert [r.fault for r in server.requests(OBSERVATIONS_PATH)] == ["status", "status", None]
    assert clock.sleeps == [0.5, 3.0]  # back-off 0.5 s, then the server's Retry-After (longer than 1.0 s)
    assert len(store.observations("CPIAUCSL")) == len(pack_values("CPIAUCSL"))


def test_500_with_html_is_retried_then_unavailable_and_the_store_is_unchanged(server: FredServer, store: Store) -> None:
    cfg = config(server)
    sync_fred(store, cfg, SECRETS, SleepLog(), ["CPIAUCSL"])
    before, info_before = store.observations("CPIAUCSL"), store.dataset("fred:CPIAUCSL")
    server.add(ServedSeries.latest("CPIAUCSL", {date(2024, 1, 1): 1.0}, released=date(2026, 8, 1)))
    server.fail(OBSERVATIONS_PATH, Fault.html(500))
    clock = SleepLog()

    [result] = sync_fred(store, cfg, SECRETS, clock, ["CPIAUCSL"])

    assert (result.ok, result.status) == (False, 500)
    assert "HTML body" in result.message
    assert "3 attempts" in result.message
    assert clock.sleeps == [0.5, 1.0]
    assert len(server.requests(OBSERVATIONS_PATH)) == 1 + 3
    pd.testing.assert_frame_equal(store.observations("CPIAUCSL"), before)
    assert store.dataset("fred:CPIAUCSL") == info_before

    client = FredClient(SECRET, cfg.fred, clock.sleep)
    with pytest.raises(SourceUnavailable) as raised:
        fetch_series(client, "CPIAUCSL", cfg.series["CPIAUCSL"], clock, vintages=False)
    assert raised.value.status == 500


def test_a_server_that_never_answers_fails_within_the_timeout(server: FredServer) -> None:
    cfg = config(server, timeout=0.5, attempts=2)
    server.fail(OBSERVATIONS_PATH, Fault.hang())
    client = FredClient(SECRET, cfg.fred, SleepLog().sleep)

    started = monotonic()
    with pytest.raises(SourceUnavailable) as raised:
        client.get_series("CPIAUCSL")
    elapsed = monotonic() - started

    assert 2 * 0.5 * 0.9 <= elapsed < 2 * 0.5 + 1.0
    assert raised.value.status is None
    assert "timed out" in str(raised.value)
    assert len(server.requests(OBSERVATIONS_PATH)) == 2


def test_400_is_a_configuration_error_and_not_retried(server: FredServer, store: Store) -> None:
    clock = SleepLog()
    [result] = sync_fred(store, config(server), SECRETS, clock, ["UNRATE"])  # in the catalogue, unknown to the server

    assert (result.ok, result.status) == (False, 400)
    assert "The series does not exist" in result.message
    assert len(server.requests(OBSERVATIONS_PATH)) == 1
    assert clock.sleeps == []
    assert store.series_ids() == []

    cfg = config(server)
    with pytest.raises(SourceConfigError) as raised:
        FredClient(Secret("wrongkey" * 4), cfg.fred, clock.sleep).get_series("CPIAUCSL")
    assert raised.value.status == 400
    assert "api_key is not registered" in str(raised.value)
    assert "wrongkey" not in str(raised.value)


def test_resets_empty_bodies_and_truncated_bodies_are_retried(server: FredServer, store: Store) -> None:
    server.fail(OBSERVATIONS_PATH, Fault.reset(times=1))
    server.fail(OBSERVATIONS_PATH, Fault.empty(502, times=1))
    server.fail(OBSERVATIONS_PATH, Fault.truncated(times=1))
    clock = SleepLog()

    [result] = sync_fred(store, config(server, attempts=4), SECRETS, clock, ["CPIAUCSL"])

    assert result.ok
    assert [r.fault for r in server.requests(OBSERVATIONS_PATH)] == ["reset", "empty", "truncated", None]
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_one_failing_series_leaves_the_others_and_its_own_data_intact(server: FredServer, store: Store) -> None:
    cfg = config(server)
    assert all(r.ok for r in sync_fred(store, cfg, SECRETS, SleepLog(), ["CPIAUCSL", "AAA10Y"]))
    aaa_before = store.observations("AAA10Y")
    revised = {**pack_values("CPIAUCSL"), date(2024, 1, 1): 309.9}
    server.add(ServedSeries.latest("CPIAUCSL", revised, released=date(2026, 8, 1)))
    server.fail(OBSERVATIONS_PATH, Fault.html(503, series_id="AAA10Y"))

    cpi, aaa = sync_fred(store, cfg, SECRETS, SleepLog(), ["CPIAUCSL", "AAA10Y"])

    assert (cpi.ok, cpi.rows) == (True, len(revised))
    assert store.observations("CPIAUCSL").set_index("period").loc[pd.Timestamp("2024-01-01"), "value"] == 309.9
    assert (aaa.ok, aaa.status) == (False, 503)
    pd.testing.assert_frame_equal(store.observations("AAA10Y"), aaa_before)


def test_missing_key_or_unknown_series_is_reported_before_any_request(server: FredServer, store: Store) -> None:
    with pytest.raises(MissingApiKey) as raised:
        sync_fred(store, config(server), Secrets.from_env({}), SleepLog())
    assert "FRED_API_KEY" in str(raised.value)
    assert raised.value.variable == "FRED_API_KEY"
    with pytest.raises(UnknownSeries, match="NOSUCH"):
        sync_fred(store, config(server), SECRETS, SleepLog(), ["CPIAUCSL", "NOSUCH"])
    assert server.requests() == []


def test_the_key_appears_nowhere_but_the_api_key_parameter(server: FredServer, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    cfg = config(server, timeout=0.3, attempts=2)
    clock = SleepLog()
    texts: list[str] = []

    results = sync_fred(store, cfg, SECRETS, clock, ["CPIAUCSL", "AAA10Y"])
    server.fail(OBSERVATIONS_PATH, Fault.http_status(400, f"Bad Request.  Echoing your request: api_key={KEY}", times=1))
    server.fail(OBSERVATIONS_PATH, Fault.html(500, times=2))
    server.fail(OBSERVATIONS_PATH, Fault.hang(times=2))
    server.fail(OBSERVATIONS_PATH, Fault.reset(times=2))
    for _ in range(4):
        results += sync_fred(store, cfg, SECRETS, clock, ["CPIAUCSL"])
    results += sync_fred(store, cfg, SECRETS, clock, ["UNRATE"])
    with pytest.raises(SourceConfigError) as raised:
        FredClient(SECRET, cfg.fred, clock.sleep).get_series("NOSUCH")
    texts.append("".join(traceback.format_exception(raised.value)))

    assert [r.ok for r in results] == [True, True, False, False, False, False, False]
    texts += [repr(results), caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    assert "***" in repr(results)  # the echoed key was redacted, not dropped silently
    for text in texts:
        assert KEY not in text
    for _ in ("while open (with its WAL)", "after close"):
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert KEY.encode() not in path.read_bytes(), path
        store.close()
    for request in server.requests():
        assert request.params["api_key"] == [KEY]
        assert request.target.count(KEY) == 1
        assert KEY not in request.path
        assert all(KEY not in value for value in request.headers.values())


def test_a_truncated_refresh_keeps_the_stored_history_and_is_not_ok(server: FredServer, store: Store) -> None:
    """R41: FRED serving BAMLH0A0HYM2 from 2023-06 only must not replace the stored 1996-2026 series."""
    cfg = config(server)
    server.add(pack_csv("BAMLH0A0HYM2"))
    [first] = sync_fred(store, cfg, SECRETS, SleepLog(), ["BAMLH0A0HYM2"])
    assert first.ok
    before, info_before = store.observations("BAMLH0A0HYM2"), store.dataset("fred:BAMLH0A0HYM2")
    server.add(pack_csv("BAMLH0A0HYM2", start=date(2023, 6, 1)))

    report = sync_all(store, cfg, SECRETS, SleepLog(), bars_client=None, fred_series=["BAMLH0A0HYM2"])

    assert not report.ok
    [line] = [x for x in report.lines if x.startswith("FRED")]
    assert line.startswith("FRED BAMLH0A0HYM2: NOT OK") and "kept the stored copy" in line
    assert "1996-12-31" in line and "2023-06" in line
    pd.testing.assert_frame_equal(store.observations("BAMLH0A0HYM2"), before)
    assert store.dataset("fred:BAMLH0A0HYM2") == info_before
    # a copy that ends earlier than the stored one is refused the same way
    server.add(pack_csv("BAMLH0A0HYM2", end=date(2020, 1, 1)))
    [short] = sync_fred(store, cfg, SECRETS, SleepLog(), ["BAMLH0A0HYM2"])
    assert not short.ok and "kept the stored copy" in short.message


def test_sync_stores_alfred_first_release_days_and_dates_values_by_them(server: FredServer, store: Store) -> None:
    """A delayed release (the 2025 shutdown) and a period past the pack's record are dated by ALFRED's first vintage."""
    history = {
        date(2025, 8, 1): [(date(2025, 9, 11), 323.4)],
        date(2025, 9, 1): [(date(2025, 10, 24), 324.2), (date(2025, 11, 13), 324.245)],  # delayed by the shutdown
        date(2025, 10, 1): [(date(2025, 12, 18), ".")],  # never collected
        date(2025, 11, 1): [(date(2025, 12, 18), 325.063)],
        date(2026, 12, 1): [(date(2027, 1, 21), 330.0)],  # beyond the pack's record (it ends with Nov-2026)
    }
    server.add(ServedSeries.with_vintages("CPIAUCSL", history))
    server.today = date(2027, 2, 1)
    cfg = config(server, release_dates=True)
    derived = derivations(cfg)

    [result] = sync_fred(store, cfg, SECRETS, SleepLog(), ["CPIAUCSL"], derived)

    assert result.ok and "4 first-release days" in result.message
    assert store.release_dates()["CPIAUCSL"] == {
        date(2025, 8, 1): date(2025, 9, 11), date(2025, 9, 1): date(2025, 10, 24),
        date(2025, 11, 1): date(2025, 12, 18), date(2026, 12, 1): date(2027, 1, 21),
    }
    assert [r.path.rsplit("/", 1)[-1] for r in server.requests()][:2] == ["vintagedates", "observations"]
    frame = store.observations("CPIAUCSL").set_index("period")["available_at"]
    assert frame[pd.Timestamp("2025-09-01")] == at_utc("2025-10-24 12:30")  # the pack's record agrees
    assert frame[pd.Timestamp("2026-12-01")] == at_utc("2027-01-21 13:30")  # ALFRED's day at 08:30 ET, not the rule's 26th
    assert pd.Timestamp("2026-12-01") not in store.as_of("CPIAUCSL", at_utc("2027-01-21 13:29")).index
    # the next command's derivation reads the stored days: nothing to re-derive
    again = load_derivations(cfg.series, cfg.release_calendar, FRED_DIR.parent, store.release_dates())["CPIAUCSL"]
    assert store.derivations()["CPIAUCSL"] == again.digest
    assert again.published(date(2026, 12, 1)).basis == "alfred first release"


def test_first_release_days_keep_within_alfreds_vintage_limit(server: FredServer, store: Store) -> None:
    weeks = [date(2024, 1, 6) + pd.Timedelta(days=7 * k).to_pytimedelta() for k in range(8)]
    server.add(ServedSeries.with_vintages("ICSA", {w: [(w + pd.Timedelta(days=5).to_pytimedelta(), 200000 + k)] for k, w in enumerate(weeks)}))
    server.max_vintage_dates = 5
    [result] = sync_fred(store, config(server, release_dates=True), SECRETS, SleepLog(), ["ICSA"])
    assert result.ok
    first = store.release_dates()["ICSA"]
    # the window is halved until the server accepts it (8 vintages, 5 allowed: the last 3); the week on the window's
    # first vintage is left out (it may have been published earlier), the later ones are dated exactly
    assert sorted(first) == weeks[6:]
    assert all(first[w] == w + pd.Timedelta(days=5).to_pytimedelta() for w in weeks[6:])


def test_a_fred_that_gives_no_answer_at_all_is_tried_for_one_series_not_for_each(store: Store) -> None:
    """No network (here a port nothing listens on): the first series goes through its retries, the rest are skipped
    at once with a line that says why, and nothing in the store changes."""
    with FredServer(api_key=KEY) as srv:
        root = srv.root_url
    cfg = load_config(overrides=[f'fred.root_url="{root}"', "fred.max_attempts=3", "fred.backoff_seconds=0.5", "fred.release_dates=false"]).config
    sleeps = SleepLog()
    results = sync_fred(store, cfg, SECRETS, sleeps, ["CPIAUCSL", "AAA10Y", "UNRATE"])
    first, *rest = results
    assert not first.ok and first.unreachable and "gave up after 3 attempts" in first.message
    assert [(r.series, r.ok, r.unreachable) for r in rest] == [("AAA10Y", False, True), ("UNRATE", False, True)]
    assert all("skipped: FRED gave no answer for CPIAUCSL" in r.message for r in rest)
    assert len(sleeps.sleeps) == 2  # the first series' back-off only
    assert store.dataset("fred:CPIAUCSL") is None
