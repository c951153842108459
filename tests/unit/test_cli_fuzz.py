"""No input to the config loader or to any verb produces a traceback or a hang (issue 23).

Hypothesis draws YAML trees shaped like the config (its real section and field
names, with values of every type, shared subtrees that YAML writes as
anchors and aliases, unknown keys), raw YAML-ish text, and each verb's options
with values an operator might type by mistake. The loader may only raise
ConfigError; a verb may only exit through SystemExit with its one-line error.
Each example has an alarm: a hang fails as one. Verbs that would act on the
machine (bake, deploy, destroy, status) reach a stand-in target; paths stay in a
temporary directory; there are no AWS credentials.
"""

from __future__ import annotations

import os
import signal
import typing
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from swarmhub import cli
from swarmhub.config import Config, ConfigError, load_config
from tests.helpers import without_aws_credentials

# Seconds one example may take before it counts as a hang.
HANG = 10

SETTINGS = settings(
    max_examples=int(os.environ.get("SWARMHUB_FUZZ_EXAMPLES", "40")),
    deadline=None,  # the alarm below bounds each example; Hypothesis' deadline is advisory
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,  # the same examples every run: CI is not flaky
)


class Hang(Exception):
    pass


@contextmanager
def alarm(seconds: int = HANG):
    def ring(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# --- config trees ---------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "4M",
            "2G",
            "0G",
            "1e9G",
            "-1G",
            "14:00",
            "25:00",
            "off",
            "yes",
            "github",
            "accounts",
            "eu-west-1",
            "eu-wset-1",
            "a@b.org",
            "@alice",
            "/",
            "/var/lib/x",
            "../..",
            "org:team",
            "Europe/Berlin",
            "2025-01-01",
            "2999-12-31",
            "tue",
            "x" * 300,
            "0.0.0.0/0",
            "10.0.0.0/8",
            "vpc-0123",
            "dynamodb:t",
            "CHANGE-ME",
            "\x00",
            "\ufeff",
        ]  # fmt: skip
    ),
)


def _models(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _is_list(annotation) -> bool:
    return typing.get_origin(annotation) is list or any(
        typing.get_origin(a) is list for a in typing.get_args(annotation)
    )


@st.composite
def section(draw, model: type[BaseModel], depth: int = 0, shared: list | None = None) -> dict:
    """A mapping with some of `model`'s fields (and now and then a stranger's)."""
    shared = shared if shared is not None else []
    names = list(model.model_fields)
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=min(6, len(names))))
    out: dict = {}
    for name in chosen:
        annotation = model.model_fields[name].annotation
        inner = _models(annotation)
        roll = draw(st.integers(0, 9))
        if shared and roll == 0:
            # The same object twice: yaml.dump writes an anchor and an alias.
            out[name] = draw(st.sampled_from(shared))
        elif inner and depth < 4 and roll > 1:
            if _is_list(annotation):
                value = [
                    draw(section(inner[0], depth + 1, shared))
                    for _ in range(draw(st.integers(0, 2)))
                ]
            else:
                value = draw(section(inner[0], depth + 1, shared))
            shared.append(value)
            out[name] = value
        elif roll == 1:
            out[name] = draw(st.lists(SCALARS, max_size=3))
        else:
            out[name] = draw(SCALARS)
    if draw(st.integers(0, 9)) == 0:
        out[draw(st.text(min_size=1, max_size=6))] = draw(SCALARS)
    return out


def _dump(data) -> str:
    # allow_unicode=False: a surrogate from st.text would not encode otherwise.
    return yaml.dump(data, Dumper=yaml.SafeDumper, allow_unicode=False, sort_keys=False)


@SETTINGS
@given(tree=section(Config))
def test_config_loader_never_raises_anything_but_config_errors(tree, tmp_path):
    path = tmp_path / "swarmhub.yaml"
    path.write_text(_dump(tree))
    with alarm():
        try:
            load_config(path)
        except ConfigError as exc:
            assert str(exc).strip(), "an error with no line"


YAMLISH = st.text(alphabet="ab:-&*[]{}!|>'\"#%@`,? \n\t0123456789.<=~\\\ufeff", max_size=80)


@SETTINGS
@given(text=YAMLISH)
def test_config_loader_takes_any_text(text, tmp_path):
    path = tmp_path / "swarmhub.yaml"
    path.write_text(text, encoding="utf-8")
    with alarm():
        try:
            load_config(path)
        except ConfigError as exc:
            assert str(exc).strip(), "an error with no line"


# --- every verb's arguments -----------------------------------------------------------

# No NUL: a command line cannot carry one (argv is C strings).
VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "-1",
            "0",
            "1",
            "9999999999",
            "1e308",
            "nan",
            "inf",
            "@alice",
            "Ada",
            "ada",
            "nodir/x.yaml",
            "nodir/x.html",
            "x.png",
            "s3://",
            "s3://bucket/p",
            "s3://B_ad/p",
            "../x",
            "a,b,,c",
            "7d",
            "0d",
            "9999999d",
            "-5d",
            "2026-13-01",
            "2999-01-01",
            "x" * 300,
            "eu-west-1",
            "local",
            "intro",
            "swarmhub.yaml",
            ".",
            "events.jsonl",
            "bad-events.jsonl",
            "roster.csv",
            "new.yaml",
            "out.html",
            "out.png",
            "new-dir",
            "bin.dat",
            "bad.yaml",
        ]  # fmt: skip
    ),
    st.text(alphabet=st.characters(blacklist_characters="/\x00"), max_size=10),
)


class StandIn:
    """The target a fuzzed verb reaches: it records the call, acts on nothing."""

    name = "stand-in"

    def __getattr__(self, verb):
        return lambda *args, **kwargs: []


def _verbs(group=cli.main, prefix=()):
    import click

    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _verbs(command, prefix + (name,))
        else:
            yield prefix + (name,), command


VERBS = list(_verbs())


def _values(param):
    """Mostly what the option's type lets through click, so the verb itself is reached."""
    import click

    kind = param.type
    if isinstance(kind, click.Choice):
        return st.one_of(st.sampled_from(list(kind.choices)), VALUES)
    if isinstance(kind, click.types.IntParamType):
        return st.one_of(st.integers(-5, 10**12).map(str), VALUES)
    if isinstance(kind, click.types.FloatParamType):
        return st.one_of(st.floats(allow_nan=True).map(str), VALUES)
    return VALUES


@st.composite
def invocation(draw, command) -> list[str]:
    import click

    args: list[str] = []
    for param in command.params:
        if param.name in ("help", "config_path", "target") or not draw(st.booleans()):
            continue  # the sandbox's config and target; wrong ones are the loader tests'
        if isinstance(param, click.Argument):
            args.append(draw(_values(param)))
        elif param.is_flag:
            args.append(param.opts[0])
        else:
            args += [param.opts[0], draw(_values(param))]
    if any(isinstance(p, click.Argument) and p.required for p in command.params) and not any(
        isinstance(p, click.Argument) for p in command.params if p.name in args
    ):
        args.insert(0, draw(VALUES))
    return args


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A cwd with a valid config whose every path is inside it; no AWS credentials."""
    state = tmp_path / "state"
    (tmp_path / "homes" / "ada").mkdir(parents=True)
    (tmp_path / "swarmhub.yaml").write_text(
        f"local:\n  state_dir: {state}\n  homes_dir: {tmp_path / 'homes'}\n"
    )
    event = '{"time": "2026-12-0%dT10:00:00Z", "event": "%s", "user": "ada", "course": "intro"}\n'
    good = event % (1, "server_started") + event % (2, "server_stopped")
    (tmp_path / "events.jsonl").write_text(good)
    (tmp_path / "bad-events.jsonl").write_text(good + '{"time": "x"}\n')
    (state / "hub").mkdir(parents=True)
    (state / "hub" / "events.jsonl").write_text(good)
    (tmp_path / "bin.dat").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "bad.yaml").write_text("a: [\n")
    (tmp_path / "roster.csv").write_text("\ufeffuser,name\nada,Ada\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    without_aws_credentials(monkeypatch, tmp_path)
    monkeypatch.setattr(cli, "_target", lambda cfg, name: StandIn())
    return tmp_path


def _homes_inside(args: list[str], root: Path) -> list[str]:
    # archive empties homes and restore fills them: only ever the sandbox's.
    out = list(args)
    for i, arg in enumerate(out[:-1]):
        if arg == "--homes":
            out[i + 1] = str(root / "homes")
    return out


@pytest.mark.parametrize("verb, command", VERBS, ids=[" ".join(v) for v, _ in VERBS])
def test_no_verb_argument_makes_a_traceback(verb, command, sandbox):
    @SETTINGS
    @given(args=invocation(command))
    def one(args):
        args = list(verb) + _homes_inside(args, sandbox)
        with alarm():
            result = CliRunner().invoke(cli.main, args, input="\n" * 8)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{args}: {result.exception!r}") from result.exception
        if result.exit_code not in (0, 1, 2, 130):
            raise AssertionError(f"{args}: exit {result.exit_code}: {result.output}")

    one()
