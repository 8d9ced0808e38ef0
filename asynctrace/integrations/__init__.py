"""Integrations with the official model SDKs: ``openai`` and ``anthropic``.

Each submodule imports its SDK; importing this package (or ``asynctrace``)
imports neither.  Install them with the ``openai`` / ``anthropic`` extras.
"""
