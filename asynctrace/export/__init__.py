"""Exporters to other trace formats.

``to_chrome_trace`` / ``write_chrome_trace``: the Trace Event Format JSON
that ui.perfetto.dev and chrome://tracing open.

``write_report`` / ``render_report`` / ``report_data``: one self-contained
HTML file (timeline, span tree, summary, details) that opens in any browser.

``Exporter`` / ``ExportCounts``: the live-exporter hook of
``asynctrace.collector(..., exporters=[...])``.
"""

from .._runtime._exporter import ExportCounts, Exporter
from ._chrome import to_chrome_trace, write_chrome_trace
from ._report import render_report, report_data, write_report

for _cls in (ExportCounts, Exporter):
    _cls.__module__ = __name__
del _cls

__all__ = [
    "ExportCounts",
    "Exporter",
    "render_report",
    "report_data",
    "to_chrome_trace",
    "write_chrome_trace",
    "write_report",
]
