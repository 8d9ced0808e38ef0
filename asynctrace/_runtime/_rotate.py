"""Size rotation on the writer's side: which part the next line goes to.

The decisions and the boundary lines' data come from ``_storage._rotation``
(shared with the readers); this keeps the running state of one collector's
chain of parts -- the part being filled, its size and producer lines, the
part files so far -- on the loop, where lines are numbered and encoded.
The writer thread only opens the files this names (``WriteThread``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from msgspec.structs import replace

from .._events import _clock
from .._events._ids import new_file_id
from .._events._schema import TRACE_START, TRACE_STOP, Counts, Event
from .._storage._rotation import next_part_path, next_start_data, part_is_full, rotated_stop_data


class Rotator:
    """The chain of parts of one collector with ``max_file_bytes`` set."""

    def __init__(
        self,
        *,
        max_file_bytes: int,
        first_path: Path,
        trace_id: str,
        start_data: dict[str, Any],
        counts: Callable[[], Counts],
        elapsed_ns: Callable[[], int],
    ) -> None:
        self.max_file_bytes = max_file_bytes
        self.trace_id = trace_id
        self._first_path = first_path
        self._start_data = start_data
        self._counts = counts
        self._elapsed_ns = elapsed_ns
        self.part = 1
        self.file_id: str = start_data["file_id"]
        self.next_file_id = new_file_id()
        self.paths = [first_path]
        self.size = 0  # bytes in the current part (its trace.stop not counted)
        self.lines = 0  # producer lines in the current part
        self.encoded = 0  # producer events encoded into all parts so far

    def full(self, line_bytes: int) -> bool:
        return part_is_full(self.size, line_bytes, self.lines, self.max_file_bytes)

    def stop_event(self, summary: dict[str, Any]) -> Event:
        """The rotated part's ``trace.stop``: counts and summary of the trace so far."""
        counts = self._counts()
        # What the parts hold so far, not what the writer thread has confirmed
        # yet: the lines still in the backlog are written before this stop.
        counts = replace(counts, written=max(self.encoded - counts.write_errors, 0))
        return Event(
            ts_ns=_clock.now_ns(),
            event=TRACE_STOP,
            duration_ns=self._elapsed_ns(),
            status="ok",
            data=rotated_stop_data(msgspec.to_builtins(counts), summary, self.next_file_id),
        )

    def advance(self) -> tuple[Event, Path]:
        """Move on to the next part (:attr:`next_file_id`): its ``trace.start`` and path."""
        prev, file_id = self.file_id, self.next_file_id
        self.next_file_id = new_file_id()
        self.part += 1
        self.file_id = file_id
        path = next_part_path(
            self._first_path, trace_id=self.trace_id, file_id=file_id, part=self.part
        )
        self.paths.append(path)
        self.size = 0
        self.lines = 0
        data = next_start_data(self._start_data, part=self.part, prev_file_id=prev, file_id=file_id)
        return Event(ts_ns=_clock.now_ns(), event=TRACE_START, data=data), path
