"""Ctrl-C reported as Ctrl-C, whatever Python turned it into on the way out."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from matcue.cli import handle_errors
from matcue.errors import RenderError

INTERRUPTED = "matcue: interrupted; earlier files were left as they were.\n"


def _run(body) -> click.testing.Result:
    @click.command()
    @handle_errors
    def cmd() -> None:
        body()

    return CliRunner().invoke(cmd, [])


def test_ctrl_c_inside_a_class_definition() -> None:
    """Seen under load: Ctrl-C landed in a lazy import while a dataclass was being
    defined, and Python 3.11 re-raised it as RuntimeError from __set_name__ (exit 1,
    a traceback)."""

    def body() -> None:
        class Field:
            def __set_name__(self, owner: type, name: str) -> None:
                raise KeyboardInterrupt

        class Holder:  # noqa: B903 - the class statement is the point
            x = Field()

    r = _run(body)
    assert (r.exit_code, r.output) == (130, INTERRUPTED)


def test_an_error_that_a_ctrl_c_caused_is_the_interrupt() -> None:
    def body() -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RenderError("the MP3 encoder process failed: exit status -2") from None

    r = _run(body)
    assert (r.exit_code, r.output) == (130, INTERRUPTED)


def test_other_errors_are_not_taken_for_interrupts() -> None:
    def body() -> None:
        raise RenderError("the MP3 encoder process failed: exit status 1")

    r = _run(body)
    assert r.exit_code == 1 and "encoder process failed" in r.output

    def crash() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        CliRunner().invoke(click.command()(handle_errors(crash)), [], catch_exceptions=False)
