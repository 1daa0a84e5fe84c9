"""The compact decision store shows exactly what full rows showed: every review output of a short window and of
the default run equals the golden digests captured from the journal format before it (decision rows rebuilt,
explain, trades, compare, parity, and the report on the short window)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.acceptance.review_outputs import DEFAULT_DAYS, GOLDEN, SHORT, SHORT_DAYS, review_outputs


@pytest.mark.parametrize(("name", "window", "days", "report"), [("short", SHORT, SHORT_DAYS, True), ("default", None, DEFAULT_DAYS, False)])
def test_review_outputs_match_the_full_rows(tmp_path: Path, name: str, window: tuple[str, str] | None, days: tuple[str, ...], report: bool) -> None:
    golden = json.loads((GOLDEN / f"review_{name}.json").read_text())
    now = review_outputs(tmp_path, window, days, report=report)
    assert sorted(now) == sorted(golden)
    assert [k for k in golden if now[k] != golden[k]] == []
