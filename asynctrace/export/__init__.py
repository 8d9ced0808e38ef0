"""Exporters: hand a trace to other tools.

``to_chrome_trace`` / ``write_chrome_trace``: the Trace Event Format JSON
that ui.perfetto.dev and chrome://tracing open.

``write_report`` / ``render_report`` / ``report_data``: one self-contained
HTML file (timeline, span tree, summary, details) that opens in any browser.

``Exporter`` / ``ExportCounts``: the live-exporter hook of
``asynctrace.collector(..., exporters=[...])``.

With the ``otlp`` extra: ``OTLPExporter`` (live), ``export_otlp`` (ship
finished files) and ``write_otlp_json`` (the OTLP JSON file format).  They
are imported on first use, so importing asynctrace never imports
OpenTelemetry.
"""

from typing import TYPE_CHECKING, Any

from .._runtime._exporter import ExportCounts, Exporter
from ._chrome import to_chrome_trace, write_chrome_trace
from ._report import render_report, report_data, write_report

for _cls in (ExportCounts, Exporter):
    _cls.__module__ = __name__
del _cls

if TYPE_CHECKING:
    from ._otlp import export_otlp, write_otlp_json
    from ._otlp_live import OTLPExporter

_OTLP = {"OTLPExporter": "._otlp_live", "export_otlp": "._otlp", "write_otlp_json": "._otlp"}


def __getattr__(name: str) -> Any:
    module = _OTLP.get(name)
    if module is None:
        raise AttributeError(f"module 'asynctrace.export' has no attribute {name!r}")
    import importlib

    try:
        mod = importlib.import_module(module, __name__)
    except ImportError as exc:
        raise ImportError(
            f"asynctrace.export.{name} needs the otlp extra: pip install 'asynctrace[otlp]' ({exc})"
        ) from exc
    return getattr(mod, name)


__all__ = [
    "ExportCounts",
    "Exporter",
    "OTLPExporter",
    "export_otlp",
    "render_report",
    "report_data",
    "to_chrome_trace",
    "write_chrome_trace",
    "write_otlp_json",
    "write_report",
]
