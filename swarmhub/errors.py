"""The project's one error type.

Everything that can go wrong in a way the operator must act on raises
`SwarmhubError` with one line that says what and what to do; `pipeline.py`
prints that line and exits non-zero. Anything else is a bug and keeps its
traceback.
"""


class SwarmhubError(Exception):
    """A failure the operator can act on, described in one line."""

    def __init__(self, message: str, *, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} ({hint})")
