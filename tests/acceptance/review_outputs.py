"""What the review commands show for a backtest and a variant of it, normalised for comparison across code versions.

`tests/acceptance/golden/` holds these outputs as the code before the compact decision store produced them
(`python -m tests.acceptance.review_outputs` rewrites them: only do that when a change of content is intended).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from backtest.cli import backtest_command
from backtest.run import PROJECT_ROOT
from clock import ManualClock
from review.cli import compare_command, explain_command, trades_command
from review.parity import parity_diff, render_parity
from review.report import build_report
from review.runs import open_runs

GOLDEN = Path(__file__).resolve().parent / "golden"
SHORT = ("2019-06-03", "2020-12-31")
SHORT_DAYS = ("2019-06-03", "2019-07-31", "2020-02-27", "2020-03-16", "2020-03-23", "2020-12-30", "2020-12-31")
DEFAULT_DAYS = ("2000-06-01", "2001-09-17", "2002-10-09", "2008-10-10", "2013-05-22", "2020-03-16", "2026-06-08", "2026-06-09")
VARIANT = "strategy.base_weight=0.3"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _normalise(text: str, code_versions: set[str], names: dict[str, str]) -> str:
    for version in code_versions:
        text = text.replace(version, "CODE")
    for name, placeholder in names.items():  # run ids hash the config, which names the temporary store
        text = text.replace(name, placeholder)
    return re.sub(r'"code_version": "[^"]*"', '"code_version": "CODE"', text)


def review_outputs(store_dir: Path, window: tuple[str, str] | None, days: tuple[str, ...], *, report: bool) -> dict[str, str]:
    """sha256 of what each review shows: every decision row, explain (text and JSON) on `days`, trades, compare and
    parity of the base run against the variant, and the HTML report (charts left out) when `report`."""
    clock = ManualClock(datetime(2026, 8, 22, tzinfo=UTC))
    start, end = window if window else (None, None)
    env = dict(os.environ)
    base = backtest_command(None, [f'data.store_dir="{store_dir}"'], start=start, end=end, as_json=True, clock=clock, env=env, progress=False)
    variant = backtest_command(None, [f'data.store_dir="{store_dir}"', VARIANT], start=start, end=end, as_json=True, clock=clock, env=env,
                               progress=False)
    folder = store_dir / "journals"
    a, b = base.result.run_id, variant.result.run_id
    out: dict[str, str] = {}
    with open_runs([folder]) as source:
        ra, rb = source.run(a), source.run(b)
        versions = {ra.info.code_version, rb.info.code_version}
        hashes = {ra.info.config_hash: "CONFIG-A", rb.info.config_hash: "CONFIG-B"}  # the config names the checkout's path
        rows = [{k: (json.loads(v) if k.endswith("_json") else v) for k, v in dict(r).items()} for r in source.decisions(ra)]
        out["decisions"] = json.dumps(rows, sort_keys=True)
        out["parity"] = render_parity(parity_diff(source, ra, source, rb))
        if report:
            out["report"] = re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,IMG", build_report(source, ra).html)
    for day in days:
        out[f"explain {day}"] = explain_command([folder], a, date.fromisoformat(day))
        out[f"explain {day} json"] = explain_command([folder], a, date.fromisoformat(day), fmt="json")
    out["trades"] = trades_command([folder], a, fmt="json")
    out["trades text"] = trades_command([folder], a)
    out["compare"] = compare_command([folder], a, b, fmt="json")
    names = {a: "RUN-A", b: "RUN-B", str(store_dir): "STORE", str(PROJECT_ROOT): "ROOT", **hashes}
    out = {k: _normalise(v, versions, names) for k, v in out.items()}
    return {k: _digest(v) for k, v in out.items()}


def capture() -> dict[str, dict[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        short = review_outputs(Path(tmp) / "short", SHORT, SHORT_DAYS, report=True)
        default = review_outputs(Path(tmp) / "default", None, DEFAULT_DAYS, report=False)
    return {"short": short, "default": default}


if __name__ == "__main__":
    docs = capture()
    for name, doc in docs.items():
        (GOLDEN / f"review_{name}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {', '.join(f'review_{n}.json' for n in docs)} in {GOLDEN}\n")
