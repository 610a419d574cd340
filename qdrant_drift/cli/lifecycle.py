"""Lifecycle commands: ``init plan fit start backfill status pause resume cutover rollback
finish report dead-letters``. Each is a few lines over :class:`qdrant_drift.lifecycle.facade.Migration`.

Where Qdrant is: ``--path DIR`` (embedded local mode), ``--url URL`` (a server; ``--grpc`` to
prefer gRPC), or the ``QDRANT_PATH`` / ``QDRANT_URL`` / ``QDRANT_API_KEY`` variables.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich.live import Live
from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeRemainingColumn
from rich.table import Table

from .output import CLICK_ABORTS, console, err_console, fail, fmt, pasteable
from ..errors import DriftError, NoPreflightReport, QdrantFault, classify
from ..local import is_local
from ..migration.phases import Phase
from ..lifecycle.facade import NOTHING_TO_DO, Migration
from ..lifecycle.file import load_migration_file, resolved_layout, scaffold
from ..lifecycle.progress import Progress

FileArg = typer.Argument(..., exists=True, dir_okay=False, help="the migration file (TOML)")
PathOpt = typer.Option(None, "--path", envvar="QDRANT_PATH", help="embedded Qdrant directory")
UrlOpt = typer.Option(None, "--url", envvar="QDRANT_URL", help="Qdrant server URL")
KeyOpt = typer.Option(None, "--api-key", envvar="QDRANT_API_KEY", help="server API key")
GrpcOpt = typer.Option(False, "--grpc", help="prefer gRPC for the server")


def connect(path: Optional[Path], url: Optional[str], api_key: Optional[str] = None,
            grpc: bool = False) -> Any:
    """A client for ``--path`` or ``--url``. A migration works on a collection that
    exists, so no command makes a new embedded storage folder: a wrong ``--path`` is an
    error, not a new, empty Qdrant."""
    from qdrant_client import QdrantClient

    if path is not None and url is not None:
        raise DriftError("give one of --path and --url, not both")
    if path is None and url is None:
        raise DriftError("say where Qdrant is: --path DIR (embedded) or --url URL (a server)")
    if path is not None:
        if not (path / "meta.json").is_file():
            raise DriftError(f"no embedded Qdrant storage at {path} (wrong --path?)")
        try:
            return QdrantClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed" not in str(exc):
                raise
            raise DriftError(
                f"{path} is open in another process (a backfill worker, or the app?): "
                "embedded Qdrant allows one process per folder. A worker: stop it (Ctrl-C: it "
                "checkpoints), run this, start it again. The app: run the migration from it "
                "(`Migration(client, FILE)`: fit, start, start_backfill, cutover, finish). Or "
                "use a Qdrant server (--url), where any number of workers and commands run "
                "side by side") from None
    return QdrantClient(url=url, api_key=api_key, prefer_grpc=grpc)


@contextmanager
def _migration(file: Path, path: Optional[Path], url: Optional[str], api_key: Optional[str],
               grpc: bool) -> Iterator[Migration]:
    """The migration, on a client closed afterwards (embedded Qdrant allows one at a time).
    The file is validated before anything connects; library errors end as one line (and
    warnings too: see :func:`.app.main`)."""
    try:
        migration_file = load_migration_file(file)
        client = connect(path, url, api_key, grpc)
    except DriftError as exc:
        fail(exc)
    try:
        yield Migration(client, migration_file)
    except DriftError as exc:
        fail(pasteable(exc, _where(file, path, url, grpc)))
    except Exception as exc:
        if url is None or classify(exc) is not QdrantFault.TRANSIENT:
            raise
        fail(DriftError(f"cannot reach Qdrant at {url} ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}): is the "
                        "server running, and is --url right?"))
    finally:
        client.close()


def _where(file: Path, path: Optional[Path], url: Optional[str], grpc: bool) -> str:
    """The migration file and the options that said where Qdrant is, for a command line
    this one suggests, quoted for a shell (no store options when the environment said it:
    QDRANT_PATH / QDRANT_URL hold for that one too)."""
    store = ""
    if path is not None:
        store = f" --path {shlex.quote(str(path))}"
    elif url is not None:
        store = f" --url {shlex.quote(url)}" + (" --grpc" if grpc else "")
    return shlex.quote(str(file)) + store


def _share(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a percentage to 0.1, rounded down: 1,999 of 2,000 is 99.9%,
    never the 100.0% that cutover then refuses."""
    return f"{(1000 * part) // whole / 10 if whole else 100.0:.1f}%"


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _predicted(p: Progress) -> str:
    if p.predicted_recovery is None or p.predicted_recovery_low is None:
        return fmt(p.predicted_recovery)
    basis = "from logged queries" if p.prediction_basis == "logged_queries" else \
        "from documents only"
    return (f"{p.predicted_recovery:.3f} ({p.predicted_recovery_low:.3f}-"
            f"{p.predicted_recovery_high:.3f}, {basis})")


def _shadow(p: Progress) -> str:
    outside = p.shadow_outside_prediction
    parts = []
    for pair, value in sorted(p.shadow_agreement.items()):
        part = f"{pair} {value:.2f}"
        if pair in outside:
            lo, hi = outside[pair]
            part += f" OUTSIDE the predicted {lo:.2f}-{hi:.2f}"
        parts.append(part)
    return ", ".join(parts) or "-"


def _figure(value: Any) -> str:
    """A value as a person reads it: floats rounded, nothing as "-"."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def _confirmed(question: str, verb: str) -> bool:
    """The user's answer; input that ends before one (a script, CI, ``</dev/null``) is one
    line that says how to go without asking, not a bare "aborted"."""
    try:
        return typer.confirm(question)
    except CLICK_ABORTS as exc:
        if isinstance(exc.__context__, EOFError):
            fail(DriftError(f"no answer to confirm {verb} (the input ended): pass --yes to "
                            f"{verb} without asking"))
        raise


def status_table(p: Progress, file_settings: dict[str, Any] | None = None,
                 where: str = "FILE") -> Table:
    table = Table(title=f"migration {p.name} ({p.collection}, layout {p.layout})",
                  show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    paused = p.phase.endswith("(paused)")
    complete = p.phase.startswith("backfilling") and p.migrated >= p.total
    # the drastic-drift advice is for serving adapted queries: not once native serves
    served_native = p.phase.split(" ")[0] in (
        Phase.CUT_OVER.value, Phase.FINISHED.value, Phase.ABANDONED.value)
    # the rate is the running workers' own: none runs (on embedded Qdrant, status cannot run
    # beside one), so none is shown, and the table says why
    idle = ("- (no backfill worker running)" if p.workers_alive == 0
            and p.phase.split(" ")[0] in ("backfilling", "cut-over") else "-")
    rows = [
        ("phase", f"{p.phase}: every point has the new vector, `qdrant-drift cutover "
                  f"{where}` next"
         + (" (it first checks each copy against its legacy point's payload)"
            if p.layout == "collection" else "") if complete
         else p.phase), ("router plan", p.plan),
        ("coverage", f"{_share(p.migrated, p.total)} ({p.migrated} of {p.total} points)"),
        ("throughput", "paused" if paused and not complete else
         idle if p.items_per_s is None else f"{p.items_per_s:.1f} items/s"),
        ("ETA", "-" if complete else "- (paused)" if paused else
         idle if p.eta_s is None else _duration(p.eta_s)),
        ("predicted recovery (adapted)", _predicted(p)),
        ("drastic drift", "- (no pre-flight report)" if p.drastic_drift is None else
         "yes" if p.drastic_drift and served_native else
         f"yes: {p.drastic_advice}" if p.drastic_drift and p.drastic_advice else
         "yes" if p.drastic_drift else "no"),
        ("shadow agreement", _shadow(p)),
        ("dead letters", f"{p.dead_letters} (the abandoned run's; a new fit starts without "
                         "them)" if p.dead_letters and p.phase == Phase.ABANDONED.value
         else str(p.dead_letters)),
        ("workers alive", f"{p.workers_alive} of {len(p.workers)} seen"),
        ("replicas serving", ", ".join(f"{plan} x{n}" for plan, n in sorted(p.served.items()))
         or "none reported in the last minute (a wrapped client reports once per refresh "
            "interval)"),
    ]
    if p.adapter_problem:
        rows.append(("adapter", f"unreadable: {p.adapter_problem}"))
    if file_settings is not None and file_settings != p.router_settings:
        rows.append(("router settings", "this file's [router] differs from what the fleet "
                     "follows: run `qdrant-drift start` to apply it"))
    for what, value in rows:
        table.add_row(what, value)
    return table


def init(file: Path = typer.Argument(..., help="where to write the new migration file"),
         name: str = typer.Option(..., help="migration name"),
         collection: str = typer.Option(..., help="the collection being upgraded"),
         new_vector: str = typer.Option(..., help="name of the new model's vector"),
         old_vector: str = typer.Option(
             "", help='name of the legacy vector ("" = the collection\'s unnamed vector)'),
         old_model: Optional[str] = typer.Option(None, help="the model that made the "
                                                             "existing vectors"),
         new_model: str = typer.Option("sentence-transformers/all-MiniLM-L6-v2",
                                       help="the new embedding model (Hub name or path)"),
         payload_field: str = typer.Option("text", help="payload field holding the text"),
         layout: Optional[str] = typer.Option(
             None, help='named | collection (blue-green) (default: collection when the '
                        'legacy vector is the unnamed one, else named)')) -> None:
    """Scaffold a migration file (every key commented; edit, then commit it)."""
    if file.exists():
        fail(DriftError(f"{file} exists; not overwriting it"))
    try:
        text = scaffold(name, collection, new_vector, payload_field=payload_field,
                        layout=layout, old_vector=old_vector, old_model=old_model,
                        new_model=new_model, file_path=str(file))
    except DriftError as exc:
        fail(exc)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(text)
    chosen = resolved_layout(layout, old_vector)
    if layout is None and chosen == "collection":
        console.print("layout: collection (blue-green), since the legacy vector is the unnamed "
                      "one: the legacy collection stays as it is until `finish` drops it, so "
                      "apps that are not wrapped keep writing until then; after it they find "
                      "the data under the legacy name if [migration] alias is that name (the "
                      "new collection takes it at finish), else they must name the new "
                      "collection (or wrap them)")
    console.print(f"wrote {file}: edit [embedder] and [source], then `qdrant-drift plan "
                  f"{shlex.quote(str(file))} --path DIR` (DIR: the embedded Qdrant's folder; "
                  "`--url URL` for a server)")


# plan's rows whose key alone would mislead (the JSON keeps the keys)
PLAN_LABELS = {
    "fit_sample": "fit sample (pairs fit embeds)",
    "preflight_pairs": "pairs the pre-flight report needs (at least; a share is held out)",
}


def plan(file: Path = FileArg, path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt,
         api_key: Optional[str] = KeyOpt, grpc: bool = GrpcOpt,
         sample: int = typer.Option(64, help="texts embedded to measure the embed rate"),
         json_out: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Dry run: point counts, server capabilities, embed rate and estimated backfill time."""
    try:
        with console.status("measuring the embed rate on a sample..."), \
                _migration(file, path, url, api_key, grpc) as migration:
            report = migration.plan(sample=sample)
    except DriftError as exc:
        fail(exc)
    if json_out:
        console.print_json(json.dumps(report.to_dict()))
        return
    table = Table(title=f"plan for {file}", show_header=False)
    for key, value in report.to_dict().items():
        if key == "estimated_backfill_s":
            value = f"{_duration(value)} with one worker"
        table.add_row(PLAN_LABELS.get(key, key.replace("_", " ")), _figure(value))
    console.print(table)
    if note := report.sample_note():
        console.print(f"note: {note}")
    if not report.supports_layout:
        fail(DriftError(report.capability_note))


def fit(file: Path = FileArg, path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt,
        api_key: Optional[str] = KeyOpt, grpc: bool = GrpcOpt,
        queries: Optional[Path] = typer.Option(
            None, "--queries", help="logged queries, one per line (overrides [adapter] "
                                    "queries): they choose the adapter and ground the "
                                    "pre-flight"),
        max_transform_us: Optional[float] = typer.Option(
            None, "--max-transform-us", min=0.001,
            help="per-query budget of the adapter in microseconds (overrides [adapter] "
                 "max_transform_us): auto passes over kinds that cost more")) -> None:
    """Embed a sample with the new model, fit the adapter, store it, print the pre-flight
    quality report."""
    from .adapter import print_report

    try:
        with _migration(file, path, url, api_key, grpc) as migration, Bar(
                TextColumn("embedding the sample"), BarColumn(),
                TextColumn("{task.completed}/{task.total}"), TimeRemainingColumn(),
                console=console, disable=not console.is_terminal) as bar:
            task = bar.add_task("embed", total=None)
            stored_before = _stored_adapter(migration)
            with warnings.catch_warnings():  # print_report says it, with the fix
                warnings.simplefilter("ignore", NoPreflightReport)
                try:
                    adapter = migration.fit(progress=lambda done, total: bar.update(
                        task, completed=done, total=total),
                        queries=None if queries is None else queries.resolve(),
                        max_transform_us=max_transform_us)
                except KeyboardInterrupt:
                    bar.stop()
                    _say_where_an_interrupted_fit_stopped(
                        migration, stored_before, _where(file, path, url, grpc))
                    raise
            phase = migration.record().phase
    except DriftError as exc:
        fail(exc)
    if phase is Phase.FITTED:
        console.print(f"fitted the {adapter.kind} adapter; migration {migration.name!r} "
                      f"is 'fitted': `qdrant-drift start {_where(file, path, url, grpc)}` to "
                      "serve and backfill")
    else:  # a re-fit of a running migration: its phase is unchanged
        console.print(f"fitted the {adapter.kind} adapter; migration {migration.name!r} "
                      f"stays {phase.value!r} and serves it (replicas pick it up)")
    print_report(adapter.info, "raise [adapter] sample_size" if migration.file.adapter_path
                 is None else "fit the adapter file on more pairs")


def _stored_adapter(migration: Migration) -> str | None:
    """The digest of the adapter the migration's record holds (None: no record, or none)."""
    try:
        return migration.record().adapter_digest
    except DriftError:
        return None


def _say_where_an_interrupted_fit_stopped(migration: Migration, before: str | None,
                                          where: str) -> None:
    """A Ctrl-C in ``fit``: whether the fit was recorded (it writes its sample's vectors
    after its record: those left unwritten are the backfill's) or nothing changed."""
    try:
        record = migration.record()
    except (DriftError, KeyboardInterrupt):  # nothing recorded, or a second Ctrl-C
        record = None
    if record is not None and record.adapter_digest != before:
        err_console.print(
            f"fit interrupted after it was recorded: migration {record.spec.name!r} is "
            f"{record.phase.value!r} with the new adapter; sample vectors it had not written "
            f"yet are the backfill's. Go on (`qdrant-drift start {where}`) or fit again")
    else:
        err_console.print("fit interrupted before it was recorded: the migration is as it "
                          f"was; run `qdrant-drift fit {where}` again")


def _phase_command(action: str):  # noqa: ANN202 - builds a Typer command
    def command(file: Path = FileArg, path: Optional[Path] = PathOpt,
                url: Optional[str] = UrlOpt, api_key: Optional[str] = KeyOpt,
                grpc: bool = GrpcOpt) -> None:
        try:
            with _migration(file, path, url, api_key, grpc) as migration:
                before = migration.record() if action in ("resume", "rollback") else None
                record = getattr(migration, action)()
        except DriftError as exc:
            fail(exc)
        paused = " (backfill paused)" if record.backfill_paused else ""
        idle = ("" if before is None else
                " (it was not paused: nothing to resume)"
                if action == "resume" and not before.backfill_paused else
                " (it was already: nothing changed)"
                if action == "rollback" and before.phase is record.phase else "")
        console.print(f"migration {record.spec.name!r}: {record.phase.value}{paused}{idle}")
        if action == "start" and record.backfill_paused:
            console.print(f"the backfill is paused (since `qdrant-drift pause`): `qdrant-drift "
                          f"resume {_where(file, path, url, grpc)}` lets workers run")
        elif action in ("start", "resume") and record.phase is Phase.BACKFILLING:
            console.print(f"the backfill is open; `qdrant-drift backfill "
                          f"{_where(file, path, url, grpc)}` runs a worker (none runs until one is "
                          "started)")

    command.__doc__ = {
        "start": "Serve new-model queries (adapted at first) and open the backfill.",
        "pause": "Pause every backfill worker (through the state).",
        "resume": "Resume the backfill workers.",
        "rollback": "Instantly return serving to the legacy path.",
    }[action]
    return command


def cutover(file: Path = FileArg, path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt,
            api_key: Optional[str] = KeyOpt, grpc: bool = GrpcOpt,
            force: bool = typer.Option(False, help="cut over although points lack the new "
                                                   "vector (they drop out of results)")) -> None:
    """Serve the new vectors only (refused while points lack them, unless --force)."""
    try:
        with _migration(file, path, url, api_key, grpc) as migration:
            before = migration.record().phase
            record = migration.cutover(force=force)
            lacking, total = migration.lacking() if force else (0, 0)
            dead = len(migration.dead_letters()) if lacking else 0
    except DriftError as exc:
        fail(exc)
    already = " (it was already: nothing changed)" if before is record.phase else ""
    console.print(f"migration {record.spec.name!r}: {record.phase.value}{already}")
    where = _where(file, path, url, grpc)
    if lacking:  # what --force gave up, said
        console.print(
            f"{lacking} of {total} points lack the new vector: search no longer finds them "
            "until the backfill writes them"
            + (f" ({dead} are dead letters: `qdrant-drift dead-letters {where}` shows why, "
               "`--requeue` gives them back once the cause is fixed)" if dead else ""))
    console.print(f"new-model vectors serve every query (replicas within their refresh "
                  f"interval); `qdrant-drift finish {where}` drops the legacy side once you "
                  f"are satisfied, `qdrant-drift rollback {where}` goes back at once")


def finish(file: Path = FileArg, path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt,
           api_key: Optional[str] = KeyOpt, grpc: bool = GrpcOpt,
           yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation"),
           force: bool = typer.Option(False, help="finish although points lack the new "
                                                  "vector (they are lost)")) -> None:
    """Mark the migration finished and drop the legacy vector or collection (only after
    cut-over, once every point has the new vector; irreversible). Whether it is allowed is
    checked before asking."""
    _end("finish", file, path, url, api_key, grpc, yes, force=force)


def abandon(file: Path = FileArg, path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt,
            api_key: Optional[str] = KeyOpt, grpc: bool = GrpcOpt,
            yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation")) -> None:
    """Give the migration up at any point before finish: drop the new vector or collection;
    the legacy side serves as before it (irreversible). A new migration may then start."""
    _end("abandon", file, path, url, api_key, grpc, yes)


def _end(verb: str, file: Path, path: Optional[Path], url: Optional[str],
         api_key: Optional[str], grpc: bool, yes: bool, **options: Any) -> None:
    """``finish`` or ``abandon``: checked first, then asked (what it drops, in words), then
    done; irreversible either way."""
    with _migration(file, path, url, api_key, grpc) as migration:
        what = getattr(migration, f"check_{verb}")(**options)
        asks = not yes and not what.startswith(NOTHING_TO_DO)  # a second run changes nothing
        if asks and not _confirmed(f"{verb.capitalize()} {migration.name!r} and {what}? "
                                   "This cannot be undone.", verb):
            typer.echo(f"not {'finished' if verb == 'finish' else 'abandoned'}: nothing "
                       "changed", err=True)
            raise typer.Exit(code=1)
        record = getattr(migration, verb)(**options)
    console.print(f"migration {record.spec.name!r} is {record.phase.value}; {_past(what)}")


def _past(what: str) -> str:
    """'drop the legacy ...' -> 'dropped the legacy ...' (finish's note, after the fact)."""
    for verb, done in (("drop ", "dropped "), ("keep ", "kept ")):
        if what.startswith(verb):
            what = done + what[len(verb):]
    return what.replace(" and give its name ", " and gave its name ").replace(
        ", and give up the ", ", and gave up the ")


def status(file: Path = FileArg, path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt,
           api_key: Optional[str] = KeyOpt, grpc: bool = GrpcOpt,
           watch: bool = typer.Option(
               False, "--watch", help="refresh in place (piped: a table per refresh)"),
           interval: float = typer.Option(2.0, help="seconds between refreshes with --watch"),
           json_out: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Coverage, throughput, ETA, phase, router plan, quality, dead letters, workers."""
    try:
        with _migration(file, path, url, api_key, grpc) as migration:
            if json_out:
                # through the console: a reader that leaves the pipe costs no traceback
                console.print(json.dumps(migration.progress().to_dict()), highlight=False,
                              emoji=False)
                return
            def table() -> Table:
                return status_table(migration.progress(),
                                    migration.file.router.settings().to_dict(),
                                    _where(file, path, url, grpc))

            if not watch:
                console.print(table())
                return
            if not console.is_terminal:  # piped or logged: a table per refresh, not in place
                while True:
                    console.print(table())
                    if console.quiet:  # its reader left (`| head`): a watch has no end
                        return
                    time.sleep(interval)
            with Live(table(), console=console) as live:
                while True:
                    time.sleep(interval)
                    live.update(table())
    except DriftError as exc:
        fail(exc)
    except KeyboardInterrupt:
        pass


def report(file: Path = FileArg, path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt,
           api_key: Optional[str] = KeyOpt, grpc: bool = GrpcOpt,
           png: Optional[Path] = typer.Option(
               None, "--png", help="where to write the plot [default: NAME-report.png]")
           ) -> None:
    """Plots of coverage and throughput over time and of the shadow agreement replicas
    measured against the pre-flight's prediction (needs the `report` extra)."""
    try:
        with _migration(file, path, url, api_key, grpc) as migration:
            written = migration.report(png or Path(f"{migration.name}-report.png"))
    except DriftError as exc:
        fail(exc)
    console.print(f"wrote {written}")


def backfill(file: Path = FileArg, path: Optional[Path] = PathOpt, url: Optional[str] = UrlOpt,
             api_key: Optional[str] = KeyOpt, grpc: bool = GrpcOpt,
             worker_id: Optional[str] = typer.Option(
                 None, help="a stable id lets a restarted worker reclaim its partitions at once"),
             batch_size: Optional[int] = typer.Option(None, min=1, help="overrides [backfill]"),
             rate_limit: Optional[float] = typer.Option(None, help="items/s, overrides [backfill]"),
             metrics_port: Optional[int] = typer.Option(
                 None, min=0, max=65535, help="serve Prometheus metrics on this port"),
             keep_running: bool = typer.Option(
                 False, help="keep polling for new work after the backfill is done"),
             engine: str = typer.Option(
                 "worker", help="worker (this process) or ray (Ray Data embeds: tasks, or "
                 "an actor per GPU)"),
             address: Optional[str] = typer.Option(
                 None, help="the Ray cluster (auto, ray://head:10001); none: a local one")
             ) -> None:
    """Run a backfill worker in the foreground until done (SIGTERM/SIGINT: finish the batch
    in flight, checkpoint, exit). Start several, anywhere, to share the work."""
    with _migration(file, path, url, api_key, grpc) as migration:
        _run_worker(migration, worker_id, batch_size, rate_limit, metrics_port, keep_running,
                    engine, address, where=_where(file, path, url, grpc))


def _run_worker(migration: Migration, worker_id: Optional[str], batch_size: Optional[int],
                rate_limit: Optional[float], metrics_port: Optional[int],
                keep_running: bool, engine: str = "worker",
                address: Optional[str] = None, *, where: str) -> None:
    from ..observability.metrics import DriftMetrics

    metrics = DriftMetrics()
    if metrics_port is not None:
        try:
            metrics.serve(metrics_port)
        except (OSError, OverflowError) as exc:  # in use, or not a port
            fail(DriftError(f"cannot serve metrics on port {metrics_port}: "
                            f"{getattr(exc, 'strerror', None) or exc}"))
        console.print(f"metrics on :{metrics_port}/metrics")
    overrides: dict[str, Any] = {"batch_size": batch_size, "rate_limit": rate_limit}
    if keep_running:
        overrides["exit_when_done"] = False
    signals: list[int] = []
    running: list[Any] = []  # the engine, once there is one
    worker: Any = None

    def graceful(signum: int, _frame: Any) -> None:
        # nothing that can raise here (printing to a closed pipe would): the follow loop
        # says it, and the worker finishes its batch, checkpoints and stops
        signals.append(signum)
        for worker in running:
            worker.stop()

    # ours from the start (a Ctrl-C while Ray starts was lost); RayBackfill.connect keeps
    # Ray from putting in its own, and gives up on Ray's start when one comes
    caught = (signal.SIGTERM,) + (  # a SIGINT the parent left ignored stays ignored
        () if signal.getsignal(signal.SIGINT) is signal.SIG_IGN else (signal.SIGINT,))
    previous = {sig: signal.signal(sig, graceful) for sig in caught}
    try:
        try:
            worker = migration.backfill_engine(engine, address=address, worker_id=worker_id,
                                               metrics=metrics, quiet=True, **overrides)
            running.append(worker)
            if signals:  # it came while the engine was set up: stop before the first batch
                worker.stop()
            if hasattr(worker, "connect"):  # Ray: from this (the main) thread, see connect
                worker.connect()
        except DriftError as exc:
            fail(pasteable(exc, where))
        stats = _follow(migration, worker, metrics, signals, where)
        if signals and stats.state != "finished":  # stopped, not done: a script's
            raise typer.Exit(128 + signals[0])  # `backfill && cutover` must tell
    except typer.Exit as exc:
        _exit_now_if_ray_is_still_starting(migration, worker, exc.exit_code)
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exit_now_if_ray_is_still_starting(migration: Migration, worker: Any, code: int) -> None:
    """A stop or a timeout gave up on Ray's start, which goes on in a thread: exit now,
    rather than wait for it (for ever, at an address where nothing listens) or let the
    interpreter's exit run into it half done (it crashed there). The engine has stopped
    and reported so; the client is closed first."""
    if not getattr(worker, "starting", False):
        return
    migration.client.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _say(line: str) -> None:
    """Print a line; once the reader of a pipe is gone (``... | tee log`` on Ctrl-C) the
    console drops output (:class:`~.output.PipeTolerantConsole`): the worker must still
    finish its batch and checkpoint."""
    console.print(line)


def _progress_line(p: Progress, worker: Any) -> tuple[str, str, str]:
    """(coverage, rate, ETA) as the display shows them: "paused" and no ETA while paused."""
    paused = worker.paused or p.phase.endswith("(paused)")
    rate = "paused" if paused else f"{worker.stats.items_per_s:.1f} items/s"
    eta = "- (paused)" if paused else _duration(p.eta_s)
    return f"{_share(p.migrated, p.total):>6} migrated ({p.migrated}/{p.total})", rate, eta


def _say_if_waiting_for_a_lease(p: Progress, worker: Any) -> bool:
    """Say why a worker writes nothing while points are left: every partition is leased to
    other live workers (it takes one over when its holder stops, or misses heartbeats for
    ``heartbeat_timeout``). Whether it said so."""
    holders = [w.worker for w in p.workers
               if w.alive and w.partitions and w.worker != worker.worker_id]
    if worker.leases.owned or not holders or p.migrated >= p.total:
        return False
    _say(f"every partition is leased to another worker ({', '.join(sorted(holders))}): this "
         "one waits, and takes a partition over when its worker stops or misses heartbeats "
         f"for {worker.options.heartbeat_timeout:g} s")
    return True


def _follow(migration: Migration, worker: Any, metrics: Any, signals: list[int],
            where: str) -> Any:
    """Run the worker with a progress bar (ETA from every worker's progress samples) on a
    terminal, a progress line whenever it changes otherwise; feed the metrics every few
    seconds; return its stats. Whatever happens here, the worker is stopped and joined
    before the client closes (threads still in embedded Qdrant at exit crash the
    interpreter)."""
    from ..backfill import BackfillHandle

    handle_started = time.time()
    handle = BackfillHandle(worker)
    terminal = console.is_terminal
    bar = Bar(TextColumn("backfill {task.fields[rate]}"), BarColumn(),
              TextColumn("{task.completed}/{task.total} points, ETA {task.fields[eta]}"),
              console=console, disable=not terminal)
    try:
        with bar:
            task = bar.add_task("backfill", total=None, rate="", eta="-")
            last, said, told, paused_looks, told_waiting = 0.0, "", 0, 0, False
            while handle.running:
                time.sleep(0.1)
                if len(signals) > told:
                    told = len(signals)
                    _say(f"signal {signals[-1]}: finishing the batches already in flight, then stopping")
                if time.time() - last < (1 if terminal else 5):
                    continue
                last = time.time()
                try:
                    p = migration.progress()
                except Exception as exc:  # noqa: BLE001 - monitoring never stops the worker
                    _say(f"(status unavailable: {exc})")
                    continue
                metrics.update_from_progress(p)
                paused_looks += p.phase.endswith("(paused)")
                if paused_looks == 2 and is_local(migration.client):
                    # the second look: a worker with nothing left ends as finished at once
                    # (no resume to wait for), one that waits is still here
                    _say("paused through the state; on embedded Qdrant this worker holds the "
                         "storage folder, so `qdrant-drift resume` cannot run beside it: stop "
                         "it (Ctrl-C), resume, then start it again")
                if not told_waiting:
                    told_waiting = _say_if_waiting_for_a_lease(p, worker)
                coverage, rate, eta = _progress_line(p, worker)
                bar.update(task, total=p.total, completed=p.migrated, rate=rate, eta=eta)
                line = (f"{coverage}, this worker {worker.stats.written} written, {rate}, "
                        f"ETA {eta}")
                if not terminal and line != said:
                    said = line
                    _say(line)
    finally:
        if handle.running:
            worker.stop()
            while handle.running:
                time.sleep(0.1)
    if len(signals) > told:  # it stopped before the loop looked (a signal during set-up)
        _say(f"signal {signals[-1]}: stopping")
    try:
        stats = handle.join()
    except DriftError as exc:
        fail(pasteable(exc, where))
    try:  # the last periodic line can be seconds old: where the collection is now
        last: Progress | None = migration.progress()
    except Exception:  # noqa: BLE001 - the summary below says what this worker did
        last = None
    if last is not None and not terminal:
        _say(_progress_line(last, worker)[0])
    _say(f"worker {worker.worker_id} {stats.state}: {stats.written} written, "
         f"{stats.skipped} skipped, {stats.dead_lettered} dead letters, "
         f"{stats.retries} retries in {time.time() - handle_started:.1f} s")
    if stats.dead_lettered and not stats.written:
        _say(f"nothing was written: every item this run tried is a dead letter; "
             f"`qdrant-drift dead-letters {where}` shows why, and `--requeue` gives them back "
             "once the cause is fixed")
    elif last is not None and last.dead_letters:
        # the counts above are this run's; every dead letter holds the next step
        earlier = " (this run's and earlier ones')" if last.dead_letters > stats.dead_lettered \
            else ""
        waits = "finish waits" if last.phase.startswith("cut-over") else "cut-over waits"
        _say(f"{last.dead_letters} points are dead letters{earlier}: {waits} for them; "
             f"`qdrant-drift dead-letters {where}` shows why, and `--requeue` gives them back "
             "once the cause is fixed")
    return stats


def dead_letters(file: Path = FileArg, path: Optional[Path] = PathOpt,
                 url: Optional[str] = UrlOpt, api_key: Optional[str] = KeyOpt,
                 grpc: bool = GrpcOpt,
                 requeue: bool = typer.Option(False, help="forget them so workers retry them")
                 ) -> None:
    """List the items the backfill could not embed (with why), or re-queue them."""
    with _migration(file, path, url, api_key, grpc) as migration:
        if requeue:
            console.print(f"re-queued {migration.requeue_dead_letters()} items")
            return
        table = Table(title=f"dead letters of {migration.name}")
        table.add_column("point id")
        table.add_column("reason")
        # by id: integers in order, then UUIDs (Qdrant's two kinds of id)
        for letter in sorted(migration.dead_letters(), key=lambda letter: (
                isinstance(letter["point_id"], str), letter["point_id"])):
            table.add_row(str(letter["point_id"]), str(letter["reason"]))
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("plan")(plan)
    app.command("fit")(fit)
    for action in ("start", "pause", "resume", "rollback"):
        app.command(action)(_phase_command(action))
    app.command("cutover")(cutover)
    app.command("finish")(finish)
    app.command("abandon")(abandon)
    app.command("status")(status)
    app.command("report")(report)
    app.command("backfill")(backfill)
    app.command("dead-letters")(dead_letters)
