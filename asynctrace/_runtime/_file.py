"""The trace file: a raw file whose writes are all-or-error and remembered."""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Buffer


def _opener(path: str, flags: int) -> int:
    # 0600: traces hold prompts and tool payloads; nobody else should read them.
    return os.open(path, flags, 0o600)


class TraceFile(io.FileIO):
    """An unbuffered file whose ``write`` writes everything or raises.

    Writes happen on the collector's own single-thread executor (through
    aiofiles), so at most one is in flight and they land in submission
    order.  The shutdown hooks rely on both: they queue a no-op behind the
    in-flight write to wait for it, then read ``last_error`` to learn how it
    went even though the coroutine that awaited it never resumed.
    """

    last_error: OSError | None = None

    def __init__(self, path: str) -> None:
        super().__init__(path, "wb", closefd=True, opener=_opener)

    def write(self, b: Buffer, /) -> int:
        view = memoryview(b).cast("B")
        total = len(view)
        try:
            while view:
                n = super().write(view)
                if n is None:  # only for non-blocking fds, which this never is
                    continue
                view = view[n:]
        except OSError as exc:
            self.last_error = exc
            raise
        self.last_error = None
        return total

    def fsync(self) -> None:
        os.fsync(self.fileno())

    def __reduce__(self) -> Any:
        raise TypeError("TraceFile cannot be pickled")
