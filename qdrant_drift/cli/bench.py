"""``qdrant-drift bench ...`` and ``qdrant-drift demo``: shells over :mod:`qdrant_drift_bench`,
which is imported only when one of these commands runs (it needs the ``bench`` extra)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer
from rich.table import Table

from ..errors import DriftError
from ..extras import require
from .output import console, fail as _fail, fmt as _fmt, write_json as _write_json

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks on real drift data.")


def adapter_bench_table(result: dict[str, Any]) -> Table:
    full = result["full_reembed"]
    table = Table(
        title=f"{result['corpus']} / {result['pair']}: {result['old_model']} -> "
        f"{result['new_model']}, {result['train_pairs']} training pairs, "
        f"{result.get('logged_queries', 0)} logged queries, "
        f"{result.get('test_queries', '?')} test queries ({result.get('protocol', '?')}, "
        "exact search, k=10)"
    )
    for column in ("method", "R@10", "MRR@10", "recovery", "predicted", "interval", "fit s",
                   "transform us p50", "gemv us p50"):
        table.add_column(column, justify="left" if column == "method" else "right")
    base = result["old_baseline"]
    table.add_row("old model's own queries", _fmt(base["recall_at_10"]),
                  _fmt(base["mrr_at_10"]),
                  _fmt(base["recall_at_10"] / full["recall_at_10"]), "", "", "", "", "")
    table.add_row("full re-embed", _fmt(full["recall_at_10"]), _fmt(full["mrr_at_10"]),
                  "1.000", "", "", "", "", "")
    if result.get("no_adapter"):
        none = result["no_adapter"]
        table.add_row("no adapter", _fmt(none["recall_at_10"]), _fmt(none["mrr_at_10"]),
                      _fmt(none["recall_at_10"] / full["recall_at_10"]), "", "", "", "", "")
    for row in result["adapters"]:
        table.add_row(row["kind"], _fmt(row["recall_at_10"]), _fmt(row["mrr_at_10"]),
                      _fmt(row["recovery"]), _fmt(row["predicted_recovery"]),
                      _interval(row), _fmt(row["fit_seconds"], 1),
                      _fmt(row["transform_us_p50"], 1), _fmt(row["gemv_us_p50"], 1))
    auto = result["auto"]
    passed = f"; passed over {', '.join(auto['passed_over'])}" if auto.get("passed_over") else ""
    table.add_row(f"auto (chose {auto['chosen']}{passed})", _fmt(auto["recall_at_10"]),
                  _fmt(auto["mrr_at_10"]), _fmt(auto["recovery"]),
                  _fmt(auto["predicted_recovery"]), _interval(auto),
                  _fmt(auto["fit_seconds"], 1), _fmt(auto.get("transform_us_p50"), 1),
                  _fmt(auto.get("gemv_us_p50"), 1))
    return table


def _interval(row: dict[str, Any]) -> str:
    if row.get("predicted_low") is None:
        return ""
    return f"{row['predicted_low']:.3f}-{row['predicted_high']:.3f}"


def _counts(text: str, option: str, *, minimum: int = 0) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise DriftError(f"{option} takes comma-separated counts, got {text!r}") from None
    if not counts or min(counts) < minimum:
        raise DriftError(f"{option} takes counts >= {minimum}, got {text!r}")
    return counts


@bench_app.command("adapters")
def bench_adapters(
    data: Path = typer.Option(..., help="Corpus folder in the ../shared/bench format."),
    pair: str = typer.Option(..., help="Drift pair name from the corpus's meta.json."),
    train_pairs: int = typer.Option(5000, help="Document pairs the adapters are fitted on."),
    kinds: Optional[str] = typer.Option(None, help="Comma-separated kinds (default: all)."),
    seed: int = typer.Option(0, help="Seed of the query order, training sample and fits."),
    logged_queries: str = typer.Option(
        "0", help="Logged queries the adapters learn from (no labels); comma-separated "
                  "counts run one after the other, e.g. 0,50,200,1000."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the result here."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every fitting step."),
) -> None:
    """Adapter quality (Recall@10, MRR@10, recovery, predicted recovery and its interval)
    and speed, under the disjoint protocol (benchmarks/README.md)."""
    from qdrant_drift_bench.adapters import run_adapter_bench_series

    kind_list = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else None
    # Progress as plain log lines, not a live spinner: a spinner's refresh thread competes
    # for the GIL and would distort the microsecond timings this command takes.

    def log(message: str) -> None:
        if verbose:
            console.log(message)

    try:
        result = run_adapter_bench_series(
            str(data), pair, logged_queries=_counts(logged_queries, "--logged-queries"),
            train_pairs=train_pairs, kinds=kind_list, seed=seed, log=log,
            progress=console.log,
        )
    except (DriftError, ValueError) as exc:
        _fail(exc)
    for run in result.get("runs", [result]):
        console.print(adapter_bench_table(run))
    _write_json(json_path, result)


@bench_app.command("standins")
def bench_standins(
    data: Path = typer.Option(..., help="Corpus folder in the ../shared/bench format."),
    pair: str = typer.Option(..., help="Drift pair name from the corpus's meta.json."),
    kind: str = typer.Option("auto", help="Adapter kind."),
    logged_queries: int = typer.Option(200, help="Logged queries (no labels) the adapter "
                                                  "and its pre-flight learn from."),
    train_pairs: int = typer.Option(5000, help="Document pairs the adapter is fitted on."),
    seed: int = typer.Option(0, help="Seed of the query order, training sample and fit."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the result here."),
) -> None:
    """How far a label-free pre-flight can see: the measured recovery split into what the
    new model's own answers can estimate and what they cannot, against stand-in answers
    of growing reach (benchmarks/README.md)."""
    from qdrant_drift_bench.standins import run_standins_bench

    try:
        result = run_standins_bench(str(data), pair, kind=kind, logged_queries=logged_queries,
                                    train_pairs=train_pairs, seed=seed, log=console.log)
    except (DriftError, ValueError) as exc:
        _fail(exc)
    measured = result["measured"]
    console.print(
        f"{result['corpus']} / {result['pair']}, {result['chosen']}, "
        f"{result['logged_queries']} logged and {result['test_queries']} test queries: "
        f"measured recovery {measured['recovery']:.3f} = "
        f"{measured['found_where_native_finds']:.3f} (answers the new model finds) + "
        f"{measured['invisible_to_stand_ins']:.3f} (answers it misses, found through the "
        "old vectors: no stand-in answer sees these)")
    table = Table(title="stand-in answer: the new model's first among ...")
    for column in ("among", "queries", "Recall@10 recovery", "minus measured"):
        table.add_column(column, justify="right")
    labels = {"preflight": ("held-out documents (the pre-flight)", "logged"),
              "fit_sample": ("the whole fit sample", "logged"),
              "corpus": ("the whole corpus (no pre-flight has it)", "logged"),
              "corpus_on_test_queries": ("the whole corpus", "test")}
    for name, (among, queries) in labels.items():
        value = result["stand_in"][name]
        if value is not None:
            table.add_row(among, queries, _fmt(value), f"{result['stand_in_error'][name]:+.3f}")
    console.print(table)
    labelled = result["labelled"]
    if labelled is not None:
        console.print(
            f"an unbiased estimate from {labelled['queries']} queries WITH their real "
            f"answers, against this measurement ({labelled['draws']} draws): error "
            f"{labelled['error_low']:+.3f} to {labelled['error_high']:+.3f} (95%), within "
            f"0.02 in {labelled['within_tolerance']:.0%} of draws")
    _write_json(json_path, result)


@bench_app.command("router")
def bench_router(
    data: Path = typer.Option(..., help="Corpus folder in the ../shared/bench format."),
    pair: str = typer.Option(..., help="Drift pair name from the corpus's meta.json."),
    train_pairs: int = typer.Option(5000, help="Document pairs the adapter is fitted on."),
    kind: str = typer.Option("auto", help="Adapter kind."),
    queries: int = typer.Option(100, help="Test queries routed through DriftClient "
                                          "(0 = all; embedded Qdrant is slow)."),
    steps: int = typer.Option(11, help="Coverage points from 0 to 100%."),
    seed: int = typer.Option(0),
    hit_depth: int = typer.Option(50, help="Deep hit sampling of the serving replicas "
                                           "(DriftClient hit_depth); 0 = returned hits only."),
    baseline: Optional[Path] = typer.Option(
        None, help="An earlier run's --json: compare routed recall with it query by query "
                   "(all test queries, same corpus, pair and seed)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the result here."),
) -> None:
    """Recall@10 over backfill coverage: adapted-only, native-only, routed (calibrated and
    not), full re-embed; then hot-first backfill under Zipf traffic."""
    from qdrant_drift_bench.paired import load_baseline, not_worse_at_any_step, paired_change
    from qdrant_drift_bench.router import PROTOCOL, coverage_points, run_router_bench

    try:
        earlier = None if baseline is None else load_baseline(baseline, {
            "pair": pair, "seed": seed, "coverage": coverage_points(max(steps, 2)),
            "protocol": PROTOCOL})
        result = run_router_bench(str(data), pair, train_pairs=train_pairs, kind=kind,
                                  seed=seed, n_queries=queries or None,
                                  coverage_steps=steps, hit_depth=hit_depth, log=console.log)
    except (DriftError, ValueError) as exc:
        _fail(exc)
    rnd = result["random"]
    table = Table(title=f"{result['corpus']} / {result['pair']}: Recall@10 over coverage "
                        f"({result.get('queries_used', '?')} queries routed, adapter "
                        f"{result.get('chosen_kind', kind)}; full re-embed "
                        f"{result['full_reembed']:.3f})")
    for column in ("coverage", "adapted only", "native only", "routed", "uncalibrated",
                   "weighted: sweep", "mixed", "hot-first"):
        table.add_column(column, justify="right")
    orders = result["orders_weighted"]
    for i, c in enumerate(result["coverage"]):
        table.add_row(f"{c:.0%}", _fmt(rnd["adapted_only"][i]), _fmt(rnd["native_only"][i]),
                      _fmt(rnd["routed"][i]), _fmt(rnd["routed_uncalibrated"][i]),
                      _fmt(orders["sweep"][i]), _fmt(orders["mixed"][i]),
                      _fmt(orders["hot_first"][i]))
    console.print(table)
    every = result["all_queries"]
    console.print("over-fetch against the filtered plan it replaced, all "
                  f"{every['n']} queries (emulated), gained/lost per step: "
                  + " ".join(f"+{row['gained']}/-{row['lost']}"
                             for row in every["overfetch_vs_filtered"])
                  + "; lost other than by a tie: "
                  + " ".join(str(n) for n in every["overfetch_lost_beyond_ties"]))
    if earlier is None:
        _write_json(json_path, result)
        return
    try:
        compared = paired_change(earlier, result)
    except ValueError as exc:
        _write_json(json_path, result)  # the run itself stands
        _fail(exc)
    result["paired_vs_baseline"] = {"baseline": str(baseline), "steps": compared,
                                    "not_worse_at_any_step": not_worse_at_any_step(compared)}
    console.print(paired_table(compared, every["n"]))
    _write_json(json_path, result)


def paired_table(compared: list[dict[str, Any]], n_queries: int) -> Table:
    table = Table(title=f"routed against the baseline, all {n_queries} test queries (emulated):"
                        " queries gained and lost, exact sign test, 95% interval of the change")
    for column in ("coverage", "baseline", "this run", "gained", "lost", "p", "change",
                   "verdict"):
        table.add_column(column, justify="right")
    for row in compared:
        table.add_row(f"{row['coverage']:.0%}", _fmt(row["baseline"], 4), _fmt(row["recall"], 4),
                      str(row["gained"]), str(row["lost"]), _fmt(row["p_value"]),
                      f"{row['change_low']:+.4f} .. {row['change_high']:+.4f}", row["verdict"])
    return table


@bench_app.command("latency")
def bench_latency(
    points: str = typer.Option("5000", help="Points in the embedded collection; comma-"
                                            "separated sizes run one after the other, e.g. "
                                            "5000,20000."),
    dim: int = typer.Option(384, help="Vector dimension."),
    queries: int = typer.Option(300, help="Queries per plan."),
    kind: str = typer.Option("procrustes", help="Adapter kind on the query path."),
    layout: str = typer.Option("named", help="Where the new vectors go: named (a vector "
                                             "next to the legacy one) or collection "
                                             "(blue-green)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the result here."),
) -> None:
    """Plain client vs DriftClient per plan, interleaved: latency ratio and wrapper's own time."""
    from qdrant_drift_bench.latency import run_latency_series

    try:
        result = run_latency_series(_counts(points, "--points", minimum=1), dim=dim,
                                    n_queries=queries, kind=kind, layout=layout,
                                    log=console.log)
    except (DriftError, ValueError) as exc:
        _fail(exc)
    table = Table(title=f"DriftClient overhead, {result['mode']}, {layout} layout, {dim}-d, "
                        f"k={result['limit']}, adapter {result['adapter_kind']}")
    for column in ("points", "plan", "plain ms p50", "wrapped ms p50", "ratio",
                   "wrapper's own us p50", "around embedded us p50"):
        table.add_column(column, justify="left" if column == "plan" else "right")
    for size, run in result["by_points"].items():
        for plan, row in run["plans"].items():
            table.add_row(size, plan, _fmt(row["plain_ms_p50"], 2),
                          _fmt(row["wrapped_ms_p50"], 2), _fmt(row["ratio"], 3),
                          _fmt(row["wrapper_us_p50"], 1), _fmt(row["embedded_own_us_p50"], 1))
    console.print(table)
    _write_json(json_path, result)


@bench_app.command("backfill")
def bench_backfill(
    data: Optional[Path] = typer.Option(None, help="A bench corpus (docs.jsonl, vectors/); "
                                                   "default: a generated text corpus."),
    items: int = typer.Option(2000, help="Items re-embedded by each side."),
    embedder: str = typer.Option("all-MiniLM-L6-v2", help="A sentence-transformers model "
                                 "(name or path), 'package.module:callable', or 'fast' (a "
                                 "near-free embedder: what a GPU looks like from the worker)."),
    batch_size: int = typer.Option(64, help="Items per batch, both sides."),
    rounds: int = typer.Option(2, help="Runs of each side, in alternating order."),
    engines: str = typer.Option("raw,bare,worker", help="Sides to run, comma-separated: raw, "
                                "bare, worker, ray (the Ray Data engine, the 'ray' extra)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the result here."),
) -> None:
    """Backfill worker (and the Ray engine) vs bare loops (plain update_vectors, and the
    worker's own conditional writes): items/s, ratios, and where the worker's time goes."""
    from qdrant_drift_bench.backfill import fast_embedder, run_backfill_bench
    from qdrant_drift_bench.data import load_texts
    from ..embedders import CallableEmbedder, load_callable
    from ..lifecycle.facade import sentence_transformer

    try:
        factory: Any = (functools.partial(sentence_transformer, embedder, batch_size=batch_size)
                        if embedder != "fast" and ":" not in embedder else None)
        model = (fast_embedder if embedder == "fast"
                 else CallableEmbedder(load_callable(embedder)) if ":" in embedder
                 else factory())
        sides = [side.strip() for side in engines.split(",") if side.strip()]
        if "ray" in sides:
            require("ray")
        if data is not None:
            texts = load_texts(data, items)
            old = np.load(data / "vectors" / "minilm_l3.docs.npy")[: len(texts)].astype(np.float32)
        else:
            texts = [f"item {i}: " + " ".join(f"word{(i * 7 + j) % 997}" for j in range(40))
                     for i in range(items)]
            old = np.random.default_rng(0).normal(size=(items, 64)).astype(np.float32)
        result = run_backfill_bench(texts, old, model, batch_size=batch_size, rounds=rounds,
                                    log=console.log, engines=sides, embedder_factory=factory)
    except (DriftError, ValueError) as exc:
        _fail(exc)
    result["embedder"] = embedder
    table = Table(title=f"backfill throughput, {result['items']} items, batch "
                        f"{batch_size}, embedder {embedder}, {rounds} rounds (medians)")
    cells = [(f"{side} items/s", result[f"{side}_items_per_s"], 1) for side in sides]
    cells += [(f"{a} / {b}", result[f"{a}_vs_{b}"], 3) for a, b in (
        ("worker", "raw"), ("worker", "bare"), ("ray", "worker"), ("ray", "bare"))
        if f"{a}_vs_{b}" in result]
    if "ray_first_write_s" in result:
        cells += [("ray first write s", result["ray_first_write_s"], 1),
                  ("ray items/s after it", result["ray_after_first_items_per_s"], 1)]
    for column, _, _ in cells:
        table.add_column(column, justify="right")
    table.add_row(*(_fmt(value, digits) for _, value, digits in cells))
    console.print(table)
    if "worker_breakdown" not in result:
        _write_json(json_path, result)
        return
    breakdown = Table(title="where the worker's time went (median run, seconds)")
    breakdown.add_column("part")
    breakdown.add_column("seconds", justify="right")
    for part, seconds in result["worker_breakdown"].items():
        breakdown.add_row(part, _fmt(seconds, 3))
    console.print(breakdown)
    _write_json(json_path, result)


@bench_app.command("chaos")
def bench_chaos(
    data: Path = typer.Option(Path("../shared/bench/debian"), help="A bench corpus."),
    pair: str = typer.Option("depth", help="Drift pair (its new-model vectors are the model)."),
    docs: int = typer.Option(4000, help="Documents migrated in each scenario."),
    kills: int = typer.Option(20, help="kill -9 of the worker, restarted each time."),
    operations: int = typer.Option(2000, help="App writes racing the worker."),
    fault_rate: float = typer.Option(0.1, help="Share of Qdrant calls that fail."),
    threads: int = typer.Option(4, help="Query threads during backfill, cut-over, rollback."),
    batch_size: int = typer.Option(32),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the result here."),
) -> None:
    """Crashes, races, faults, load and bad input against a real migration: what was lost."""
    from qdrant_drift_bench.chaos import run_chaos_bench

    result = run_chaos_bench(data, pair=pair, docs=docs, kills=kills, operations=operations,
                             fault_rate=fault_rate, threads=threads, batch_size=batch_size,
                             log=console.log)
    table = Table(title=f"chaos on {result['docs']} {data.name} documents ({pair}), "
                        f"batch {batch_size}: what was tried, what was lost")
    for column in ("scenario", "tried", "outcome"):
        table.add_column(column)
    table.add_row("kill -9 + restart", f"{result['kills']} kills",
                  f"lost {result['lost']}, stale {result['stale']}, "
                  f"batches redone {result['batches_redone']}")
    table.add_row("app writes racing the worker", f"{result['operations']} operations",
                  f"clobbered {result['clobbered']}, resurrected {result['resurrected']}")
    table.add_row("transient faults", f"{result['faults_injected']} injected",
                  f"lost {result['fault_lost']}, query errors not from an injected fault "
                  f"{result['query_errors_from_wrapper']}")
    phases = ", ".join(f"{k} {v['p50_ms']:.1f}/{v['p99_ms']:.1f} ms"
                       for k, v in result["phases"].items())
    table.add_row("query load through phases", f"{threads} threads",
                  f"errors {result['query_errors']}, wrong-size results "
                  f"{result['wrong_size_results']}; p50/p99: {phases}")
    table.add_row("bad input", f"{result['bad_inputs_tried']} kinds",
                  f"{result['bad_inputs_clear_error']} clear errors, "
                  f"{result['bad_inputs_nothing_written']} wrote nothing")
    console.print(table)
    _write_json(json_path, result)


def demo(
    workdir: Path = typer.Option(Path(".drift-demo"), help="Where the embedded Qdrant lives "
                                 "(recreated on every run)."),
    migration: Optional[Path] = typer.Option(
        None, exists=True, help="The migration file the demo runs (default: the bundled "
        "copy of migrations/example.toml, so the demo runs from any folder)."),
    docs: int = typer.Option(1000, help="At most this many documents."),
    queries: int = typer.Option(150, help="Test queries."),
) -> None:
    """A real model upgrade end to end on embedded Qdrant: legacy index (3-layer MiniLM),
    adapter, serving while the backfill runs, cut-over; quality and time at every stage."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from qdrant_drift_bench.demo.run import DEMO_MIGRATION, run_demo

    with Progress(TextColumn("      {task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeRemainingColumn(),
                  console=console, transient=True) as bars:
        tasks: dict[str, Any] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bars.add_task(f"embedding with the {label}", total=total)
            bars.update(tasks[label], completed=done, total=total)

        try:
            result = run_demo(workdir, migration or DEMO_MIGRATION, n_docs=docs, n_queries=queries,
                              say=console.print, progress=progress)
        except DriftError as exc:
            _fail(exc)
    final = result.stages[-1].recall
    table = Table(title=f"model upgrade on {result.docs} stdlib docstrings, {result.queries} "
                        f"queries: Recall@10 (full re-embed = after cut-over = {final:.3f})")
    for column in ("stage", "plan", "Recall@10", "vs full re-embed", "at (s from start)"):
        table.add_column(column, justify="left" if column in ("stage", "plan") else "right")
    table.add_row("old model (before)", "-", _fmt(result.old_recall),
                  _fmt(result.old_recall / final if final else None), "-")
    for stage in result.stages:
        table.add_row(stage.name, stage.plan, _fmt(stage.recall),
                      _fmt(stage.recall / final if final else None), _fmt(stage.seconds, 0))
    console.print(table)
    t = result.timings
    if t["fit"] < t["backfill"]:
        versus = (f"a full re-embed before serving would have left new-model search "
                  f"unavailable for the backfill's {t['backfill']:.0f} s instead of the fit's "
                  f"{t['fit']:.0f} s")
    else:
        versus = (f"here the fit ({t['fit']:.0f} s) took longer than the backfill "
                  f"({t['backfill']:.0f} s): on a corpus this small, fitting (auto tries each "
                  "kind of adapter) costs more than embedding the rest, but the fit's cost is "
                  "fixed, while a re-embed before serving grows with the corpus")
    console.print(
        f"new-model queries served {result.stages[0].seconds:.0f} s after the start "
        f"(legacy index {t['legacy index']:.0f} s + fit {t['fit']:.0f} s); {versus}. "
        f"Total {t['total']:.0f} s.")
