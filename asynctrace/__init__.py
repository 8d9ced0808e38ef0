"""asynctrace: an asyncio-native tracing runtime for agents and async programs."""

from ._events._schema import Counts, Event, ShedCounts
from ._version import __version__

__all__ = ["Counts", "Event", "ShedCounts", "__version__"]
