"""The asynctrace command line."""
