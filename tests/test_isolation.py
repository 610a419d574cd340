"""Embedding a batch so that one bad item never sinks the others (backfill and fit alike)."""

from __future__ import annotations

import numpy as np
import pytest

from qdrant_drift.backfill.content import Item
from qdrant_drift.backfill.isolation import EmbedderDown, embed_isolating
from qdrant_drift.errors import EmbedderSetupError


def items(*texts: str) -> list[Item]:
    return [Item(id=i, text=text) for i, text in enumerate(texts)]


def embed_unless_bad(texts: list[str]) -> np.ndarray:
    """Raises on a batch holding a text that starts with 'bad'; 3-d rows otherwise."""
    if any(t.startswith("bad") for t in texts):
        raise RuntimeError("cannot embed that")
    return np.ones((len(texts), 3), dtype=np.float32)


def down(texts: list[str]) -> np.ndarray:
    raise ConnectionError("service unavailable")


def test_the_items_that_break_a_batch_become_poison_and_the_rest_is_kept():
    embedded = embed_isolating(embed_unless_bad, items("a", "bad b", "c"), None)
    assert [item.id for item in embedded.items] == [0, 2]
    assert embedded.vectors.shape == (2, 3)  # the width comes from the good rows
    assert [(i, why.startswith("embedder failed")) for i, why in embedded.poison] == [(1, True)]


def test_rows_that_cannot_be_written_are_poison_without_a_retry():
    def one_nan(texts: list[str]) -> np.ndarray:
        rows = np.ones((len(texts), 3), dtype=np.float32)
        rows[1] = np.nan
        return rows

    embedded = embed_isolating(one_nan, items("a", "b", "c"), 3)
    assert [item.id for item in embedded.items] == [0, 2]
    assert embedded.poison == [(1, "embedding contains NaN or inf")]


def test_a_batch_of_the_wrong_shape_is_every_items_problem():
    embedded = embed_isolating(lambda texts: np.ones((1, 3)), items("a", "b"), 3)
    assert embedded.items == [] and embedded.vectors.shape == (0, 3)
    assert len(embedded.poison) == 2


@pytest.mark.parametrize("texts, probe, outcome", [
    # (batch, probe, what happens) with an embedder that is down for every text
    (("a", "b", "c"), 2, "down"),       # the first two fail alone too: the embedder's failure
    (("a", "b", "c"), 0, "poison"),     # no probe (the backfill): every item dead-lettered
    (("a",), 2, "poison"),              # a one-item batch is that item's problem
])
def test_a_probe_tells_an_embedder_that_is_down_from_bad_items(texts, probe, outcome):
    if outcome == "down":
        with pytest.raises(EmbedderDown) as raised:
            embed_isolating(down, items(*texts), None, probe=probe)
        assert isinstance(raised.value.cause, ConnectionError)
    else:
        embedded = embed_isolating(down, items(*texts), None, probe=probe)
        assert embedded.items == [] and len(embedded.poison) == len(texts)


def test_a_probe_that_finds_one_good_item_goes_on_item_by_item():
    embedded = embed_isolating(embed_unless_bad, items("bad a", "b", "bad c", "d"), None,
                               probe=2)
    assert [item.id for item in embedded.items] == [1, 3]
    assert [i for i, _ in embedded.poison] == [0, 2]


def test_an_embedder_that_cannot_be_set_up_stops_instead_of_poisoning():
    def not_set_up(texts: list[str]) -> np.ndarray:
        raise EmbedderSetupError("no model")

    with pytest.raises(EmbedderSetupError):
        embed_isolating(not_set_up, items("a", "b"), None)


def test_items_embedded_one_by_one_must_share_the_first_good_rows_width():
    # the fit's first batch knows no width yet: a row of another width is a problem, as it
    # would be in a batch, not a crash when the rows are stacked
    def ragged(texts: list[str]) -> np.ndarray:
        if len(texts) > 1:
            raise RuntimeError("one at a time")
        return np.ones((1, 4 if texts[0] == "wide" else 3), dtype=np.float32)

    embedded = embed_isolating(ragged, items("a", "wide", "c"), None)
    assert [item.id for item in embedded.items] == [0, 2] and embedded.vectors.shape == (2, 3)
    assert embedded.poison == [(1, "embedding has dimension 4, the new vector needs 3")]
