"""The ActivityPub protocol, framework-free: stdlib, httpx and cryptography only.

Nothing in this package knows about Starlette, SQL or Reverie's data model; the application
(`fediverse`) passes in keys, clients and resolvers.
"""
