"""Small value types shared by the config sections."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]i?)?[bB]?\s*$")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


class Strict(BaseModel):
    """Base of every config section: unknown keys are an error, values are checked."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def parse_size(value: object) -> int:
    """'2G', '512M', '1.5Gi' or a number of bytes -> bytes (binary units)."""
    if isinstance(value, bool):
        raise ValueError("must be a size such as '2G' or '512M'")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = int(value)
    elif isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"'{value}' is not a size such as '2G' or '512M'")
        number = int(float(match.group(1)) * _UNITS[(match.group(2) or "")[:1].lower()])
    else:
        raise ValueError("must be a size such as '2G' or '512M'")
    if number <= 0:
        raise ValueError(f"must be a positive size (got {value!r})")
    return number


Bytes = Annotated[int, BeforeValidator(parse_size)]


def format_size(n: int) -> str:
    for unit, factor in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if n >= factor:
            return f"{n / factor:.1f}{unit}".replace(".0" + unit, unit)
    return f"{n}B"
