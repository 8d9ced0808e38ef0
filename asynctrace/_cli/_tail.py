"""``asynctrace tail [-f]``: the last events of a trace, then new ones as they are written."""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Final

import msgspec

from .._events._codec import EVENT_DECODER
from .._events._schema import TRACE_START, TRACE_STOP, Event
from .._reading._detail import StartMemory
from .._reading._timeline import timeline_line
from .._storage._rotation import ROTATED
from .._storage._scan import scan
from ._errors import EXIT_OK, EXIT_PROBLEMS, CliError
from ._output import Output, warn

_CHUNK_BYTES: Final = 1 << 20


class _Follower:
    """Decodes the complete lines that have appeared since the last poll."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "rb")  # noqa: SIM115 -- closed by close()
        self.pending = b""
        self.line_no = 0
        self.t0: int | None = None
        self.memory = StartMemory()
        self.stopped = False
        self.trace_id = ""
        self.file_id: str | None = None
        self.next_file_id: str | None = None
        """Set by a ``trace.stop`` with reason ``rotated``: the trace goes on there."""

    def continue_in(self, path: Path) -> None:
        """Follow the next part from its first line, keeping t0 and span memory."""
        self.file.close()
        self.path = path
        self.file = open(path, "rb")  # noqa: SIM115 -- closed by close()
        self.pending = b""
        self.line_no = 0
        self.stopped = False
        self.file_id = self.next_file_id
        self.next_file_id = None

    def close(self) -> None:
        self.file.close()

    def truncated(self) -> bool:
        try:
            return os.stat(self.path).st_size < self.file.tell()
        except OSError:
            return True

    def poll(self) -> list[Event]:
        """Events from the lines completed since the last call."""
        events: list[Event] = []
        while True:
            data = self.file.read(_CHUNK_BYTES)
            if not data:
                return events
            buf = self.pending + data
            cut = buf.rfind(b"\n")
            if cut < 0:
                self.pending = buf
                continue
            self.pending = buf[cut + 1 :]
            for raw in buf[:cut].split(b"\n"):
                self.line_no += 1
                if not raw.strip():
                    continue
                try:
                    ev = EVENT_DECODER.decode(raw)
                except msgspec.MsgspecError as exc:
                    warn(f"{self.path.name}: line {self.line_no}: skipped a malformed line ({exc})")
                    continue
                if self.line_no == 1 or self.t0 is None:
                    if ev.event != TRACE_START:
                        raise NotATrace(f"the first line is {ev.event!r}, not trace.start")
                    if self.t0 is None:
                        self.t0 = ev.ts_ns
                        self.trace_id = ev.trace_id
                    fid = ev.data.get("file_id")
                    self.file_id = fid if isinstance(fid, str) else None
                if ev.event == TRACE_STOP:
                    self.stopped = True
                    nxt = ev.data.get("next_file_id")
                    if ev.data.get("reason") == ROTATED and isinstance(nxt, str):
                        self.next_file_id = nxt
                events.append(self.memory.fill(ev) if ev.span_id is not None else ev)


class NotATrace(Exception):
    pass


def next_part(path: Path, trace_id: str, file_id: str) -> Path | None:
    """The file that continues a rotated part, once it exists beside it (names
    that hold the ids are looked at first, then every trace file)."""
    stem = path.name.split(".", 1)[0]

    def likely(name: str) -> bool:
        return name != path.name and (file_id in name or trace_id in name or name.startswith(stem))

    for name_filter in (likely, lambda name: not likely(name)):
        for info in scan(path.parent, by_name=False, name_filter=name_filter):
            if info.trace_id == trace_id and info.file_id == file_id:
                return info.path
    return None


def tail(path: Path, out: Output, *, lines: int, follow: bool, interval_s: float) -> int:
    follower = _Follower(path)
    try:
        try:
            backlog: deque[Event] = deque(follower.poll(), maxlen=lines)
        except NotATrace as exc:
            raise CliError(f"{path} is not an asynctrace trace: {exc}") from None
        if follower.t0 is None and not follow:
            raise CliError(
                f"{path} is empty" if not follower.pending else f"{path} has no complete line"
            )
        for ev in backlog:
            out.line(timeline_line(ev, follower.t0 or ev.ts_ns))
        out.out.flush()
        if not follow:
            if follower.pending.strip():
                warn(f"{path.name}: the final line is incomplete (still being written, or torn)")
            return EXIT_OK
        while True:
            if follower.stopped:
                if follower.next_file_id is None:
                    break
                nxt = next_part(follower.path, follower.trace_id, follower.next_file_id)
                if nxt is None:
                    # The writer opens the next part right after rotating.
                    time.sleep(interval_s)
                    continue
                follower.continue_in(nxt)
            else:
                time.sleep(interval_s)
            try:
                fresh = follower.poll()
            except NotATrace as exc:
                raise CliError(f"{follower.path} is not an asynctrace trace: {exc}") from None
            for ev in fresh:
                out.line(timeline_line(ev, follower.t0 or ev.ts_ns))
            if fresh:
                out.out.flush()
            # A closed part may be compressed and removed at once; what the
            # open file still holds has been read above.
            if not follower.stopped and follower.truncated():
                warn(f"{follower.path.name} was truncated or removed; stopped following")
                return EXIT_PROBLEMS
        return EXIT_OK
    except KeyboardInterrupt:
        # Ctrl-C is how one stops following a trace that is still running.
        return EXIT_OK
    finally:
        follower.close()
