"""A real text corpus every machine has: the docstrings of Python's standard library.

Each documented function or class gives one document (its name and the body of its
docstring) and one query (the docstring's summary line), the way a user would describe what
they look for; the document is the query's one relevant answer (like the shared benchmark's
package descriptions). Deterministic for a given Python version.
"""

from __future__ import annotations

import importlib
import inspect
import random
import warnings
from dataclasses import dataclass

# Pure-library modules with no side effects on import (no `this`, no `antigravity`).
MODULES = (
    "abc argparse array ast asyncio base64 bisect bz2 calendar cmd codecs collections colorsys "
    "concurrent.futures configparser contextlib copy csv dataclasses datetime decimal difflib "
    "dis doctest email email.message email.utils enum filecmp fileinput fnmatch fractions "
    "ftplib functools getopt gettext glob graphlib gzip hashlib heapq hmac html html.parser "
    "http.client http.cookies http.server imaplib importlib inspect io ipaddress itertools json "
    "locale logging logging.handlers lzma mailbox mimetypes multiprocessing netrc numbers "
    "operator optparse os os.path cmath curses.ascii pathlib pickle pkgutil platform plistlib poplib pprint "
    "profile pstats queue quopri random re reprlib sched secrets selectors shelve shlex shutil "
    "signal smtplib socket socketserver sqlite3 ssl statistics string struct subprocess "
    "symtable sysconfig tabnanny tarfile tempfile textwrap threading timeit tokenize tomllib "
    "trace traceback types typing unittest unittest.mock urllib.parse urllib.request uuid "
    "warnings wave weakref xml.dom.minidom xml.etree.ElementTree xml.sax zipfile zipimport "
    "zoneinfo"
).split()


@dataclass(frozen=True)
class Corpus:
    docs: list[str]
    names: list[str]
    queries: list[str]
    relevant: list[int]  # query j's one relevant document


def _home(obj: object) -> str:
    """The top-level package an object comes from (``_json`` counts as ``json``)."""
    name = getattr(obj, "__module__", None) or getattr(obj, "__name__", "") or ""
    return name.split(".")[0].lstrip("_")


def _entries() -> dict[str, tuple[str, str]]:
    """qualified name -> (summary line, body) for documented public functions and classes."""
    found: dict[str, tuple[str, str]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for module_name in MODULES:
            try:
                module = importlib.import_module(module_name)
            except Exception:  # noqa: BLE001 - a module this Python does not have
                continue
            objects = [(name, obj) for name, obj in vars(module).items()
                       if not name.startswith("_") and (inspect.isroutine(obj)
                                                        or inspect.isclass(obj))
                       and _home(obj) == _home(module)]
            for name, obj in objects:
                members = [(name, obj)]
                if inspect.isclass(obj):
                    members += [(f"{name}.{m}", f) for m, f in vars(obj).items()
                                if not m.startswith("_") and (inspect.isfunction(f)
                                                              or inspect.ismethoddescriptor(f))]
                for qualified, member in members:
                    text = " ".join((inspect.getdoc(member) or "").split())
                    summary, _, body = text.partition(". ")  # the first sentence asks
                    summary = summary.rstrip(".") + "."
                    if 4 <= len(summary.split()) <= 40 and len(body.split()) >= 8:
                        found[f"{module_name}.{qualified}"] = (summary, body)
    return found


def stdlib_corpus(n_docs: int = 2000, n_queries: int = 200, seed: int = 0) -> Corpus:
    """Up to ``n_docs`` documents (unique texts), ``n_queries`` of them also asked as queries."""
    entries = _entries()
    seen_docs, seen_queries, picked = set(), set(), []
    for name in sorted(entries):
        summary, body = entries[name]
        doc = f"{name}: {body}"
        if body in seen_docs or summary in seen_queries:
            continue
        seen_docs.add(body)
        seen_queries.add(summary)
        picked.append((name, summary, doc))
    rng = random.Random(seed)
    rng.shuffle(picked)
    picked = picked[:n_docs]
    asked = sorted(rng.sample(range(len(picked)), min(n_queries, len(picked))))
    return Corpus(docs=[doc for _, _, doc in picked], names=[name for name, _, _ in picked],
                  queries=[picked[i][1] for i in asked], relevant=asked)
