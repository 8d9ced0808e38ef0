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
