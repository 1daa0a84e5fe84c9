"""Fault knobs for the emulator, per endpoint.

A `FaultPlan` is a list of rules tried in order; the first rule whose endpoint matches and whose dice roll fires
is applied to the request. A rule fires `times` times (None: forever) with probability `rate`. Kinds:

    before the work (the request changes nothing)    after the work (the change is committed, the answer is bad)
    latency      sleep `seconds`, then answer        commit_then_504    answer 504 (HTML body)
    hang         never answer (until `seconds`)      commit_then_500    answer 500 (empty body)
    reset        TCP reset, no answer                commit_then_reset  TCP reset after the commit
    rate_limit   429 + X-Ratelimit-Reset (+seconds)  reject_then_504    store the order as rejected, answer 504
    html_502     502 with an HTML page               malformed_json     200 with the JSON cut in half
                                                     commit_then_latency answer normally, `seconds` late
    empty_500    500 with an empty body              unknown_enum       enum values no client knows
    gateway_504  504 with an HTML page               drop_fields        only the fields the SDK's models require
    unauthorized 401 (forced credential failure)

`random` picks one of `kinds` (default: all but hang and unauthorized) for each firing: the soak's 20% mode.
Endpoint names: account, positions, orders.submit, orders.list, orders.get, orders.by_client_id, orders.cancel,
activities, clock, calendar, options.contracts, stocks.quotes, options.quotes, stocks.bars; "*" matches all.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

BEFORE = ("latency", "hang", "reset", "rate_limit", "html_502", "empty_500", "gateway_504", "unauthorized")
AFTER = ("commit_then_504", "commit_then_500", "commit_then_reset", "commit_then_latency", "reject_then_504", "malformed_json",
         "unknown_enum", "drop_fields")
KINDS = (*BEFORE, *AFTER)
SOAK_KINDS = tuple(k for k in KINDS if k not in ("hang", "unauthorized", "reject_then_504"))


@dataclass(slots=True)
class FaultRule:
    endpoint: str
    kind: str
    times: int | None = 1
    rate: float = 1.0
    seconds: float = 1.0
    kinds: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.kind != "random" and self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(KINDS)}, random")
        for kind in self.kinds:
            if kind not in KINDS:
                raise ValueError(f"unknown fault kind {kind!r}")


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault that fired for one request."""

    kind: str
    seconds: float


class FaultPlan:
    """Rules and a seeded die; thread-safe. `fired` counts what actually happened, per kind."""

    def __init__(self, rules: list[FaultRule] | None = None, *, seed: int = 0) -> None:
        self._rules = list(rules or [])
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.fired: dict[str, int] = {}

    def replace(self, rules: list[FaultRule], *, seed: int | None = None) -> None:
        with self._lock:
            self._rules = list(rules)
            if seed is not None:
                self._rng = random.Random(seed)

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        self.replace([])

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def pick(self, endpoint: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.endpoint not in ("*", endpoint) or rule.times == 0:
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                kind = rule.kind
                if kind == "random":
                    kind = self._rng.choice(rule.kinds or list(SOAK_KINDS))
                self.fired[kind] = self.fired.get(kind, 0) + 1
                return Fault(kind, rule.seconds)
        return None


def rule_from_json(data: dict[str, Any]) -> FaultRule:
    return FaultRule(
        endpoint=str(data.get("endpoint", "*")), kind=str(data["kind"]),
        times=None if data.get("times", 1) is None else int(data.get("times", 1)), rate=float(data.get("rate", 1.0)),
        seconds=float(data.get("seconds", 1.0)), kinds=[str(k) for k in data.get("kinds", [])],
    )
