"""Numbers in the config are numbers: a number field refuses a boolean (`--set strategy.base_weight=true` is not 1.0)
and a string (`base_weight = "0.6"` in a variant is a typo or a quoting mistake, not 0.6). An integer stays valid
for a float field (`initial_cash = 100000`). `Frozen` is the one base of every config model (config.schema, the
strategy's and the signals' parameters): immutable, unknown keys are errors, numbers only from numbers."""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator

_NUMBERS = (int, float)


def _is_number(annotation: Any) -> bool:
    if annotation in _NUMBERS:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return bool(args) and all(a in _NUMBERS for a in args)
    return False


def number_fields_take_numbers(fields: Mapping[str, Any], data: Any) -> Any:
    """A `mode="before"` model validator body: refuse a bool or a str given for a field annotated int or float (the
    message names the key; the loader adds the section and where the value came from)."""
    if not isinstance(data, Mapping):
        return data
    for key, value in data.items():
        field = fields.get(key)
        if field is not None and _is_number(field.annotation) and isinstance(value, bool | str):
            kind = "a boolean" if isinstance(value, bool) else "a string"
            raise ValueError(f"key '{key}' = {value!r}: expected a number, got {kind} (write a number without quotes, e.g. 0.6)")
    return data


class Frozen(BaseModel):
    """Base for every config model: immutable, unknown keys are errors, a number field takes only numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_numbers(cls, data: Any) -> Any:
        return number_fields_take_numbers(cls.model_fields, data)
