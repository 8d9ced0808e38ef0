"""The benchmark harness: asynctrace against its peers and a hand-rolled floor.

Run it with ``python -m benchmarks`` (or ``python benchmarks/run.py``);
``--quick`` for a short smoke run.  See benchmarks/README.md.
"""
