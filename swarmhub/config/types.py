"""Small value types shared by the config sections."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]i?)?([bB]?)\s*$")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}

# The validation context of an operator's file (swarmhub.config.load_config):
# stricter than the settings.json the hub reads back, whose sizes are bytes.
FROM_FILE = "from_file"


class Strict(BaseModel):
    """Base of every config section: unknown keys are an error, values are checked."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class FieldError(ValueError):
    """A check across fields that blames one of them.

    `field` is relative to the model whose validator raises it ("end",
    "profiles[0].mem_reservation", "autoscaler.max_nodes"); the loader adds it
    to the model's own path, so the line shown is the field's. The message says what
    to do, after a ';'.
    """

    def __init__(self, field: str, message: str, *, shown: str | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        # The field's value to show when the file does not write it (a default).
        self.shown = shown


def from_file(info: ValidationInfo | None) -> bool:
    return bool(info is not None and info.context and info.context.get(FROM_FILE))


def _no_unit(number: float) -> str:
    # `mem_limit: 4096` almost always meant megabytes; a huge number meant bytes.
    example = f"{number:g}M" if number < 1024**2 else format_size(int(number))
    return f"has no unit; write sizes with a unit, e.g. {example} (a bare number would be bytes)"


def parse_size(value: object, info: ValidationInfo | None = None) -> int:
    """'2G', '512M', '1.5Gi', '300B' -> bytes (binary units).

    A bare number is bytes only where the program wrote it (settings.json);
    in an operator's file it is refused, since `mem_limit: 4096` meant 4G.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("is not a size; write sizes with a unit, e.g. 2G or 512M")
    if isinstance(value, int | float):
        if from_file(info):
            raise ValueError(_no_unit(value))
        number = int(value)
    else:
        match = _SIZE.match(value)
        if not match:
            raise ValueError("is not a size; write sizes with a unit, e.g. 2G or 512M")
        if from_file(info) and not (match.group(2) or match.group(3)):
            raise ValueError(_no_unit(float(match.group(1))))
        number = int(float(match.group(1)) * _UNITS[(match.group(2) or "")[:1].lower()])
    if number <= 0:
        raise ValueError("must be a positive size, e.g. 2G")
    return number


def _size(value: object, info: ValidationInfo) -> int:
    # pydantic passes the context only to a validator whose `info` is required.
    return parse_size(value, info)


Bytes = Annotated[int, BeforeValidator(_size)]


def format_size(n: int) -> str:
    for unit, factor in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if n >= factor:
            return f"{n / factor:.1f}{unit}".replace(".0" + unit, unit)
    return f"{n}B"


def private_subnet(value: str, example: str, min_addresses: int = 0) -> str:
    """A private IPv4/IPv6 range in CIDR form with at least `min_addresses`;
    `example` goes into the message of what to write instead."""
    import ipaddress

    try:
        net = ipaddress.ip_network(value)
    except ValueError:
        raise ValueError(f"is not a subnet in CIDR form, e.g. {example}") from None
    if not net.is_private:
        raise ValueError(f"is not a private range; use e.g. {example}")
    if net.num_addresses < min_addresses:
        raise ValueError(
            f"is smaller than a /20; each user server takes an address, use e.g. {example}"
        )
    return value
