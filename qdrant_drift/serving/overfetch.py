"""How deep the legacy half of a hybrid search reads, so that it needs no per-point filter.

The legacy half wants the best points NOT yet migrated (the native half ranks the others),
and the calibration wants the best migrated ones (the anchors, see ``merge.anchored``).
Asking Qdrant for either with a filter on "migrated" costs a check per point: a ``must_not
HasVector`` has no index on a server, and embedded Qdrant evaluates every filter (payload
keys too) in a Python loop over all points, which made hybrid 8-10x plain search. Instead
the legacy half is ONE unfiltered request (the app's own filter only) for the top ``L``
hits, each carrying a tiny marker that says whether it is migrated (the layout's
``marked_selectors``: a one-float vector written with the new vector in the named layout,
the payload marker in blue-green). Split by the marker, the top ``L`` are exactly a prefix
of each of the two filtered rankings: the first ``u`` not-migrated hits and the first ``m``
anchors, ``u + m = L``. So when ``u`` and ``m`` both reach ``wanted``, the results are the
ones the two filtered requests gave, from one request instead of two, in the same round
trip.

``L`` follows coverage ``c``: the rarer kind is about ``min(c, 1 - c)`` of the hits, so
``L = wanted * margin / min(c, 1 - c)`` (at least ``2 * wanted``, at most ``most * wanted``).
When the rarer kind still falls short:
- too few not-migrated hits: those missed rank below more than ``L - wanted`` migrated points
  on the legacy scale, and the anchored calibration maps legacy ranks onto native ranks, so
  they would land below the native side's first ``wanted`` hits: they could not have been in
  the results;
- too few anchors (low coverage): the calibration is anchored on fewer pairs (none: the
  global fit alone), exactly as a collection with that few migrated points always was.
The router benchmark checks the whole coverage range against the filtered requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class OverFetch:
    """Legacy hits to read for ``wanted`` results at a coverage (a small, named policy)."""

    margin: float = 1.5
    most: int = 20  # times ``wanted``: the deepest read at the ends of the coverage range

    def limit(self, wanted: int, coverage: float) -> int:
        rarer = min(coverage, 1.0 - coverage)
        factor = self.most if rarer <= 0 else math.ceil(self.margin / rarer)
        return wanted * max(2, min(self.most, factor))
