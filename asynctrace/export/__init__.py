"""Exporters to other trace formats.

``to_chrome_trace`` / ``write_chrome_trace``: the Trace Event Format JSON
that ui.perfetto.dev and chrome://tracing open.
"""

from ._chrome import to_chrome_trace, write_chrome_trace

__all__ = ["to_chrome_trace", "write_chrome_trace"]
