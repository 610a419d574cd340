"""Where the text to re-embed comes from: a payload field, or the user's own loader.

A source turns the records the sweep fetched into :class:`Item` s: id, text (None when there
is none: a poison item) and the *version* the conditional write checks (the text itself for a
payload field, or the value of ``version_field`` when the app keeps one). A loader reads
content Qdrant does not hold (for example rows of a SQL database): then only a
``version_field`` in the payload lets the backfill notice content changed mid-batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from ..errors import DriftError

if TYPE_CHECKING:  # Ray actors import this module: no qdrant-client there (seconds to import)
    from qdrant_client.http import models

TextLoader = Callable[[Sequence[Any]], Any]  # ids -> texts (a list in id order, or a mapping)


@dataclass(frozen=True)
class Item:
    id: Any
    text: str | None
    version: Any = None  # compared at write time; None = nothing to compare
    payload: Mapping[str, Any] | None = None  # as read (the blue-green copy needs it)


class _Source:
    version_field: str | None

    @property
    def version_key(self) -> str | None:
        """The payload key whose value must still match when the vector is written."""
        return self.version_field

    def version_of(self, record: models.Record) -> Any:
        """The version of a record as listed (what the conditional write compares)."""
        key = self.version_key
        return None if key is None else (record.payload or {}).get(key)

    def payload_keys(self) -> list[str]:
        raise NotImplementedError

    def items(self, records: Sequence[models.Record]) -> list[Item]:
        raise NotImplementedError


# What a payload field can hold: the text itself, or a LlamaIndex node (``_node_content``:
# the node as JSON, with ``_node_type``), whose embedding text LlamaIndex itself rebuilds.
TEXT_FORMATS = ("text", "llamaindex")


def llamaindex_text(payload: Mapping[str, Any]) -> str | None:
    """The text LlamaIndex embeds for the node a payload holds: its text with the metadata
    it embeds (``MetadataMode.EMBED``: templates and excluded keys as the node says), read
    by llama-index itself, so a re-embedded vector is what LlamaIndex would have made.
    None when the payload holds no readable node."""
    from ..extras import require

    schema = require("llama_index.core.schema")
    utils = require("llama_index.core.vector_stores.utils")
    try:
        node = utils.metadata_dict_to_node(dict(payload))
    except (ValueError, TypeError, KeyError):  # no _node_content, or not a node's JSON
        return None
    return node.get_content(metadata_mode=schema.MetadataMode.EMBED)


@dataclass(frozen=True)
class PayloadField(_Source):
    """The text is in ``payload[field]``; it doubles as the version unless one is given.
    ``text_from="llamaindex"``: the field is a LlamaIndex node's ``_node_content``, and the
    text is the one LlamaIndex embeds for it (:func:`llamaindex_text`)."""

    field: str
    version_field: str | None = None
    text_from: str = "text"

    def __post_init__(self) -> None:
        if self.text_from not in TEXT_FORMATS:
            raise ValueError(f"text_from must be one of {TEXT_FORMATS}, got {self.text_from!r}")

    @property
    def version_key(self) -> str | None:
        return self.version_field or self.field

    def payload_keys(self) -> list[str]:
        node_type = ["_node_type"] if self.text_from == "llamaindex" else []
        return [k for k in (self.field, self.version_field, *node_type) if k]

    def items(self, records: Sequence[models.Record]) -> list[Item]:
        out = []
        for record in records:
            payload = record.payload or {}
            text = (payload.get(self.field) if self.text_from == "text" else
                    llamaindex_text({**payload, "_node_content": payload.get(self.field)}))
            out.append(Item(record.id, text if isinstance(text, str) and text.strip() else None,
                            self.version_of(record), record.payload))
        return out


@dataclass(frozen=True)
class Loader(_Source):
    """``loader(ids) -> texts``: a list in the order of ``ids`` or a mapping id -> text."""

    loader: TextLoader
    version_field: str | None = None

    def payload_keys(self) -> list[str]:
        return [self.version_field] if self.version_field else []

    def items(self, records: Sequence[models.Record]) -> list[Item]:
        ids = [r.id for r in records]
        loaded = self.loader(ids) if ids else []
        if isinstance(loaded, Mapping):
            texts = [loaded.get(pid) for pid in ids]
        else:
            texts = list(loaded)
            if len(texts) != len(ids):
                raise DriftError(f"loader returned {len(texts)} texts for {len(ids)} ids")
        return [Item(r.id, t if isinstance(t, str) and t.strip() else None,
                     self.version_of(r), r.payload) for r, t in zip(records, texts)]


ContentSource = _Source


def non_text_type(value: Any) -> str | None:
    """The type a payload value holds where text was expected (a number, a list), or None
    when it is text or absent: "holds int values" tells a user more than "missing"."""
    return None if value is None or isinstance(value, str) else type(value).__name__


def no_content_reason(source: ContentSource, item: Item | None = None) -> str:
    """Why ``item`` has no text to embed (its dead-letter reason). Every reason of one source
    starts with ``no_content_reason(source)``, which tells them from an embedder's failures."""
    if isinstance(source, PayloadField):
        reason = f"no text in payload field {source.field!r}"
        if item is None or source.text_from != "text":
            return reason
        payload = item.payload or {}
        if source.field not in payload:
            return f"{reason}: the point has no such field"
        held = non_text_type(payload[source.field])
        return f"{reason}: it holds {held}, not text" if held else f"{reason}: it is empty"
    return "the loader returned no text for this id"
