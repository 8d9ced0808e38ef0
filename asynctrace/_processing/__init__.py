"""Processing: the caller-side processor chain (redact, sanitize, filter)."""
