"""Console output shared by the CLI's command groups (Rich)."""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import click
import typer
from rich.console import Console
from rich.text import Text

class PipeTolerantConsole(Console):
    """A console whose reader may leave (``qdrant-drift fit ... | head``): from then on its
    output goes nowhere and the command carries on. Rich's own way (exit 1 at the next line)
    would stop a fit, a cut-over or a backfill halfway for the sake of its log."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:  # later plain writes to the same stream (and its flush at exit) go nowhere too
            os.dup2(devnull, self.file.fileno())
        except (AttributeError, OSError, ValueError):  # a stream with no descriptor
            pass
        finally:
            os.close(devnull)
        if not self.stderr:  # a long command (a backfill) would go on out of sight
            try:
                print("qdrant-drift: the reader of its output has gone; the rest of the "
                      "output is dropped, the command runs to its end (Ctrl-C stops it)",
                      file=sys.stderr, flush=True)
            except (OSError, ValueError):  # stderr is gone too
                pass


# Tables are wide; when output is a file or pipe (CI logs, tests) do not squeeze them to 80.
# Markup is off: messages quote TOML sections ("[embedder]"), keys and user text in
# brackets, which Rich would otherwise swallow as style tags; styles are given explicitly.
# Soft wrap: a line of text is never broken by Rich (a terminal wraps it on screen), so the
# commands messages suggest paste as printed, whatever the width; tables still fit the width.
console = PipeTolerantConsole(width=None if sys.stdout.isatty() else 140, markup=False,
                              soft_wrap=True)
err_console = PipeTolerantConsole(stderr=True, width=None if sys.stderr.isatty() else 140,
                                  markup=False, soft_wrap=True)


def styled(label: str, style: str, rest: str) -> Text:
    """``label`` in ``style``, then ``rest`` as plain text (never parsed for markup)."""
    return Text.assemble((label, style), rest)


# the commands that take a migration file, as a message may name them: `qdrant-drift
# cutover --force`, `qdrant-drift dead-letters FILE --requeue` (FILE: a placeholder)
_NAMED_COMMAND = re.compile(
    r"`qdrant-drift (plan|fit|start|backfill|status|pause|resume|cutover|rollback|finish"
    r"|abandon|report|dead-letters)(?: FILE)?((?: --?[a-z][\w-]*(?:[ =][^`\s-][^`\s]*)?)*)`")


def pasteable(exc: Exception, where: str) -> Exception:
    """``exc`` with the commands its message names given this run's migration file and
    store (``where``: ``docs.toml --path qd``), ready to paste; the library that raised it
    knows neither. The same exception type, or ``exc`` itself when it names none."""
    message = str(exc)
    filled = _NAMED_COMMAND.sub(lambda m: f"`qdrant-drift {m[1]} {where}{m[2]}`", message)
    if filled == message:
        return exc
    try:
        return type(exc)(filled)
    except TypeError:  # an exception type that takes other arguments: say it as it was
        return exc


def fail(exc: Exception) -> None:
    err_console.print(styled("error:", "bold red", f" {exc}"), soft_wrap=True)
    raise typer.Exit(code=2)


@contextmanager
def one_line_warnings() -> Iterator[None]:
    """Python warnings reach a CLI user as one ``warning: ...`` line each, without the
    category and the source line Python would quote. Deprecations stay hidden, as Python
    hides them outside ``__main__``: they are for the authors of the code that triggers them
    (Ray Data's own settings raise three on every backfill), not for whoever runs it."""
    def show(message: Any, *_: Any, **__: Any) -> None:
        err_console.print(styled("warning:", "yellow", f" {message}"), soft_wrap=True)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.showwarning = show
        yield


def write_json(path: Optional[Path], payload: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(payload, indent=2) + "\n")
        console.print(f"wrote {path}")


def fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _click_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """(Click's usage and other errors, its aborts), for Click and for the copy of Click that
    recent Typer releases vendor (a different class tree with the same protocol; its abort
    is ``typer.Abort``)."""
    errors: list[type[Exception]] = [click.ClickException]
    aborts: list[type[Exception]] = [click.Abort, typer.Abort]
    try:
        from typer._click import exceptions as vendored  # Typer >= 0.2x
    except ImportError:
        pass
    else:
        errors.append(vendored.ClickException)
    return tuple(errors), tuple(aborts)


CLICK_ERRORS, CLICK_ABORTS = _click_errors()
