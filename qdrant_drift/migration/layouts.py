"""Where a migration keeps the new model's vectors, and so what "migrated" means: one strategy
object per layout, obtained once with :func:`layout_of`.

- :class:`NamedLayout`: the new vector is a second named vector on each point of the
  collection; a point is migrated when it has that vector.
- :class:`BlueGreenLayout` (``layout = "collection"``): the new vectors live in a new
  collection (same ids, payload copied); a point is migrated when the new collection holds it,
  which the legacy point shows by a payload marker (so the legacy side can tell without
  asking the other collection).

Everything that differs between the two lives here: the migrated condition and its filters,
the marker, the stamp, the coverage count, target creation, how a routed write and a hybrid
search are shaped, and what ``finish`` drops. The serving, backfill and lifecycle modules
ask the layout object instead of testing ``spec.layout``. Pure where possible; what talks to
Qdrant is written as sans-I/O steps (see :mod:`qdrant_drift.sansio`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from qdrant_client.http import models

from ..errors import DriftError
from ..sansio import Gather, Steps, call
from .spec import DEFAULT_VECTOR, MigrationSpec

MIGRATED_MARKER = "_drift_migrated"
"""Payload key on a legacy point whose new vector exists (blue-green layout)."""

STAMP_KEY = "_drift"
"""Payload key that records which models made a point's vectors (and who wrote them)."""

BY_BACKFILL = "backfill"
# The copies in a new collection that the backfill (or fit's sample) wrote: the only ones it
# ever replaces or removes (an app's own writes are never touched).
BACKFILL_COPIES = models.Filter(must=[models.FieldCondition(
    key=f"{STAMP_KEY}.new_vector_by", match=models.MatchValue(value=BY_BACKFILL))])
TIDY_PAGE = 1024


def stamp(spec: MigrationSpec, old_vector_model: str | None,
          by: str | None = None) -> dict[str, Any]:
    """The ``STAMP_KEY`` payload value: the models behind a point's two vectors, and the
    writer when it matters (the backfill removes only copies it made itself)."""
    value: dict[str, Any] = {"new_vector_model": spec.new_model,
                             "old_vector_model": old_vector_model}
    if by is not None:
        value["new_vector_by"] = by
    return value


def marker() -> dict[str, Any]:
    """The payload that marks a legacy point migrated."""
    return {MIGRATED_MARKER: True}


# In a copy's stamp: a wrapped write edited the text it was embedded from (the payload was
# mirrored, so the copy still equals its legacy point; this flag makes it stale all the same)
TEXT_EDITED = "text_edited"


def text_edited(payload: Any) -> bool:
    """Does a copy's stamp say its text was edited since it was embedded?"""
    stamped = (payload or {}).get(STAMP_KEY)
    return isinstance(stamped, dict) and stamped.get(TEXT_EDITED) is True


def copied_content(payload: Any) -> dict[str, Any]:
    """What a blue-green copy carries over from its legacy point's payload: all of it but the
    migration's own keys (the legacy side's marker, the copy's stamp). A copy is current
    while the two sides' contents are equal."""
    return {k: v for k, v in (payload or {}).items() if k not in (MIGRATED_MARKER, STAMP_KEY)}


def unstamp_steps(collection: str) -> Steps[None]:
    """Remove the migration's stamp from every point of ``collection`` (``finish`` from the
    side that stays, ``abandon`` from the legacy side): it told this migration's writers
    apart, and it would otherwise stay in every payload an app reads, for good. Wrapped
    writers stop stamping once they read the new phase (within their refresh interval)."""
    yield call("delete_payload", collection, keys=[STAMP_KEY],
               points=models.FilterSelector(filter=models.Filter(must_not=[
                   models.IsEmptyCondition(is_empty=models.PayloadField(key=STAMP_KEY))])))


def coverage(migrated: int, total: int) -> float:
    """Share of points that have the new vector (an empty collection is fully covered)."""
    return min(1.0, migrated / total) if total else 1.0


def _with(user_filter: models.Filter | None, *, must: Sequence[Any] = (),
          must_not: Sequence[Any] = ()) -> models.Filter:
    """``user_filter`` AND the given conditions."""
    wanted = ([user_filter] if user_filter is not None else []) + list(must)
    return models.Filter(must=wanted or None, must_not=list(must_not) or None)


def _as_vector(name: str, values: list[float]) -> Any:
    """A point's vector with one entry: a bare list for the unnamed vector, else a dict."""
    return values if name == DEFAULT_VECTOR else {name: values}


def _selecting(selector: Any, key: str) -> Any:
    """A ``with_payload`` selector that also returns ``key``."""
    if selector is True:
        return True
    if not selector:
        return [key]
    if isinstance(selector, models.PayloadSelectorInclude):
        return models.PayloadSelectorInclude(include=[*selector.include, key])
    if isinstance(selector, models.PayloadSelectorExclude):
        return models.PayloadSelectorExclude(exclude=[k for k in selector.exclude if k != key])
    return [*selector, key]


class Layout:
    """What a layout decides; one subclass per layout, built from a spec."""

    name: ClassVar[str]
    min_server: ClassVar[tuple[int, int] | None] = None  # (major, minor) it needs

    def __init__(self, spec: MigrationSpec) -> None:
        self.spec = spec

    # -- what "migrated" means -----------------------------------------------------------
    def migrated_condition(self) -> models.Condition:
        """True of points of the legacy collection whose new vector exists."""
        raise NotImplementedError

    def migrated_filter(self, user_filter: models.Filter | None = None) -> models.Filter:
        """The user's filter AND "migrated" (on the legacy collection)."""
        return _with(user_filter, must=[self.migrated_condition()])

    def unmigrated_filter(self, user_filter: models.Filter | None = None) -> models.Filter:
        """The user's filter AND "not migrated yet" (on the legacy collection)."""
        return _with(user_filter, must_not=[self.migrated_condition()])

    def record_vectors(self) -> Any:
        """``with_vectors`` for a legacy read that :meth:`is_migrated` can judge."""
        return False

    def is_migrated(self, record: models.Record) -> bool:
        """Judge one legacy point read with :meth:`record_vectors` and its payload."""
        raise NotImplementedError

    def count_steps(self) -> Steps[tuple[int, int]]:
        """Exact (points with a new-model vector, all points)."""
        raise NotImplementedError

    def finished_count_steps(self) -> Steps[tuple[int, int]]:
        """:meth:`count_steps` once finished, when the legacy side may be gone: the points
        of the collection that serves (a layout whose given-up points stay counts them as
        not migrated)."""
        counted = yield call("count", self.spec.native_collection, exact=True)
        return counted.count, counted.count

    # -- the target ----------------------------------------------------------------------
    def check_source(self, info: Any, *, embedded: bool = False) -> None:
        """Refuse a legacy collection this layout cannot migrate (``info``: its description;
        ``embedded``: the Qdrant is local mode, whose write checks are stricter)."""

    def create_target_steps(self, info: Any, params: models.VectorParams) -> Steps[None]:
        """Make room for the new vectors (idempotent: an existing target is kept)."""
        raise NotImplementedError

    def alias_steps(self, serve_new: bool) -> Steps[None]:
        """Point the app's alias at the collection that serves (blue-green only)."""
        return
        yield  # pragma: no cover - a generator that makes no call

    def check_alias_steps(self) -> Steps[None]:
        """Refuse an alias Qdrant would refuse to create, before anything moves (blue-green
        only)."""
        return
        yield  # pragma: no cover - a generator that makes no call

    def finish_note(self) -> str:
        """What ``finish`` does to the legacy data, in words (the CLI asks with it)."""
        raise NotImplementedError

    def unmigrated_note(self) -> str:
        """What the points not counted as migrated are, in words (a refusal says it)."""
        return "lack the new vector"

    def given_up_note(self) -> str:
        """What becomes of the points a forced ``finish`` gives up, in words (it asks)."""
        raise NotImplementedError

    def drop_legacy_steps(self) -> Steps[None]:
        """``finish``: drop the legacy vector or collection, and the stamps of the side that
        stays (:func:`unstamp_steps`)."""
        raise NotImplementedError

    def legacy_left_steps(self) -> Steps[bool]:
        """After ``finish`` was recorded: is some of what it drops still there (a finish
        stopped between its record and its drop)? Then a second ``finish`` completes it."""
        raise NotImplementedError

    def abandon_note(self) -> str:
        """What ``abandon`` does to the new data, in words (the CLI asks with it)."""
        raise NotImplementedError

    def drop_new_steps(self) -> Steps[None]:
        """``abandon``: drop what the migration added, stamps included, leaving the legacy
        side as it was before it (idempotent: a second run after a failed one completes it)."""
        raise NotImplementedError

    def tidy_steps(self, *, payloads: bool = True) -> Steps[int]:
        """Catch up the new-side copies with a plain client's deletes (and, with
        ``payloads``, payload edits) on the legacy side (how many): only the blue-green
        layout keeps copies; a named vector goes with its point."""
        return 0
        yield  # pragma: no cover - a generator that makes no call

    def count_stale_steps(self) -> Steps[int]:
        """Points marked migrated whose copy a plain client's payload edit left stale: the
        ones :meth:`tidy_steps` would unmark, counted without changing anything (so that
        ``finish`` can be refused before it is confirmed)."""
        return 0
        yield  # pragma: no cover - a generator that makes no call

    # -- writes and searches ----------------------------------------------------------------
    def new_vectors(self, values: list[float]) -> Any:
        """The vectors a point gets when it is migrated (where the new vectors live)."""
        raise NotImplementedError

    def marked_selectors(self, with_payload: Any, with_vectors: Any) -> tuple[Any, Any]:
        """``with_payload``/``with_vectors`` for a legacy search whose every hit shows whether
        it is migrated (see :meth:`split_legacy_hits`)."""
        raise NotImplementedError

    def hit_is_migrated(self, hit: models.ScoredPoint) -> bool:
        """Judge one legacy hit asked for with :meth:`marked_selectors`."""
        raise NotImplementedError

    def split_legacy_hits(self, hits: Sequence[models.ScoredPoint], with_payload: Any,
                          with_vectors: Any
                          ) -> tuple[list[models.ScoredPoint], list[models.ScoredPoint]]:
        """(not migrated, migrated) legacy hits, each list in rank order; the not-migrated
        hits are returned with what the app asked for (the marker was never on them)."""
        unmigrated: list[models.ScoredPoint] = []
        migrated: list[models.ScoredPoint] = []
        for hit in hits:
            (migrated if self.hit_is_migrated(hit) else unmigrated).append(hit)
        for hit in unmigrated:
            if not with_payload:
                hit.payload = None
            if not with_vectors:
                hit.vector = None
        return unmigrated, migrated

    def routed_point(self, point_id: Any, payload: dict[str, Any], others: dict[str, Any],
                     old: list[float], new: list[float]
                     ) -> tuple[models.PointStruct, models.PointStruct | None]:
        """One app point written with both vectors: (legacy point, new-collection point)."""
        raise NotImplementedError

    def mirror_collection(self) -> str | None:
        """The collection that must see the app's deletes and payload edits too, if any."""
        return None

    def check_update_vectors(self) -> None:
        """Refuse a routed ``update_vectors`` this layout cannot apply."""

    def hybrid_search_steps(self, legacy: list[models.QueryRequest],
                            native: models.QueryRequest, batch_kw: dict[str, Any]
                            ) -> Steps[list[models.QueryResponse]]:
        """One round trip for both sides of a hybrid search: [native, *legacy] responses."""
        raise NotImplementedError


class NamedLayout(Layout):
    """The new vector next to the old one on each point (Qdrant >= 1.18 for an existing
    collection: ``create_vector_name``)."""

    name = "named"
    min_server = (1, 18)

    @property
    def marker_vector(self) -> str:
        """A one-dimensional vector written together with the new vector (see
        :meth:`new_vectors`): it lives and dies with the point's vectors, so an app's plain
        upsert that drops the new vector drops the marker with it, and a legacy hit can say
        "migrated" by carrying one float instead of the new vector."""
        return f"{MIGRATED_MARKER}_{self.spec.new_vector}"

    def migrated_condition(self) -> models.Condition:
        return models.HasVectorCondition(has_vector=self.spec.new_vector)

    def check_source(self, info: Any, *, embedded: bool = False) -> None:
        """Embedded Qdrant refuses a bare-list upsert once a collection has named vectors
        ("Unnamed vectors are not allowed when a collection has named vectors"), so adding
        the new vector next to an unnamed legacy one would break every app that is not
        wrapped yet. A server stores a bare list as the unnamed vector and is not refused."""
        spec = self.spec
        if embedded and spec.old_vector == DEFAULT_VECTOR:
            raise DriftError(
                f"the legacy vector of {spec.collection!r} is its unnamed vector: on embedded "
                "Qdrant, adding a named vector next to it makes every plain upsert of a bare "
                "vector fail, breaking apps that are not wrapped yet; use layout = "
                '"collection" in [migration] (blue-green: the legacy collection stays as it is)'
            )

    def record_vectors(self) -> Any:
        return [self.spec.new_vector]

    def is_migrated(self, record: models.Record) -> bool:
        return isinstance(record.vector, dict) and self.spec.new_vector in record.vector

    def count_steps(self) -> Steps[tuple[int, int]]:
        spec = self.spec
        migrated, total = yield Gather((
            call("count", spec.collection, count_filter=self.migrated_filter(), exact=True),
            call("count", spec.collection, exact=True),
        ))
        return migrated.count, total.count

    def create_target_steps(self, info: Any, params: models.VectorParams) -> Steps[None]:
        spec = self.spec
        vectors = info.config.params.vectors
        wanted = {spec.new_vector: models.DenseVectorConfig(size=params.size,
                                                            distance=params.distance),
                  self.marker_vector: models.DenseVectorConfig(size=1,
                                                               distance=models.Distance.DOT)}
        try:
            for name, config in wanted.items():
                if not (isinstance(vectors, dict) and name in vectors):
                    yield call("create_vector_name", spec.collection, name,
                               models.DenseVectorNameConfig(dense=config))
        except Exception as exc:
            raise DriftError(
                f"could not add vector {spec.new_vector!r} to {spec.collection!r} ({exc}). "
                "The named layout needs Qdrant >= 1.18 (create_vector_name); on an older "
                "server use layout='collection'"
            ) from exc

    def given_up_note(self) -> str:
        return (f"they stay in {self.spec.collection!r} without a new vector: search no "
                "longer finds them")

    def finished_count_steps(self) -> Steps[tuple[int, int]]:
        # a forced finish leaves the points it gave up in the collection, without a new vector
        return (yield from self.count_steps())

    def finish_note(self) -> str:
        spec = self.spec
        if spec.old_vector == DEFAULT_VECTOR:
            return (f"keep the legacy unnamed vector of {spec.collection!r}, unused (Qdrant "
                    "cannot drop a collection's unnamed vector)")
        return f"drop the legacy vector {spec.old_vector!r} of {spec.collection!r}"

    def drop_legacy_steps(self) -> Steps[None]:
        """The unnamed legacy vector cannot be dropped in Qdrant: it stays, unused. What a
        finish stopped half way dropped already is not dropped again."""
        for name in (yield from self._legacy_vectors_left()):
            yield call("delete_vector_name", self.spec.collection, name)
        yield from unstamp_steps(self.spec.collection)

    def legacy_left_steps(self) -> Steps[bool]:
        return bool((yield from self._legacy_vectors_left()))

    def _legacy_vectors_left(self) -> Steps[list[str]]:
        """The vectors ``finish`` drops that the collection still has, in drop order."""
        info = yield call("get_collection", self.spec.collection)
        vectors = info.config.params.vectors
        named = vectors if isinstance(vectors, dict) else {}
        return [name for name in (self.spec.old_vector, self.marker_vector)
                if name != DEFAULT_VECTOR and name in named]

    def abandon_note(self) -> str:
        return (f"drop the new vector {self.spec.new_vector!r} of {self.spec.collection!r}; "
                f"the legacy vector {self.spec.old_vector!r} stays as it is")

    def drop_new_steps(self) -> Steps[None]:
        spec = self.spec
        exists = yield call("collection_exists", spec.collection)
        if not exists:
            return
        info = yield call("get_collection", spec.collection)
        vectors = info.config.params.vectors
        for name in (spec.new_vector, self.marker_vector):
            if isinstance(vectors, dict) and name in vectors:
                yield call("delete_vector_name", spec.collection, name)
        yield from unstamp_steps(spec.collection)

    def routed_point(self, point_id: Any, payload: dict[str, Any], others: dict[str, Any],
                     old: list[float], new: list[float]
                     ) -> tuple[models.PointStruct, models.PointStruct | None]:
        return models.PointStruct(id=point_id, payload=payload, vector={
            **others, self.spec.old_vector: old, **self.new_vectors(new)}), None

    def new_vectors(self, values: list[float]) -> dict[str, list[float]]:
        return {self.spec.new_vector: values, self.marker_vector: [1.0]}

    def marked_selectors(self, with_payload: Any, with_vectors: Any) -> tuple[Any, Any]:
        if with_vectors is True:
            return with_payload, True
        return with_payload, [*(with_vectors or ()), self.marker_vector]

    def hit_is_migrated(self, hit: models.ScoredPoint) -> bool:
        return isinstance(hit.vector, dict) and self.marker_vector in hit.vector

    def hybrid_search_steps(self, legacy: list[models.QueryRequest],
                            native: models.QueryRequest, batch_kw: dict[str, Any]
                            ) -> Steps[list[models.QueryResponse]]:
        return (yield call("query_batch_points", self.spec.collection, [native, *legacy],
                           **batch_kw))


class BlueGreenLayout(Layout):
    """A new collection for the new vectors; an alias switch at cut-over. Runs on any
    Qdrant version; carries payloads and the migrating vector only."""

    name = "collection"

    def migrated_condition(self) -> models.Condition:
        return models.FieldCondition(key=MIGRATED_MARKER, match=models.MatchValue(value=True))

    def is_migrated(self, record: models.Record) -> bool:
        return bool((record.payload or {}).get(MIGRATED_MARKER))

    def count_steps(self) -> Steps[tuple[int, int]]:
        """Legacy points marked migrated, not points in the new collection: a plain upsert
        of a changed point drops its marker, and a plain delete leaves a copy behind, so
        the new collection's size says nothing about coverage."""
        spec = self.spec
        migrated, total = yield Gather((
            call("count", spec.collection, count_filter=self.migrated_filter(), exact=True),
            call("count", spec.collection, exact=True),
        ))
        return migrated.count, total.count

    def check_source(self, info: Any, *, embedded: bool = False) -> None:
        """A collection with other vectors (dense or sparse) would lose them at the alias
        switch, so it is refused."""
        spec = self.spec
        vectors = info.config.params.vectors
        others = sorted(name for name in (vectors if isinstance(vectors, dict) else {})
                        if name != spec.old_vector)
        others += sorted(info.config.params.sparse_vectors or {})
        if others:
            raise DriftError(
                f"collection {spec.collection!r} has other vectors besides {spec.old_vector!r}: "
                f"{others}. The collection (blue-green) layout copies payloads and the migrating "
                "vector only, so they would be missing after cut-over; use layout='named' "
                "(Qdrant >= 1.18)"
            )

    def create_target_steps(self, info: Any, params: models.VectorParams) -> Steps[None]:
        spec = self.spec
        exists = yield call("collection_exists", spec.native_collection)
        if not exists:
            config: Any = params if spec.new_vector == DEFAULT_VECTOR else {spec.new_vector: params}
            yield call("create_collection", spec.native_collection, vectors_config=config)

    def takes_legacy_name(self) -> bool:
        """Is the alias the legacy collection's own name? Then the new collection takes it
        at finish, once the legacy collection is gone (Qdrant cannot give an alias the name
        of an existing collection), and apps that are not wrapped keep their name for good;
        until finish that name is the legacy collection's."""
        return self.spec.alias == self.spec.collection

    def check_alias_steps(self) -> Steps[None]:
        """Refused when the migration is planned, fitted and cut over: a legacy name that is
        an alias of the new collection (a finished migration gave it; the two sides would
        be one collection, which abandon and finish drop), and an alias that names another
        existing collection (it would fail at cut-over, after the phase moved)."""
        spec = self.spec
        behind = {a.alias_name: a.collection_name
                  for a in (yield call("get_aliases")).aliases}
        if behind.get(spec.collection) == spec.native_collection:
            raise DriftError(
                f"collection {spec.collection!r} is an alias of {spec.native_collection!r}, "
                "the new_collection this file names: the legacy and the new side would be "
                "one collection; name a new_collection that does not exist yet")
        if not spec.alias or self.takes_legacy_name():
            return
        names = {c.name for c in (yield call("get_collections")).collections}
        if spec.alias in names:
            raise DriftError(
                f"alias {spec.alias!r} ([migration] alias) is the name of an existing "
                "collection, which Qdrant cannot give an alias: choose a free name, or "
                f"{spec.collection!r} to have the new collection take the legacy collection's "
                "name at finish")

    def alias_steps(self, serve_new: bool) -> Steps[None]:
        """One atomic ``update_collection_aliases`` call (delete + create in one request)."""
        spec = self.spec
        if not spec.alias or self.takes_legacy_name():
            return
        target = spec.native_collection if serve_new else spec.collection
        yield call("update_collection_aliases", change_aliases_operations=[
            models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=spec.alias)),
            models.CreateAliasOperation(create_alias=models.CreateAlias(
                collection_name=target, alias_name=spec.alias)),
        ])

    def given_up_note(self) -> str:
        return (f"they were never copied to {self.spec.native_collection!r} and go with "
                f"{self.spec.collection!r}: lost")

    def finish_note(self) -> str:
        spec = self.spec
        if self.takes_legacy_name():
            return (f"drop the legacy collection {spec.collection!r} and give its name to "
                    f"{spec.native_collection!r} as an alias (apps that are not wrapped keep "
                    "their names)")
        serves = (f"the alias {spec.alias!r} or {spec.native_collection!r}" if spec.alias
                  else repr(spec.native_collection))
        vector = f", vector {spec.new_vector!r}" if spec.new_vector else ""
        return (f"drop the legacy collection {spec.collection!r} (the data stays in "
                f"{serves}{vector}: apps that are not wrapped must name that; wrapped ones "
                "keep their names)")

    def drop_legacy_steps(self) -> Steps[None]:
        """Drop the legacy collection. Its name may be an alias (the name a finished
        migration gave its new collection, now migrated again): then the collection behind
        it goes, and the alias goes too, or names the new collection in one request."""
        spec = self.spec
        behind = {a.alias_name: a.collection_name
                  for a in (yield call("get_aliases")).aliases}
        give_name = models.CreateAliasOperation(create_alias=models.CreateAlias(
            collection_name=spec.native_collection, alias_name=spec.collection))
        if spec.collection in behind:
            yield call("update_collection_aliases", change_aliases_operations=[
                models.DeleteAliasOperation(
                    delete_alias=models.DeleteAlias(alias_name=spec.collection)),
                *([give_name] if self.takes_legacy_name() else [])])
            yield call("delete_collection", behind[spec.collection])
        else:
            yield call("delete_collection", spec.collection)
            if self.takes_legacy_name():  # the name is free now: it names the new collection
                yield call("update_collection_aliases", change_aliases_operations=[give_name])
        yield from unstamp_steps(spec.native_collection)

    def legacy_left_steps(self) -> Steps[bool]:
        """The legacy collection is gone once its name is free, or is the alias the new
        collection took."""
        spec = self.spec
        behind = {a.alias_name: a.collection_name
                  for a in (yield call("get_aliases")).aliases}
        if spec.collection in behind:
            return behind[spec.collection] != spec.native_collection
        return bool((yield call("collection_exists", spec.collection)))

    def unmigrated_note(self) -> str:
        # a plain client's payload edit keeps the marker: the tidy unmarks those points
        return "lack the new vector or were edited since they were copied"

    def abandon_note(self) -> str:
        return (f"drop the new collection {self.spec.native_collection!r}; "
                f"{self.spec.collection!r} stays as it is")

    def tidy_steps(self, *, payloads: bool = True) -> Steps[int]:
        """Copies the backfill (or ``fit``) made that a plain client's writes to the legacy
        collection left behind (how many were removed or unmarked). Run when a backfill runs
        out of work, and before cut-over and finish, so that the new collection serves
        neither a deleted point nor an old payload once it serves alone.

        - *Deleted since:* the copy is deleted (only ours, never an app's own write: a
          point re-inserted meanwhile is unmarked, so it is swept and copied again).
        - *Payload edited since* (``set_payload`` merges and ``delete_payload`` keep the
          marker, so the sweep would never see them; only with ``payloads``, which reads
          both sides' payloads): the legacy point is unmarked, so it is swept, re-embedded
          from its current content and copied again.

        Unmarking is always safe: at worst a point is re-embedded for nothing (a wrapped
        write seen half-way between its two sides, a copy being replaced meanwhile); the
        copy that follows replaces only the backfill's own, and marks the point once its
        legacy content still is the one that was copied (:class:`~qdrant_drift.backfill.
        targets.CollectionTarget`); a difference left by a race is found by the next tidy.

        Not caught: edits to points whose new-side copy the wrapper wrote (an app's own
        write is never touched here), or whose copy lost its stamp to a wrapped
        ``overwrite_payload``: wrap every writer when the layout is blue-green."""
        spec, tidied, offset = self.spec, 0, None
        while True:
            orphans, stale, offset = yield from self._compare_page(offset, payloads)
            if orphans:
                yield call("delete", spec.native_collection,
                           points_selector=models.FilterSelector(filter=models.Filter(
                               must=[models.HasIdCondition(has_id=orphans),
                                     *BACKFILL_COPIES.must])))
                # One re-inserted and copied again between the look-up and the delete
                # lost its fresh copy: unmark it, so that it is swept and copied again.
                back = yield call("retrieve", spec.collection, orphans,
                                  with_payload=False, with_vectors=False)
                stale += [p.id for p in back]
            if stale:  # by filter: a point deleted meanwhile is no error
                yield call("delete_payload", spec.collection, keys=[MIGRATED_MARKER],
                           points=models.FilterSelector(filter=models.Filter(
                               must=[models.HasIdCondition(has_id=stale)])))
            tidied += len(orphans) + len(stale)
            if offset is None:
                return tidied

    def count_stale_steps(self) -> Steps[int]:
        """A dry run of :meth:`tidy_steps`'s payload comparison: reads both sides, changes
        nothing."""
        stale, offset = 0, None
        while True:
            _, page_stale, offset = yield from self._compare_page(offset, payloads=True)
            stale += len(page_stale)
            if offset is None:
                return stale

    def _compare_page(self, offset: Any, payloads: bool
                      ) -> Steps[tuple[list[Any], list[Any], Any]]:
        """One page of the backfill's copies held against their legacy points: (copies whose
        legacy point is gone, marked legacy points whose content differs from their copy's,
        only with ``payloads``; the next page's offset). The one comparison behind the tidy
        and its dry run."""
        spec = self.spec
        page, offset = yield call("scroll", spec.native_collection,
                                  scroll_filter=BACKFILL_COPIES, limit=TIDY_PAGE,
                                  offset=offset, with_payload=payloads, with_vectors=False)
        if not page:
            return [], [], offset
        legacy = yield call("retrieve", spec.collection, [p.id for p in page],
                            with_payload=payloads, with_vectors=False)
        present = {p.id: p for p in legacy}
        orphans = [p.id for p in page if p.id not in present]
        stale = [p.id for p in page if payloads and p.id in present
                 and self.is_migrated(present[p.id])
                 and (copied_content(p.payload) != copied_content(present[p.id].payload)
                      or text_edited(p.payload))]
        return orphans, stale, offset

    def drop_new_steps(self) -> Steps[None]:
        """The new collection goes; the legacy points lose their "migrated" marker, so that
        a later migration of the collection starts from none migrated."""
        spec = self.spec
        exists = yield call("collection_exists", spec.native_collection)
        if exists:
            yield call("delete_collection", spec.native_collection)
        exists = yield call("collection_exists", spec.collection)
        if exists:
            yield call("delete_payload", spec.collection, keys=[MIGRATED_MARKER],
                       points=self.migrated_filter())
            yield from unstamp_steps(spec.collection)

    def routed_point(self, point_id: Any, payload: dict[str, Any], others: dict[str, Any],
                     old: list[float], new: list[float]
                     ) -> tuple[models.PointStruct, models.PointStruct | None]:
        spec = self.spec
        legacy_vector = ({**others, spec.old_vector: old} if others
                         else _as_vector(spec.old_vector, old))
        return (models.PointStruct(id=point_id, payload={**payload, **marker()},
                                   vector=legacy_vector),
                models.PointStruct(id=point_id, payload=payload, vector=self.new_vectors(new)))

    def new_vectors(self, values: list[float]) -> Any:
        return _as_vector(self.spec.new_vector, values)

    def marked_selectors(self, with_payload: Any, with_vectors: Any) -> tuple[Any, Any]:
        return _selecting(with_payload, MIGRATED_MARKER), with_vectors

    def hit_is_migrated(self, hit: models.ScoredPoint) -> bool:
        return (hit.payload or {}).get(MIGRATED_MARKER) is True

    def mirror_collection(self) -> str | None:
        return self.spec.native_collection

    def check_update_vectors(self) -> None:
        raise DriftError("update_vectors is not routed in the collection layout: upsert the "
                         "whole point so the new collection gets its payload too")

    def hybrid_search_steps(self, legacy: list[models.QueryRequest],
                            native: models.QueryRequest, batch_kw: dict[str, Any]
                            ) -> Steps[list[models.QueryResponse]]:
        legacy_side, native_side = yield Gather((
            call("query_batch_points", self.spec.collection, legacy, **batch_kw),
            call("query_batch_points", self.spec.native_collection, [native], **batch_kw),
        ))
        return [*native_side, *legacy_side]


_BY_NAME: dict[str, type[Layout]] = {cls.name: cls for cls in (NamedLayout, BlueGreenLayout)}


def layout_of(spec: MigrationSpec) -> Layout:
    """The strategy object for ``spec.layout``."""
    return _BY_NAME[spec.layout](spec)
