"""The facade: everything public is importable from ``asynctrace`` and listed in ``__all__``."""

from __future__ import annotations

import importlib
import pkgutil
import re
import types
from pathlib import Path

import asynctrace

ROOT = Path(__file__).resolve().parent.parent


def test_all_lists_exactly_the_public_names_of_the_facade() -> None:
    public = {
        name
        for name, value in vars(asynctrace).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(asynctrace.__all__) == public | {"__version__"}


def test_every_name_in_all_resolves() -> None:
    for name in asynctrace.__all__:
        assert getattr(asynctrace, name) is not None, name


def test_public_subpackages_are_only_the_stable_ones() -> None:
    subpackages = {
        m.name for m in pkgutil.iter_modules(asynctrace.__path__) if not m.name.startswith("_")
    }
    assert subpackages == {"export", "integrations", "testing"}
    for name in subpackages - {"integrations"}:
        module = importlib.import_module(f"asynctrace.{name}")
        for exported in module.__all__:
            assert hasattr(module, exported), f"asynctrace.{name}.{exported}"


def test_the_package_ships_type_information() -> None:
    assert (Path(asynctrace.__file__).parent / "py.typed").exists()


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"```bash\n(python3 -m venv .*?)\n```", readme)
    assert len(commands) == 2, commands  # exactly two set-up commands: demo and tests
    demo, tests = commands
    assert "asynctrace demo" in demo
    assert tests in ci


def test_public_classes_report_the_module_they_are_imported_from() -> None:
    import asynctrace.export

    for name in asynctrace.__all__:
        value = getattr(asynctrace, name)
        if isinstance(value, type):
            assert value.__module__ == "asynctrace", name
    for name in ("Exporter", "ExportCounts"):
        assert getattr(asynctrace.export, name).__module__ == "asynctrace.export"
    assert not hasattr(asynctrace, "open_collector")  # one name per concept: collector


def _imports(path: Path, module: str) -> set[str]:
    """What *module* imports at run time (``if TYPE_CHECKING:`` blocks excluded)."""
    import ast

    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom) and child.level:
                base = package.split(".")
                base = base[: len(base) - child.level + 1]
                target = ".".join([*base, *([child.module] if child.module else [])])
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    out.add(sub if _module_path(sub) else target)
            elif isinstance(child, ast.ImportFrom) and (child.module or "").startswith("asynctrace"):
                out.add(str(child.module))
            elif isinstance(child, ast.Import):
                out.update(a.name for a in child.names if a.name.startswith("asynctrace"))
            visit(child)

    visit(tree)
    out.discard(module)
    return out


def _module_path(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def test_the_package_has_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "asynctrace").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        module = ".".join(parts)
        graph[module] = _imports(path, module)
    # Package __init__ modules re-export their children: edges into them stand
    # for the children they name, which the children's own edges already cover.
    packages = {m for m in graph if (ROOT.joinpath(*m.split(".")) / "__init__.py").exists()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in packages:
                continue
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            dfs(module)
