"""The command line: benchmark JSON schema, fit/inspect, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from qdrant_drift.cli.app import app

from .synthetic import (
    drifted_pairs, random_orthogonal, topic_only_pairs, unit, write_bench_corpus)

runner = CliRunner()

ADAPTER_ROW_KEYS = {"kind", "recall_at_10", "mrr_at_10", "recovery", "predicted_recovery",
                    "predicted_low", "predicted_high", "fit_seconds", "transform_us_p50",
                    "gemv_us_p50"}


def test_bench_adapters_writes_the_documented_schema(tmp_path):
    corpus = write_bench_corpus(tmp_path / "corpus")
    out = tmp_path / "result.json"
    result = runner.invoke(app, [
        "bench", "adapters", "--data", str(corpus), "--pair", "rot", "--train-pairs", "800",
        "--kinds", "procrustes,affine", "--json", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "full re-embed" in result.output and "procrustes" in result.output
    payload = json.loads(out.read_text())
    assert payload["corpus"] == "synthetic" and payload["pair"] == "rot"
    assert payload["train_pairs"] == 800
    for key in ("old_baseline", "full_reembed"):
        assert set(payload[key]) == {"recall_at_10", "mrr_at_10"}
    assert [row["kind"] for row in payload["adapters"]] == ["procrustes", "affine"]
    for row in payload["adapters"]:
        assert ADAPTER_ROW_KEYS <= set(row)
        assert 0.0 <= row["recall_at_10"] <= 1.0
    assert payload["auto"]["chosen"] in {"procrustes", "affine"}
    assert {"chosen", "recovery", "predicted_recovery", "predicted_low",
            "predicted_high", "transform_us_p50", "considered_us",
            "passed_over"} <= set(payload["auto"])
    assert payload["auto"]["transform_us_p50"] > 0
    assert set(payload["auto"]["considered_us"]) == {"procrustes", "affine"}
    assert payload["protocol"] == "disjoint"
    assert payload["logged_queries"] == 0 and payload["test_queries"] == 100
    # the synthetic drift is a rotation: an adapter must recover nearly all of it
    assert max(row["recovery"] for row in payload["adapters"]) > 0.9


def test_bench_adapters_runs_one_table_per_number_of_logged_queries(tmp_path):
    corpus = write_bench_corpus(tmp_path / "corpus")
    out = tmp_path / "result.json"
    result = runner.invoke(app, [
        "bench", "adapters", "--data", str(corpus), "--pair", "rot", "--train-pairs", "600",
        "--kinds", "procrustes", "--logged-queries", "0,50", "--json", str(out),
    ])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert [run["logged_queries"] for run in payload["runs"]] == [0, 50]
    assert [run["test_queries"] for run in payload["runs"]] == [100, 75]
    assert [r["prediction_basis"] for r in payload["runs"][1]["adapters"]] == ["logged_queries"]
    assert payload["logged_queries"] == 0  # the top level is the first run, today's schema


def test_the_disjoint_protocol_never_trains_on_a_test_querys_answer():
    from qdrant_drift_bench.adapters import disjoint_split

    rng = np.random.default_rng(0)
    relevant = rng.choice(3000, 400, replace=False)
    split = disjoint_split(400, relevant, 3000, logged_queries=100, train_pairs=2000, seed=4)
    assert len(split.logged) == 100 and len(split.test) == 150
    assert not set(split.logged) & set(split.test)
    assert not set(relevant[split.test]) & set(split.train_docs)
    assert len(set(split.train_docs)) == 2000


def test_bench_adapters_unknown_pair_is_a_clear_error(tmp_path):
    corpus = write_bench_corpus(tmp_path / "corpus")
    result = runner.invoke(app, ["bench", "adapters", "--data", str(corpus), "--pair", "nope"])
    assert result.exit_code == 2
    assert "unknown pair 'nope'" in result.output


def test_adapter_fit_then_inspect(tmp_path):
    new, old, _ = drifted_pairs(600, 16, 16, noise=0.01)
    np.save(tmp_path / "new.npy", new)
    np.save(tmp_path / "old.npy", old)
    out = tmp_path / "a.safetensors"
    fitted = runner.invoke(app, [
        "adapter", "fit", "--new", str(tmp_path / "new.npy"), "--old", str(tmp_path / "old.npy"),
        "--out", str(out), "--kind", "procrustes", "--new-model", "n", "--old-model", "o",
    ])
    assert fitted.exit_code == 0, fitted.output
    assert "pre-flight" in fitted.output
    shown = runner.invoke(app, ["adapter", "inspect", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "procrustes" in shown.output and "predicted Recall@10 recovery" in shown.output
    assert "estimated from documents only" in shown.output


def test_adapter_fit_with_auto_says_what_each_kind_costs_and_what_the_budget_passed_over(
        tmp_path):
    new, old, _ = drifted_pairs(600, 16, 16, noise=0.01)
    np.save(tmp_path / "new.npy", new)
    np.save(tmp_path / "old.npy", old)
    fitted = runner.invoke(app, [
        "adapter", "fit", "--new", str(tmp_path / "new.npy"), "--old", str(tmp_path / "old.npy"),
        "--out", str(tmp_path / "a.safetensors"), "--kind", "auto",
        "--max-transform-us", "0.001",  # nothing fits: every kind is passed over
    ])
    assert fitted.exit_code == 0, fitted.output
    assert "passed over: more than 0.001 us" in fitted.output
    assert "transform:" in fitted.output and "us p50 per query here" in fitted.output


def test_a_better_kind_passed_over_for_its_cost_is_pointed_out_with_the_way_to_keep_it(
        capsys):
    from qdrant_drift.cli.adapter import print_costs

    print_costs({"max_transform_us": 100.0, "transform_us_p50": 12.0, "auto": {
        "chosen": "procrustes", "passed_over": ["whitened"],
        "scores": {"procrustes": 0.61, "whitened": 0.74},
        "transform_us": {"procrustes": 12.0, "whitened": 104.0}}})
    shown = " ".join(capsys.readouterr().out.split())
    assert "whitened scored higher than procrustes but measured over the 100 us budget" in shown
    assert "fit again when it is quiet, or raise max_transform_us" in shown
    assert "held-out score = Recall@10 of adapted search over documents the fit did not use" \
        in shown  # a score of 1.0164 is not a mystery


@pytest.mark.parametrize("low, high, noted", [(0.0, 1.0, True), (0.70, 0.85, False)])
def test_an_interval_too_wide_to_tell_is_said_in_words(capsys, low, high, noted):
    from qdrant_drift.cli.adapter import print_report

    print_report({"quality": {
        "predicted_recall_recovery": 0.6, "predicted_recall_low": low,
        "predicted_recall_high": high, "predicted_mrr_recovery": 0.5, "heldout_pairs": 25,
        "basis": "documents"}}, "raise [adapter] sample_size")
    shown = " ".join(capsys.readouterr().out.split())
    said = ("the interval spans 1.00 of recovery: 25 held-out documents tell little about this "
            "adapter (raise [adapter] sample_size to narrow it)")
    assert (said in shown) is noted


def test_status_of_an_abandoned_migration_says_whose_its_dead_letters_are():
    from rich.console import Console

    from qdrant_drift.cli.lifecycle import status_table
    from qdrant_drift.lifecycle.progress import Progress

    console = Console(record=True, width=200, markup=False)
    console.print(status_table(Progress(name="m", collection="docs", layout="named",
                                        phase="abandoned", plan="passthrough", migrated=0,
                                        total=300, dead_letters=20)))
    line = next(row for row in console.export_text().splitlines() if "dead letters" in row)
    assert " ".join(line.replace("│", " ").split()) == (
        "dead letters 20 (the abandoned run's; a new fit starts without them)")


def test_the_drastic_drift_line_shows_the_figures_its_verdict_rests_on(capsys):
    from qdrant_drift.adapters.maps import LinearMap
    from qdrant_drift.adapters.quality import preflight_report
    from qdrant_drift.cli.adapter import print_report

    # a wrong map: adapted queries predicted below the old model's own
    new, old, _ = drifted_pairs(300, 32, 32)
    wrong = preflight_report(LinearMap(weight=random_orthogonal(np.random.default_rng(5), 32, 32),
                                       bias=np.zeros(32, np.float32)), new, old)
    print_report({"quality": wrong})
    shown = " ".join(capsys.readouterr().out.split())
    assert (f"drastic drift (predicted Recall@10 recovery {wrong['predicted_recall_recovery']:.3f}"
            f" adapted, {wrong['old_model_recovery']:.3f} with the old model's own queries): "
            "Adapted queries are predicted to search the legacy vectors worse") in shown
    # a map that keeps topics but loses items (the legacy model saw 3 of 32 directions)
    lost = preflight_report(*topic_only_pairs())
    print_report({"quality": lost})
    shown = " ".join(capsys.readouterr().out.split())
    assert (f"drastic drift ({lost['identity_preservation']:.1%} of held-out documents find "
            "their own legacy vector first through the adapter, under 90%): The adapter loses "
            "item identity") in shown


def test_adapter_fit_takes_logged_queries_and_says_the_report_rests_on_them(tmp_path):
    new, old, true_map = drifted_pairs(600, 16, 16, noise=0.01)
    np.save(tmp_path / "new.npy", new)
    np.save(tmp_path / "old.npy", old)
    queries = new[:80] + 0.2 * np.random.default_rng(1).normal(size=(80, 16)).astype(np.float32)
    np.save(tmp_path / "q.npy", queries)
    np.save(tmp_path / "q_old.npy", queries @ true_map)
    fitted = runner.invoke(app, [
        "adapter", "fit", "--new", str(tmp_path / "new.npy"), "--old", str(tmp_path / "old.npy"),
        "--out", str(tmp_path / "a.safetensors"), "--kind", "procrustes",
        "--queries", str(tmp_path / "q.npy"), "--old-queries", str(tmp_path / "q_old.npy"),
    ])
    assert fitted.exit_code == 0, fitted.output
    assert "estimated from 80 logged queries" in fitted.output and "95% interval" in fitted.output


def test_inspect_of_a_corrupt_file_fails_cleanly(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nonsense")
    result = runner.invoke(app, ["adapter", "inspect", str(bad)])
    assert result.exit_code == 2
    assert "error" in result.output


def test_messages_keep_their_bracketed_text(tmp_path):
    """Rich markup is off: TOML sections and keys in brackets reach the user as written."""
    scaffolded = runner.invoke(app, ["init", str(tmp_path / "m.toml"), "--name", "m", "--collection", "docs",
                                    "--new-vector", "v2"])
    assert scaffolded.exit_code == 0, scaffolded.output
    assert "[embedder]" in scaffolded.output and "[source]" in scaffolded.output
    typo = tmp_path / "typo.toml"
    typo.write_text((tmp_path / "m.toml").read_text().replace("[router]", "[routr]"))
    refused = runner.invoke(app, ["plan", str(typo), "--path", str(tmp_path / "q")])
    assert refused.exit_code == 2
    assert "[routr]" in refused.output or "'routr'" in refused.output


def test_init_takes_the_vectors_and_models_and_says_why_it_chose_blue_green(tmp_path):
    target = tmp_path / "m.toml"
    result = runner.invoke(app, ["init", str(target), "--name", "m", "--collection", "docs",
                                 "--new-vector", "", "--old-model", "org/old",
                                 "--new-model", "org/new"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "blue-green" in said and "not wrapped" in said
    text = target.read_text()
    assert 'layout = "collection"' in text and 'old_model = "org/old"' in text
    assert 'model = "org/new"' in text
    named = runner.invoke(app, ["init", str(tmp_path / "n.toml"), "--name", "n", "--collection",
                                "docs", "--new-vector", "v2", "--old-vector", "v1"])
    assert named.exit_code == 0 and "blue-green" not in named.output
    assert 'layout = "named"' in (tmp_path / "n.toml").read_text()
    bad = runner.invoke(app, ["init", str(tmp_path / "b.toml"), "--name", "b", "--collection",
                              "docs", "--new-vector", "v2", "--layout", "blue"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert not (tmp_path / "b.toml").exists()


def test_status_shows_the_prediction_with_its_basis_and_flags_contradicting_shadows():
    from rich.console import Console

    from qdrant_drift.cli.lifecycle import status_table
    from qdrant_drift.lifecycle.progress import Progress

    snapshot = Progress(
        name="m", collection="docs", layout="named", phase="backfilling", plan="hybrid",
        migrated=250, total=1000, predicted_recovery=0.7, predicted_recovery_low=0.6,
        predicted_recovery_high=0.8, prediction_basis="logged_queries",
        shadow_agreement={"hybrid->native": 0.88, "adapted->hybrid": 0.9},
        predicted_agreement_low=0.6, predicted_agreement_high=0.7)
    console = Console(record=True, width=200, markup=False)
    console.print(status_table(snapshot))
    text = console.export_text()
    assert "0.700 (0.600-0.800, from logged queries)" in text
    assert "hybrid->native 0.88 OUTSIDE the predicted 0.70-" in text
    assert "adapted->hybrid 0.90," in text  # 0.90-0.925 expected at 25% coverage: inside


@pytest.mark.parametrize("verdict, advice, phase, shows", [
    (None, None, "fitted", "drastic drift - (no pre-flight report)"),
    (False, None, "fitted", "drastic drift no"),
    (True, "keep old-model queries on the legacy side", "fitted",
     "drastic drift yes: keep old-model queries on the legacy side"),
    # the advice is for serving adapted queries: once native serves, the verdict alone
    (True, "keep old-model queries on the legacy side", "cut-over", "drastic drift yes"),
    (True, "keep old-model queries on the legacy side", "finished", "drastic drift yes"),
    (True, "keep old-model queries on the legacy side", "abandoned", "drastic drift yes"),
])
def test_status_says_the_drastic_drift_verdict_only_where_a_pre_flight_gave_one(
        verdict, advice, phase, shows):
    from rich.console import Console

    from qdrant_drift.cli.lifecycle import status_table
    from qdrant_drift.lifecycle.progress import Progress

    snapshot = Progress(name="m", collection="docs", layout="named", phase=phase,
                        plan="adapted", migrated=0, total=10, drastic_drift=verdict,
                        drastic_advice=advice)
    console = Console(record=True, width=200, markup=False)
    console.print(status_table(snapshot))
    line = next(row for row in console.export_text().splitlines() if "drastic drift" in row)
    assert " ".join(line.replace("│", " ").split()) == shows


@pytest.mark.parametrize("said, shown", [
    ("run `qdrant-drift start`, then `qdrant-drift cutover` first",
     "run `qdrant-drift start d.toml --path qd`, then `qdrant-drift cutover d.toml --path qd` "
     "first"),
    ("force it (`qdrant-drift cutover --force`, `cutover(force=True)`)",
     "force it (`qdrant-drift cutover d.toml --path qd --force`, `cutover(force=True)`)"),
    ("requeue them (`qdrant-drift dead-letters FILE --requeue`)",
     "requeue them (`qdrant-drift dead-letters d.toml --path qd --requeue`)"),
    ("`qdrant-drift fit --queries FILE`", "`qdrant-drift fit d.toml --path qd --queries FILE`"),
    ("`qdrant-drift backfill --worker-id w1`: it",
     "`qdrant-drift backfill d.toml --path qd --worker-id w1`: it"),
    # a file named already, a command that takes none, and no command: as they were
    ("`qdrant-drift resume other.toml --path x`", "`qdrant-drift resume other.toml --path x`"),
    ("`qdrant-drift init` and `qdrant-drift demo`", "`qdrant-drift init` and `qdrant-drift demo`"),
    ("the migration is finished", "the migration is finished"),
])
def test_commands_an_error_names_are_given_the_file_and_store_to_paste(said, shown):
    from qdrant_drift.cli.output import pasteable
    from qdrant_drift.errors import StateError

    filled = pasteable(StateError(said), "d.toml --path qd")
    assert str(filled) == shown and isinstance(filled, StateError)


@pytest.mark.parametrize("file, path, url, grpc, pasted", [
    ("d.toml", "qd", None, False, "d.toml --path qd"),
    ("my docs.toml", "/tmp/q d", None, False, "'my docs.toml' --path '/tmp/q d'"),
    ("d.toml", None, "http://h:6333", True, "d.toml --url http://h:6333 --grpc"),
    ("d.toml", None, None, False, "d.toml"),  # the environment says where: it still will
])
def test_the_file_and_store_in_a_suggested_command_are_quoted_for_a_shell(file, path, url,
                                                                         grpc, pasted):
    from pathlib import Path

    from qdrant_drift.cli.lifecycle import _where

    assert _where(Path(file), None if path is None else Path(path), url, grpc) == pasted


@pytest.mark.parametrize("file", ["my docs.toml", "a migration file whose name is long " * 5
                                  + ".toml"])
def test_init_names_the_next_command_quoted_and_on_one_line(tmp_path, monkeypatch, file):
    # piped output is 140 columns wide: a command in a message must not be broken across lines
    monkeypatch.chdir(tmp_path)
    done = runner.invoke(app, ["init", file, "--name", "m", "--collection", "docs",
                               "--new-vector", "new"])
    command = f"`qdrant-drift plan '{file}' --path DIR`"  # plan needs to know where Qdrant is
    assert done.exit_code == 0 and any(command in line for line in done.output.splitlines())


def test_a_cli_user_sees_warnings_as_one_line_each_and_no_third_party_deprecation(capsys):
    import warnings

    from qdrant_drift.cli.output import one_line_warnings

    with one_line_warnings():
        # Ray Data's own settings raise these on every backfill: noise to whoever runs it
        warnings.warn("`use_polars` is deprecated", DeprecationWarning)
        warnings.warn("soon gone", PendingDeprecationWarning)
        warnings.warn("the adapter has no pre-flight report", UserWarning)
    said = capsys.readouterr().err
    assert said.strip() == "warning: the adapter has no pre-flight report"


@pytest.mark.parametrize("owned, others, migrated, says", [
    ({}, [("w-other", (0, 1), True)], 10, True),   # all leased elsewhere: say why it waits
    ({0: "lease"}, [("w-other", (1,), True)], 10, False),  # it has work
    ({}, [("w-other", (0, 1), False)], 10, False),  # a dead holder: taken over at once
    ({}, [("w-other", (0, 1), True)], 40, False),   # nothing left to wait for
    ({}, [("w-me", (0, 1), True)], 10, False),      # its own earlier heartbeat
])
def test_a_worker_that_waits_for_another_workers_lease_says_so_once(capsys, owned, others,
                                                                     migrated, says):
    from types import SimpleNamespace

    from qdrant_drift.backfill import BackfillOptions
    from qdrant_drift.cli.lifecycle import _say_if_waiting_for_a_lease
    from qdrant_drift.lifecycle.progress import Progress, WorkerStatus

    p = Progress(name="m", collection="docs", layout="named", phase="backfilling",
                 plan="hybrid", migrated=migrated, total=40, workers=tuple(
                     WorkerStatus(worker=w, partitions=parts, alive=alive, heartbeat_age_s=1.0)
                     for w, parts, alive in others))
    worker = SimpleNamespace(worker_id="w-me", leases=SimpleNamespace(owned=owned),
                             options=BackfillOptions())
    assert _say_if_waiting_for_a_lease(p, worker) is says
    shown = " ".join(capsys.readouterr().out.split())
    assert ("every partition is leased to another worker (w-other)" in shown) is says
    assert ("misses heartbeats for 30 s" in shown) is says


def test_a_reader_that_leaves_the_pipe_silences_the_output_but_never_stops_the_command(capsys):
    # `qdrant-drift fit ... | head`: Rich would exit 1 at the next line, a fit or a cut-over
    # stopped halfway for the sake of its log
    import os

    from qdrant_drift.cli.output import PipeTolerantConsole

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone
    stream = os.fdopen(write_end, "w")
    console = PipeTolerantConsole(file=stream, width=80)
    console.print("first line")  # raises inside Rich: no SystemExit reaches us
    console.print("second line")
    assert console.quiet
    # said once, where the user still looks: a backfill carries on out of sight
    assert capsys.readouterr().err.count("the reader of its output has gone; the rest") == 1
    stream.write("a plain write after it goes nowhere too\n")
    stream.flush()
    stream.close()


def test_the_advice_after_finish_names_a_new_file_not_the_finished_one():
    from qdrant_drift.cli.output import pasteable
    from qdrant_drift.errors import StateError
    from qdrant_drift.migration.phases import ENDED_ADVICE, Phase

    finished = pasteable(StateError(ENDED_ADVICE[Phase.FINISHED]), "docs.toml --path qd")
    assert "`qdrant-drift fit NEW_FILE`" in str(finished) and "docs.toml" not in str(finished)
    abandoned = pasteable(StateError(ENDED_ADVICE[Phase.ABANDONED]), "docs.toml --path qd")
    assert "`qdrant-drift fit docs.toml --path qd`" in str(abandoned)  # the same file may
