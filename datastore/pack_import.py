"""Load the data pack into the store: validate every file first, then write all of it in one transaction.

Idempotent: a dataset whose file hash is unchanged is skipped, and a series that `data sync` fetched from FRED
or Alpaca is not overwritten by the (older) pack copy. Every call also compares each stored series' derivation
digest (release record, rule, overrides, calendar: `datastore.releases`) with the config's and re-derives the
`available_at` of the series whose digest changed, whatever their source: a corrected rule takes effect on the next
command, without deleting the store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from pathlib import Path

import pandas as pd

from config.schema import AppConfig, LabelOnly
from datastore.errors import DataError
from datastore.pack import file_sha256, read_meetings, read_prices, read_series
from datastore.price_checks import check_prices
from datastore.releases import LabelOnlySeries, SeriesDerivation, load_derivations, stored_available_at
from datastore.sessions import close_instants
from datastore.store import Store

log = logging.getLogger(__name__)

LABEL_ONLY_AVAILABLE = "9999-12-31T00:00:00Z"  # history labels are never known in time to trade


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: list[str]
    unchanged: list[str]
    kept_newer_source: list[str]
    rederived: list[str]


def _fresh(store: Store, dataset_id: str, sha: str) -> tuple[bool, bool]:
    """(needs writing, kept because a remote source is newer)."""
    info = store.dataset(dataset_id)
    if info is None:
        return True, False
    if info.source != "pack":
        return False, True
    return info.content_hash != sha, False


def _all_unchanged(store: Store, cfg: AppConfig, pack: Path) -> bool:
    """True when every dataset is in the store with the hash of its pack file (or from a newer source)."""
    wanted = [(f"fred:{sid}", pack / "fred" / f"{sid}.csv") for sid in cfg.series]
    wanted += [(f"bars:{sym}", pack / "prices" / spec.file) for sym, spec in cfg.prices.items()]
    wanted.append(("fomc:meetings", pack / "fomc" / "fomc_meetings.csv"))
    for dataset_id, path in wanted:
        info = store.dataset(dataset_id)
        if info is None or not path.is_file():
            return False
        if info.source == "pack" and info.content_hash != file_sha256(path):
            return False
    return True


def import_pack(store: Store, cfg: AppConfig, pack: Path, fetched_at: datetime) -> ImportResult:
    """Validate every pack file named by the config, then write what changed atomically."""
    if not pack.is_dir():
        raise DataError("data pack directory not found (set data.pack_dir or CUTCYCLE_DATA_DIR)", path=str(pack))
    derivations = load_derivations(cfg.series, cfg.release_calendar, pack, store.release_dates())
    if _all_unchanged(store, cfg, pack):
        rederived: list[str] = []
        if stale_derivations(store, derivations):  # no write lock at all when nothing changed (a paper run may hold it)
            with store.transaction():
                rederived = rederive_changed(store, derivations)
        return ImportResult([], [*cfg.series, *cfg.prices, "FOMC"], [], rederived)
    series_files = [read_series(pack, sid, spec) for sid, spec in cfg.series.items()]
    price_files = [read_prices(pack, sym, spec) for sym, spec in cfg.prices.items()]
    check_prices({pf.symbol: pf for pf in price_files}, cfg.prices)
    meetings = read_meetings(pack)

    imported: list[str] = []
    unchanged: list[str] = []
    kept: list[str] = []
    with store.transaction():
        for sf in series_files:
            write, newer = _fresh(store, f"fred:{sf.series}", sf.sha256)
            if not write:
                (kept if newer else unchanged).append(sf.series)
                continue
            derivation = derivations[sf.series]
            store.replace_series(
                sf.series, sf.periods, sf.values, [_pack_available(derivation, p) for p in sf.periods], None,
                source="pack", origin=str(sf.path), content_hash=sf.sha256, fetched_at=fetched_at,
                vintage="latest vintage in the pack; available_at from the release record, else the rule",
                derivation=derivation.digest,
            )
            imported.append(sf.series)
        for pf in price_files:
            write, newer = _fresh(store, f"bars:{pf.symbol}", pf.sha256)
            if not write:
                (kept if newer else unchanged).append(pf.symbol)
                continue
            frame = pd.DataFrame(
                {"open": pf.open, "high": pf.high, "low": pf.low, "close": pf.close, "volume": pf.volume},
                index=pd.Index(pf.days, name="day"),
            )
            frame["available_at"] = close_instants(pf.days, cfg.prices[pf.symbol].close_time)
            adjusted = "dividend-adjusted (total return)" if cfg.prices[pf.symbol].dividend_adjusted else "price only"
            store.replace_bars(
                pf.symbol, frame, source="pack", origin=str(pf.path), content_hash=pf.sha256, fetched_at=fetched_at, vintage=adjusted
            )
            imported.append(pf.symbol)
        write, _ = _fresh(store, "fomc:meetings", meetings.sha256)
        if write:
            store.replace_meetings(meetings.meetings, origin=str(meetings.path), content_hash=meetings.sha256, fetched_at=fetched_at)
            imported.append("FOMC")
        else:
            unchanged.append("FOMC")
        rederived = rederive_changed(store, derivations)
    if imported:
        log.info("imported from the pack: %s", ", ".join(imported))
    return ImportResult(imported, unchanged, kept, rederived)


def _pack_available(derivation: SeriesDerivation, period: date) -> datetime:
    try:
        return derivation.available_at(period)
    except LabelOnlySeries:
        return datetime.fromisoformat(LABEL_ONLY_AVAILABLE)


def stale_derivations(store: Store, derivations: dict[str, SeriesDerivation]) -> list[str]:
    """Stored series whose available_at was derived by something other than what the config and record say now."""
    stored = store.derivations()
    known = set(store.series_ids())
    return [sid for sid, d in derivations.items() if sid in known and stored.get(sid) != d.digest]


def rederive_changed(store: Store, derivations: dict[str, SeriesDerivation]) -> list[str]:
    """Re-derive available_at of every stored series whose derivation digest differs (call inside a transaction)."""
    changed: list[str] = []
    for sid in stale_derivations(store, derivations):
        derivation = derivations[sid]
        digest = derivation.digest
        info = store.dataset(f"fred:{sid}")
        if isinstance(derivation.spec.release, LabelOnly):
            store.set_derivation(sid, digest)  # label-only rows keep when they were fetched (or never, from the pack)
            continue
        store.rederive(sid, partial(stored_available_at, derivation), digest)
        changed.append(sid)
        log.info("re-derived available_at of %s (%s): its release record, rule or calendar changed", sid, info.source if info else "?")
    return changed
