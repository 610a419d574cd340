"""Migration files: one TOML file per embedding-model upgrade, kept in version control.

Like alembic's revision files, but data, not code: a migration file says which collection is
upgraded to which model, where the texts come from, how the adapter is fitted, how queries
are routed and how the backfill runs. Every lifecycle command (``qdrant-drift plan | fit |
start | ... migrations/docs.toml``) reads one.

Sections (see ``migrations/README.md``)::

    [migration]  required  what is migrated: collection, vectors, layout, models
    [embedder]   required  how the new model embeds texts
    [source]     required  where the texts are: a payload field or a loader callable
    [adapter]    optional  which query adapter is fitted, on how many pairs
    [router]     optional  when queries move from adapted to hybrid to native
    [backfill]   optional  batch size, rate limit, workers, order, retries

Validation is strict: a wrong type, a value out of range, a missing required key and an
unknown section or key (a typo) all raise :class:`MigrationFileError` naming the file, the
section and the key. The section dataclasses validate themselves on construction too, so a
migration built in Python obeys the same rules as one read from a file.
"""

from __future__ import annotations

import math
import os
import re
import sys
import textwrap
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping

from ..adapters.cost import DEFAULT_MAX_TRANSFORM_US
from ..errors import MigrationFileError, did_you_mean
from ..backfill.content import TEXT_FORMATS
from ..serving.router import DEFAULT_REFRESH_INTERVAL, Router, RouterSettings
from ..migration.spec import DEFAULT_VECTOR, LAYOUTS, MigrationSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "AdapterSection",
    "BackfillSection",
    "EmbedderSection",
    "EMBEDDER_KINDS",
    "BACKFILL_ORDERS",
    "MigrationFile",
    "MigrationFileError",
    "MigrationSection",
    "RouterSection",
    "SourceSection",
    "load_migration_file",
    "loads_migration_file",
    "scaffold",
]

EMBEDDER_KINDS: tuple[str, ...] = ("sentence-transformers", "callable")
BACKFILL_ORDERS: tuple[str, ...] = ("sweep", "hot-first", "mixed")
DICT_PATH = "<dict>"


# --------------------------------------------------------------------------------------
# errors


class _Problem(Exception):
    """Raised by a rule: what is wrong with one value (the key is added by the caller)."""


def _show(value: Any) -> str:
    """A value as it would be written in TOML, for error messages."""
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"{_toml_str(value)} (a string)"
    if isinstance(value, (int, float)):
        return repr(value)
    return f"{value!r} (a {type(value).__name__})"


# --------------------------------------------------------------------------------------
# rules: one per key, kept in the dataclass field's metadata


Rule = Callable[[Any], Any]  # returns the (normalised) value or raises _Problem


def _optional(rule: Rule) -> Rule:
    def check(value: Any) -> Any:
        return None if value is None else rule(value)

    check.__doc__ = rule.__doc__
    return check


def _int(minimum: int | None = None) -> Rule:
    if minimum == 1:
        wanted = "must be a positive integer"
    elif minimum is not None:
        wanted = f"must be an integer >= {minimum}"
    else:
        wanted = "must be an integer"

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Problem(f"{wanted}, got {_show(value)}")
        if minimum is not None and value < minimum:
            raise _Problem(f"{wanted}, got {value}")
        return value

    return check


def _number(lo: float, hi: float | None = None, *, lo_open: bool = False) -> Rule:
    if hi is not None:
        wanted = f"must be a number between {lo:g} and {hi:g}"
    else:
        wanted = f"must be a number {'>' if lo_open else '>='} {lo:g}"

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Problem(f"{wanted}, got {_show(value)}")
        if not math.isfinite(value):
            raise _Problem(f"{wanted}, got {value!r}")
        too_low = value <= lo if lo_open else value < lo
        if too_low or (hi is not None and value > hi):
            raise _Problem(f"{wanted}, got {value!r}")
        return float(value)

    return check


def _bool(value: Any) -> Any:
    if not isinstance(value, bool):
        raise _Problem(f"must be true or false, got {_show(value)}")
    return value


def _string(*, nonempty: bool = True) -> Rule:
    wanted = "must be a non-empty string" if nonempty else "must be a string"

    def check(value: Any) -> Any:
        if not isinstance(value, str) or (nonempty and not value.strip()):
            raise _Problem(f"{wanted}, got {_show(value)}")
        return value

    return check


# what the docs call the layouts, read as the layout's own name
LAYOUT_ALIASES = {"blue-green": "collection"}


def _choice(choices: tuple[str, ...] | Callable[[], tuple[str, ...]],
            aliases: Mapping[str, str] | None = None) -> Rule:
    """One of ``choices``; an alias (the name the docs use too) reads as its choice."""
    aliases = dict(aliases or {})

    def shown(choice: str) -> str:
        names = [_toml_str(alias) for alias, meant in aliases.items() if meant == choice]
        return _toml_str(choice) + (f" (or {', '.join(names)})" if names else "")

    def check(value: Any) -> Any:
        allowed = choices() if callable(choices) else choices
        listed = ", ".join(shown(c) for c in allowed)
        if not isinstance(value, str):
            raise _Problem(f"must be one of {listed}, got {_show(value)}")
        if value in aliases:
            return aliases[value]
        if value not in allowed:
            raise _Problem(
                f"must be one of {listed}, got {_toml_str(value)}"
                + did_you_mean(value, allowed, show=_toml_str)
            )
        return value

    return check


_IDENT_PATH = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_REF = re.compile(rf"^{_IDENT_PATH}:{_IDENT_PATH}$")


def _ref(value: Any) -> Any:
    if not isinstance(value, str) or not _REF.match(value):
        raise _Problem(
            'must have the form "package.module:attribute" (an importable module, a colon, '
            f"an attribute), got {_show(value)}"
        )
    return value


QUERY_LOG_SCHEME = "qdrant://"


def is_callable_reference(value: str) -> bool:
    """``"package.module:attribute"``?"""
    return bool(_REF.match(value))


def _queries_source(value: Any) -> Any:
    """A text file, a loader callable or a query-log collection (see [adapter] queries)."""
    if not isinstance(value, str) or not value.strip():
        raise _Problem(f"must be a non-empty string, got {_show(value)}")
    if value.startswith(QUERY_LOG_SCHEME):
        collection, _, payload_field = value[len(QUERY_LOG_SCHEME):].partition("/")
        if not collection or not payload_field:
            raise _Problem(f'must have the form "{QUERY_LOG_SCHEME}collection/payload_field", '
                           f"got {_show(value)}")
    return value


def _adapter_kinds() -> tuple[str, ...]:
    from ..adapters import KINDS  # registers every kind; never imports torch

    return tuple(sorted(KINDS))


def _key(default: Any = MISSING, *, rule: Rule, doc: str, example: Any = None) -> Any:
    """A section key: its default, its rule, a one-line meaning and an example value."""
    metadata = {"rule": rule, "doc": doc, "example": example}
    if default is MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


# --------------------------------------------------------------------------------------
# sections


class _Section:
    NAME: ClassVar[str]
    REQUIRED: ClassVar[bool] = False
    DOC: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            try:
                normalised = f.metadata["rule"](value)
            except _Problem as problem:
                raise self._error(f"{f.name} {problem}", f.name) from None
            if normalised is not value:
                object.__setattr__(self, f.name, normalised)
        self._check()

    def _check(self) -> None:
        """Rules across keys; per-key rules ran already."""

    @classmethod
    def _error(cls, problem: str, key: str | None = None) -> MigrationFileError:
        return MigrationFileError(problem, section=cls.NAME, key=key)

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def required_keys(cls) -> list[str]:
        return [
            f.name for f in fields(cls)  # type: ignore[arg-type]
            if f.default is MISSING and f.default_factory is MISSING
        ]

    def to_dict(self) -> dict[str, Any]:
        """The keys that are set (``None`` = unset is left out, as TOML has no null)."""
        return {k: v for k, v in asdict(self).items() if v is not None}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str = DICT_PATH) -> Any:
        """Validate one section's table: unknown keys, missing keys, then every rule."""
        if not isinstance(data, Mapping):
            raise MigrationFileError(
                f"must be a table of keys, got {_show(data)}", path=path, section=cls.NAME
            )
        known = cls.keys()
        unknown = [str(key) for key in data if key not in known]
        if unknown:  # every typo of the section at once, not one per run
            hints = [did_you_mean(key, known) for key in unknown]
            said = ", ".join(f"{key}{hint}" for key, hint in zip(unknown, hints))
            if not all(hints):
                said += f" (known keys: {', '.join(known)})"
            raise MigrationFileError(
                f"unknown key{'s' if len(unknown) > 1 else ''} {said}", path=path,
                section=cls.NAME, key=unknown[0])
        values = {k: v for k, v in data.items() if v is not None}
        for key in cls.required_keys():
            if key not in values:
                raise MigrationFileError(
                    f"missing required key {key}", path=path, section=cls.NAME, key=key
                )
        try:
            cls._check_raw(values)
            return cls(**values)
        except MigrationFileError as exc:
            raise exc.in_file(path) from None

    @classmethod
    def _check_raw(cls, values: Mapping[str, Any]) -> None:
        """Rules that need to know which keys were written (not just their values)."""


@dataclass(frozen=True)
class MigrationSection(_Section):
    """[migration]: what is migrated. Mirrors :class:`~qdrant_drift.migration.spec.MigrationSpec`."""

    NAME: ClassVar[str] = "migration"
    REQUIRED: ClassVar[bool] = True
    DOC: ClassVar[str] = "What is migrated: the collection, its vectors, the layout, the models."

    name: str = _key(
        rule=_string(), doc="name of this migration (its state in Qdrant is kept under it)",
        example="docs-minilm",
    )
    collection: str = _key(
        rule=_string(), doc="the Qdrant collection whose embedding model is upgraded",
        example="docs",
    )
    new_vector: str = _key(
        rule=_string(nonempty=False),
        doc="name of the vector the new model fills (\"\" = the unnamed vector)",
        example="minilm",
    )
    layout: str = _key(
        "named", rule=_choice(LAYOUTS, aliases=LAYOUT_ALIASES),
        doc='"named": the new vector is added next to the old one in the same collection; '
        '"collection" (or "blue-green"): the new vectors live in new_collection',
    )
    old_vector: str = _key(
        DEFAULT_VECTOR, rule=_string(nonempty=False),
        doc='name of the vector the old model filled ("" = the unnamed vector)',
    )
    new_collection: str | None = _key(
        None, rule=_optional(_string()),
        doc='layout "collection" only: the collection that receives the new vectors',
        example="docs_v2",
    )
    alias: str | None = _key(
        None, rule=_optional(_string()),
        doc="an alias that cut-over switches to the new collection (layout \"collection\"); "
            "the legacy collection's own name: the new collection takes it at finish",
        example="docs_live",
    )
    old_model: str | None = _key(
        None, rule=_optional(_string()),
        doc="the model that made the existing vectors (recorded, checked against the adapter)",
        example="old-model-name",
    )
    new_model: str | None = _key(
        None, rule=_optional(_string()),
        doc="the model being migrated to (recorded, checked against the adapter)",
        example="sentence-transformers/all-MiniLM-L6-v2",
    )

    def _check(self) -> None:
        self.to_spec()

    def to_spec(self) -> MigrationSpec:
        """The :class:`MigrationSpec`; its ValueErrors become :class:`MigrationFileError`."""
        try:
            return MigrationSpec(**asdict(self))
        except ValueError as exc:
            message = str(exc)
            key = next(
                (k for k in ("new_collection", "new_vector", "layout", "name") if k in message),
                None,
            )
            raise self._error(message, key) from None


@dataclass(frozen=True)
class EmbedderSection(_Section):
    """[embedder]: how texts are embedded with the new model."""

    NAME: ClassVar[str] = "embedder"
    REQUIRED: ClassVar[bool] = True
    DOC: ClassVar[str] = "How texts are embedded with the new model."

    kind: str = _key(
        "sentence-transformers", rule=_choice(EMBEDDER_KINDS),
        doc='"sentence-transformers" (needs model) or "callable" (needs callable, and no '
            'model or device)',
    )
    model: str | None = _key(
        None, rule=_optional(_string()),
        doc="sentence-transformers: a model name on the Hub or a local path",
        example="sentence-transformers/all-MiniLM-L6-v2",
    )
    device: str = _key(
        "cpu", rule=_string(), doc='sentence-transformers: "cpu", "cuda", "cuda:1", "mps"...'
    )
    callable: str | None = _key(
        None, rule=_optional(_ref),
        doc='callable: "package.module:attribute", a function list[str] -> vectors',
        example="myproject.embedding:embed",
    )
    batch_size: int = _key(64, rule=_int(1), doc="texts per call to the model")
    normalize: bool = _key(True, rule=_bool, doc="L2-normalise the vectors")
    dimension: int | None = _key(
        None, rule=_optional(_int(1)),
        doc="expected vector dimension: a check that the model is the one meant",
        example=384,
    )

    def _check(self) -> None:
        if self.kind == "sentence-transformers":
            if self.model is None:
                raise self._error(
                    'model is required when kind = "sentence-transformers" '
                    "(a model name or a local path)", "model",
                )
            if self.callable is not None:
                raise self._error(
                    'callable is only for kind = "callable"; kind is '
                    '"sentence-transformers": delete it, or set kind = "callable"',
                    "callable",
                )
        else:
            if self.callable is None:
                raise self._error(
                    'callable is required when kind = "callable" '
                    '(form "package.module:attribute")', "callable",
                )

    @classmethod
    def _check_raw(cls, values: Mapping[str, Any]) -> None:
        # the scaffold writes model and device: switching kind leaves both behind, one error
        stray = [key for key in ("model", "device") if key in values]
        if values.get("kind") == "callable" and stray:
            said = " and ".join(stray)
            raise cls._error(
                f'{said} {"are" if len(stray) > 1 else "is"} only for kind = '
                f'"sentence-transformers"; kind is "callable": delete '
                f'{"them" if len(stray) > 1 else "it"}', stray[0])

    def identity(self) -> str:
        """Which model embeds and whether its vectors are normalised, as the file says it
        (device and batch size aside)."""
        said = (f'callable = "{self.callable}"' if self.kind == "callable"
                else f'model = "{self.model}"')
        return said if self.normalize else f"{said}, normalize = false"

    @staticmethod
    def in_full(identity: str) -> str:
        """An :meth:`identity` with the default it leaves out said, for an error that sets
        two side by side ("normalize = false" against nothing reads as a missing key)."""
        return identity if "normalize =" in identity else f"{identity}, normalize = true"


@dataclass(frozen=True)
class SourceSection(_Section):
    """[source]: where the texts to embed come from."""

    NAME: ClassVar[str] = "source"
    REQUIRED: ClassVar[bool] = True
    DOC: ClassVar[str] = "Where the texts come from: exactly one of payload_field or loader."

    payload_field: str | None = _key(
        None, rule=_optional(_string()),
        doc="the payload field holding each point's text", example="text",
    )
    loader: str | None = _key(
        None, rule=_optional(_ref),
        doc='"package.module:attribute", a callable point ids -> texts',
        example="myproject.texts:load",
    )
    version_field: str | None = _key(
        None, rule=_optional(_string()),
        doc="a payload field that changes whenever the content changes (re-embeds edits)",
        example="updated_at",
    )
    text_from: str = _key(
        "text", rule=_choice(TEXT_FORMATS),
        doc='what payload_field holds: "text" (the text to embed), or "llamaindex" (a '
            "LlamaIndex node, payload_field = \"_node_content\": the text LlamaIndex embeds, "
            "metadata included, rebuilt with llama-index)",
    )

    def _check(self) -> None:
        if self.text_from != "text" and self.payload_field is None:
            raise self._error(f"text_from = {_toml_str(self.text_from)} reads payload_field: "
                              "give one (a loader returns texts itself)", "text_from")
        if self.payload_field is not None and self.loader is not None:
            raise self._error(
                "payload_field and loader are mutually exclusive: give exactly one",
                "loader",
            )
        if self.payload_field is None and self.loader is None:
            raise self._error(
                "needs exactly one of payload_field or loader", "payload_field"
            )

    def reading(self) -> str:
        """What decides each point's text, as the file says it (for the check that a
        backfill reads what fit read)."""
        if self.loader:
            return f'loader = "{self.loader}"'
        said = f'payload_field = "{self.payload_field}"'
        return said if self.text_from == "text" else f'{said}, text_from = "{self.text_from}"'

    @staticmethod
    def in_full(reading: str) -> str:
        """A :meth:`reading` with the default it leaves out said (see ``identity``)."""
        if reading.startswith("loader") or "text_from =" in reading:
            return reading
        return f'{reading}, text_from = "text"'


@dataclass(frozen=True)
class AdapterSection(_Section):
    """[adapter]: the query adapter from the new model's space into the old one's."""

    NAME: ClassVar[str] = "adapter"
    DOC: ClassVar[str] = "The query adapter mapping new-model queries into the old space."

    kind: str = _key(
        "auto", rule=_choice(_adapter_kinds),
        doc='adapter kind; "auto" fits several and keeps the best on held-out pairs',
    )
    sample_size: int = _key(5000, rule=_int(100), doc="points embedded to fit the adapter")
    seed: int = _key(0, rule=_int(0), doc="random seed of the sample (collections of up to "
                                          "200,000 points) and of the fit")
    path: str | None = _key(
        None, rule=_optional(_string()),
        doc="a saved adapter file to use instead of fitting (relative to this file)",
        example="adapters/docs-minilm.safetensors",
    )
    queries: str | None = _key(
        None, rule=_optional(_queries_source),
        doc='logged queries (no labels) that choose the adapter and its pre-flight: a text '
            'file with one query per line (relative to this file), "package.module:attribute" '
            '(a callable returning the texts) or "qdrant://collection/payload_field" (a query log)',
        example="queries.txt",
    )
    queries_limit: int = _key(
        1000, rule=_int(1), doc="at most this many logged queries are used (a seeded sample)"
    )
    max_transform_us: float = _key(
        DEFAULT_MAX_TRANSFORM_US, rule=_number(0.0, lo_open=True),
        doc="per-query budget of the adapter in microseconds (one query, p50, timed when "
            "fitting): auto passes over kinds that cost more",
    )


@dataclass(frozen=True)
class RouterSection(_Section):
    """[router]: when queries move from the adapted plan to hybrid and native."""

    NAME: ClassVar[str] = "router"
    DOC: ClassVar[str] = "When queries move from adapted to hybrid to native."

    min_hybrid_coverage: float = _key(
        0.0, rule=_number(0.0, 1.0),
        doc="serve hybrid once more than this share of the points are backfilled",
    )
    native_at: float | None = _key(
        None, rule=_optional(_number(0.0, 1.0)),
        doc="serve native at this coverage before cut-over (off when unset)",
        example=1.0,
    )
    refresh_interval: float = _key(
        DEFAULT_REFRESH_INTERVAL, rule=_number(0.0, lo_open=True),
        doc="seconds between reads of the migration state by clients",
    )
    shadow_rate: float = _key(
        0.0, rule=_number(0.0, 1.0),
        doc="share of queries also run on the other plan to compare results",
    )

    def _check(self) -> None:
        if self.native_at is not None and self.native_at <= self.min_hybrid_coverage:
            raise self._error(
                f"native_at must be greater than min_hybrid_coverage "
                f"({self.min_hybrid_coverage:g}), got {self.native_at:g}",
                "native_at",
            )

    def settings(self) -> RouterSettings:
        return RouterSettings(min_hybrid_coverage=self.min_hybrid_coverage,
                              native_at=self.native_at, refresh_interval=self.refresh_interval,
                              shadow_rate=self.shadow_rate)

    def to_router(self) -> Router:
        return self.settings().router()


@dataclass(frozen=True)
class BackfillSection(_Section):
    """[backfill]: how the new vectors are written for every point."""

    NAME: ClassVar[str] = "backfill"
    DOC: ClassVar[str] = "How the new vectors are written for every point."

    batch_size: int = _key(64, rule=_int(1), doc="points per batch")
    rate_limit: float | None = _key(
        None, rule=_optional(_number(0.0, lo_open=True)),
        doc="points per second across all workers (unlimited when unset)", example=200.0,
    )
    workers: int = _key(1, rule=_int(1), doc="parallel workers = partitions of the points")
    order: str = _key(
        "hot-first", rule=_choice(BACKFILL_ORDERS),
        doc='"sweep" (id order), "hot-first" (most-queried first) or "mixed"',
    )
    hot_share: float = _key(
        0.5, rule=_number(0.0, 1.0), doc='order "mixed": share of batches taken hot-first'
    )
    heartbeat_timeout: float = _key(
        30.0, rule=_number(0.0, lo_open=True),
        doc="seconds without a heartbeat before a worker's partition is taken over",
    )
    max_attempts: int = _key(
        8, rule=_int(1),
        doc="tries of each Qdrant call on transient faults (backoff with jitter) before the "
            "worker stops with an error; it resumes from its checkpoint when restarted",
    )


SECTIONS: tuple[type[_Section], ...] = (
    MigrationSection,
    EmbedderSection,
    SourceSection,
    AdapterSection,
    RouterSection,
    BackfillSection,
)
_BY_NAME: dict[str, type[_Section]] = {cls.NAME: cls for cls in SECTIONS}


# --------------------------------------------------------------------------------------
# the file


@dataclass(frozen=True)
class MigrationFile:
    """A parsed, validated migration file. ``path`` is where it was read from (not compared)."""

    migration: MigrationSection
    embedder: EmbedderSection
    source: SourceSection
    adapter: AdapterSection = field(default_factory=AdapterSection)
    router: RouterSection = field(default_factory=RouterSection)
    backfill: BackfillSection = field(default_factory=BackfillSection)
    path: str = field(default=DICT_PATH, compare=False)

    def __post_init__(self) -> None:
        for cls in SECTIONS:
            value = getattr(self, cls.NAME)
            if not isinstance(value, cls):
                raise MigrationFileError(
                    f"{cls.NAME} must be a {cls.__name__}, got {type(value).__name__}",
                    path=self.path,
                )
        object.__setattr__(self, "path", os.fspath(self.path))

    @property
    def spec(self) -> MigrationSpec:
        try:
            return self.migration.to_spec()
        except MigrationFileError as exc:  # pragma: no cover - validated on construction
            raise exc.in_file(self.path) from None

    @property
    def name(self) -> str:
        return self.migration.name

    def to_router(self) -> Router:
        return self.router.to_router()

    def resolve(self, relative: str | os.PathLike[str]) -> Path:
        """A path written in the file (e.g. ``[adapter] path``), relative to the file's folder."""
        candidate = Path(relative)
        if candidate.is_absolute() or self.path == DICT_PATH or self.path.startswith("<"):
            return candidate
        return Path(self.path).parent / candidate

    @property
    def adapter_path(self) -> Path | None:
        return None if self.adapter.path is None else self.resolve(self.adapter.path)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Every section with every key that is set; ``from_dict`` reads it back equal."""
        return {cls.NAME: getattr(self, cls.NAME).to_dict() for cls in SECTIONS}

    def to_toml(self) -> str:
        """The file as TOML (no comments; :func:`scaffold` writes a commented one)."""
        out: list[str] = []
        for name, table in self.to_dict().items():
            out.append(f"[{name}]")
            out.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
            out.append("")
        return "\n".join(out)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str | os.PathLike[str] = DICT_PATH) -> "MigrationFile":
        path = os.fspath(path)
        if not isinstance(data, Mapping):
            raise MigrationFileError(f"must be a table of sections, got {_show(data)}", path=path)
        for top, value in data.items():
            if top in _BY_NAME:
                continue
            if not isinstance(value, Mapping):
                owners = [c.NAME for c in SECTIONS if top in c.keys()]
                hint = (
                    f"; put it under [{owners[0]}]" if owners
                    else f"; sections are {', '.join(f'[{n}]' for n in _BY_NAME)}"
                )
                raise MigrationFileError(
                    f"key {top} is outside any section{hint}", path=path, key=str(top)
                )
            hint = did_you_mean(str(top), list(_BY_NAME), show=lambda n: f"[{n}]") or (
                f" (sections are {', '.join(f'[{n}]' for n in _BY_NAME)})"
            )
            raise MigrationFileError(f"unknown section [{top}]{hint}", path=path)
        sections: dict[str, Any] = {}
        for section_cls in SECTIONS:
            raw = data.get(section_cls.NAME)
            if raw is None:
                if section_cls.REQUIRED:
                    raise MigrationFileError(
                        f"missing required section [{section_cls.NAME}]", path=path,
                        section=None,
                    )
                sections[section_cls.NAME] = section_cls()
                continue
            sections[section_cls.NAME] = section_cls.from_dict(raw, path)
        return cls(**sections, path=path)


def loads_migration_file(text: str, path: str | os.PathLike[str] = "<string>") -> MigrationFile:
    """Parse TOML ``text`` as a migration file; ``path`` names it in errors."""
    path = os.fspath(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(getattr(exc, "msg", None) or exc)
        line = getattr(exc, "lineno", None)
        column = getattr(exc, "colno", None)
        found = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", message)
        if found:
            line, column = int(found.group(1)), int(found.group(2))
            message = message[: found.start()]
        elif message.endswith("(at end of document)"):
            message = message[: -len("(at end of document)")].rstrip() + " at end of file"
            line = text.count("\n") + 1
            column = None
        raise MigrationFileError(
            f"invalid TOML: {message}", path=path, line=line, column=column
        ) from None
    return MigrationFile.from_dict(data, path)


def load_migration_file(path: str | os.PathLike[str]) -> MigrationFile:
    """Read and validate a migration file; every problem is a :class:`MigrationFileError`."""
    shown = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise MigrationFileError("no such migration file", path=shown) from None
    except OSError as exc:
        raise MigrationFileError(f"cannot read: {exc.strerror or exc}", path=shown) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise MigrationFileError("not UTF-8 text", path=shown, line=line) from None
    return loads_migration_file(text, shown)


# --------------------------------------------------------------------------------------
# writing TOML


def _toml_str(value: str) -> str:
    escaped = []
    for ch in value:
        if ch == "\\":
            escaped.append("\\\\")
        elif ch == '"':
            escaped.append('\\"')
        elif ch == "\n":
            escaped.append("\\n")
        elif ch == "\t":
            escaped.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            escaped.append(f"\\u{ord(ch):04x}")
        else:
            escaped.append(ch)
    return '"' + "".join(escaped) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise TypeError(f"cannot write {value!r} as a TOML value")


def _comment(text: str, width: int = 88) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent="# ", subsequent_indent="# ")


def resolved_layout(layout: str | None, old_vector: str) -> str:
    """The layout a scaffold gets: ``layout`` by its own name (an alias read as it), else
    :func:`default_layout`."""
    return LAYOUT_ALIASES.get(layout or "", layout) or default_layout(old_vector)


def default_layout(old_vector: str) -> str:
    """Blue-green when the legacy vector is the unnamed one: adding a named vector next to it
    breaks plain bare-vector upserts on embedded Qdrant (apps not wrapped yet), while a new
    collection leaves the legacy one as it is on every Qdrant. Named otherwise."""
    return "collection" if old_vector == DEFAULT_VECTOR else "named"


def scaffold(
    name: str,
    collection: str,
    new_vector: str,
    *,
    new_model: str = "sentence-transformers/all-MiniLM-L6-v2",
    payload_field: str = "text",
    layout: str | None = None,
    old_vector: str = DEFAULT_VECTOR,
    old_model: str | None = None,
    file_path: str | None = None,
) -> str:
    """A commented migration file: every section, every key with its meaning; the defaults
    are written out, the optional keys are shown commented out. The text loads cleanly (it
    is checked before it is returned; bad arguments raise :class:`MigrationFileError`).
    ``layout`` None picks :func:`default_layout`; ``file_path``: where it will be written
    (the header's example command names it; default ``migrations/NAME.toml``)."""
    layout = resolved_layout(layout, old_vector)
    migration: dict[str, Any] = {
        "name": name, "collection": collection, "new_vector": new_vector, "layout": layout,
        "old_vector": old_vector, "new_model": new_model,
    }
    if old_model:
        migration["old_model"] = old_model
    if layout == "collection":
        migration["new_collection"] = f"{collection}_{new_vector or 'new'}"
    current = MigrationFile.from_dict(
        {
            "migration": migration,
            "embedder": {"kind": "sentence-transformers", "model": new_model},
            "source": {"payload_field": payload_field, **(
                {"text_from": "llamaindex"} if payload_field == "_node_content" else {})},
        },
        path="<scaffold>",
    )
    values = current.to_dict()
    out = [
        f"# qdrant-drift migration: {name}",
        "#",
        "# One file per embedding-model upgrade, kept in version control under migrations/.",
        "# Every lifecycle command takes this file's path, e.g.",
        f"#   qdrant-drift plan {file_path or f'migrations/{name}.toml'}",
        "# Lines commented out are optional keys; the values written out are the defaults",
        "# (or what `qdrant-drift init` was given). See migrations/README.md.",
        "",
    ]
    for cls in SECTIONS:
        out.extend(_comment(f"{cls.DOC} ({'required' if cls.REQUIRED else 'optional'})"))
        out.append(f"[{cls.NAME}]")
        table = values[cls.NAME]
        for f in fields(cls):  # type: ignore[arg-type]
            out.extend(_comment(f.metadata["doc"]))
            if f.name == "kind" and cls is AdapterSection:
                out.extend(_comment(f"kinds: {', '.join(_adapter_kinds())}"))
            if f.name in table:
                out.append(f"{f.name} = {_toml_value(table[f.name])}")
            else:
                example = f.metadata["example"]
                out.append(f"# {f.name} = {_toml_value(example)}")
        out.append("")
    text = "\n".join(out)
    if loads_migration_file(text, "<scaffold>") != current:  # pragma: no cover - a bug here
        raise RuntimeError("scaffold wrote a file that reads back differently")
    return text
