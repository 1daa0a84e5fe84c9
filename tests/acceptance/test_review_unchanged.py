"""The compact decision store shows exactly what full rows showed: every review output of a short window and of
the default run equals the golden digests (decision rows rebuilt, explain, trades, compare, parity, and the report
on the short window). The digests were first captured from the full-row journal format and matched by the compact
store; they were re-captured once after the release record, the stable calls and the reworded review views changed
the content itself, and now pin it against any later change of the journal format."""

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
