"""Every mistake in a config as one line: where, which field, the value as written,
what is wrong and what to do.

    swarmhub.yaml:12:16: servers.mem_limit: `4096` has no unit; write sizes with a unit, ...

pydantic's errors are translated here (no raw regex, no value twice, no
"(and 1 more error)"); the checks that blame one field raise
`swarmhub.config.types.FieldError` and land on that field's line.
"""

from __future__ import annotations

import difflib
import re
import typing
from dataclasses import dataclass

from pydantic import BaseModel

from swarmhub.config.source import Loc, Source
from swarmhub.config.types import FieldError
from swarmhub.errors import SwarmhubError


@dataclass(frozen=True)
class Problem:
    where: str  # file[:line:column]
    field: str  # dotted path, "" for the file as a whole
    text: str  # what is wrong; what to do
    line: int = 0

    def __str__(self) -> str:
        return (
            f"{self.where}: {self.field}: {self.text}"
            if self.field
            else f"{self.where}: {self.text}"
        )


class ConfigError(SwarmhubError):
    """The config has mistakes: one line each, all of them, in file order."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(dict.fromkeys(problems), key=lambda p: (p.line, str(p)))
        super().__init__("\n".join(str(p) for p in self.problems))


class FieldErrors(ValueError):
    """Several FieldErrors from one validator (the checks across sections)."""

    def __init__(self, errors: list):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def dotted(loc: Loc) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def parse_field(path: str) -> Loc:
    """'profiles[0].mem_limit' -> ('profiles', 0, 'mem_limit')."""
    out: list = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        out.append(int(index) if index else name)
    return tuple(out)


# --- the model, walked by an error's location ---------------------------------------


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The section model at `loc` (list indices and dict keys are stepped through)."""
    model: type[BaseModel] | None = root
    annotation = None
    for item in loc:
        if isinstance(item, int) or model is None or item not in model.model_fields:
            if annotation is None:
                return None
            inner = _models_in(annotation)
            model = inner[0] if inner else None
            if isinstance(item, int):
                continue
            if model is None or item not in model.model_fields:
                return None
        annotation = model.model_fields[item].annotation
        inner = _models_in(annotation)
        model = inner[0] if inner and _is_direct(annotation) else None
    return model


def _is_direct(annotation) -> bool:
    """A model or Optional[model], not a list of them."""
    origin = typing.get_origin(annotation)
    return origin is None or origin in (typing.Union, __import__("types").UnionType)


def _sections(root: type[BaseModel], prefix: Loc = ()) -> dict[Loc, type[BaseModel]]:
    out = {prefix: root}
    for name, info in root.model_fields.items():
        for m in _models_in(info.annotation):
            if m is not root:
                out.update(_sections(m, prefix + (name,)))
    return out


def _suggest_key(root: type[BaseModel], loc: Loc) -> str:
    key = str(loc[-1])
    parent = model_at(root, loc[:-1])
    if parent is not None:
        close = difflib.get_close_matches(key, list(parent.model_fields), n=1, cutoff=0.6)
        if close:
            return f"; did you mean `{close[0]}`?"
    homes = [dotted(where) for where, m in _sections(root).items() if key in m.model_fields]
    if homes:
        where = homes[0] or "the top level"
        return f"; `{key}` belongs under `{where}`"
    if parent is not None:
        return "; known keys here: " + ", ".join(parent.model_fields)
    return ""


# --- pydantic's messages, rewritten ---------------------------------------------------

# Patterns of sections whose fields keep a `pattern=`, and how to say them.
PATTERNS = {
    r"^[a-z][a-z0-9-]{0,23}$": "use lower-case letters, digits and '-', starting with a "
    "letter, at most 24, e.g. swarmhub",
    r"^[a-z]{2}(-[a-z]+)+-\d$": "write an AWS region, e.g. eu-central-1",
    r"^\d{12}$": "write a 12-digit AWS account id, e.g. 099720109477",
    r"^[0-9a-f]{64}$": "write a SHA-256 in hex: 64 characters 0-9, a-f",
    r"^\d+\.\d+\.\d+$": "write a version such as 18.7.10",
    r"^https://": "write a URL that starts with https://",
    r"^[a-z0-9][a-z0-9_-]{0,254}$": "use lower-case letters, digits, '_' and '-', e.g. swarmhub",
    r"^[a-z0-9][a-z0-9_-]*$": "use lower-case letters, digits, '_' and '-', e.g. swarmhub-admin",
    r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$": "write an S3 bucket name: 3-63 lower-case letters, "
    "digits, '.' and '-'",
    r"^(lockfile|dynamodb:[A-Za-z0-9_.-]{3,255})$": "write `lockfile` or dynamodb:<table name>",
    r"^Z[A-Z0-9]{1,32}$": "write a Route 53 hosted zone id, e.g. Z0123456789ABCDEFGHIJ",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "write an email address",
    r"^vpc-[0-9a-f]{8,17}$": "write a VPC id, e.g. vpc-0123456789abcdef0",
    r"^[a-z0-9][a-z0-9._/:-]*(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$": "name an image by tag "
    "or digest, e.g. registry.example.org/swarmhub/notebook:0.1.0",
}


def _yaml11_hint(scalar) -> str | None:
    """Why YAML 1.1 made something else of a plain scalar, and how to keep the text."""
    if scalar is None or not scalar.plain or isinstance(scalar.value, str):
        return None
    text = scalar.text
    if isinstance(scalar.value, bool):
        return (
            f"was read as {str(scalar.value).lower()} (YAML 1.1 reads yes/no/on/off as "
            f'true/false); quote it: "{text}"'
        )
    if isinstance(scalar.value, int | float) and ":" in text:
        quoted = f"0{text}" if re.match(r"^\d:[0-5]\d$", text) else text
        return (
            f"was read as the number {scalar.value} (YAML 1.1 reads unquoted 14:00 as base-60 "
            f"minutes); quote times: '{quoted}'"
        )
    if scalar.value is None:
        return None
    kind = (
        "a number" if isinstance(scalar.value, int | float) else f"a {type(scalar.value).__name__}"
    )
    return f"was read as {kind}; quote it: '{text}'"


# Examples for required fields, by name.
_EXAMPLES = {
    "region": "eu-central-1",
    "client_id": "Iv1.0123456789abcdef",
    "name": "large",
    "display_name": "Large (4 GB)",
    "days": "[tue, thu]",
    "start": "'14:00'",
    "end": "'17:00'",
    "min_nodes": "2",
}

_TYPE_TEXT = {
    "string_type": "is not text",
    "int_type": "is not a whole number",
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "float_type": "is not a number",
    "float_parsing": "is not a number",
    "bool_type": "is not true or false",
    "bool_parsing": "is not true or false",
    "list_type": "should be a list, e.g. [a, b]",
    "dict_type": "should be a mapping: `key: value` lines indented below it",
    "model_type": "should be a mapping: `key: value` lines indented below it",
    "model_attributes_type": "should be a mapping: `key: value` lines indented below it",
    "string_too_short": "must not be empty",
    "url_parsing": "is not a URL",
}


def _text(err: dict, scalar) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in (
        "string_type",
        "literal_error",
        "string_pattern_mismatch",
        "int_parsing",
        "int_type",
        "float_parsing",
        "float_type",
    ):
        hint = _yaml11_hint(scalar)
        if hint and kind != "int_parsing" and kind != "float_parsing":
            return hint
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        options = re.findall(r"'([^']*)'", expected)
        close = difflib.get_close_matches(str(err.get("input")), options, n=1, cutoff=0.5)
        say = f"did you mean `{close[0]}`?" if close else f"write one of {expected}"
        return f"is not one of {expected}; {say}" if close else f"is not allowed; {say}"
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        if pattern == r"^[a-z]{2}(-[a-z]+)+-\d$":
            from swarmhub.config.regions import region_problem

            return region_problem(str(err.get("input"))) or "is not an AWS region"
        return "is not in the form this field takes; " + PATTERNS.get(
            pattern, "see docs/config-reference.md"
        )
    if kind == "greater_than":
        return f"must be greater than {ctx['gt']:g}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']:g}"
    if kind == "less_than":
        return f"must be below {ctx['lt']:g}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']:g}"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"needs at least {n} item{'s' if n != 1 else ''}"
    if kind == "too_long":
        return f"has more than {ctx.get('max_length')} items"
    if kind == "missing":
        example = _EXAMPLES.get(str(err["loc"][-1]) if err["loc"] else "", "...")
        return f"is missing; add `{err['loc'][-1]}: {example}`" if err["loc"] else "is missing"
    return _TYPE_TEXT.get(kind, err["msg"])


def _show(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def translate(
    errors: list[dict], src: Source | None, name: str, root: type[BaseModel]
) -> list[Problem]:
    """pydantic's errors (ValidationError.errors()) as Problems."""
    out: list[Problem] = []
    for err in errors:
        cause = (err.get("ctx") or {}).get("error")
        # The checks across sections raise several FieldErrors as one.
        for one in getattr(cause, "errors", None) or [cause]:
            out.append(_problem(*_blame(err, one, tuple(err["loc"]), root), src, name, root))
    return out


def _blame(err: dict, cause, loc: Loc, root) -> tuple[dict, Loc, str | None]:
    """The field to blame, the error as it concerns that field, and the value to show
    when the file does not write it."""
    if isinstance(cause, FieldError):
        err = {**err, "type": "value_error", "ctx": {"error": cause.message}}
        return err, loc + parse_field(cause.field), cause.shown
    if err["type"] == "value_error":
        # "min_workers must not exceed max_workers" from a section's own check:
        # blame the field it starts with, so the line shown is that field's.
        text = str(cause if cause is not None else err["msg"])
        model = model_at(root, loc)
        first = re.match(r"^([a-z][a-z0-9_]*)(?:/[a-z0-9_]+)? ", text)
        if model is not None and first and first.group(1) in model.model_fields:
            err = {**err, "ctx": {"error": text[first.end() :]}, "input": None}
            return err, loc + (first.group(1),), None
    return err, loc, None


def _problem(err: dict, loc: Loc, shown: str | None, src, name: str, root) -> Problem:
    kind = err["type"]
    scalar = src.scalars.get(loc) if src else None
    value = None
    if kind == "extra_forbidden":
        text = "unknown key" + _suggest_key(root, loc)
    elif kind == "missing":
        text = _text(err, None)
    else:
        text = _text(err, scalar)
        if scalar is not None:
            value = f"`{scalar.text}`"
        elif src is not None and src.written(loc):
            pass  # a mapping or list: its line is shown, not its contents
        elif shown is not None:
            value = f"the default ({shown})" if src is not None else f"`{shown}`"
        elif src is None and not isinstance(err.get("input"), dict | list | type(None)):
            value = f"`{_show(err['input'])}`"
    # The value once: some messages already start with it ('x' is not a DNS name).
    if value and value not in text and not text.startswith(f"'{value.strip('`')}'"):
        text = f"{value} {text}"
    if src is None:
        return Problem(name, dotted(loc), text)
    key = kind == "extra_forbidden"
    mark = src.mark(loc, key=key)
    return Problem(src.where(loc, key=key), dotted(loc), text, mark.line if mark else 0)
