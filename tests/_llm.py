"""Shared pieces of the LLM capture tests: the mock provider and trace helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from asynctrace._demo._mockllm import MockProvider

OPENAI_KEY = "sk-test-5ecret0penAIkey0000000000000000"
ANTHROPIC_KEY = "sk-ant-test-5ecretAnthropicKey000000000000"


def provider() -> Iterator[MockProvider]:
    """The ``mock`` fixture's body (the fixture itself is in conftest.py)."""
    with MockProvider() as m:
        yield m


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def stops(path: Path) -> list[dict[str, Any]]:
    return [d for d in lines(path) if d["event"] == "llm.stop"]


def starts(path: Path) -> list[dict[str, Any]]:
    return [d for d in lines(path) if d["event"] == "llm.start"]
