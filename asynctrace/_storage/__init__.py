"""The trace directory: file names, headers, part chains, compression, retention.

Below both the runtime and the reader: it imports only ``_events``, so the
writer (rotation, compression, cleanup at open) and the reading side
(part chains, listings) can both use it without importing each other.
"""
