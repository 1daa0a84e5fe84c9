"""Prose lines wrap to the terminal width under their own label column; short lines and tables' short rows stay."""

from __future__ import annotations

from review.tables import TERMINAL_WIDTH, fit_width


def test_a_long_labelled_line_wraps_under_its_label() -> None:
    line = "FAIL  data        decision inputs past their release schedule: " + ", ".join(f"SERIES{i} (last 2026-07-22)" for i in range(12))
    out = fit_width(f"ok    keys        fine\n{line}\n")
    lines = out.splitlines()
    assert lines[0] == "ok    keys        fine" and out.endswith("\n")
    assert all(len(x) <= TERMINAL_WIDTH for x in lines) and len(lines) > 2
    assert all(x.startswith(" " * 18) and x[18] != " " for x in lines[2:])  # under the text, not under FAIL
    assert " ".join(x.strip() for x in lines[1:]) == line


def test_an_indented_bullet_wraps_two_past_its_indent_and_short_text_is_untouched() -> None:
    bullet = "  - (not fired) soft_landing: " + "; ".join(f"condition {i}: True" for i in range(20))
    lines = fit_width(bullet).splitlines()
    assert all(len(x) <= TERMINAL_WIDTH for x in lines) and all(x.startswith("    ") for x in lines[1:])
    assert fit_width("short\n  also short") == "short\n  also short"
