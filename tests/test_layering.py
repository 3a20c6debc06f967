"""The import rules of docs/architecture.md (Layers), checked on the source: a breach fails here, not in review."""

from __future__ import annotations

import ast
import functools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUR_PACKAGES = {"activitypub", "storage", "fediverse"}

#: What each layer may import besides the standard library and itself.
ALLOWED = {
    "activitypub": {"httpx", "cryptography", "pyld"},
    "storage": {"sqlalchemy", "sqlmodel", "alembic", "pydantic", "asyncpg"},
}
#: Top-level modules a part of the application must not import.
FORBIDDEN_IN = {
    "fediverse/generation": {"storage", "sqlalchemy", "sqlmodel", "starlette", "fediverse.web"},
    "fediverse/imaging": {"storage", "sqlalchemy", "sqlmodel", "starlette"},
}


#: Inside ``fediverse/``: what each part must not import (docs/architecture.md, "Layers"). The core is
#: the bottom; the read side never reaches into the write side; federation's shared parts never reach
#: into the inbox's handlers or the social actions; the web and worker shells sit on top of everything.
FORBIDDEN_INSIDE = {
    "fediverse/core": ("fediverse.",),
    "fediverse/reads": (
        "fediverse.social",
        "fediverse.studio",
        "fediverse.federation.inbox",
        "fediverse.web",
        "fediverse.worker",
        "fediverse.cli",
    ),
    "fediverse/federation": (
        "fediverse.social",
        "fediverse.reads",
        "fediverse.studio",
        "fediverse.web",
        "fediverse.cli",
    ),
    "fediverse/social": ("fediverse.studio", "fediverse.web", "fediverse.worker", "fediverse.cli"),
    "fediverse/studio": ("fediverse.web", "fediverse.worker", "fediverse.cli"),
    "fediverse/housekeeping": ("fediverse.web", "fediverse.worker", "fediverse.cli"),
    "fediverse/portability": ("fediverse.studio", "fediverse.web", "fediverse.worker", "fediverse.cli"),
    "fediverse/worker": ("fediverse.web", "fediverse.cli"),
    "fediverse/web": ("fediverse.cli",),
    "fediverse/services.py": ("fediverse.web", "fediverse.worker", "fediverse.cli"),
}
#: Exceptions to ``FORBIDDEN_INSIDE``: (part, allowed prefix). The core may use itself; the inbox's
#: handlers are federation's one place that applies what peers send to the social graph and the reads.
ALLOWED_INSIDE = {
    ("fediverse/core", "fediverse.core"),
    ("fediverse/federation", "fediverse.federation.inbox"),
}
INBOX = "fediverse/federation/inbox"


def python_files(folder: str) -> Iterator[Path]:
    base = ROOT / folder
    if base.is_file() or base.with_suffix(".py").is_file():
        yield base if base.is_file() else base.with_suffix(".py")
        return
    yield from sorted(base.rglob("*.py"))


def imported_modules(path: Path) -> Iterator[tuple[str, ast.stmt, bool]]:
    """(module, node, is_inside_a_function) for every import in ``path``."""
    return iter(_imports_of(path))


@functools.cache
def _imports_of(path: Path) -> tuple[tuple[str, ast.stmt, bool], ...]:
    """Each file is parsed once per session, not once for every rule that reads it."""
    return tuple(_walk_imports(path))


def _walk_imports(path: Path) -> Iterator[tuple[str, ast.stmt, bool]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    function_nodes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    local = {id(inner) for function in function_nodes for inner in ast.walk(function)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node, id(node) in local
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node, id(node) in local


def is_stdlib(module: str) -> bool:
    return module.split(".")[0] in sys.stdlib_module_names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_lower_layers_import_only_what_they_may(package: str) -> None:
    breaches = []
    for path in python_files(package):
        for module, node, _ in imported_modules(path):
            top = module.split(".")[0]
            if top == package or is_stdlib(module) or top in ALLOWED[package]:
                continue
            breaches.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
    assert not breaches, "\n".join(breaches)


@pytest.mark.parametrize("part", sorted(FORBIDDEN_IN))
def test_generation_and_imaging_stay_free_of_storage_and_web(part: str) -> None:
    breaches = []
    for path in python_files(part):
        for module, node, _ in imported_modules(path):
            if any(module == banned or module.startswith(banned + ".") for banned in FORBIDDEN_IN[part]):
                breaches.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
    assert not breaches, "\n".join(breaches)


def _is_under(module: str, prefix: str) -> bool:
    return module.startswith(prefix) if prefix.endswith(".") else module == prefix or module.startswith(prefix + ".")


@pytest.mark.parametrize("part", sorted(FORBIDDEN_INSIDE))
def test_each_part_of_the_application_imports_only_what_sits_below_it(part: str) -> None:
    breaches = []
    for path in python_files(part):
        in_inbox = str(path.relative_to(ROOT)).startswith(INBOX)
        for module, node, _ in imported_modules(path):
            if any(_is_under(module, allowed) for owner, allowed in ALLOWED_INSIDE if owner == part):
                continue
            if in_inbox and not _is_under(module, "fediverse.web") and not _is_under(module, "fediverse.cli"):
                continue  # the inbox applies activities: it may use the social graph and the reads
            if any(_is_under(module, banned) for banned in FORBIDDEN_INSIDE[part]):
                breaches.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
    assert not breaches, "\n".join(breaches)


#: Our modules that are imported inside a function on purpose: each loads a heavy library at import, and
#: is needed only when that function first runs, so an idle server does not hold it (docs/decisions/0053;
#: tests/fediverse/test_lean_start.py checks the effect).
LOADED_ON_FIRST_USE = {
    "fediverse.generation.procedural.painter",  # numpy and Pillow: the first painting
    "fediverse.federation.vetting_resolver",  # aiohttp: the first delivery
}


def test_no_function_local_imports_of_our_own_modules() -> None:
    """A cycle means code sits in the wrong layer; hiding it behind a local import is not allowed (only
    the few modules loaded on first use, for memory, are imported inside functions)."""
    breaches = []
    for package in sorted(OUR_PACKAGES):
        for path in python_files(package):
            for module, node, inside_function in imported_modules(path):
                if inside_function and module in LOADED_ON_FIRST_USE:
                    continue
                if inside_function and module.split(".")[0] in OUR_PACKAGES:
                    breaches.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module} inside a function")
    assert not breaches, "\n".join(breaches)


def test_the_checker_sees_a_breach(tmp_path: Path) -> None:
    """The walker itself works: a planted forbidden import is found."""
    planted = tmp_path / "planted.py"
    planted.write_text("import sqlalchemy\n\ndef later():\n    from storage import models\n")
    found = [(module, local) for module, _, local in imported_modules(planted)]
    assert ("sqlalchemy", False) in found
    assert ("storage", True) in found
