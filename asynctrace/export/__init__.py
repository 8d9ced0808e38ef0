"""Exporters to other trace formats and live exporters.

``to_chrome_trace`` / ``write_chrome_trace``: the Trace Event Format JSON
that ui.perfetto.dev and chrome://tracing open.

``Exporter`` / ``ExportCounts``: the protocol of ``collector(exporters=[...])``.

With the ``otlp`` extra: ``OTLPExporter`` (live), ``export_otlp`` (ship
finished files) and ``write_otlp_json`` (the OTLP JSON file format).  They
are imported on first use, so importing asynctrace never imports
OpenTelemetry.
"""

from typing import TYPE_CHECKING, Any

from .._runtime._exporter import ExportCounts, Exporter
from ._chrome import to_chrome_trace, write_chrome_trace

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
    "to_chrome_trace",
    "write_chrome_trace",
    "write_otlp_json",
]
