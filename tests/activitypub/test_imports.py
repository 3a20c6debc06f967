"""The protocol layer imports only the stdlib, httpx, cryptography, pyld (Linked Data signatures, decision 0058)
and itself (docs/architecture.md, Layers)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import activitypub

ALLOWED = {"httpx", "cryptography", "pyld", "activitypub"}


def test_activitypub_imports_only_what_it_may() -> None:
    package = Path(activitypub.__file__).parent
    breaches = []
    for module in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in ALLOWED and top not in sys.stdlib_module_names and top != "__future__":
                    breaches.append(f"{module.name}: {name}")
    assert breaches == []
