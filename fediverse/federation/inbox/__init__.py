"""Incoming activities: intake (the group-committed inbox), the worker's queue, one handler per type."""
