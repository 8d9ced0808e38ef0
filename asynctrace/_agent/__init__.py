"""Agent semantics: vocabulary helpers, prices and the running summary."""
