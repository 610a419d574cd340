"""The ``qdrant-drift`` command line: a thin shell over the library's plain functions.

Built on Typer (commands from type-hinted functions, on top of Click) and Rich (tables,
progress); neither is on the query path. Each group of commands lives in its own module;
this one only assembles them.
"""

from __future__ import annotations

import os
import signal
import sys

import typer

from .._entry import INTERRUPTED
from . import lifecycle
from .adapter import adapter_app
from .bench import bench_app, demo
from .output import CLICK_ABORTS, CLICK_ERRORS, one_line_warnings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    help="Upgrade the embedding model behind a Qdrant collection without downtime.",
)


@app.callback()
def main_options(ctx: typer.Context) -> None:
    """Upgrade the embedding model behind a Qdrant collection without downtime."""
    # every command: Python warnings reach the user as one line each, never raw
    ctx.with_resource(one_line_warnings())
    # no "Loading weights" bars from transformers between our lines (set it to 0 to see them)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


app.add_typer(bench_app, name="bench")
app.add_typer(adapter_app, name="adapter")
app.command("demo")(demo)
lifecycle.register(app)


def main() -> None:
    """The ``qdrant-drift`` entry point. Warnings are one line each (the callback); so are
    usage errors (a missing option, a file that is not there), instead of Click's panel."""
    interrupted: list[int] = []

    def ctrl_c(signum: int, frame: object) -> None:  # Python's own behaviour, remembered
        interrupted.append(signum)
        raise KeyboardInterrupt

    # Typer turns a KeyboardInterrupt into a silent exit 130; a command that handles signals
    # itself (backfill) puts in its own handler and says what it does. A SIGINT the parent
    # left ignored (``cmd &`` in a script, nohup) stays ignored, as Python leaves it
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, ctrl_c)
    try:
        code = app(standalone_mode=False)
    except CLICK_ERRORS as exc:
        ctx = getattr(exc, "ctx", None)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        print(f"error: {exc.format_message()}{where}", file=sys.stderr)  # type: ignore[attr-defined]
        sys.exit(exc.exit_code)  # type: ignore[attr-defined]
    except CLICK_ABORTS as exc:  # a declined prompt (1), or a Ctrl-C Click took (130):
        # a prompt turns Ctrl-C into an abort with no cause, so the handler's record says it
        print("aborted", file=sys.stderr)
        ctrl_c_taken = interrupted or isinstance(exc.__cause__, KeyboardInterrupt)
        sys.exit(INTERRUPTED if ctrl_c_taken else 1)
    if code == INTERRUPTED and interrupted:
        print("interrupted", file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
