"""The house rules that a reader relies on, checked by reading the code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("churn", "roi", "flows")


def _modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(ROOT)): ast.parse(path.read_text(), filename=str(path))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _imported(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


DOOR = {"flows/runs.py", "flows/registry.py"}


def test_only_the_runs_and_registry_modules_import_mlflow() -> None:
    importers = {name for name, tree in _modules().items() if "mlflow" in _imported(tree)}
    assert importers == DOOR


def test_flows_talk_to_mlflow_only_through_the_runs_and_registry_modules() -> None:
    # A client is handed around, but only those two call its methods.
    calls = [
        f"{name}:{node.lineno} client.{node.func.attr}"
        for name, tree in _modules().items()
        if name not in DOOR
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "client"
    ]
    assert calls == []


def test_arrows_point_one_way() -> None:
    # flows -> churn, roi; churn never imports flows or Prefect; roi imports neither.
    for name, tree in _modules().items():
        imported = _imported(tree)
        if name.startswith("churn/"):
            assert not imported & {"flows", "prefect"}, name
        if name.startswith("roi/"):
            assert not imported & {"flows", "churn", "prefect", "mlflow"}, name
