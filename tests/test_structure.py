"""The house keeps its shape: declared public surfaces and the direction of imports."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["memory", "personas", "graphs", "agent"]
# what each package may import (architecture.md): nothing below imports anything above it
ALLOWED = {"memory": {"memory"}, "personas": {"personas", "memory"},
           "graphs": {"graphs", "personas", "memory"},
           "agent": {"agent", "graphs", "personas", "memory"}}


def _modules(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        yield ".".join(p for p in rel.parts if p != "__init__"), path


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_only_point_downwards(package):
    bad = []
    for name, path in _modules(package):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                       [node.module] if isinstance(node, ast.ImportFrom) and node.module
                       and node.level == 0 else [])
            for target in targets:
                top = target.split(".")[0]
                if top in ALLOWED and top not in ALLOWED[package]:
                    bad.append(f"{name} imports {target}")
    assert not bad, bad


@pytest.mark.parametrize("package", PACKAGES)
def test_public_modules_declare_all_and_export_real_names(package):
    missing = []
    for name, _path in _modules(package):
        if any(part.startswith("_") for part in name.split(".")[1:]) or name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            missing.append(f"{name} has no __all__")
            continue
        missing += [f"{name}.{n} is missing" for n in exported if not hasattr(module, n)]
    assert not missing, missing


def test_no_bare_broad_excepts_that_swallow_errors():
    offenders = []
    for package in PACKAGES:
        for name, path in _modules(package):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ExceptHandler):
                    broad = node.type is None or (isinstance(node.type, ast.Name)
                                                  and node.type.id in {"Exception", "BaseException"})
                    reraises = any(isinstance(n, ast.Raise) for n in ast.walk(node)) or any(
                        isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "append"
                        for n in ast.walk(node))
                    if broad and not reraises:
                        offenders.append(f"{name}:{node.lineno}")
    assert not offenders, offenders
