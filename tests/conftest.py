from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    # asynctrace is asyncio-native: its mailbox is an asyncio.Queue.
    return "asyncio"


@pytest.fixture
def mock():  # type: ignore[no-untyped-def]
    """A mock model provider on 127.0.0.1 (tests/_llm.py, issue 12)."""
    from _llm import provider

    yield from provider()
