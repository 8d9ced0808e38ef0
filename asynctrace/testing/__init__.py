"""Helpers for testing your own tracing."""
