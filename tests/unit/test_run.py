"""The one way external tools run: echoed, streamed, one error on failure."""

from __future__ import annotations

import sys

import pytest

from swarmhub.errors import SwarmhubError
from swarmhub.run import run, which


def test_streams_and_echoes(capsys):
    lines = []
    result = run([sys.executable, "-c", "print('a'); print('b')"], on_line=lines.append)
    assert result.returncode == 0
    assert lines == ["a", "b"]
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith("+ ") and "print" in err


def test_failure_raises_one_error_with_the_last_lines():
    with pytest.raises(SwarmhubError) as err:
        run([sys.executable, "-c", "import sys; print('bad thing'); sys.exit(3)"], quiet=True)
    assert "exit 3" in str(err.value) and "bad thing" in str(err.value)


def test_capture_returns_stdout():
    assert run([sys.executable, "-c", "print('x')"], capture=True, quiet=True).stdout == "x\n"


def test_secrets_are_redacted_in_echo_and_errors(capsys):
    with pytest.raises(SwarmhubError) as err:
        run(
            [sys.executable, "-c", "import sys; print('token=s3cret'); sys.exit(1)", "s3cret"],
            redact=["s3cret"],
        )
    assert "s3cret" not in str(err.value)
    assert "s3cret" not in capsys.readouterr().err


def test_missing_tool():
    with pytest.raises(SwarmhubError, match="not found on PATH"):
        run(["definitely-not-a-tool-xyz"], quiet=True)
    with pytest.raises(SwarmhubError, match="apt-get install x"):
        which("definitely-not-a-tool-xyz", hint="apt-get install x")
