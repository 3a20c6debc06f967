"""Housekeeping: what a running instance removes by itself (decision 0007).

``sweep`` removes expired drafts, old deleted-before-created markers and orphan media files;
``queue`` runs it in the worker every few minutes; ``reverie housekeeping`` runs it once.
A deleted post's files go at once (``fediverse.social.actions.delete_post``); the sweep only catches what a
crash left behind.
"""
