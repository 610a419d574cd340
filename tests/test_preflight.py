"""The pre-flight report predicts retrieval recovery from held-out pairs alone."""

from __future__ import annotations

import numpy as np

from qdrant_drift.adapters.maps import LinearMap
from qdrant_drift.adapters.quality import preflight_report

from .synthetic import drifted_pairs, random_orthogonal, topic_only_pairs, unit


def test_a_perfect_adapter_is_predicted_to_keep_everything():
    new, old, true_map = drifted_pairs(300, 32, 32)
    exact = LinearMap(weight=true_map, bias=np.zeros(32, np.float32))
    report = preflight_report(exact, new, old)
    assert report["predicted_recall_recovery"] == 1.0
    assert report["predicted_mrr_recovery"] == 1.0
    assert report["drastic_drift"] is False


def test_a_wrong_adapter_is_predicted_to_lose_quality_and_flagged_as_drastic():
    new, old, _ = drifted_pairs(300, 32, 32)
    wrong = LinearMap(weight=random_orthogonal(np.random.default_rng(5), 32, 32),
                      bias=np.zeros(32, np.float32))
    report = preflight_report(wrong, new, old)
    assert report["predicted_recall_recovery"] < 0.3
    assert report["drastic_drift"] is True
    assert "old_query" in report["advice"]


def test_prediction_falls_as_the_map_degrades():
    new, old, true_map = drifted_pairs(400, 32, 32)
    rng = np.random.default_rng(1)
    predicted = []
    for noise in (0.0, 0.3, 1.0):
        weight = true_map + noise * rng.normal(size=true_map.shape).astype(np.float32) / 5.0
        predicted.append(preflight_report(
            LinearMap(weight=weight, bias=np.zeros(32, np.float32)), new, old
        )["predicted_recall_recovery"])
    assert predicted[0] > predicted[1] > predicted[2]


def test_self_match_never_counts():
    # identity "adapter" between identical spaces must still be judged on neighbours,
    # so the report equals 1 only because neighbours are preserved, not by self-retrieval
    new = unit(np.random.default_rng(2).normal(size=(200, 16)))
    identity = LinearMap(weight=np.eye(16, dtype=np.float32), bias=np.zeros(16, np.float32))
    assert preflight_report(identity, new, new)["predicted_recall_recovery"] == 1.0


def test_a_map_that_loses_item_identity_is_flagged_as_drastic():
    # the legacy model only saw 3 of 32 directions: documents stay "near their topic"
    # but can no longer be told apart, as with a lexical model replaced by a semantic one
    report = preflight_report(*topic_only_pairs())
    assert report["identity_preservation"] < 0.9
    assert report["drastic_drift"] is True
    # the advice names the reason it was given, not a comparison the figures contradict
    assert report["advice"].startswith("The adapter loses item identity")


# -- logged queries, intervals, memorised documents (issue 16) ---------------------------

def _queries_near(docs: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Short "queries": noisy copies of random documents (no labels are kept)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(docs), n, replace=False)
    return unit(docs[rows] + 0.3 * rng.normal(size=(n, docs.shape[1])))


def test_the_report_says_whether_it_stands_on_logged_queries_or_documents_only():
    new, old, true_map = drifted_pairs(400, 32, 32, noise=0.2)
    exact = LinearMap(weight=true_map, bias=np.zeros(32, np.float32))
    documents = preflight_report(exact, new, old)
    logged = preflight_report(exact, new, old, queries=_queries_near(new, 150, 3))
    assert documents["basis"] == "documents" and documents["logged_queries"] == 0
    assert logged["basis"] == "logged_queries" and logged["logged_queries"] == 150


def test_every_prediction_comes_with_an_interval_around_it():
    new, old, true_map = drifted_pairs(400, 32, 32, noise=0.3)
    noisy = LinearMap(weight=true_map + 0.05 * np.random.default_rng(4).normal(
        size=true_map.shape).astype(np.float32), bias=np.zeros(32, np.float32))
    for queries in (None, _queries_near(new, 200, 5)):
        report = preflight_report(noisy, new, old, queries=queries)
        for name in ("recall", "mrr", "agreement"):
            point = report[f"predicted_{name}" if name == "agreement"
                           else f"predicted_{name}_recovery"]
            assert 0.0 <= report[f"predicted_{name}_low"] <= point
            assert point <= report[f"predicted_{name}_high"] <= 1.0


def test_a_document_only_interval_is_wider_than_one_from_logged_queries():
    new, old, true_map = drifted_pairs(400, 32, 32, noise=0.3)
    exact = LinearMap(weight=true_map, bias=np.zeros(32, np.float32))
    documents = preflight_report(exact, new, old)
    logged = preflight_report(exact, new, old, queries=_queries_near(new, 300, 6))
    width = lambda r: r["predicted_recall_high"] - r["predicted_recall_low"]  # noqa: E731
    assert width(documents) > width(logged)


def test_the_old_models_own_queries_set_the_drastic_drift_bar_when_given():
    new, old, true_map = drifted_pairs(400, 32, 32, noise=0.2)
    queries = _queries_near(new, 200, 7)
    old_queries = unit(queries @ true_map)  # the old model embeds them perfectly
    garbled = LinearMap(weight=true_map + 0.4 * np.random.default_rng(8).normal(
        size=true_map.shape).astype(np.float32), bias=np.zeros(32, np.float32))
    report = preflight_report(garbled, new, old, queries=queries, old_queries=old_queries)
    assert report["old_model_recovery"] > report["predicted_recall_recovery"]
    assert report["drastic_drift"] is True




def test_candidates_that_find_the_same_answers_are_told_apart_by_how_high_they_rank_them():
    from qdrant_drift.adapters.quality import selection_score

    rng = np.random.default_rng(5)
    docs = np.zeros((301, 17), np.float32)
    docs[:300, :16] = unit(rng.normal(size=(300, 16)))
    docs[300, 16] = 1.0  # a decoy no query is about: orthogonal to every other document
    queries = docs[:60]  # each query's stand-in answer is its own document

    def first(q: np.ndarray) -> np.ndarray:  # ranks every answer first
        return q

    def second(q: np.ndarray) -> np.ndarray:  # ranks the decoy above every answer
        return q + 2.0 * docs[300]

    top, runner_up = (selection_score(f, docs, docs, queries) for f in (first, second))
    assert np.floor(top) == np.floor(runner_up) == 1  # the same Recall@10: every answer
    assert top > runner_up  # MRR@10 breaks the tie
    assert top - 1 < 1 / len(queries)  # and weighs less than one query's share of recall


def test_logged_queries_widen_their_interval_by_how_far_the_documents_reading_lies():
    # two label-free readings of one figure (stand-in answers for the logged queries, and
    # for the documents themselves): where they disagree, neither is known to be right
    new, old, true_map = drifted_pairs(400, 32, 32, noise=0.3, seed=2)
    noisy = LinearMap(weight=true_map + 0.08 * np.random.default_rng(7).normal(
        size=true_map.shape).astype(np.float32), bias=np.zeros(32, np.float32))
    documents = preflight_report(noisy, new, old)
    logged = preflight_report(noisy, new, old, queries=_queries_near(new, 200, 8))
    apart = abs(logged["predicted_recall_recovery"] - documents["predicted_recall_recovery"])
    assert apart > 0.01  # the test means something only where the two readings differ
    assert logged["stand_in_disagreement"] == np.float64(apart).item()
    point = logged["predicted_recall_recovery"]
    assert logged["predicted_recall_low"] <= max(0.0, point - apart)
    assert logged["predicted_recall_high"] >= min(1.0, point + apart)
    assert documents["stand_in_disagreement"] is None  # the documents' margin is fixed


def test_the_interval_reaches_out_to_the_corpus_the_adapter_will_search():
    from qdrant_drift.adapters.quality import size_doublings

    new, old, true_map = drifted_pairs(800, 16, 16, noise=0.3, seed=9)
    blurred = LinearMap(weight=true_map, bias=np.zeros(16, np.float32))
    queries = _queries_near(new, 150, 9)
    sample = preflight_report(blurred, new, old, queries=queries)
    corpus = preflight_report(blurred, new, old, queries=queries, corpus_size=800 * 2**6)
    assert corpus["size_doublings"] == 6.0 and sample["size_doublings"] == 1.0
    # the same point, a wider interval: six doublings of the corpus instead of one
    assert corpus["predicted_recall_recovery"] == sample["predicted_recall_recovery"]
    assert corpus["predicted_recall_low"] < sample["predicted_recall_low"]
    assert size_doublings(None, 800) == size_doublings(500, 800) == 1.0


def test_a_richer_candidate_must_win_by_more_than_the_noise_of_its_margin():
    from qdrant_drift.adapters.quality import clearly_better

    plain = np.array([1, 0, 1, 0, 1, 0, 1, 0] * 25, np.float64)  # 200 queries, half found
    one_more = plain.copy()
    one_more[1] = 1  # finds one query more: a margin of 0.005, within its noise
    many_more = plain.copy()
    many_more[1:41:2] = 1  # finds 20 more and loses none
    traded = plain.copy()
    traded[1:41:2], traded[0:40:2] = 1, 0  # finds 20 others, loses 20

    assert not clearly_better([one_more], [plain])
    assert clearly_better([many_more], [plain])
    assert not clearly_better([traded], [plain])
    assert not clearly_better([plain], [plain])
    assert not clearly_better([np.array([])], [np.array([])])


def test_rounds_that_score_the_same_queries_again_do_not_count_as_more_evidence():
    from qdrant_drift.adapters.quality import clearly_better

    plain = np.array([1, 0] * 100, np.float64)
    richer = plain.copy()
    richer[[1, 3, 5]] = 1
    richer[0] = 0  # +3 / -1 of 200: within the noise
    assert not clearly_better([richer], [plain])
    # two rounds over the same logged queries: the same evidence, not twice as much
    assert not clearly_better([richer, richer], [plain, plain])
    assert not clearly_better([richer] * 3, [plain] * 3)


def test_a_custom_scorers_one_figure_per_round_only_has_to_be_higher():
    from qdrant_drift.adapters.quality import clearly_better

    assert clearly_better([np.array([0.6]), np.array([0.61])], [np.array([0.5]), np.array([0.5])])
    assert not clearly_better([np.array([0.5])], [np.array([0.5])])


def test_whitened_takes_a_neighbour_lookup_only_where_it_wins_clearly():
    from qdrant_drift.adapters.whitened import Whitened

    plain = [np.array([1, 0] * 100, np.float64)] * 2  # two selection rounds
    narrow = [p.copy() for p in plain]
    narrow[0][1] = 1
    clear = [p.copy() for p in plain]
    for p in clear:
        p[1:41:2] = 1
    setting = ((0.25, 0.5, 1.0),)
    other = ((0.0, 0.5, 0.0),)

    assert Whitened._choose({(setting, 0.0): plain, (setting, 0.15): narrow}) == (setting, 0.0)
    assert Whitened._choose({(setting, 0.0): plain, (setting, 0.15): clear}) == (setting, 0.15)
    # the lookup is weighed against the best candidate without one, whichever its setting
    assert Whitened._choose({(other, 0.0): clear, (setting, 0.0): plain,
                             (setting, 0.15): clear}) == (other, 0.0)
    # among candidates without a lookup the best score wins outright
    assert Whitened._choose({(other, 0.0): narrow, (setting, 0.0): plain}) == (other, 0.0)
