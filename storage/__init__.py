"""Persistence: tables, the database engine, work queues and the media store.

Imports sqlmodel/sqlalchemy and the standard library only; never ``activitypub`` or ``fediverse``.
"""
