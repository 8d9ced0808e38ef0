"""The trace file: created exclusively, never through a symlink; writes are all-or-error."""

from __future__ import annotations

import errno
import io
import os
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from typing_extensions import Buffer

# Exclusive creation, never following a symlink: a link (or any file) planted
# at the trace path is refused instead of having its target overwritten.
_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _opener(path: str, flags: int) -> int:
    try:
        # 0600: traces hold prompts and tool payloads; nobody else should read them.
        return os.open(path, _FLAGS, 0o600)
    except FileExistsError as exc:
        kind = "a symlink" if os.path.islink(path) else "already there"
        raise FileExistsError(
            exc.errno,
            f"refusing to write the trace to {path!r}: the path is {kind}; "
            "asynctrace creates a new file and never overwrites or follows one",
            path,
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(
                exc.errno, f"refusing to write the trace through the symlink {path!r}", path
            ) from None
        raise


class TraceFile(io.FileIO):
    """An unbuffered file whose ``write`` writes everything or raises."""

    def __init__(self, path: str) -> None:
        super().__init__(path, "wb", closefd=True, opener=_opener)

    def write(self, b: Buffer, /) -> int:
        view = memoryview(b).cast("B")
        total = len(view)
        while view:
            n = super().write(view)
            if n is None:  # only for non-blocking fds, which this never is
                continue
            view = view[n:]
        return total

    def fsync(self) -> None:
        os.fsync(self.fileno())

    def __reduce__(self) -> Any:
        raise TypeError("TraceFile cannot be pickled")
