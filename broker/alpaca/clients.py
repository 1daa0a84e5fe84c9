"""Building the three alpaca-py clients with the guarded transport: the one place that touches SDK construction.

Clients run with raw_data=True: the adapter parses JSON itself (see `parse`), so an unknown enum value or a field
Alpaca stopped sending never crashes inside an SDK model (R17). Keys come from `Secrets` (the environment) and
go nowhere else (R32).
"""

from __future__ import annotations

from dataclasses import dataclass

from alpaca.data.historical.option import OptionHistoricalDataClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from broker.alpaca.http import GuardedTransport, RateLimiter, install
from broker.alpaca.safety import EndpointGuard
from broker.contract import Halt
from clock import Clock
from config.schema import AlpacaConfig
from config.secrets import Secrets


@dataclass(frozen=True, slots=True)
class AlpacaClients:
    trading: TradingClient
    stock_data: StockHistoricalDataClient
    option_data: OptionHistoricalDataClient
    limiter: RateLimiter
    feed: str

    @property
    def trading_url(self) -> str:
        """The base URL the trading client really talks to (not the one we meant to give it)."""
        return str(self.trading._base_url)

    @property
    def data_url(self) -> str:
        return str(self.stock_data._base_url)


def trading_url(config: AlpacaConfig, secrets: Secrets) -> str:
    """APCA_API_BASE_URL wins over the config file, as it does for Alpaca's own tools."""
    return (secrets.alpaca_base_url or config.trading_url).rstrip("/")


def build_clients(config: AlpacaConfig, secrets: Secrets, *, guard: EndpointGuard, wall: Clock,
                  limiter: RateLimiter | None = None) -> AlpacaClients:
    """Trading, stock-data and option-data clients sharing one transport, limiter and guard."""
    missing = secrets.missing_alpaca()
    if missing or secrets.alpaca_key_id is None or secrets.alpaca_secret_key is None:
        raise Halt(f"missing {', '.join(missing)} in the environment: Alpaca keys come from the environment only")
    url, data_url = trading_url(config, secrets), config.data_url.rstrip("/")
    guard.check(url)
    guard.check(data_url)
    limiter = limiter or RateLimiter(config.requests_per_minute)
    transport = GuardedTransport(
        connect_timeout=config.connect_timeout_seconds, read_timeout=config.read_timeout_seconds, limiter=limiter, wall=wall,
        guard=guard.check_request,
    )
    key, secret = secrets.alpaca_key_id.reveal(), secrets.alpaca_secret_key.reveal()
    trading = TradingClient(key, secret, paper=True, raw_data=True, url_override=url)
    stock = StockHistoricalDataClient(key, secret, raw_data=True, url_override=data_url)
    option = OptionHistoricalDataClient(key, secret, raw_data=True, url_override=data_url)
    for client in (trading, stock, option):
        install(client._session, transport)
    clients = AlpacaClients(trading, stock, option, limiter, config.feed)
    guard.check(clients.trading_url)
    return clients
