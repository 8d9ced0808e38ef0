"""Reading: the streaming reader, span trees, views and validation of trace files."""

from ._filter import Selection, selection
from ._open import register_opener
from ._problems import Problem
from ._reader import TraceReader, read
from ._slowest import slowest_spans, slowest_view
from ._summarize import summarize
from ._summaryview import summary_data, summary_view
from ._timeline import timeline_view
from ._trajectory import trajectory_data, trajectory_view
from ._tree import SpanNode, TraceTree, build_tree, load_tree
from ._treeview import tree_data, tree_view
from ._validate import validate
from ._view import View

__all__ = [
    "Problem",
    "Selection",
    "SpanNode",
    "TraceReader",
    "TraceTree",
    "View",
    "build_tree",
    "load_tree",
    "read",
    "register_opener",
    "selection",
    "slowest_spans",
    "slowest_view",
    "summarize",
    "summary_data",
    "summary_view",
    "timeline_view",
    "trajectory_data",
    "trajectory_view",
    "tree_data",
    "tree_view",
    "validate",
]
