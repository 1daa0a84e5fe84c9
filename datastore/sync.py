"""`main.py data sync`: refresh the store from FRED and Alpaca, saying clearly what could not be fetched."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from clock import Clock
from config.schema import AppConfig
from config.secrets import ENV_FRED_API_KEY, Secrets
from datastore.alpaca_bars import BarsClient, sync_bars
from datastore.fred_source import sync_fred
from datastore.releases import SeriesDerivation
from datastore.store import Store

BARS_START = date(2016, 1, 4)  # Alpaca's daily history starts in 2016


@dataclass
class SyncReport:
    lines: list[str] = field(default_factory=list)
    ok: bool = True
    missing_keys: list[str] = field(default_factory=list)  # sources skipped because a key is not in the environment

    @property
    def only_keys_missing(self) -> bool:
        """Nothing failed; a source was skipped for a missing key (bad input, like `paper` without keys)."""
        return bool(self.missing_keys) and all("FAILED" not in line for line in self.lines)


def sync_all(
    store: Store,
    cfg: AppConfig,
    secrets: Secrets,
    clock: Clock,
    *,
    bars_client: Callable[[], BarsClient] | None,
    fred_series: list[str] | None = None,
    symbols: list[str] | None = None,
    derivations: Mapping[str, SeriesDerivation] | None = None,
) -> SyncReport:
    """FRED first, then Alpaca bars; a missing key skips that source with a clear line, never silently."""
    report = SyncReport()
    if fred_series is not None and not fred_series:
        report.lines.append("FRED: no series asked for")
    elif secrets.fred_api_key is None:
        report.lines.append(f"FRED: skipped: {ENV_FRED_API_KEY} is not set (the store keeps its current copies)")
        report.ok = False
        report.missing_keys.append(ENV_FRED_API_KEY)
    else:
        for r in sync_fred(store, cfg, secrets, clock, fred_series, derivations):
            status = f" (HTTP {r.status})" if r.status else ""
            outcome = f"ok, {r.rows} rows" if r.ok else f"NOT OK{status}" if r.rows else f"FAILED{status}"
            report.lines.append(f"FRED {r.series}: {outcome}{' - ' + r.message if r.message else ''}")
            report.ok &= r.ok
    if bars_client is None or not secrets.has_alpaca():
        report.lines.append(f"Alpaca bars: skipped: {', '.join(secrets.missing_alpaca()) or 'no client'} not set (the store keeps its current bars)")
        report.ok = False
        report.missing_keys += secrets.missing_alpaca()
        return report
    client = bars_client()
    for symbol in symbols or cfg.alpaca.symbols:
        spec = cfg.prices.get(symbol)
        close_time = spec.close_time if spec else "16:00"
        b = sync_bars(store, client, symbol, BARS_START, cfg.alpaca.feed, clock, close_time, etf=spec is None or spec.kind == "etf")
        report.lines.append(f"Alpaca {symbol}: {'ok, ' + str(b.rows) + ' rows' if b.ok else 'FAILED'} - {b.message}")
        report.ok &= b.ok
    return report
