"""Torture: SIGTERM and SIGINT at random moments to a process full of spans and threads.

Every run's file must parse, with gapless seq, every start paired with
exactly one stop, and ``emitted == written + shed + write_errors``.
Bounded: 10 runs of each signal, four processes at a time.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from asynctrace.testing import assert_valid_trace, load_events

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

BUSY = textwrap.dedent(
    """
    import asyncio, sys, threading
    import asynctrace

    stop = threading.Event()

    def thread_work(ctx, n):
        with asynctrace.attach(ctx):
            i = 0
            while not stop.is_set():
                with asynctrace.span("thread-step", thread=n, i=i):
                    asynctrace.emit_nowait("thread-note", i=i)
                i += 1

    async def task_work(n):
        i = 0
        while True:
            async with asynctrace.span("outer", kind="turn", task=n, i=i):
                async with asynctrace.tool("search", args={"q": i}) as t:
                    await asyncio.sleep(0)
                    t.result("found")
                async with asynctrace.span("inner"):
                    await asynctrace.emit("note", i=i)
            i += 1

    async def main(path):
        async with asynctrace.collector(path, max_mailbox_len=200) as trace:
            ctx = asynctrace.capture()
            threads = [threading.Thread(target=thread_work, args=(ctx, n), daemon=True)
                       for n in range(2)]
            for t in threads:
                t.start()
            tasks = [asyncio.create_task(task_work(n)) for n in range(4)]
            await trace.flush()
            print("ready", flush=True)
            try:
                await asyncio.gather(*tasks)
            finally:
                stop.set()

    asyncio.run(main(sys.argv[1]))
    """
)


def test_random_sigterm_and_sigint_always_leave_a_complete_consistent_file(
    tmp_path: Path,
) -> None:
    rng = random.Random(9)
    runs = [(signal.SIGTERM, i) for i in range(10)] + [(signal.SIGINT, i) for i in range(10)]
    rng.shuffle(runs)
    for group in (runs[i : i + 4] for i in range(0, len(runs), 4)):
        procs = []
        for sig, i in group:
            path = tmp_path / f"{sig.name}-{i}.jsonl"
            proc = subprocess.Popen(
                [sys.executable, "-c", BUSY, str(path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append((sig, path, proc))
        for sig, _, proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.strip() == "ready", proc.stderr.read() if proc.stderr else line
            time.sleep(rng.uniform(0, 0.15))  # the random moment, not synchronisation
            proc.send_signal(sig)
        for sig, path, proc in procs:
            _, err = proc.communicate(timeout=60)
            events = load_events(path)
            assert_valid_trace(events)
            stop = events[-1]
            expected = "signal" if sig == signal.SIGTERM else "cancelled"
            assert stop.data["reason"] == expected, (sig, stop.data, err)
            counts = stop.data["counts"]
            assert counts["written"] == len(events) - 2 - len(
                [e for e in events if e.event == "agent.config"]
            )
