"""Events: the on-disk schema, ids and the shared msgspec codec."""
