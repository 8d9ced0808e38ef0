from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    # asynctrace is asyncio-native: its mailbox is an asyncio.Queue.
    return "asyncio"
