"""What people do: follow, post, like, boost, reply, block. Each operation changes the rows, notifies
local accounts and queues the activities for remote ones, in one transaction.

These functions serve both directions: a local user's action (from the web UI, the CLI or an API) and
the effect of a verified remote activity (from ``fediverse.federation.inbox.handlers``).
"""
