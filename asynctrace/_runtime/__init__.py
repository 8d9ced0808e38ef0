"""Runtime: the collector actor, its mailbox, writer and shutdown hooks."""
