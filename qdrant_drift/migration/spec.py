"""What a migration is: which collection, which vectors, which models, which layout.

Plain data, validated on construction, serialisable to JSON so that it can live in the
migration state inside Qdrant (and, later, in migration files).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Layout = Literal["named", "collection"]
LAYOUTS: tuple[str, ...] = ("named", "collection")
DEFAULT_VECTOR = ""  # Qdrant's name for a collection's unnamed vector


@dataclass(frozen=True)
class MigrationSpec:
    """One embedding-model upgrade of one collection.

    Layout ``named``: the new model's vector ``new_vector`` is added to ``collection`` next
    to ``old_vector``; "migrated" = the point has ``new_vector``.
    Layout ``collection`` (blue-green): new vectors live in ``new_collection`` (same point
    ids, payload copied); "migrated" = the point exists there. Cut-over switches ``alias``
    (when given) to the new collection; an ``alias`` that is ``collection``'s own name is
    given to the new collection at finish, once the legacy collection is gone.
    """

    name: str
    collection: str
    new_vector: str
    old_vector: str = DEFAULT_VECTOR
    layout: Layout = "named"
    new_collection: str | None = None
    alias: str | None = None
    old_model: str | None = None
    new_model: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("migration name must not be empty")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if self.layout == "named":
            if self.new_vector == self.old_vector:
                raise ValueError(
                    f"named layout: new_vector and old_vector are both {self.new_vector!r}; "
                    "the new model needs a vector name of its own (or use layout = "
                    '"collection", whose new collection may reuse the name)'
                )
            if self.new_collection is not None:
                raise ValueError("named layout keeps one collection: drop new_collection")
        else:
            if not self.new_collection or self.new_collection == self.collection:
                raise ValueError(
                    'layout "collection" (blue-green) puts the new vectors in a collection of '
                    "their own: set new_collection to its name, other than collection's (e.g. "
                    f'new_collection = "{self.collection}_v2")')
            if self.alias == self.collection and self.new_vector != self.old_vector:
                raise ValueError(
                    f"alias {self.alias!r} is the collection's own name, which the new "
                    "collection takes at finish for apps that are not wrapped: they name the "
                    f"vector as they did ({_vector_label(self.old_vector)}), so new_vector "
                    f"must be {self.old_vector!r} too")
            if self.alias == self.new_collection:
                raise ValueError(f"alias {self.alias!r} is new_collection's own name: name the "
                                 "alias apps read through (or the legacy collection's name, "
                                 "which it takes at finish)")

    @property
    def native_collection(self) -> str:
        """Where the new vectors live (only the blue-green layout has a new_collection)."""
        return self.new_collection or self.collection

    def is_migrating_vector(self, using: str | None) -> bool:
        """Does a query's ``using`` address the vector this migration replaces?"""
        name = DEFAULT_VECTOR if using is None else using
        return name in (self.old_vector, self.new_vector)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MigrationSpec":
        return cls(**data)


def _vector_label(name: str) -> str:
    return "the unnamed vector" if name == DEFAULT_VECTOR else f"vector {name!r}"
