"""SignalParams: defaults, the proposed TOML section, and unknown keys rejected."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from signals.fomc import load_schedule
from signals.params import SignalParams

ROOT = Path(__file__).resolve().parents[2]


def test_default_toml_section_equals_the_defaults() -> None:
    with (ROOT / "config" / "default.toml").open("rb") as fh:
        section = tomllib.load(fh)["signals"]
    assert SignalParams.model_validate(section) == SignalParams()


def test_unknown_key_is_an_error() -> None:
    with pytest.raises(ValidationError):
        SignalParams.model_validate({"phase": {"pause_after_meeting": 2}})
    with pytest.raises(ValidationError):
        SignalParams.model_validate({"decision_time": "4pm"})


def test_every_field_is_documented() -> None:
    def walk(model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            sub = field.annotation
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                walk(sub)

    walk(SignalParams)


def test_published_schedule_file_holds_2026_and_2027() -> None:
    meetings = load_schedule(ROOT / "config" / "fomc_schedule.toml")
    years = {m.day.year for m in meetings}
    assert {2026, 2027} <= years
    assert sum(1 for m in meetings if m.day.year == 2026) == 8 and sum(1 for m in meetings if m.day.year == 2027) == 8
    assert all((m.day - m.first_day).days == 1 for m in meetings)
