"""Context: spans and their propagation through contextvars, threads and processes."""
