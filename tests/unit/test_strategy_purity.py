"""The decision core imports nothing from brokers, schedulers, clocks or the OS."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = ["strategies/decide.py", "strategies/orders.py", "strategies/options.py", "strategies/book.py", "strategies/params.py"]
BANNED = {"backtrader", "alpaca", "fredapi", "apscheduler", "os", "time", "clock", "journal", "broker", "datastore", "sqlite3"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", CORE)
def test_core_imports_are_pure(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & BANNED, f"{module} imports {imported & BANNED}"
