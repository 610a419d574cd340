"""The ``Migration`` facade: one migration file bound to one client, over the command layer.

The rules live in :mod:`qdrant_drift.lifecycle.commands`; this class binds a file (which
names the migration and says how to embed and where the text is) and a client to them, and
adds what needs the embedder: ``plan``'s measured rate, ``fit``'s sample, the backfill workers.

``plan`` (dry run) -> ``fit`` (embed a sample with the new model, fit and store the adapter)
-> ``start`` (serve adapted, start backfilling) -> ``start_backfill`` / ``qdrant-drift backfill``
workers -> ``cutover`` -> ``finish``; ``rollback`` at any time. Every step reads and writes the
state in Qdrant, so any process (an app replica, a worker, a CLI on a laptop) sees the same.
"""

from __future__ import annotations

import functools
import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import AbstractSet, Any, Callable

import numpy as np
from qdrant_client.http import models

from ..adapters import Adapter
from ..local import SerializedClient, is_local
from ..backfill import (
    BackfillHandle,
    BackfillOptions,
    BackfillStats,
    BackfillWorker,
    ContentSource,
    Item,
    Loader,
    PayloadField,
    order_policy,
)
from ..backfill.isolation import Embedded, EmbedderDown, embed_isolating
from ..backfill.content import non_text_type
from ..store import backfill as store
from ..embedders import (
    BUNDLED_MINILM, CallableEmbedder, Embedder, SentenceTransformerEmbedder, given, load_callable,
)
from ..errors import DriftError
from . import commands
from .commands import preflight_steps, record_fit_steps
from .file import EmbedderSection, MigrationFile, SourceSection, load_migration_file
from .progress import Progress, eta_seconds, throughput
from ..migration.layouts import Layout, coverage, layout_of
from ..migration.phases import ENDED_ADVICE, TERMINAL, Phase
from ..serving.router import (
    DEFAULT_REFRESH_INTERVAL, PASSTHROUGH, RouterSettings, RoutingState)
from ..store.fleet import load_settings_steps, read_replicas_steps, save_settings_steps
from ..sansio import Steps, call, drive
from ..errors import AdapterFileError, EmbedderSetupError, NoPreflightReport, StateError
from ..backfill.control import engines_running_here
from ..backfill.setup import runnable_steps
from ..backfill.targets import Target, target_for
from ..serving.writes import TEXT_FIELD
from ..store.adapters import load_stored_adapter
from ..store.collection import STATE_COLLECTION
from ..store.records import MigrationRecord, count_migrated, load_record, require_record
from ..scores import METRIC_DISTANCES, distance_name

Log = Callable[[str], None]
MIN_SAMPLE = 100  # sampled pairs below which no adapter is worth fitting
WRITE_BATCH = 256  # fit-sample vectors per conditional write


def embedder_for(file: MigrationFile) -> Embedder:
    """The new model, as the migration file describes it."""
    section = file.embedder
    if section.kind == "callable":
        fn = load_callable(section.callable or "", "[embedder] callable")
        return CallableEmbedder(fn, batch_size=section.batch_size, normalize=section.normalize)
    model = section.model or ""
    if model not in BUNDLED_MINILM and file.resolve(model).exists():
        model = str(file.resolve(model))
    return sentence_transformer(model, device=section.device, batch_size=section.batch_size,
                                normalize=section.normalize)


# Up to this many points, the fit's sample is drawn with the file's seed from the listed ids
# (a repeatable fit); past it, listing every id costs more than a fit is worth waiting for.
SEEDED_SAMPLE_MAX = 200_000
TEXT_CHECK_SAMPLE = 32  # points a backfill start reads to check its payload field for JSON
FIT_READ = "fit_read"  # adapter info: the [source] and [embedder] the fit sample was embedded with


def _id_key(point_id: Any) -> tuple[bool, Any]:
    """Sort key of point ids (ints before UUID strings: the two do not compare)."""
    return (isinstance(point_id, str), point_id)


def _is_json_object(text: str) -> bool:
    if not text.lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def sentence_transformer(model: str, **options: Any) -> SentenceTransformerEmbedder:
    """A sentence-transformers embedder (all-MiniLM-L6-v2 from its bundled offline copy:
    :func:`~qdrant_drift.embedders.local_copy`)."""
    return SentenceTransformerEmbedder(model, **options)


def source_for(file: MigrationFile) -> ContentSource:
    section = file.source
    if section.payload_field:
        return PayloadField(section.payload_field, version_field=section.version_field,
                            text_from=section.text_from)
    return Loader(load_callable(section.loader or "", "[source] loader"),
                  version_field=section.version_field)


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
    fit_sample: int = 0  # points ``fit`` embeds ([adapter] sample_size, at most every point)
    preflight_pairs: int = 0  # sample pairs the pre-flight report needs for this kind

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sample_note(self) -> str | None:
        """A line on a fit sample that surprises: one too small for a pre-flight report (the
        adapter would serve unmeasured), or the whole collection (the backfill then finds
        nothing left, which looks like a migration that skipped its backfill)."""
        if self.fit_sample < self.preflight_pairs:
            return (f"the fit sample ({self.fit_sample} points) is below the "
                    f"{self.preflight_pairs} the pre-flight quality report needs: `fit` "
                    "would store an adapter with no report; raise [adapter] sample_size")
        if not self.points or self.fit_sample < self.points:
            return None
        if self.sample_missing_text:  # those are not embedded: they become dead letters
            return (f"the fit sample ([adapter] sample_size) covers all {self.points} "
                    "points: `fit` embeds every point that has a text and keeps the vectors; "
                    f"{self.sample_missing_text} of the {self.sample_texts} points sampled "
                    "here have none, and such points stay without a new "
                    "vector: the backfill dead-letters them and cut-over waits for them "
                    "(give them a text, or lower sample_size to leave the rest to the "
                    "backfill)")
        return (f"the fit sample ([adapter] sample_size) covers all {self.points} points: "
                "`fit` embeds every point and keeps the vectors, so coverage is 100% after "
                "it and the backfill will find nothing left (lower sample_size to leave the "
                "rest to the backfill)")


def _adapter_distance(collection_distance: Any) -> str:
    """The distance ``fit`` fits for: Euclid and Manhattan need their own (the adapter
    predicts the legacy vector, norm included, chosen by that metric's ranks); Cosine and
    Dot collections keep the cosine fit they always had."""
    name = distance_name(collection_distance)
    return name if name in METRIC_DISTANCES else "cosine"


NOTHING_TO_DO = "keep things as they are"
"""How ``check_finish`` and ``check_abandon`` begin when a second run changes nothing (the
CLI then asks nothing)."""


class Migration:
    """One migration file bound to one Qdrant client."""

    def __init__(self, client: Any, file: MigrationFile | str | Path, *,
                 state_collection: str = STATE_COLLECTION,
                 embedder: Embedder | None = None, source: ContentSource | None = None) -> None:
        # embedded Qdrant is not thread-safe: status, pause and the like share it with
        # background workers, one call at a time
        self.client = SerializedClient(client) if is_local(client) else client
        self.file = file if isinstance(file, MigrationFile) else load_migration_file(file)
        self.spec = self.file.spec
        self.name = self.spec.name
        self.state_collection = state_collection
        self._embedder, self._source = embedder, source
        # given by the caller, else the file's (built when first used)
        self._embedder_given, self._source_given = embedder is not None, source is not None
        self._record_matched = False

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
        self._refuse_another_files_record()
        return drive(steps, self.client)

    def _refuse_another_files_record(self) -> None:
        """Every command acts on the record named in the file: refuse (once checked, for
        good) when that record migrates another collection than the file says."""
        if self._record_matched:
            return
        record = drive(load_record(self.name, self.state_collection), self.client)
        if record is not None:
            commands.refuse_other_migration(record, self.spec, self.file.path)
            self._record_matched = True

    def record(self) -> MigrationRecord:
        return self._drive(require_record(self.name, self.state_collection))

    # -- plan and fit --------------------------------------------------------------------
    def _sample(self, size: int, *, with_old: bool) -> tuple[list[Item], list[Any] | None]:
        """A random sample of points as items (with what the target write needs) and, when
        asked, their legacy vectors, in id order. Drawn with ``[adapter] seed`` from the ids
        of a collection of up to :data:`SEEDED_SAMPLE_MAX` points (listing them is cheap
        there), so a fit is repeatable; beyond that, Qdrant's own (unseeded) random sample."""
        payload = self._target().payload_selector()
        vectors = [self.spec.old_vector] if with_old else False
        ids = self._all_ids_if_few()
        if ids is None:
            points: list[Any] = self.client.query_points(
                self.spec.collection, query=models.SampleQuery(sample=models.Sample.RANDOM),
                limit=size, with_payload=payload, with_vectors=vectors).points
        else:
            rng = np.random.default_rng(self.file.adapter.seed)
            chosen = [ids[i] for i in sorted(rng.choice(len(ids), min(size, len(ids)),
                                                        replace=False))]
            points = self.client.retrieve(self.spec.collection, chosen, with_payload=payload,
                                          with_vectors=vectors) if chosen else []
        points = sorted(points, key=lambda p: _id_key(p.id))
        records = [models.Record(id=p.id, payload=p.payload, vector=p.vector) for p in points]
        old = None
        if with_old:
            old = [(p.vector or {}).get(self.spec.old_vector) if isinstance(p.vector, dict)
                   else p.vector for p in points]
        return self.source.items(records), old

    @staticmethod
    def _usable(items: list[Item], old: list[Any] | None) -> list[int]:
        """Positions of sampled points that have both a text and a legacy vector."""
        return [i for i, (item, o) in enumerate(zip(items, old or []))
                if item.text and o is not None]

    def _text_field(self) -> str | None:
        """The payload field the backfill embeds (None: a loader's texts)."""
        return self.source.field if isinstance(self.source, PayloadField) else None

    def _what_is_read(self) -> dict[str, str]:
        """The file's reading of each point (``[source]``) and, when the file's embedder is
        the one used, its model: what the vectors written depend on."""
        read = {}
        if not self._source_given:
            read["[source]"] = self.file.source.reading()
        if not self._embedder_given:
            read["[embedder]"] = self.file.embedder.identity()
        return read

    def _refuse_another_reading_than_fits(self, record: MigrationRecord) -> None:
        """A backfill must embed what fit embedded its sample with: the sample's points hold
        those vectors, and the others would get vectors of another text or model (one
        collection, two kinds of vector, and nothing would say so)."""
        if not record.adapter_digest:
            return
        try:
            stored = self._drive(load_stored_adapter(record, self.state_collection))
        except (StateError, AdapterFileError):  # serving's problem (status says it): the
            return  # backfill needs no adapter, and a migration must be able to move on
        fitted = stored.info.get(FIT_READ) or {}
        now = self._what_is_read()
        changed = [section for section in fitted if section in now
                   and fitted[section] != now[section]]
        if changed:
            in_full = {"[source]": SourceSection.in_full, "[embedder]": EmbedderSection.in_full}
            said = "; ".join(f"{section} at fit: {in_full[section](fitted[section])}, now: "
                             f"{in_full[section](now[section])}" for section in changed)
            raise DriftError(
                f"this file reads the points differently from the fit ({said}): the fit "
                "sample's points hold vectors of the fit's reading, and a backfill (or a "
                "re-fit, which keeps them) would give the others vectors of another one. Set "
                "it back, or abandon the migration and fit again")

    def _check_first_texts(self, client: Any) -> None:
        """:meth:`_check_structured_texts` on the first page of points, read through the
        engine's ``client`` (it retries transient faults). Only a payload field read as text
        is checked: a loader runs where the engine runs it, and points without a text are
        the backfill's dead letters, as always."""
        source = self.source
        if not isinstance(source, PayloadField) or source.text_from != "text":
            return
        records, _ = client.scroll(self.spec.collection, limit=TEXT_CHECK_SAMPLE,
                                   with_payload=self._target().payload_selector(),
                                   with_vectors=False)
        self._check_structured_texts(source.items(records))

    def _all_ids_if_few(self) -> list[Any] | None:
        """Every point id in id order, or None when the collection holds more than
        :data:`SEEDED_SAMPLE_MAX` points."""
        total = self.client.count(self.spec.collection, exact=True).count
        if total > SEEDED_SAMPLE_MAX:
            return None
        ids: list[Any] = []
        offset = None
        while True:
            page, offset = self.client.scroll(self.spec.collection, limit=10_000, offset=offset,
                                              with_payload=False, with_vectors=False)
            ids.extend(p.id for p in page)
            if offset is None:
                return sorted(ids, key=_id_key)

    def _target(self) -> Target:
        return target_for(self.spec, self.source, embedded=is_local(self.client))

    def _check_texts(self, items: list[Item]) -> None:
        """What ``[source]`` reads from sampled points is text to embed (plan and fit; a
        backfill start checks the JSON half, :meth:`_check_first_texts`)."""
        self._refuse_missing_texts(items)
        self._check_structured_texts(items)

    def _refuse_missing_texts(self, items: list[Item]) -> None:
        """Every sampled point lacks the text: say which field, and what the points hold."""
        if not items or any(item.text for item in items):
            return
        keys = sorted({k for item in items for k in (item.payload or {})})
        if isinstance(self.source, PayloadField):
            shown, _ = self.client.scroll(self.spec.collection, limit=len(items),
                                          with_payload=True, with_vectors=False)
            keys = sorted({k for point in shown for k in (point.payload or {})})
            if self.source.text_from == "llamaindex":
                raise DriftError(
                    f"payload field {self.source.field!r} holds no LlamaIndex node in any of "
                    f"{len(items)} sampled points ([source] text_from = \"llamaindex\" reads "
                    "the _node_content LlamaIndex writes); for a field that holds the text "
                    f'itself, use text_from = "text" (payload keys: {keys or "none"})')
            field = self.source.field
            held = sorted({kind for point in shown
                           if (kind := non_text_type((point.payload or {}).get(field)))})
            if held:  # there, but not text (a number, a list): say so, not "missing"
                raise DriftError(
                    f"payload field {field!r} ([source] payload_field) holds "
                    f"{', '.join(held)} values, not text, in the sampled points: set "
                    f"payload_field to the field that holds the text (payload keys: {keys})")
            raise DriftError(
                f"payload field {field!r} ([source] payload_field) is missing or "
                f"empty in all {len(items)} sampled points; their payload keys are "
                f"{keys or 'none'}")
        raise DriftError(f"the [source] loader returned no text for any of {len(items)} "
                         "sampled points")

    def _check_structured_texts(self, items: list[Item]) -> None:
        """Texts that are JSON objects would be embedded as they are, braces and keys
        included. LlamaIndex's ``_node_content`` is such a node, never the text: refused
        (the migration would finish with every vector wrong); another field: warned.
        Said before anything is embedded."""
        if not isinstance(self.source, PayloadField) or self.source.text_from != "text":
            return
        texts = [item.text for item in items if item.text]
        if not texts or sum(_is_json_object(text) for text in texts) * 2 < len(texts):
            return
        field = self.source.field
        if field == "_node_content":
            raise DriftError(
                "payload field '_node_content' holds LlamaIndex nodes as JSON, which the "
                'backfill would embed as they are: set [source] text_from = "llamaindex" (the '
                "text LlamaIndex embeds for each node)")
        warnings.warn(f"the texts in payload field {field!r} are JSON objects, which the "
                      "backfill would embed as they are: point [source] payload_field at the "
                      "text", UserWarning, stacklevel=3)

    def plan(self, *, sample: int = 64) -> PlanReport:
        """Dry run: sizes, server capabilities, a measured embed rate and the time it implies.
        The cheap checks (collection, legacy vector, other migrations not ended, texts in the
        sample) come first and fail with the reason."""
        spec = self.spec
        _, _, record = self._drive(preflight_steps(spec, self.state_collection,
                                                   embedded=is_local(self.client)))
        total = self.client.count(spec.collection, exact=True).count
        server, supports, note = _capabilities(self.client, layout_of(spec))
        migrated = 0
        if record is not None:
            migrated, _ = self._drive(count_migrated(spec))
        items, _ = self._sample(sample, with_old=False)
        self._check_texts(items)
        present = [item.text for item in items if item.text]
        rate, dim = None, None
        if present:
            # the model's load and its first full batch (thread pools, lazy kernels) outside
            # the timing: a first batch of 64 ran at 0.6x the rate of the next (MiniLM, CPU)
            self._embed(present, "plan's sample")
            t0 = time.perf_counter()
            vectors = self._embed(present, "plan's sample")
            rate = len(present) / max(1e-9, time.perf_counter() - t0)
            dim = self._checked_dimension(np.asarray(vectors))
        remaining = max(0, total - migrated)
        return PlanReport(
            collection=spec.collection, layout=spec.layout, points=total, migrated=migrated,
            server=server, supports_layout=supports, capability_note=note,
            sample_texts=len(items), sample_missing_text=len(items) - len(present),
            embed_items_per_s=rate, new_dimension=dim,
            estimated_backfill_s=(remaining / rate) if rate else None,
            existing_phase=record.phase.value if record is not None else None,
            fit_sample=min(self.file.adapter.sample_size, total),
            preflight_pairs=self._preflight_pairs(dim) if dim else 0,
        )

    def fit(self, *, log: Log | None = None, progress: Callable[[int, int], None] | None = None,
            keep_sample_vectors: bool = True, queries: str | Path | None = None,
            max_transform_us: float | None = None) -> Adapter:
        """Embed a random sample with the new model, fit the adapter, store it in the state.

        The cheap checks run before any embedding. A first fit records the migration (phase
        ``fitted``) and prepares the new vector or collection; a re-fit swaps the adapter of a
        running migration (replicas pick it up). The sample's new vectors are real points'
        vectors: they are written as the backfill would (conditionally), so they count
        toward coverage and are not embedded twice (``keep_sample_vectors=False`` leaves
        them all to the backfill).
        ``queries`` (else ``[adapter] queries``): logged queries that choose the adapter and
        ground its pre-flight report (see :mod:`.queries`). ``max_transform_us`` (else
        ``[adapter] max_transform_us``): the per-query budget ``auto`` chooses within.
        """
        _, old_params, previous = self._drive(preflight_steps(
            self.spec, self.state_collection, embedded=is_local(self.client)))
        if self.file.adapter_path is not None:
            from ..adapters import load_adapter

            adapter = load_adapter(self.file.adapter_path, new_model=self.spec.new_model,
                                   old_model=self.spec.old_model)
            adapter.info[TEXT_FIELD] = self._text_field()
            self._drive(record_fit_steps(self.spec, adapter, self.state_collection))
            self.apply_router_settings()
            return adapter
        if previous is not None and previous.phase not in TERMINAL:
            # a re-fit keeps the points the earlier fit's sample wrote: same reading only
            self._refuse_another_reading_than_fits(previous)
        replaced = self._stored_logged_queries(previous)
        items, old, new = self._embed_sample(progress)
        logged = self._logged_query_vectors(queries)
        adapter = self._fit_adapter(new, np.asarray(old, dtype=np.float32), log, logged,
                                    _adapter_distance(old_params.distance), max_transform_us)
        if replaced and logged is None:
            warnings.warn(
                f"this fit had no logged queries; the adapter it replaces was chosen with "
                f"{replaced} logged queries: pass `--queries FILE` (or set [adapter] queries) to "
                "keep them",
                UserWarning, stacklevel=2)
        if keep_sample_vectors:  # the sample's vectors are written: a backfill must match them
            adapter.info[FIT_READ] = self._what_is_read()
        adapter.info[TEXT_FIELD] = self._text_field()  # wrapped edits of it flag copies
        self._drive(record_fit_steps(self.spec, adapter, self.state_collection))
        self.apply_router_settings()
        for start in range(0, len(items) if keep_sample_vectors else 0, WRITE_BATCH):
            self._drive(self._target().write_steps(items[start : start + WRITE_BATCH],
                                                   new[start : start + WRITE_BATCH]))
        return adapter

    def _checked_dimension(self, vectors: np.ndarray) -> int:
        """The new model's dimension, checked against ``[embedder] dimension`` when set."""
        dim = int(vectors.shape[1]) if vectors.ndim == 2 else 0
        expected = self.file.embedder.dimension
        if expected is not None and dim != expected:
            raise DriftError(f"the new model gives {dim}-d vectors, but [embedder] dimension "
                             f"says {expected}: is [embedder] the model meant?")
        return dim

    def _embed_sample(self, progress: Callable[[int, int], None] | None
                      ) -> tuple[list[Item], list[Any], np.ndarray]:
        """The sampled items that have a text and a legacy vector, those vectors, and their
        new-model vectors."""
        sample_size = self.file.adapter.sample_size
        items, old = self._sample(sample_size, with_old=True)
        self._check_texts(items)
        keep = self._usable(items, old)
        if 0 < len(keep) < sample_size == len(items):
            # some points have no text (or no old vector): a larger draw, so that the fit
            # gets the pairs asked for (what `plan` counted on), at most twice as large
            larger = min(2 * sample_size, -(-sample_size * len(items) // len(keep)) + 8)
            items, old = self._sample(larger, with_old=True)
            keep = self._usable(items, old)
            if len(keep) > sample_size:  # a seeded choice among them, in id order
                rng = np.random.default_rng(self.file.adapter.seed)
                keep = sorted(rng.choice(keep, sample_size, replace=False).tolist())
        if len(keep) < MIN_SAMPLE:
            raise DriftError(
                f"only {len(keep)} of {len(items)} sampled points have both a text and an old "
                f"vector {self.spec.old_vector!r}: need at least {MIN_SAMPLE} "
                "(raise [adapter] sample_size, or check [source] and old_vector)")
        items, old = [items[i] for i in keep], [old[i] for i in keep]  # type: ignore[index]
        kept: list[int] = []
        chunks: list[np.ndarray] = []
        failed: list[tuple[Any, str]] = []
        dim, step = None, max(1, self.file.embedder.batch_size)
        for start in range(0, len(items), step):
            part = items[start : start + step]
            embedded = self._embed_items(part, dim)
            if dim is None and len(embedded.vectors):
                dim = self._checked_dimension(embedded.vectors)  # before the rest is embedded
            at = {item.id: start + i for i, item in enumerate(part)}
            kept += [at[item.id] for item in embedded.items]
            if len(embedded.vectors):  # a batch of poison alone has no width to stack
                chunks.append(embedded.vectors)
            failed += embedded.poison
            if progress is not None:
                progress(min(len(items), start + step), len(items))
        self._left_out_of_the_fit(failed, len(items))
        return ([items[i] for i in kept], [old[i] for i in kept],
                np.concatenate(chunks).astype(np.float32))

    def _embed_items(self, items: list[Item], dim: int | None) -> Embedded:
        """One batch of the fit's sample, what the embedder cannot embed left out (as the
        backfill dead-letters it). A failing batch whose first two items fail alone too is
        the embedder's failure (a service that is down): one error at once, as is a batch
        of several items that gives no usable row at all."""
        try:
            embedded = embed_isolating(self.embedder, items, dim, probe=2)
        except EmbedderDown as down:
            raise self._embedder_failed("the fit's sample", down.cause) from down.cause
        if not embedded.items and len(items) > 1:
            raise EmbedderSetupError(
                f"the new model's embedder gave no usable vector for a batch of the fit's "
                f"sample: {embedded.poison[0][1]}; check the [embedder] section and run it "
                "again")
        return embedded

    @staticmethod
    def _left_out_of_the_fit(failed: list[tuple[Any, str]], sampled: int) -> None:
        """Say which sampled points the embedder could not embed (left out of the fit; the
        backfill will dead-letter them), or stop when they are most of the sample."""
        if not failed:
            return
        first = f"the first: point {failed[0][0]!r}, {failed[0][1]}"
        if 2 * len(failed) > sampled:
            raise EmbedderSetupError(
                f"the new model's embedder failed on {len(failed)} of the {sampled} points of "
                f"the fit's sample ({first}); check the [embedder] section and run it again")
        warnings.warn(f"{len(failed)} of the {sampled} points of the fit's sample could not be "
                      f"embedded and were left out of it ({first}); the backfill will "
                      "dead-letter them: `qdrant-drift dead-letters` shows them once it ran",
                      UserWarning, stacklevel=3)

    def _fit_adapter(self, new: np.ndarray, old: np.ndarray, log: Log | None,
                     queries: np.ndarray | None = None, distance: str = "cosine",
                     max_transform_us: float | None = None) -> Adapter:
        """Fit for the legacy vector's distance (a Euclid adapter predicts the vector, norm
        included); a sample too small for the pre-flight report is said once, with the fix."""
        from ..adapters import fit as fit_adapter

        section = self.file.adapter
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoPreflightReport)  # said below, with the fix
            adapter = fit_adapter(section.kind, new, old, new_model=self.spec.new_model,
                                  old_model=self.spec.old_model, seed=section.seed, log=log,
                                  queries=queries, distance=distance,  # type: ignore[arg-type]
                                  max_transform_us=max_transform_us or section.max_transform_us,
                                  corpus_size=self.client.count(self.spec.collection).count)
        needed = adapter.info.get("preflight_pairs")
        if needed is not None:
            warnings.warn(
                f"{len(new)} usable sample pairs are below the {needed} the pre-flight quality "
                f"report needs for the {section.kind} adapter, so there is none: set [adapter] "
                f"sample_size to at least {needed} and run `qdrant-drift fit` again",
                NoPreflightReport, stacklevel=2)
        return adapter

    def _preflight_pairs(self, new_dim: int, old_dim: int | None = None) -> int:
        """Usable sample pairs the pre-flight report needs for this file's adapter kind."""
        from ..adapters import make_fitter
        from ..adapters.fitting import preflight_pairs

        return preflight_pairs(make_fitter(self.file.adapter.kind), new_dim, old_dim or new_dim)

    def _logged_query_vectors(self, override: str | Path | None) -> np.ndarray | None:
        from .queries import load_query_texts

        source = override if override is not None else self.file.adapter.queries
        if source is None:
            return None
        texts = load_query_texts(str(source), self.file, limit=self.file.adapter.queries_limit,
                                 seed=self.file.adapter.seed, read_log=self._drive)
        return self._embed(texts, "the logged queries")

    def _embed(self, texts: list[str], what: str) -> np.ndarray:
        """The new model's vectors of ``texts`` for ``plan`` or ``fit``. There is no item to
        blame here (the backfill dead-letters what one item breaks): a failure is the
        embedder's, and one error that says so, not the embedder's traceback."""
        try:
            return np.asarray(self.embedder(texts), dtype=np.float32)
        except DriftError:
            raise
        except Exception as exc:  # noqa: BLE001 - a user's embedder raises anything
            raise self._embedder_failed(what, exc) from exc

    @staticmethod
    def _embedder_failed(what: str, exc: Exception) -> EmbedderSetupError:
        return EmbedderSetupError(
            f"the new model's embedder failed on {what}: {exc!r}; check the [embedder] "
            "section (the model, the callable, the service it calls) and run it again")

    def adapter(self) -> Adapter:
        return self._drive(load_stored_adapter(self.record(), self.state_collection))

    def _stored_logged_queries(self, record: MigrationRecord | None) -> int:
        """How many logged queries chose ``record``'s stored adapter (0: none, or no record
        yet; the record as the fit's checks read it)."""
        if record is None or not record.adapter_digest:
            return 0
        try:
            quality = self._drive(load_stored_adapter(record, self.state_collection)).quality
        except DriftError:  # unreadable: the re-fit replaces it, nothing to compare
            return 0
        return int((quality or {}).get("logged_queries") or 0)

    # -- phases (each one command of lifecycle.commands) -----------------------------------
    def start(self) -> MigrationRecord:
        """Serve new-model queries (adapted at first) and open the backfill; the fleet
        follows this file's ``[router]`` settings from now on. Refused for a file that reads
        the points differently from the fit (its backfill would be, later)."""
        self._refuse_another_reading_than_fits(self.record())
        record = self._drive(commands.start_steps(self.name, self.state_collection))
        self.apply_router_settings()
        return record

    def pause(self) -> MigrationRecord:
        """Every backfill worker pauses within its heartbeat interval."""
        return self._drive(commands.pause_steps(self.name, True, self.state_collection))

    def resume(self) -> MigrationRecord:
        """Resume the backfill workers (see :func:`.commands.resume`)."""
        return self._drive(commands.pause_steps(self.name, False, self.state_collection))

    def cutover(self, *, force: bool = False) -> MigrationRecord:
        """Serve the new vectors only. Refused while points lack them (they would vanish
        from search results) unless ``force``."""
        return self._drive(commands.cutover_steps(self.name, force=force,
                                                  state_collection=self.state_collection))

    def rollback(self) -> MigrationRecord:
        """Instant: serving returns to adapted queries on the legacy vectors."""
        return self._drive(commands.rollback_steps(self.name, self.state_collection))

    def check_finish(self, *, force: bool = False) -> str:
        """Raise unless ``finish`` is allowed now; what it will do, in words (for a migration
        finished already: nothing, or what a finish stopped half way left to drop)."""
        record = self._drive(commands.check_finish_steps(self.name, self.state_collection,
                                                         force=force))
        if record.phase is not Phase.FINISHED:
            note = commands.finish_note(self.spec)
            lacking, total = self.lacking() if force else (0, 0)
            if lacking:  # forced: say what it gives up, before it is asked
                note += (f", and give up the {lacking} of {total} points that "
                         f"{layout_of(record.spec).unmigrated_note()} "
                         f"({layout_of(record.spec).given_up_note()})")
            return note
        if self._drive(layout_of(record.spec).legacy_left_steps()):
            return (f"{commands.finish_note(record.spec)} (what a finish stopped half way "
                    "left behind)")
        return f"{NOTHING_TO_DO} (it was finished already: nothing left to drop)"

    def lacking(self) -> tuple[int, int]:
        """(points that lack the new vector, all points), counted now: what a forced
        cut-over or finish gives up."""
        migrated, total = self._drive(count_migrated(self.spec))
        return total - migrated, total

    def finish(self, *, force: bool = False) -> MigrationRecord:
        """Drop the legacy vector (named layout) or collection (blue-green). Only after
        cut-over, and only once every point has the new vector (``force``: give up those
        that lack it); irreversible, so the CLI asks first."""
        return self._drive(commands.finish_steps(self.name, self.state_collection,
                                                 force=force))

    def check_abandon(self) -> str:
        """Raise unless ``abandon`` is allowed now; what it will do, in words (nothing, for a
        migration already abandoned: a second ``abandon`` confirms it)."""
        record = self._drive(commands.check_abandon_steps(self.name, self.state_collection))
        if record.phase is Phase.ABANDONED:
            return f"{NOTHING_TO_DO} (it was abandoned already: nothing left to drop)"
        return commands.abandon_note(self.spec)

    def abandon(self) -> MigrationRecord:
        """Give the migration up before ``finish``: drop the new vector (named layout) or
        collection (blue-green); the legacy side serves as before. Irreversible."""
        return self._drive(commands.abandon_steps(self.name, self.state_collection))

    # -- backfill ------------------------------------------------------------------------
    def worker(self, **overrides: Any) -> BackfillWorker:
        kw = {k: overrides.pop(k) for k in ("worker_id", "metrics", "on_batch")
              if k in overrides}
        return BackfillWorker(self.client, self.name, self.embedder, self.source,
                              options=backfill_options_for(self.file, **overrides),
                              state_collection=self.state_collection, **kw)

    def ray_backfill(self, *, address: str | None = None, quiet: bool = False,
                     **overrides: Any) -> Any:
        """The Ray Data engine (:mod:`qdrant_drift.backfill.ray_engine`, the ``ray`` extra):
        actors build the embedder from this file (or get a copy of the one given)."""
        from ..backfill.ray_engine import RayBackfill, RaySettings

        kw = {k: overrides.pop(k) for k in ("worker_id", "metrics", "on_batch")
              if k in overrides}
        factory = (functools.partial(given, self._embedder) if self._embedder is not None
                   else functools.partial(embedder_for, self.file))
        return RayBackfill(self.client, self.name, factory, self.source,
                           options=backfill_options_for(self.file, **overrides),
                           ray=RaySettings(address=address, quiet=quiet),
                           state_collection=self.state_collection, **kw)

    def start_backfill(self, *, background: bool = True, engine: str = "worker",
                       address: str | None = None, **overrides: Any
                       ) -> BackfillHandle | BackfillStats:
        """The backfill on one worker (``engine="worker"``) or on Ray (``engine="ray"``,
        ``address`` of an existing cluster or a local one): a background thread (returns a
        handle) or the foreground."""
        runner = self.backfill_engine(engine, address=address, **overrides)
        return BackfillHandle(runner) if background else runner.run()

    def backfill_engine(self, engine: str, *, address: str | None = None,
                        quiet: bool = False, **overrides: Any) -> Any:
        """A backfill worker or a Ray driver: both ``run``, ``stop``, ``pause``, ``resume``.
        A payload field read as text is checked first for JSON, as at plan and fit (a file's
        ``[source]`` can change after its fit)."""
        if engine not in ("worker", "ray"):
            raise DriftError(f"backfill engine must be 'worker' or 'ray', got {engine!r}")
        if engine == "worker" and address is not None:
            raise DriftError("--address is for the ray engine (the worker needs none)")
        runner = (self.worker(**overrides) if engine == "worker"
                  else self.ray_backfill(address=address, quiet=quiet, **overrides))
        record = self._drive(runnable_steps(self.name, self.state_collection))
        self._refuse_another_reading_than_fits(record)
        self._check_first_texts(runner.client)  # runnable: the collection is there
        return runner

    def dead_letters(self) -> list[dict[str, Any]]:
        self.record()
        return self._drive(store.read_dead_letters(self.name, self.state_collection))

    def requeue_dead_letters(self) -> int:
        """Give the dead letters back to the backfill (refused once the migration has ended:
        no backfill runs then, and the dead letters are the record of what it gave up)."""
        record = self.record()
        if record.phase in TERMINAL:
            raise StateError(
                f"migration {self.name!r} is {record.phase.value}: no backfill runs any more "
                f"to retry its dead letters; {ENDED_ADVICE[record.phase]}")
        return self._drive(store.requeue_dead_letters(self.name, self.state_collection))

    # -- monitoring ----------------------------------------------------------------------
    def progress(self) -> Progress:
        """Coverage, throughput, ETA, phase, plan, quality, dead letters, workers and what
        the serving replicas report."""
        running_here = engines_running_here() if is_local(self.client) else None
        return self._drive(progress_steps(self.name, self.state_collection,
                                          running_here=running_here,
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
                   heartbeat_timeout: float = 30.0,
                   running_here: AbstractSet[str] | None = None) -> Steps[Progress]:
    """``router``: judge the plan by this router instead of the stored router settings;
    ``running_here``: on embedded Qdrant, the only live workers (see
    :func:`~..backfill.control.engines_running_here`)."""
    from ..serving.shadow import read_agreement_steps

    record = yield from require_record(name, state_collection)
    if record.phase is Phase.FINISHED:  # the legacy side may be gone (blue-green drops it)
        migrated, total = yield from layout_of(record.spec).finished_count_steps()
    elif record.phase is Phase.ABANDONED:  # the new side is gone; the collection may be too
        exists = yield call("collection_exists", record.spec.collection)
        counted = (yield call("count", record.spec.collection, exact=True)) if exists else None
        migrated, total = 0, counted.count if counted is not None else 0
    else:
        migrated, total = yield from count_migrated(record.spec)
    samples = yield from store.read_samples(name, state_collection)
    dead = yield from store.read_dead_letters(name, state_collection)
    workers = yield from store.read_workers(name, timeout=heartbeat_timeout,
                                            state_collection=state_collection,
                                            running_here=running_here)
    agreement = yield from read_agreement_steps(name, state_collection)
    settings = yield from load_settings_steps(name, state_collection)
    interval = settings.refresh_interval if settings else DEFAULT_REFRESH_INTERVAL
    replicas = yield from read_replicas_steps(name, max_age_s=max(30.0, 3 * interval),
                                              state_collection=state_collection)
    report: dict[str, Any] = {}
    adapter_problem = None
    if record.adapter_digest:
        try:
            adapter = yield from load_stored_adapter(record, state_collection)
        except (StateError, AdapterFileError) as exc:  # status must still show the rest
            adapter_problem = f"{exc}: run `qdrant-drift fit` to store a new adapter"
        else:
            report = adapter.quality or {}
    # no worker writing, no current rate: an ETA then promised what nothing was doing
    writing = any(w.alive and w.state in ("starting", "running") for w in workers)
    rate = throughput(samples, now=time.time()) if writing else None
    router = router or (settings or RouterSettings()).router()
    plan = router.plan(RoutingState(phase=record.phase, coverage=coverage(migrated, total)))
    served: dict[str, int] = {}
    for replica in replicas:
        served[replica.plan] = served.get(replica.plan, 0) + 1
    return Progress(
        name=name, collection=record.spec.collection, layout=record.spec.layout,
        phase=record.phase.value if not record.backfill_paused else f"{record.phase.value} (paused)",
        plan=PASSTHROUGH if record.phase is Phase.ABANDONED else plan.value,
        migrated=migrated, total=total, items_per_s=rate,
        eta_s=eta_seconds(migrated, total, rate),
        predicted_recovery=report.get("predicted_recall_recovery"),
        predicted_recovery_low=report.get("predicted_recall_low"),
        predicted_recovery_high=report.get("predicted_recall_high"),
        prediction_basis=report.get("basis"),
        predicted_agreement_low=report.get("predicted_agreement_low"),
        predicted_agreement_high=report.get("predicted_agreement_high"),
        drastic_drift=bool(report["drastic_drift"]) if "drastic_drift" in report else None,
        drastic_advice=report.get("advice") if report.get("drastic_drift") else None,
        shadow_agreement=agreement, dead_letters=len(dead),
        workers=tuple(workers), history=tuple(samples),
        events=tuple((float(h["at"]), str(h["to"])) for h in record.phase_changes()),
        served=served, router_settings=None if settings is None else settings.to_dict(),
        adapter_problem=adapter_problem,
    )


def _capabilities(client: Any, layout: Layout) -> tuple[str, bool, str]:
    """(server description, can it run this layout, a sentence saying so)."""
    if is_local(client):
        return "local mode", True, f"embedded local mode: {layout.name} layout supported"
    try:
        version = client.info().version
    except Exception as exc:  # noqa: BLE001 - still useful without it
        return "unknown", True, f"could not read the server version ({exc})"
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if layout.min_server is not None and parts < layout.min_server:
        needed = ".".join(map(str, layout.min_server))
        return (f"Qdrant {version}", False,
                f"the {layout.name} layout needs Qdrant >= {needed}; use "
                "layout = \"collection\" or upgrade the server")
    return f"Qdrant {version}", True, f"Qdrant {version}: {layout.name} layout supported"

