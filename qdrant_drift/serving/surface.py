"""What the wrapper does with each public name of ``QdrantClient`` / ``AsyncQdrantClient``.

Kept as data so that nothing is decided by accident: a test enumerates the installed
qdrant-client's public names and fails on any this table does not classify (a new release
cannot open a silent bypass), and ``python -m qdrant_drift.serving.surface`` renders the
table the README links (``docs/client-surface.md``; a test keeps it current).

- routed: reads of the migrating collection, served by the plan (adapted, hybrid, native);
- mirrored: writes that must reach both vectors (named layout) or both collections
  (blue-green), through the sans-I/O write path;
- passthrough: provably safe as it is (other collections, payload and ids only, admin);
- refused while migrating: on the migrating collection, until the migration is finished or
  rolled back, with an error that says why and what to do.

Deleting the migrating collection is what an app means when it clears its store (LlamaIndex's
``clear()``): it is mirrored as the end of the migration (abandoned), then done.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable

from ..errors import DriftError
from ..migration.layouts import layout_of
from ..migration.spec import MigrationSpec


class Treatment(str, Enum):
    ROUTED = "routed"
    MIRRORED = "mirrored"
    PASSTHROUGH = "passthrough"
    REFUSED = "refused while migrating"


Refuses = Callable[[MigrationSpec, dict[str, Any]], bool]


@dataclass(frozen=True)
class Entry:
    """One public name: its treatment, why, and (refused) when it is refused and what to do."""

    treatment: Treatment
    why: str
    refuses: Refuses | None = None
    instead: str = ""


def names_migration(spec: MigrationSpec, kw: dict[str, Any]) -> bool:
    """Is the call about a collection (or the alias) this migration holds?"""
    return kw.get("collection_name") in {spec.collection, spec.alias, spec.new_collection} - {
        None}


def _blue_green(spec: MigrationSpec, kw: dict[str, Any]) -> bool:
    return layout_of(spec).mirror_collection() is not None and names_migration(spec, kw)


def _drops_a_migrating_vector(spec: MigrationSpec, kw: dict[str, Any]) -> bool:
    return names_migration(spec, kw) and kw.get("vector_name") in (spec.old_vector,
                                                                   spec.new_vector)


def _moves_the_alias(spec: MigrationSpec, kw: dict[str, Any]) -> bool:
    if spec.alias is None:
        return False
    for operation in kw.get("change_aliases_operations") or ():
        for field in ("create_alias", "delete_alias", "rename_alias"):
            change = getattr(operation, field, None)
            if change is not None and spec.alias in {
                    getattr(change, name, None)
                    for name in ("alias_name", "old_alias_name", "new_alias_name")}:
                return True
    return False


def _routed(why: str) -> Entry:
    return Entry(Treatment.ROUTED, why)


def _mirrored(why: str) -> Entry:
    return Entry(Treatment.MIRRORED, why)


def _passthrough(why: str) -> Entry:
    return Entry(Treatment.PASSTHROUGH, why)


def _refused(why: str, refuses: Refuses, instead: str) -> Entry:
    return Entry(Treatment.REFUSED, why, refuses, instead)


_ENDS = ("on a collection the migration holds, the migration is abandoned first (the new "
         "vector or collection dropped, the call kept in its history), then the call runs "
         "as made and the wrapper passes everything through")
# Mirrored calls that end the migration of the collection they name.
ENDS_MIGRATION = frozenset({"delete_collection", "recreate_collection"})
_ADMIN = "cluster or server administration: no collection data changes"
_OTHER = "no point or vector of the migrating collection changes"
_READ_IDS = ("payload and ids only: the collection the app names holds every point in every "
             "phase (after a blue-green finish, the app's name for the dropped legacy "
             "collection means the new one)")
_SNAPSHOT = "a copy or listing of snapshots: nothing in the collection changes"
_MODELS = "fastembed model helpers: no call to Qdrant"
_RAW = "the raw transport or settings: calls made through it bypass the wrapper on purpose"
_FINISH = ("finish the migration (`qdrant-drift finish`) or roll it back first, or call it "
           "on `client.unwrapped` if you mean it")

SURFACE: dict[str, Entry] = {
    # routed reads
    "query_points": _routed("every query kind, by the plan (see README: Serving)"),
    "query_batch_points": _routed("each request routed; one round trip per collection"),
    "query_points_groups": _routed("grouped nearest search, by the plan"),
    "search_matrix_pairs": _routed("distances on the legacy vector (every point has one) "
                                   "before cut-over, on the new vector after"),
    "search_matrix_offsets": _routed("as search_matrix_pairs"),
    "count": _passthrough(_READ_IDS),
    "scroll": _passthrough(_READ_IDS),
    "retrieve": _passthrough(_READ_IDS),
    "facet": _passthrough(_READ_IDS),
    # mirrored writes
    "upsert": _mirrored("new vector + legacy vector (the adapter's or `old_vectors=`), "
                        "stamped; both collections in blue-green"),
    "upload_points": _mirrored("as upsert, batch by batch (lists, generators, batch_size; "
                               "`parallel` batches run one after the other)"),
    "upload_collection": _mirrored("as upload_points (lists, numpy arrays, generators, "
                                   "ids or none)"),
    "update_vectors": _mirrored("new vector + legacy vector; in blue-green the point is "
                                "copied to the new collection with its payload"),
    "batch_update_points": _mirrored("each operation as its own mirrored call, in order"),
    "delete": _mirrored("both collections in blue-green"),
    "delete_vectors": _mirrored("the migrating vector under either name: both its legacy "
                                "and its new vector"),
    "set_payload": _mirrored("both collections in blue-green"),
    "overwrite_payload": _mirrored("both collections in blue-green; the migrated marker is "
                                   "put back"),
    "delete_payload": _mirrored("both collections in blue-green"),
    "clear_payload": _mirrored("both collections in blue-green; the migrated marker is put "
                               "back"),
    "create_payload_index": _mirrored("both collections in blue-green (filters stay "
                                      "indexed after cut-over)"),
    "delete_payload_index": _mirrored("both collections in blue-green"),
    # refused on the migrating collection while the migration runs
    # on the migrating collection (or its new collection): the migration ends first
    "delete_collection": _mirrored(_ENDS),
    "recreate_collection": _mirrored(_ENDS),
    "recover_snapshot": _refused(
        "it would replace the collection under the migration (coverage and stamps with it)",
        names_migration, _FINISH),
    "recover_shard_snapshot": _refused(
        "it would replace points under the migration (coverage and stamps with it)",
        names_migration, _FINISH),
    "delete_vector_name": _refused(
        "it would drop the legacy or the new vector of every point",
        _drops_a_migrating_vector, "`qdrant-drift finish` drops the legacy vector when the "
        "migration is done; `rollback` leaves the new one unused"),
    "update_collection": _refused(
        "blue-green: it would change the legacy collection only, not the new one",
        _blue_green, "apply it to both collections on `client.unwrapped` (the named layout "
        "passes it through)"),
    "create_vector_name": _refused(
        "blue-green carries the migrating vector only: the new collection would lack it",
        _blue_green, "finish the migration first, or migrate in the named layout"),
    "create_shard_key": _refused(
        "blue-green: the new collection would not have the shard key",
        _blue_green, "create it on both collections on `client.unwrapped`"),
    "delete_shard_key": _refused(
        "blue-green: it would delete points from the legacy collection only",
        _blue_green, "delete it on both collections on `client.unwrapped`"),
    "update_collection_aliases": _refused(
        "the migration's alias is switched by `cutover` and `rollback`",
        _moves_the_alias, "use `qdrant-drift cutover` / `rollback`; other aliases pass "
        "through"),
    # passthrough
    "create_collection": _passthrough("creating a name that exists fails as it does "
                                      "unwrapped; other collections are not migrating"),
    "collection_exists": _passthrough(_OTHER),
    "get_collection": _passthrough(_OTHER),
    "get_collections": _passthrough(_OTHER),
    "get_aliases": _passthrough(_OTHER),
    "get_collection_aliases": _passthrough(_OTHER),
    "collection_cluster_info": _passthrough(_OTHER),
    "get_optimizations": _passthrough(_OTHER),
    "list_shard_keys": _passthrough(_OTHER),
    "cluster_collection_update": _passthrough("shard placement: the points stay as they are"),
    "migrate": _passthrough("reads from this client; writes only to the destination client"),
    "create_snapshot": _passthrough(_SNAPSHOT),
    "list_snapshots": _passthrough(_SNAPSHOT),
    "delete_snapshot": _passthrough(_SNAPSHOT),
    "create_full_snapshot": _passthrough(_SNAPSHOT),
    "list_full_snapshots": _passthrough(_SNAPSHOT),
    "delete_full_snapshot": _passthrough(_SNAPSHOT),
    "create_shard_snapshot": _passthrough(_SNAPSHOT),
    "list_shard_snapshots": _passthrough(_SNAPSHOT),
    "delete_shard_snapshot": _passthrough(_SNAPSHOT),
    "cluster_status": _passthrough(_ADMIN),
    "cluster_telemetry": _passthrough(_ADMIN),
    "recover_current_peer": _passthrough(_ADMIN),
    "remove_peer": _passthrough(_ADMIN),
    "info": _passthrough(_ADMIN),
    "close": _passthrough("stops the wrapper's background refresh, then closes the client"),
    "get_embedding_size": _passthrough(_MODELS),
    "list_text_models": _passthrough(_MODELS),
    "list_image_models": _passthrough(_MODELS),
    "list_sparse_models": _passthrough(_MODELS),
    "list_late_interaction_text_models": _passthrough(_MODELS),
    "list_late_interaction_multimodal_models": _passthrough(_MODELS),
    "http": _passthrough(_RAW),
    "grpc_points": _passthrough(_RAW),
    "grpc_collections": _passthrough(_RAW),
    "init_options": _passthrough(_RAW),
    "DEFAULT_BATCH_SIZE": _passthrough(_RAW),
}


def public_names(client_class: type) -> list[str]:
    """The public names of a qdrant-client class (what an app can reach on it)."""
    return sorted(name for name in dir(client_class) if not name.startswith("_"))


def refusal(spec: MigrationSpec, phase: str, method: str, kw: dict[str, Any]) -> DriftError | None:
    """The error for a call refused on the migrating collection, or None when it may run."""
    entry = SURFACE.get(method)
    if entry is None or entry.refuses is None or not entry.refuses(spec, kw):
        return None
    return DriftError(f"{method} is refused while migration {spec.name!r} is {phase}: "
                      f"{entry.why}; {entry.instead}")


def markdown() -> str:
    """The table the README links, one row per public name."""
    rows = ["| method | treatment | why |", "| --- | --- | --- |"]
    order = list(Treatment)
    for name, entry in sorted(SURFACE.items(), key=lambda i: (order.index(i[1].treatment),
                                                               i[0])):
        why = entry.why + (f"; instead: {entry.instead}" if entry.instead else "")
        rows.append(f"| `{name}` | {entry.treatment.value} | {why.replace('|', '/')} |")
    return ("# qdrant-client surface during a migration\n\n"
            "Generated by `python -m qdrant_drift.serving.surface` from "
            "`qdrant_drift/serving/surface.py`; a test keeps it current. Refusals apply to "
            "the migrating collection (its alias, its new collection) until the migration "
            "is finished or rolled back.\n\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    print(markdown(), end="")
