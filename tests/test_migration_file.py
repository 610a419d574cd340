"""Migration files: what a valid one reads as, and what every kind of mistake says."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from qdrant_drift.errors import DriftError
from qdrant_drift.lifecycle.file import (
    AdapterSection,
    BackfillSection,
    EmbedderSection,
    MigrationFile,
    MigrationFileError,
    MigrationSection,
    RouterSection,
    SourceSection,
    load_migration_file,
    scaffold,
)
from qdrant_drift.migration.phases import Phase
from qdrant_drift.serving.router import ByCoverage, ByPhase, Plan, RoutingState, UnhealthyStateIsAdapted
from qdrant_drift.migration.spec import MigrationSpec

EXAMPLE = Path(__file__).resolve().parents[1] / "migrations" / "example.toml"

MINIMAL = """\
[migration]
name = "docs-minilm"
collection = "docs"
new_vector = "minilm"

[embedder]
model = "all-MiniLM-L6-v2"

[source]
payload_field = "text"
"""


def write(tmp_path: Path, text: str, name: str = "docs.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def minimal_dict() -> dict:
    return {
        "migration": {"name": "docs-minilm", "collection": "docs", "new_vector": "minilm"},
        "embedder": {"model": "all-MiniLM-L6-v2"},
        "source": {"payload_field": "text"},
    }


def error_for(tmp_path: Path, text: str) -> MigrationFileError:
    path = write(tmp_path, text)
    with pytest.raises(MigrationFileError) as caught:
        load_migration_file(path)
    assert str(caught.value).startswith(f"{path}: "), caught.value
    assert caught.value.path == str(path)
    return caught.value


def with_line(text: str, section: str, line: str) -> str:
    """``text`` with ``line`` added at the top of ``[section]`` (the section is created)."""
    header = f"[{section}]\n"
    if header in text:
        return text.replace(header, header + line + "\n", 1)
    return text + "\n" + header + line + "\n"


# ---------------------------------------------------------------------------------------
# valid files


def test_example_file_loads() -> None:
    mf = load_migration_file(EXAMPLE)
    assert mf.path == str(EXAMPLE)
    assert mf.spec == MigrationSpec(
        name=mf.migration.name,
        collection="stdlib_docs",
        old_vector="minilm_l3",
        new_vector="minilm",
        layout="named",
        old_model="all-MiniLM-L6-v2-3layers",
        new_model="sentence-transformers/all-MiniLM-L6-v2",
    )
    assert mf.embedder.kind == "sentence-transformers"
    assert mf.embedder.model == "all-MiniLM-L6-v2"
    assert mf.source.payload_field == "text" and mf.source.loader is None
    assert mf.backfill.order == "hot-first"


def test_minimal_file_gets_every_default(tmp_path: Path) -> None:
    mf = load_migration_file(write(tmp_path, MINIMAL))
    assert mf.migration.layout == "named" and mf.migration.old_vector == ""
    assert mf.migration.new_collection is None and mf.migration.alias is None
    assert mf.embedder == EmbedderSection(model="all-MiniLM-L6-v2")
    assert (mf.embedder.kind, mf.embedder.device, mf.embedder.batch_size) == (
        "sentence-transformers", "cpu", 64,
    )
    assert mf.embedder.normalize is True and mf.embedder.dimension is None
    assert mf.source.version_field is None
    assert mf.adapter == AdapterSection(kind="auto", sample_size=5000, seed=0, path=None)
    assert mf.adapter.max_transform_us == 100.0
    assert mf.router == RouterSection(
        min_hybrid_coverage=0.0, native_at=None, refresh_interval=2.0, shadow_rate=0.0
    )
    assert mf.backfill == BackfillSection(
        batch_size=64, rate_limit=None, workers=1, order="hot-first", hot_share=0.5,
        heartbeat_timeout=30.0, max_attempts=8,
    )


def test_callable_embedder_and_loader_source(tmp_path: Path) -> None:
    text = MINIMAL.replace('model = "all-MiniLM-L6-v2"', 'kind = "callable"\ncallable = "my_pkg.embed:encode"')
    text = text.replace('payload_field = "text"', 'loader = "my_pkg.texts:load"\nversion_field = "rev"')
    mf = load_migration_file(write(tmp_path, text))
    assert mf.embedder.kind == "callable" and mf.embedder.callable == "my_pkg.embed:encode"
    assert mf.embedder.model is None
    assert mf.source.loader == "my_pkg.texts:load" and mf.source.payload_field is None
    assert mf.source.version_field == "rev"


def test_collection_layout(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'new_vector = "minilm"',
        'new_vector = ""\nlayout = "collection"\nnew_collection = "docs_v2"\nalias = "docs_live"',
    )
    spec = load_migration_file(write(tmp_path, text)).spec
    assert spec.layout == "collection" and spec.native_collection == "docs_v2"
    assert spec.alias == "docs_live"


def test_blue_green_the_name_the_docs_use_reads_as_the_collection_layout(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        'new_vector = "minilm"',
        'new_vector = ""\nlayout = "blue-green"\nnew_collection = "docs_v2"',
    )
    assert load_migration_file(write(tmp_path, text)).spec.layout == "collection"
    wrong = error_for(tmp_path, MINIMAL.replace('new_vector = "minilm"',
                                                'new_vector = "minilm"\nlayout = "green"'))
    assert 'must be one of "named", "collection" (or "blue-green"), got "green"' in str(wrong)


def test_numbers_are_normalised_to_float(tmp_path: Path) -> None:
    text = with_line(MINIMAL, "router", "refresh_interval = 5")
    text = with_line(text, "backfill", "rate_limit = 100")
    mf = load_migration_file(write(tmp_path, text))
    assert mf.router.refresh_interval == 5.0 and isinstance(mf.router.refresh_interval, float)
    assert mf.backfill.rate_limit == 100.0 and isinstance(mf.backfill.rate_limit, float)


def test_router_from_file() -> None:
    section = RouterSection(min_hybrid_coverage=0.1, native_at=0.99)
    router = section.to_router()
    assert list(router.policies) == [UnhealthyStateIsAdapted(), ByPhase(), ByCoverage(0.1, 0.99)]
    backfilling = Phase.BACKFILLING
    assert router.plan(RoutingState(phase=backfilling, coverage=0.05)) is Plan.ADAPTED
    assert router.plan(RoutingState(phase=backfilling, coverage=0.5)) is Plan.HYBRID
    assert router.plan(RoutingState(phase=backfilling, coverage=0.995)) is Plan.NATIVE
    assert router.plan(RoutingState(phase=backfilling, coverage=1.0, healthy=False)) is Plan.ADAPTED


@pytest.mark.parametrize("layout", ["named", "collection"])
def test_scaffold_loads_and_shows_every_section(tmp_path: Path, layout: str) -> None:
    text = scaffold("docs-minilm", "docs", "minilm", new_model="org/new-model", layout=layout)
    for section in ("migration", "embedder", "source", "adapter", "router", "backfill"):
        assert f"\n[{section}]\n" in text
    assert "# native_at = " in text and "# rate_limit = " in text  # optional keys, commented
    assert "\nmax_transform_us = 100.0\n" in text  # the adapter's budget, with its meaning
    assert text.count("#") > 40  # every key is explained
    mf = load_migration_file(write(tmp_path, text, "docs-minilm.toml"))
    assert mf.migration.name == "docs-minilm" and mf.migration.collection == "docs"
    assert mf.migration.new_model == "org/new-model" and mf.embedder.model == "org/new-model"
    assert mf.migration.layout == layout
    assert mf.source.payload_field == "text"
    assert mf.backfill == BackfillSection() and mf.router == RouterSection()


@pytest.mark.parametrize("old_vector, layout", [("", "collection"), ("mpnet", "named")])
def test_scaffold_picks_blue_green_for_an_unnamed_legacy_vector(
        tmp_path: Path, old_vector: str, layout: str) -> None:
    text = scaffold("m", "docs", "minilm", old_vector=old_vector, old_model="org/old")
    mf = load_migration_file(write(tmp_path, text, "m.toml"))
    assert mf.migration.layout == layout and mf.migration.old_vector == old_vector
    assert mf.migration.old_model == "org/old"


def test_scaffold_with_bad_arguments_raises() -> None:
    with pytest.raises(MigrationFileError, match=r"\[migration\] layout"):
        scaffold("x", "docs", "minilm", layout="green")
    with pytest.raises(MigrationFileError, match=r"\[migration\].*new_vector"):
        scaffold("x", "docs", "", layout="named")  # "" is already the old (unnamed) vector


def test_round_trip_through_dict_and_toml(tmp_path: Path) -> None:
    mf = load_migration_file(EXAMPLE)
    data = mf.to_dict()
    assert set(data) == {"migration", "embedder", "source", "adapter", "router", "backfill"}
    assert "new_collection" not in data["migration"]  # unset keys are left out (no null)
    again = MigrationFile.from_dict(copy.deepcopy(data), path="<copy>")
    assert again == mf and again.to_dict() == data and again.path == "<copy>"
    reread = load_migration_file(write(tmp_path, mf.to_toml()))
    assert reread == mf and reread.to_dict() == data


def test_round_trip_keeps_every_key_set(tmp_path: Path) -> None:
    data = minimal_dict()
    data["migration"].update(layout="named", old_vector="", old_model="a", new_model="b")
    data["embedder"].update(kind="sentence-transformers", device="cuda:1", batch_size=8, normalize=False, dimension=384)
    data["source"].update(version_field="rev", text_from="llamaindex")
    data["adapter"] = {"kind": "procrustes", "sample_size": 100, "seed": 7, "path": "a.safetensors",
                       "queries": "qdrant://query_log/text", "queries_limit": 200,
                       "max_transform_us": 250.0}
    data["router"] = {"min_hybrid_coverage": 0.2, "native_at": 0.9, "refresh_interval": 0.5, "shadow_rate": 0.1}
    data["backfill"] = {
        "batch_size": 16, "rate_limit": 50.0, "workers": 4, "order": "mixed", "hot_share": 0.3,
        "heartbeat_timeout": 10.0, "max_attempts": 2,
    }
    mf = MigrationFile.from_dict(data)
    assert mf.to_dict() == data
    assert load_migration_file(write(tmp_path, mf.to_toml())).to_dict() == data


def test_sections_validate_when_built_in_python() -> None:
    with pytest.raises(MigrationFileError, match=r"^\[backfill\] batch_size must be a positive integer, got -3$"):
        BackfillSection(batch_size=-3)
    mf = MigrationFile(
        migration=MigrationSection(name="m", collection="docs", new_vector="v"),
        embedder=EmbedderSection(model="m"),
        source=SourceSection(payload_field="text"),
    )
    assert mf == MigrationFile.from_dict(
        {"migration": {"name": "m", "collection": "docs", "new_vector": "v"},
         "embedder": {"model": "m"}, "source": {"payload_field": "text"}}
    )


def test_adapter_path_is_relative_to_the_file(tmp_path: Path) -> None:
    text = with_line(MINIMAL, "adapter", 'path = "adapters/docs.safetensors"')
    mf = load_migration_file(write(tmp_path, text))
    assert mf.adapter_path == tmp_path / "adapters" / "docs.safetensors"


# ---------------------------------------------------------------------------------------
# mistakes: each names the file, the section and the key


def test_error_is_a_drift_error(tmp_path: Path) -> None:
    err = error_for(tmp_path, with_line(MINIMAL, "backfill", "batch_size = -3"))
    assert isinstance(err, DriftError)
    assert str(err) == f"{tmp_path / 'docs.toml'}: [backfill] batch_size must be a positive integer, got -3"
    assert (err.section, err.key) == ("backfill", "batch_size")


@pytest.mark.parametrize(
    ("section", "line", "message"),
    [
        ("backfill", 'batch_size = "64"', 'batch_size must be a positive integer, got "64" (a string)'),
        ("backfill", "batch_size = 64.0", "batch_size must be a positive integer, got 64.0"),
        ("backfill", "workers = true", "workers must be a positive integer, got true"),
        ("embedder", 'normalize = "yes"', 'normalize must be true or false, got "yes" (a string)'),
        ("router", 'shadow_rate = "0.1"', "shadow_rate must be a number between 0 and 1"),
        ("migration", "alias = 3", "alias must be a non-empty string, got 3"),
        ("source", "version_field = [\"a\"]", "version_field must be a non-empty string, got an array"),
        ("adapter", "seed = 1.5", "seed must be an integer >= 0, got 1.5"),
    ],
)
def test_wrong_type(tmp_path: Path, section: str, line: str, message: str) -> None:
    err = error_for(tmp_path, with_line(MINIMAL, section, line))
    assert f"[{section}] {message}" in str(err)
    assert err.section == section and err.key == line.split(" =")[0]


@pytest.mark.parametrize(
    ("section", "line", "message"),
    [
        ("backfill", "batch_size = 0", "batch_size must be a positive integer, got 0"),
        ("backfill", "workers = 0", "workers must be a positive integer, got 0"),
        ("backfill", "rate_limit = 0", "rate_limit must be a number > 0, got 0"),
        ("backfill", "rate_limit = inf", "rate_limit must be a number > 0, got inf"),
        ("backfill", "hot_share = 1.5", "hot_share must be a number between 0 and 1, got 1.5"),
        ("backfill", "heartbeat_timeout = -1", "heartbeat_timeout must be a number > 0, got -1"),
        ("backfill", "max_attempts = 0", "max_attempts must be a positive integer"),
        ("backfill", "max_attempts = 0", "max_attempts must be a positive integer"),
        ("backfill", 'order = "hot_first"', 'order must be one of "sweep", "hot-first", "mixed", got "hot_first" (did you mean "hot-first"?)'),
        ("router", "min_hybrid_coverage = -0.1", "min_hybrid_coverage must be a number between 0 and 1, got -0.1"),
        ("router", "native_at = 2", "native_at must be a number between 0 and 1, got 2"),
        ("router", "refresh_interval = 0", "refresh_interval must be a number > 0, got 0"),
        ("router", "shadow_rate = nan", "shadow_rate must be a number between 0 and 1, got nan"),
        ("adapter", "sample_size = 99", "sample_size must be an integer >= 100, got 99"),
        ("adapter", "max_transform_us = 0", "max_transform_us must be a number > 0, got 0"),
        ("adapter", 'max_transform_us = "fast"', 'max_transform_us must be a number > 0, got "fast" (a string)'),
        ("embedder", "batch_size = -1", "batch_size must be a positive integer, got -1"),
        ("embedder", "dimension = 0", "dimension must be a positive integer, got 0"),
        ("migration", 'layout = "green"', 'layout must be one of "named", "collection" (or "blue-green"), got "green"'),
        ("migration", 'name = ""', 'name must be a non-empty string, got "" (a string)'),
    ],
)
def test_out_of_range(tmp_path: Path, section: str, line: str, message: str) -> None:
    key = line.split(" =")[0]
    text = MINIMAL
    if section == "migration":  # replace a required key rather than repeat it
        text = text.replace(f'{key} = "docs-minilm"\n', "")
    err = error_for(tmp_path, with_line(text, section, line))
    assert f"[{section}] {message}" in str(err), str(err)
    assert err.section == section and err.key == key


def test_native_at_must_be_above_min_hybrid_coverage(tmp_path: Path) -> None:
    text = with_line(MINIMAL, "router", "min_hybrid_coverage = 0.5\nnative_at = 0.5")
    err = error_for(tmp_path, text)
    assert "[router] native_at must be greater than min_hybrid_coverage" in str(err)


@pytest.mark.parametrize(
    ("section", "line", "fragment"),
    [
        ("backfill", "batchsize = 10", "[backfill] unknown key batchsize (did you mean batch_size?)"),
        ("router", "native = 0.9", "[router] unknown key native (did you mean native_at?)"),
        ("migration", 'new_vectr = "x"', "[migration] unknown key new_vectr (did you mean new_vector?)"),
        ("embedder", 'modle = "x"', "[embedder] unknown key modle (did you mean model?)"),
        ("adapter", "zzz = 1", "[adapter] unknown key zzz (known keys: kind, sample_size, seed, path, queries, queries_limit, max_transform_us)"),
    ],
)
def test_unknown_key(tmp_path: Path, section: str, line: str, fragment: str) -> None:
    err = error_for(tmp_path, with_line(MINIMAL, section, line))
    assert fragment in str(err)
    assert err.key == line.split(" =")[0]


def test_every_unknown_key_of_a_section_is_named_at_once(tmp_path: Path) -> None:
    err = error_for(tmp_path, with_line(MINIMAL, "backfill", "batchsize = 10\nworkerz = 2\nzzz = 1"))
    assert ("[backfill] unknown keys batchsize (did you mean batch_size?), workerz (did you "
            "mean workers?), zzz (known keys: ") in str(err)
    assert err.key == "batchsize"


def test_unknown_section_with_suggestion(tmp_path: Path) -> None:
    err = error_for(tmp_path, MINIMAL + "\n[backfil]\nbatch_size = 10\n")
    assert "unknown section [backfil] (did you mean [backfill]?)" in str(err)
    err = error_for(tmp_path, MINIMAL + "\n[zzz]\na = 1\n")
    assert "unknown section [zzz] (sections are [migration], [embedder]" in str(err)


def test_key_outside_any_section(tmp_path: Path) -> None:
    err = error_for(tmp_path, "batch_size = 3\n" + MINIMAL)
    assert "key batch_size is outside any section; put it under [embedder]" in str(err)


@pytest.mark.parametrize("section", ["migration", "embedder", "source"])
def test_missing_required_section(tmp_path: Path, section: str) -> None:
    data = minimal_dict()
    del data[section]
    with pytest.raises(MigrationFileError, match=rf"^docs.toml: missing required section \[{section}\]$"):
        MigrationFile.from_dict(data, path="docs.toml")


@pytest.mark.parametrize("key", ["name", "collection", "new_vector"])
def test_missing_required_key(tmp_path: Path, key: str) -> None:
    text = "\n".join(line for line in MINIMAL.splitlines() if not line.startswith(f"{key} ="))
    err = error_for(tmp_path, text)
    assert f"[migration] missing required key {key}" in str(err)
    assert (err.section, err.key) == ("migration", key)


def test_sentence_transformers_needs_a_model(tmp_path: Path) -> None:
    err = error_for(tmp_path, MINIMAL.replace('model = "all-MiniLM-L6-v2"', 'kind = "sentence-transformers"'))
    assert '[embedder] model is required when kind = "sentence-transformers"' in str(err)
    assert err.key == "model"


def test_callable_kind_needs_callable_and_rejects_model_and_device(tmp_path: Path) -> None:
    err = error_for(tmp_path, MINIMAL.replace('model = "all-MiniLM-L6-v2"', 'kind = "callable"'))
    assert '[embedder] callable is required when kind = "callable"' in str(err)
    err = error_for(tmp_path, with_line(MINIMAL, "embedder", 'kind = "callable"\ncallable = "a.b:c"'))
    assert '[embedder] model is only for kind = "sentence-transformers"' in str(err)
    assert str(err).endswith("delete it")
    text = MINIMAL.replace('model = "all-MiniLM-L6-v2"', 'kind = "callable"\ncallable = "a.b:c"\ndevice = "cuda"')
    assert '[embedder] device is only for kind = "sentence-transformers"' in str(error_for(tmp_path, text))
    # what the scaffold leaves when only kind is switched: both keys, in one error
    text = with_line(MINIMAL, "embedder", 'kind = "callable"\ncallable = "a.b:c"\ndevice = "cpu"')
    assert ('[embedder] model and device are only for kind = "sentence-transformers"; kind is '
            '"callable": delete them') in str(error_for(tmp_path, text))


def test_unknown_embedder_kind(tmp_path: Path) -> None:
    err = error_for(tmp_path, with_line(MINIMAL, "embedder", 'kind = "sentence_transformers"'))
    assert '[embedder] kind must be one of "sentence-transformers", "callable"' in str(err)
    assert 'did you mean "sentence-transformers"?' in str(err)


def test_both_payload_field_and_loader(tmp_path: Path) -> None:
    err = error_for(tmp_path, with_line(MINIMAL, "source", 'loader = "my_pkg.texts:load"'))
    assert "[source] payload_field and loader are mutually exclusive" in str(err)
    assert err.section == "source"


def test_text_from_says_what_payload_field_holds_and_needs_one(tmp_path: Path) -> None:
    text = with_line(MINIMAL, "source", 'text_from = "llamaindex"')
    assert load_migration_file(write(tmp_path, text)).source.text_from == "llamaindex"
    assert load_migration_file(write(tmp_path, MINIMAL)).source.text_from == "text"
    err = error_for(tmp_path, with_line(MINIMAL, "source", 'text_from = "llama_index"'))
    assert '[source] text_from must be one of "text", "llamaindex"' in str(err)
    assert 'did you mean "llamaindex"?' in str(err)
    loader = MINIMAL.replace('payload_field = "text"',
                             'loader = "my_pkg.texts:load"\ntext_from = "llamaindex"')
    err = error_for(tmp_path, loader)
    assert '[source] text_from = "llamaindex" reads payload_field: give one' in str(err)


def test_neither_payload_field_nor_loader(tmp_path: Path) -> None:
    err = error_for(tmp_path, MINIMAL.replace('payload_field = "text"', 'version_field = "rev"'))
    assert "[source] needs exactly one of payload_field or loader" in str(err)


@pytest.mark.parametrize(
    "ref", ["my_pkg.embed.encode", "my_pkg.embed:", ":encode", "my-pkg:encode", "a:b:c", "a b:c", "1pkg:f"]
)
@pytest.mark.parametrize(("section", "key"), [("embedder", "callable"), ("source", "loader")])
def test_bad_callable_shape(tmp_path: Path, ref: str, section: str, key: str) -> None:
    if section == "embedder":
        text = MINIMAL.replace('model = "all-MiniLM-L6-v2"', f'kind = "callable"\ncallable = "{ref}"')
    else:
        text = MINIMAL.replace('payload_field = "text"', f'loader = "{ref}"')
    err = error_for(tmp_path, text)
    assert f'[{section}] {key} must have the form "package.module:attribute"' in str(err)
    assert (err.section, err.key) == (section, key)


def test_callable_is_not_imported(tmp_path: Path) -> None:
    text = MINIMAL.replace('model = "all-MiniLM-L6-v2"', 'kind = "callable"\ncallable = "no_such_pkg.x:Embedder.encode"')
    assert load_migration_file(write(tmp_path, text)).embedder.callable == "no_such_pkg.x:Embedder.encode"


def test_a_callable_that_does_not_import_names_the_setting_that_holds_it(tmp_path: Path) -> None:
    from qdrant_drift import DriftError
    from qdrant_drift.lifecycle.facade import embedder_for

    text = MINIMAL.replace('model = "all-MiniLM-L6-v2"', 'kind = "callable"\ncallable = "json:dumbs"')
    with pytest.raises(DriftError, match="^\\[embedder\\] callable = 'json:dumbs': 'json' has no "
                                         "attribute 'dumbs'$"):
        embedder_for(load_migration_file(write(tmp_path, text)))


def test_unknown_adapter_kind_lists_the_registered_ones(tmp_path: Path) -> None:
    from qdrant_drift.adapters import KINDS

    err = error_for(tmp_path, with_line(MINIMAL, "adapter", 'kind = "procrustez"'))
    assert "[adapter] kind must be one of" in str(err)
    for kind in KINDS:
        assert f'"{kind}"' in str(err)
    assert 'did you mean "procrustes"?' in str(err)
    assert err.key == "kind"
    for kind in KINDS:  # and every registered kind is accepted
        text = with_line(MINIMAL, "adapter", f'kind = "{kind}"')
        assert load_migration_file(write(tmp_path, text)).adapter.kind == kind


@pytest.mark.parametrize(
    ("lines", "fragment", "key"),
    [
        ('layout = "collection"', '[migration] layout "collection" (blue-green) puts the new vectors in a collection of their own: set new_collection', "new_collection"),
        ('layout = "collection"\nnew_collection = "docs"', '[migration] layout "collection" (blue-green) puts the new vectors in a collection of their own', "new_collection"),
        ('new_collection = "docs_v2"', "[migration] named layout keeps one collection: drop new_collection", "new_collection"),
        ('old_vector = "minilm"', "[migration] named layout: new_vector and old_vector are both", "new_vector"),
    ],
)
def test_migration_spec_errors(tmp_path: Path, lines: str, fragment: str, key: str) -> None:
    err = error_for(tmp_path, with_line(MINIMAL, "migration", lines))
    assert fragment in str(err)
    assert (err.section, err.key) == ("migration", key)


def test_spec_errors_from_dict_name_the_path() -> None:
    data = minimal_dict()
    data["migration"]["layout"] = "collection"
    with pytest.raises(MigrationFileError, match=r"^<dict>: \[migration\] layout \"collection\""):
        MigrationFile.from_dict(data)


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    text = MINIMAL.replace('collection = "docs"', 'collection "docs"')
    err = error_for(tmp_path, text)
    assert err.line == 3 and err.column is not None
    assert str(err).startswith(f"{tmp_path / 'docs.toml'}: line 3, column ")
    assert "invalid TOML: Expected '='" in str(err)


def test_toml_duplicate_key_is_a_syntax_error(tmp_path: Path) -> None:
    err = error_for(tmp_path, with_line(MINIMAL, "migration", 'name = "again"'))
    assert "invalid TOML" in str(err) and err.line is not None


def test_unterminated_string(tmp_path: Path) -> None:
    err = error_for(tmp_path, MINIMAL + 'x = "oops\n')
    assert "invalid TOML" in str(err) and err.line is not None


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    data = minimal_dict()
    data["backfill"] = 3
    with pytest.raises(MigrationFileError, match=r"^f.toml: \[backfill\] must be a table of keys, got 3$"):
        MigrationFile.from_dict(data, path="f.toml")


def test_missing_file_and_not_utf8(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(MigrationFileError, match="nope.toml: no such migration file"):
        load_migration_file(missing)
    bad = tmp_path / "bad.toml"
    bad.write_bytes(MINIMAL.encode() + b"# caf\xe9\n")
    with pytest.raises(MigrationFileError, match=r"bad.toml: line 11: not UTF-8"):
        load_migration_file(bad)


def test_the_scaffold_header_names_the_file_it_is_written_to():
    assert "#   qdrant-drift plan migrations/m.toml" in scaffold("m", "docs", "minilm")
    assert "#   qdrant-drift plan upgrades/next.toml" in scaffold(
        "m", "docs", "minilm", file_path="upgrades/next.toml")

