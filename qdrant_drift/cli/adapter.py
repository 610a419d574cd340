"""``qdrant-drift adapter fit|inspect``: adapters from paired vectors, and their reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import typer

from ..adapters.cost import DEFAULT_MAX_TRANSFORM_US
from ..adapters.quality import drastic_figures
from ..errors import DriftError
from .output import console, fail as _fail, styled

adapter_app = typer.Typer(no_args_is_help=True, help="Fit and inspect adapters.")


@adapter_app.command("fit")
def adapter_fit(
    new: Path = typer.Option(..., help=".npy of new-model vectors (n, d_new)."),
    old: Path = typer.Option(..., help=".npy of old-model vectors of the same items (n, d_old)."),
    out: Path = typer.Option(..., help="Where to write the adapter (.safetensors)."),
    kind: str = typer.Option("auto", help="Adapter kind, or auto to pick by held-out retrieval."),
    new_model: Optional[str] = typer.Option(None, help="Identifier of the new model."),
    old_model: Optional[str] = typer.Option(None, help="Identifier of the old model."),
    distance: str = typer.Option(
        "cosine", help="cosine, dot, euclid or manhattan, as the collection uses."),
    seed: int = typer.Option(0),
    queries: Optional[Path] = typer.Option(
        None, help=".npy of logged queries by the new model (no labels): they choose the "
                   "adapter and ground the pre-flight."),
    old_queries: Optional[Path] = typer.Option(
        None, help=".npy of the same queries by the old model (row for row), if available."),
    max_transform_us: float = typer.Option(
        DEFAULT_MAX_TRANSFORM_US, min=0.001,
        help="Per-query budget of the adapter in microseconds (one query, p50, timed here): "
             "auto passes over kinds that cost more."),
) -> None:
    """Fit an adapter from paired vectors and print its pre-flight quality report."""
    from ..adapters import fit

    with console.status(f"fitting {kind}") as status:
        try:
            adapter = fit(
                kind, np.load(new), np.load(old), new_model=new_model, old_model=old_model,
                distance=distance, seed=seed, log=status.update,  # type: ignore[arg-type]
                queries=None if queries is None else np.load(queries),
                old_queries=None if old_queries is None else np.load(old_queries),
                max_transform_us=max_transform_us,
            )
        except (DriftError, ValueError, OSError) as exc:
            _fail(exc)
    adapter.save(str(out))
    console.print(f"wrote {out}: {adapter!r}")
    print_report(adapter.info)


# An interval wider than this says the held-out sample cannot tell a good adapter from a bad
# one: said in words, not left as "0.000-1.000" beside a figure that looks like a prediction.
WIDE_INTERVAL = 0.5


def print_report(info: dict[str, Any], more_pairs: str = "fit on more pairs") -> None:
    """The pre-flight report, or why there is none; ``more_pairs``: how to fit on more."""
    print_costs(info)
    quality = info.get("quality")
    if not quality:
        console.print(_no_report(info, more_pairs))
        return
    console.print(
        f"pre-flight: predicted Recall@10 recovery {quality['predicted_recall_recovery']:.3f}"
        f"{_interval(quality, 'recall')}, MRR@10 recovery "
        f"{quality['predicted_mrr_recovery']:.3f}{_interval(quality, 'mrr')} "
        f"({quality['heldout_pairs']} held-out documents; {_basis(quality)})"
    )
    low, high = quality.get("predicted_recall_low"), quality.get("predicted_recall_high")
    if low is not None and high is not None and high - low > WIDE_INTERVAL:
        console.print(styled("note:", "bold yellow",
                             f" the interval spans {high - low:.2f} of recovery: "
                             f"{quality['heldout_pairs']} held-out documents tell little "
                             f"about this adapter ({more_pairs} to narrow it)"))
    if quality.get("drastic_drift"):
        console.print(styled("drastic drift", "bold yellow",
                             f" ({drastic_figures(quality)}): {quality['advice']}"))


def _no_report(info: dict[str, Any], more_pairs: str) -> str:
    """Why an adapter has no pre-flight report: the pairs it needs (``fit`` records them
    when it had fewer), else ``holdout=0`` or a file from before that record."""
    needed = info.get("preflight_pairs")
    if needed is None:
        return "no pre-flight report (too few pairs, or none held out)"
    return (f"no pre-flight report: it needs at least {needed} pairs, the fit sample has "
            f"{info.get('pairs')} ({more_pairs})")


def print_costs(info: dict[str, Any]) -> None:
    """What each kind auto considered costs per query, and which it passed over for it."""
    auto = info.get("auto")
    if auto and "transform_us" in auto:
        budget = info.get("max_transform_us")
        console.print("auto: held-out score = Recall@10 of adapted search over documents the "
                      "fit did not use, plus a tie-break (MRR@10) worth less than one query")
        for kind, us in auto["transform_us"].items():
            verdict = (f"passed over: more than {budget:g} us" if kind in auto["passed_over"]
                       else "chosen" if kind == auto["chosen"] else "")
            console.print(f"auto: {kind} held-out score {auto['scores'][kind]:.4f}, "
                          f"transform {us:.1f} us p50" + (f" ({verdict})" if verdict else ""))
        better = [k for k in auto["passed_over"]
                  if auto["scores"][k] > auto["scores"].get(auto["chosen"], float("inf"))]
        if better:
            console.print(styled(
                "note:", "bold yellow",
                f" {', '.join(better)} scored higher than {auto['chosen']} but measured over "
                f"the {budget:g} us budget. Timings run high on a busy machine: fit again "
                "when it is quiet, or raise max_transform_us if queries can afford it."))
    if "transform_us_p50" in info:
        console.print(f"transform: {info['transform_us_p50']:.1f} us p50 per query here")


def _interval(quality: dict[str, Any], name: str) -> str:
    low, high = quality.get(f"predicted_{name}_low"), quality.get(f"predicted_{name}_high")
    return "" if low is None or high is None else f" (95% interval {low:.3f}-{high:.3f})"


def _basis(quality: dict[str, Any]) -> str:
    if quality.get("basis") == "logged_queries":
        return f"estimated from {quality['logged_queries']} logged queries"
    return "estimated from documents only: pass logged queries for a tighter estimate"


@adapter_app.command("inspect")
def adapter_inspect(path: Path) -> None:
    """Show an adapter file's kind, fingerprint and pre-flight report."""
    from ..adapters import load_adapter

    try:
        adapter = load_adapter(path)
    except DriftError as exc:
        _fail(exc)
    console.print(repr(adapter))
    console.print(f"fingerprint {adapter.fingerprint.digest}, fitted on "
                  f"{adapter.info.get('pairs')} pairs")
    print_report(adapter.info)
