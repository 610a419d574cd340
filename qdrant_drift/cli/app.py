"""The ``qdrant-drift`` command line: a thin shell over the library's plain functions.

Built on Typer (commands from type-hinted functions, on top of Click) and Rich (tables,
progress); neither is on the query path. Each group of commands lives in its own module;
this one only assembles them.
"""

from __future__ import annotations

import typer

from . import lifecycle
from .adapter import adapter_app
from .bench import bench_app, demo
from .output import one_line_warnings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Upgrade the embedding model behind a Qdrant collection without downtime.",
)


@app.callback()
def main_options(ctx: typer.Context) -> None:
    """Upgrade the embedding model behind a Qdrant collection without downtime."""
    # every command: Python warnings reach the user as one line each, never raw
    ctx.with_resource(one_line_warnings())


app.add_typer(bench_app, name="bench")
app.add_typer(adapter_app, name="adapter")
app.command("demo")(demo)
lifecycle.register(app)


def main() -> None:
    """The ``qdrant-drift`` entry point (warnings are shown as one line by the callback)."""
    app()


if __name__ == "__main__":
    main()
