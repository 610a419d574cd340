"""Each adapter kind recovers a known map and keeps its promises about shapes and dims."""

from __future__ import annotations

import time

import numpy as np
import pytest

from qdrant_drift import fit
from qdrant_drift.adapters import KINDS
from qdrant_drift.adapters.cost import transform_costs_us

from .synthetic import drifted_pairs, unit

CLOSED_FORM = ["procrustes", "affine", "low_rank_affine", "whitened"]
ITERATIVE = ["lambda_orthogonal", "residual_mlp"]


@pytest.mark.parametrize("kind", CLOSED_FORM + ITERATIVE)
def test_every_kind_recovers_a_known_orthogonal_map(kind, pairs_64):
    new, old, true_map = pairs_64
    options = {"epochs": 3} if kind in ITERATIVE else {}
    adapter = fit(kind, new, old, seed=1, **options)
    probe = unit(np.random.default_rng(9).normal(size=(50, 64)))
    expected = unit(probe @ true_map)
    cosine = (adapter.transform(probe) * expected).sum(axis=1)
    assert cosine.min() > 0.97


def test_procrustes_is_exact_on_noiseless_rotation():
    new, old, true_map = drifted_pairs(500, 32, 32)
    adapter = fit("procrustes", new, old, distance="dot")
    np.testing.assert_allclose(adapter.map.weight, true_map, atol=1e-4)


def test_affine_recovers_a_known_affine_map():
    rng = np.random.default_rng(3)
    new = rng.normal(size=(3000, 24)).astype(np.float32)
    weight = rng.normal(size=(24, 16)).astype(np.float32)
    bias = rng.normal(size=16).astype(np.float32)
    adapter = fit("affine", new, new @ weight + bias, distance="dot", alphas=(1e-6,))
    np.testing.assert_allclose(adapter.map.weight, weight, atol=1e-2)
    np.testing.assert_allclose(adapter.map.bias, bias, atol=1e-2)


@pytest.mark.parametrize("kind", CLOSED_FORM)
def test_differing_dimensions(kind):
    new, old, _ = drifted_pairs(800, 96, 48, noise=0.01)
    adapter = fit(kind, new, old, new_model="big-768", old_model="small-384")
    out = adapter.transform(new[:7])
    assert out.shape == (7, 48) and out.dtype == np.float32
    assert (adapter.new_dim, adapter.old_dim) == (96, 48)


def test_smaller_new_model_than_old_one():
    new, old, _ = drifted_pairs(800, 32, 64, noise=0.01)
    adapter = fit("lambda_orthogonal", new, old, epochs=2, lambdas=(1.0,))
    assert adapter.transform(new[0]).shape == (64,)


def test_transform_accepts_one_vector_or_a_batch_and_normalises_for_cosine(pairs_64):
    new, old, _ = pairs_64
    adapter = fit("procrustes", new, old)
    one = adapter.transform(new[0].astype(np.float64))
    batch = adapter.transform(new[:3])
    assert one.shape == (64,) and one.dtype == np.float32
    np.testing.assert_allclose(one, batch[0], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_dot_distance_keeps_the_scale():
    new, old, _ = drifted_pairs(600, 16, 16)
    adapter = fit("procrustes", 3.0 * new, 3.0 * old, distance="dot", center=False)
    assert np.linalg.norm(adapter.transform(3.0 * new[0])) == pytest.approx(3.0, rel=1e-3)


def test_zero_query_stays_zero_under_cosine(pairs_64):
    new, old, _ = pairs_64
    adapter = fit("procrustes", new, old, center=False)
    assert not adapter.transform(np.zeros(64, np.float32)).any()


def test_auto_picks_by_held_out_retrieval_and_records_why(pairs_64):
    new, old, _ = pairs_64
    adapter = fit("auto", new, old, candidates=["procrustes", "affine"])
    assert adapter.info["auto"]["chosen"] in {"procrustes", "affine"}
    assert set(adapter.info["auto"]["scores"]) == {"procrustes", "affine"}


def test_metadata_records_what_the_adapter_is_for(pairs_64):
    new, old, _ = pairs_64
    adapter = fit("procrustes", new, old, new_model="m-new", old_model="m-old")
    assert adapter.fingerprint.new_model == "m-new"
    assert adapter.info["pairs"] == len(new)
    assert adapter.quality is not None and "predicted_recall_recovery" in adapter.quality


def test_registry_lists_every_documented_kind():
    assert set(KINDS) >= {"procrustes", "affine", "low_rank_affine", "lambda_orthogonal",
                          "residual_mlp", "whitened", "auto"}


@pytest.mark.parametrize("gamma", [0.0, 0.3])
def test_whitened_single_query_path_matches_the_batch_path(gamma, pairs_64):
    new, old, _ = pairs_64
    adapter = fit("whitened", new, old, gammas=(gamma,))
    batch = adapter.transform(new[:6])
    singles = np.stack([adapter.transform(row) for row in new[:6]])
    np.testing.assert_allclose(singles, batch, atol=1e-5)


def test_whitened_ranks_like_the_true_map_on_anisotropic_legacy_space():
    # legacy space = rotation of the new one, then squashed along a few directions: the
    # ranking a whitened adapter produces against the raw legacy vectors must still follow
    # the new model's ranking closely.
    rng = np.random.default_rng(4)
    new, _, true_map = drifted_pairs(1500, 32, 32, seed=4)
    squash = np.ones(32, np.float32)
    squash[:3] = 6.0
    old = unit(new @ true_map * squash + 0.01 * rng.normal(size=(1500, 32)))
    adapter = fit("whitened", new[:1000], old[:1000], gammas=(0.0,))
    queries = unit(new[1000:1100] + 0.1 * rng.normal(size=(100, 32)))
    native = np.argsort(-(queries @ new[1000:].T), axis=1)[:, 0]
    adapted = np.argsort(-(adapter.transform(queries) @ old[1000:].T), axis=1)[:, :10]
    assert (adapted == native[:, None]).any(axis=1).mean() > 0.9


def test_logged_queries_choose_the_kind_and_ground_the_preflight(pairs_64):
    new, old, true_map = pairs_64
    rng = np.random.default_rng(3)
    queries = unit(new[:120] + 0.3 * rng.normal(size=(120, new.shape[1])))
    adapter = fit("auto", new, old, candidates=["procrustes", "affine"], seed=0,
                  queries=queries, old_queries=unit(queries @ true_map))
    assert adapter.info["logged_queries"] == 120
    assert adapter.quality["basis"] == "logged_queries"
    assert adapter.quality["predicted_recall_low"] <= adapter.quality[
        "predicted_recall_recovery"] <= adapter.quality["predicted_recall_high"]


def test_logged_queries_of_the_wrong_width_are_a_clear_error(pairs_64):
    from qdrant_drift.errors import InvalidVectorsError

    new, old, _ = pairs_64
    with pytest.raises(InvalidVectorsError, match="queries must be finite 64-d"):
        fit("procrustes", new, old, queries=np.ones((5, 3), np.float32))
    with pytest.raises(ValueError, match="old_queries needs queries"):
        fit("procrustes", new, old, old_queries=old[:5])


def test_a_fit_too_small_for_a_pre_flight_report_records_the_pairs_the_report_needs():
    # "too few pairs to hold any out" was not the reason: the report needs MIN_PREFLIGHT_PAIRS
    # at least (more for kinds that need many pairs to fit on what is not held out)
    from qdrant_drift.adapters import make_fitter
    from qdrant_drift.adapters.fitting import MIN_PREFLIGHT_PAIRS, preflight_pairs

    new, old, _ = drifted_pairs(MIN_PREFLIGHT_PAIRS - 4, 8, 8)
    with pytest.warns(UserWarning, match=f"{MIN_PREFLIGHT_PAIRS - 4} pairs are below the "
                                         f"{MIN_PREFLIGHT_PAIRS} the pre-flight quality report"):
        adapter = fit("procrustes", new, old)
    assert adapter.quality is None
    assert adapter.info["preflight_pairs"] == MIN_PREFLIGHT_PAIRS
    assert preflight_pairs(make_fitter("procrustes"), 8, 8) == MIN_PREFLIGHT_PAIRS
    # a fit with a report, or one asked for none (holdout=0), records no such need
    assert "preflight_pairs" not in fit("procrustes", *drifted_pairs(200, 8, 8)[:2]).info
    assert "preflight_pairs" not in fit("procrustes", new, old, holdout=0.0).info


def test_an_adapter_that_remembers_its_training_documents_is_neither_praised_nor_chosen(
    pairs_64, monkeypatch
):
    """A pure lookup table (training document -> its legacy vector, anything else -> noise)
    would look perfect if the pre-flight searched documents it was fitted on."""
    from qdrant_drift.adapters import kinds as kinds_module
    from qdrant_drift.adapters.maps import Map

    class LookupMap(Map):
        name = "test_lookup"
        array_names = ("keys", "values")

        def weight_matrices(self):
            return [self.keys.T, self.values]

        def apply(self, x):
            one, x = x.ndim == 1, np.atleast_2d(x)
            hit = (x @ self.keys.T).max(axis=1) > 0.9999
            noise = np.random.default_rng(0).normal(size=(len(x), self.values.shape[1]))
            out = np.where(hit[:, None], self.values[(x @ self.keys.T).argmax(axis=1)], noise)
            return out[0].astype(np.float32) if one else out  # one vector in, one out

    class Lookup:
        name = "test_lookup"
        needs_torch = False

        def min_pairs(self, new_dim, old_dim):
            return 2

        def __call__(self, new, old, ctx):
            return LookupMap(keys=new, values=old)

        def frozen(self):
            return self

    monkeypatch.setitem(kinds_module.KINDS, "test_lookup", Lookup)
    new, old, _ = pairs_64
    adapter = fit("test_lookup", new, old, seed=0)
    assert adapter.quality["predicted_recall_recovery"] < 0.2
    assert adapter.quality["drastic_drift"] is True
    # nor is auto fooled: it judges candidates on documents they were not fitted on
    chosen = fit("auto", new, old, candidates=["test_lookup", "procrustes"], seed=0)
    assert chosen.info["auto"]["chosen"] == "procrustes"
    assert chosen.info["auto"]["scores"]["test_lookup"] < 0.2


def _register_exact_kind(monkeypatch, name: str, map_class: type) -> None:
    """A test kind ``name``: the Procrustes solution served by ``map_class`` (a
    ``LinearMap`` whose ``apply`` costs what the test needs)."""
    from qdrant_drift.adapters import kinds as kinds_module
    from qdrant_drift.adapters.closed_form import Procrustes

    class Exact(Procrustes):
        def __call__(self, new, old, ctx):
            exact = super().__call__(new, old, ctx)
            return map_class(weight=exact.weight, bias=exact.bias)

        def frozen(self):
            return self

    Exact.name = name
    monkeypatch.setitem(kinds_module.KINDS, name, Exact)


def _register_slow_and_poor_kinds(monkeypatch) -> None:
    """Two test kinds: ``test_slow`` (the true map, 2 ms per query) and ``test_poor`` (a
    random rotation, microseconds): on held-out retrieval slow wins by far."""
    import time

    from qdrant_drift.adapters import kinds as kinds_module
    from qdrant_drift.adapters.closed_form import Procrustes
    from qdrant_drift.adapters.maps import LinearMap

    from .synthetic import random_orthogonal

    class SlowMap(LinearMap):
        def apply(self, x):
            time.sleep(0.002)
            return super().apply(x)

    _register_exact_kind(monkeypatch, "test_slow", SlowMap)

    class Poor(Procrustes):
        name = "test_poor"

        def __call__(self, new, old, ctx):
            rotation = random_orthogonal(np.random.default_rng(5), new.shape[1], old.shape[1])
            return LinearMap(weight=rotation, bias=np.zeros(old.shape[1], np.float32))

        def frozen(self):
            return self

    monkeypatch.setitem(kinds_module.KINDS, "test_poor", Poor)


def test_auto_passes_over_a_kind_whose_transform_is_over_the_budget(pairs_64, monkeypatch):
    _register_slow_and_poor_kinds(monkeypatch)
    new, old, _ = pairs_64
    unbounded = fit("auto", new, old, candidates=["test_slow", "test_poor"], seed=0,
                    max_transform_us=None)
    assert unbounded.info["auto"]["chosen"] == "test_slow"
    assert unbounded.info["auto"]["passed_over"] == []

    bounded = fit("auto", new, old, candidates=["test_slow", "test_poor"], seed=0,
                  max_transform_us=1000.0)
    report = bounded.info["auto"]
    assert report["chosen"] == "test_poor"
    assert report["passed_over"] == ["test_slow"]
    # the report says what each kind it considered costs, and scores it all the same
    assert report["transform_us"]["test_slow"] > 2000.0 > report["transform_us"]["test_poor"]
    assert report["scores"]["test_slow"] > report["scores"]["test_poor"]
    assert bounded.info["max_transform_us"] == 1000.0
    assert bounded.info["transform_us_p50"] < 1000.0


def test_a_busy_moment_while_auto_times_its_kinds_does_not_pass_the_better_one_over(
        pairs_64, monkeypatch):
    import time

    from qdrant_drift.adapters import fitting
    from qdrant_drift.adapters.maps import LinearMap

    _register_slow_and_poor_kinds(monkeypatch)
    monkeypatch.setattr(fitting, "SECOND_LOOK_PAUSE_S", 0.0)
    busy_until = [time.monotonic() + 3600.0]

    class BusyAtFirstMap(LinearMap):  # 1.3 ms per query while the machine is busy
        def apply(self, x):
            if time.monotonic() < busy_until[0]:
                time.sleep(0.0013)
            return super().apply(x)

    _register_exact_kind(monkeypatch, "test_busy", BusyAtFirstMap)
    first_timing = fitting.served_costs_us

    def busy_then_quiet(fitted, distance, queries):  # the load ends after the first timing
        costs = first_timing(fitted, distance, queries)
        busy_until[0] = 0.0
        return costs

    monkeypatch.setattr(fitting, "served_costs_us", busy_then_quiet)
    new, old, _ = pairs_64
    adapter = fit("auto", new, old, candidates=["test_busy", "test_poor"], seed=0,
                  max_transform_us=1000.0)
    assert adapter.info["auto"]["chosen"] == "test_busy"
    assert adapter.info["auto"]["transform_us"]["test_busy"] < 1000.0
    # a kind far over the budget gets no second look: it is over, not unlucky
    slow = fit("auto", new, old, candidates=["test_slow", "test_poor"], seed=0,
               max_transform_us=500.0)
    assert slow.info["auto"]["passed_over"] == ["test_slow"]


def test_auto_keeps_the_cheapest_kind_when_none_is_within_the_budget(pairs_64, monkeypatch):
    _register_slow_and_poor_kinds(monkeypatch)
    new, old, _ = pairs_64
    adapter = fit("auto", new, old, candidates=["test_slow", "test_poor"], seed=0,
                  max_transform_us=1e-3)
    assert adapter.info["auto"]["chosen"] == "test_poor"
    assert adapter.info["auto"]["passed_over"] == ["test_slow", "test_poor"]


def test_a_named_kind_over_the_budget_is_fitted_with_a_warning(pairs_64, monkeypatch):
    _register_slow_and_poor_kinds(monkeypatch)
    new, old, _ = pairs_64
    with pytest.warns(UserWarning, match="over the 1000 us budget"):
        adapter = fit("test_slow", new, old, seed=0, max_transform_us=1000.0)
    assert adapter.info["transform_us_p50"] > 2000.0


def test_a_budget_must_be_positive(pairs_64):
    new, old, _ = pairs_64
    with pytest.raises(ValueError, match="max_transform_us must be > 0"):
        fit("procrustes", new, old, max_transform_us=0.0)


def test_whitened_lookups_stay_small_however_many_pairs_it_is_fitted_on():
    new, old, _ = drifted_pairs(3000, 32, 32, noise=0.05, seed=2)
    adapter = fit("whitened", new, old, gammas=(0.3,), holdout=0.0, references=256,
                  lists=32, probes=4)
    m = adapter.map
    assert len(m.ref_old) == 256  # the level's sample, not every pair
    assert len(m.lists) <= 32 and len(m.ref_new) == len(m.look_old) == 3000
    assert m.list_ends[-1] == 3000
    # a query scans its probed lists only: about probes / lists of the docs
    sims, rows = m._nearest(new[0])
    assert len(sims) == m._neighbours and set(rows) <= set(range(3000))


def test_whitened_index_probing_every_list_finds_the_exact_neighbours():
    new, old, _ = drifted_pairs(1500, 32, 32, noise=0.05, seed=3)
    adapter = fit("whitened", new, old, gammas=(0.3,), holdout=0.0, lists=16, probes=16,
                  max_transform_us=None)
    m = adapter.map
    for query in unit(new[:20] + 0.2 * np.random.default_rng(1).normal(size=(20, 32))):
        _, rows = m._nearest(query)
        exact = np.argsort(-(m.ref_new @ query))[: m._neighbours]
        assert set(rows) == set(exact)


def test_a_whitened_map_saved_before_the_index_still_loads_and_scans_exactly():
    from qdrant_drift.adapters.whitened import WhitenedMap

    new, old, _ = drifted_pairs(600, 16, 16, noise=0.05, seed=3)
    adapter = fit("whitened", new, old, gammas=(0.3,), holdout=0.0, lists=1,
                  references=10_000, max_transform_us=None)
    m = adapter.map
    saved = {k: m.arrays()[k] for k in ("x_mean", "rotation", "back", "norm_dir", "ref_old",
                                        "ref_new")}
    before = WhitenedMap(**saved, settings=m.settings[:4])
    queries = unit(new[:10] + 0.2 * np.random.default_rng(2).normal(size=(10, 16)))
    np.testing.assert_allclose(before.apply(queries), m.apply(queries), atol=1e-5)


def test_whitened_index_keeps_the_lookup_close_to_an_exact_scan():
    rng = np.random.default_rng(6)
    centres = unit(rng.normal(size=(40, 32)))
    new = unit(centres[rng.integers(0, 40, 4000)] + 0.15 * rng.normal(size=(4000, 32)))
    old = unit(new @ drifted_pairs(2, 32, 32, seed=6)[2] + 0.05 * rng.normal(size=(4000, 32)))
    queries = unit(new[:200] + 0.1 * rng.normal(size=(200, 32)))
    indexed = fit("whitened", new, old, gammas=(0.3,), holdout=0.0)
    scanned = fit("whitened", new, old, gammas=(0.3,), holdout=0.0, probes=10_000,
                  max_transform_us=None)
    agreement = (indexed.transform(queries) * scanned.transform(queries)).sum(axis=1)
    assert np.median(agreement) > 0.999 and agreement.min() > 0.99


def test_whitened_refuses_an_empty_index():
    with pytest.raises(ValueError, match="probes must be >= 1"):
        fit("whitened", *drifted_pairs(300, 8, 8)[:2], probes=0)


def test_a_busy_moment_does_not_make_a_transform_look_over_the_budget():
    # slow (2 ms) for its first 60 calls, as when a test run or a backfill shares the
    # machine for a moment, then fast: the kinds are timed side by side in rounds and each
    # keeps its quietest round, so auto's choice does not hang on when the fit ran
    calls = {"n": 0}

    def busy_then_quiet(x):
        calls["n"] += 1
        if calls["n"] <= 60:
            time.sleep(0.002)
        return x

    def always_slow(x):
        time.sleep(0.002)
        return x

    costs = transform_costs_us({"busy_then_quiet": busy_then_quiet, "always_slow": always_slow},
                               np.ones((4, 8), np.float32), rounds=3, calls=30, warmup=5)
    assert costs["busy_then_quiet"] < 500.0 < 2000.0 < costs["always_slow"]


def test_whitened_fits_without_a_neighbour_lookup_unless_asked_for_one(pairs_64):
    new, old, _ = pairs_64
    plain = fit("whitened", new, old)
    asked = fit("whitened", new, old, gammas=(0.3,))
    assert plain.map.settings[0] == 0.0 and len(plain.map.ref_new) == 0
    assert asked.map.settings[0] == pytest.approx(0.3)
    assert len(asked.map.ref_new) == asked.info["pairs"]  # refitted on every pair, all looked up


def test_whitened_averages_its_settings_into_one_rotation_each_weighing_the_same(pairs_64):
    from qdrant_drift.adapters.whitened import Whitened

    new, old, _ = pairs_64
    settings = ((0.0, 0.5, 0.0), (0.5, 0.5, 1.0))
    fitter = Whitened(settings=settings)
    averaged = fitter.build(new, old, settings, 0.0)
    singles = [fitter.build(new, old, (s,), 0.0) for s in settings]
    centred = new - new.mean(0)
    # each single rotation's output has a typical length of 1 on the docs; the average sums them
    for single in singles:
        assert np.median(np.linalg.norm(centred @ single.rotation, axis=1)) == pytest.approx(
            1.0, rel=1e-4)
    np.testing.assert_allclose(averaged.rotation, singles[0].rotation + singles[1].rotation,
                               rtol=1e-4, atol=1e-6)


def test_whitened_serves_its_settings_averaged_and_is_judged_by_its_best_single_setting(
        pairs_64):
    from qdrant_drift.adapters.kinds import FitContext
    from qdrant_drift.adapters.whitened import DEFAULT_SETTINGS, Whitened

    new, old, _ = pairs_64
    fitter = Whitened()
    served = fitter(new, old, FitContext(seed=0))
    averaged = fitter.build(new, old, DEFAULT_SETTINGS, 0.0)
    np.testing.assert_allclose(served.rotation, averaged.rotation, rtol=1e-6, atol=1e-9)
    judged = fitter.judged_by
    assert judged is not None and judged is not served
    single = [fitter.build(new, old, (s,), 0.0) for s in DEFAULT_SETTINGS]
    assert any(np.allclose(judged.rotation, one.rotation, rtol=1e-6, atol=1e-9)
               for one in single)
    # a refit holds the averaged settings fixed: no selection, nothing to judge
    refit = fitter.frozen()
    assert refit.choose is False
    again = refit(new, old, FitContext(seed=0))
    np.testing.assert_allclose(again.rotation, averaged.rotation, rtol=1e-6, atol=1e-9)
    assert refit.judged_by is None


def test_whitened_chooses_one_setting_when_asked_not_to_average(pairs_64):
    from qdrant_drift.adapters.kinds import FitContext
    from qdrant_drift.adapters.whitened import DEFAULT_SETTINGS, Whitened

    new, old, _ = pairs_64
    fitter = Whitened(average=False)
    served = fitter(new, old, FitContext(seed=0))
    assert fitter.judged_by is None and len(fitter.selected[0]) == 1
    assert fitter.selected[0][0] in DEFAULT_SETTINGS
    with pytest.raises(ValueError, match="nothing it may choose among"):
        Whitened(average=False, choose=False)
    assert served.rotation.shape == (new.shape[1], old.shape[1])


def test_auto_scores_a_kind_by_the_map_it_asks_to_be_judged_by(pairs_64, monkeypatch):
    """A kind whose served map held-out data misjudges names the map to score it by; auto
    scores that one, and serves (and times) the served one."""
    from qdrant_drift.adapters import kinds as kinds_module
    from qdrant_drift.adapters.closed_form import Procrustes
    from qdrant_drift.adapters.maps import LinearMap

    from .synthetic import random_orthogonal

    _register_slow_and_poor_kinds(monkeypatch)

    class JudgedByTheExactMap(Procrustes):
        name = "test_judged"

        def __call__(self, new, old, ctx):
            self.judged_by = super().__call__(new, old, ctx)  # the exact map
            rotation = random_orthogonal(np.random.default_rng(6), new.shape[1], old.shape[1])
            return LinearMap(weight=rotation, bias=np.zeros(old.shape[1], np.float32))

        def frozen(self):
            return self

    monkeypatch.setitem(kinds_module.KINDS, "test_judged", JudgedByTheExactMap)
    new, old, _ = pairs_64
    adapter = fit("auto", new, old, candidates=["test_poor", "test_judged"], seed=0,
                  max_transform_us=None)
    report = adapter.info["auto"]
    assert report["chosen"] == "test_judged"
    assert report["scores"]["test_judged"] > report["scores"]["test_poor"] + 0.3
    # what serves is the map the kind returned, not the one it was judged by
    assert adapter.info["quality"]["predicted_recall_recovery"] < 0.5


def test_whitened_settings_that_cannot_be_averaged_are_refused_or_chosen_among(pairs_64):
    new, old, _ = pairs_64
    mixed = ((0.0, 0.5, 0.0), (0.0, 0.25, 0.0))  # two old-side powers: two back-transforms
    with pytest.raises(ValueError, match="must share the old side's power"):
        fit("whitened", new, old, settings=mixed, average=True)
    chosen = fit("whitened", new, old, settings=mixed, average=False)
    assert chosen.transform(new[:3]).shape == (3, old.shape[1])
