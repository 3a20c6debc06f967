"""The studio: generation jobs, draft media and image posts, between the web/CLI and ``fediverse.generation``.

Request in (``submission``) -> worker (``queue``, ``execution``) -> draft media (``drafts``) -> post
(``publishing``). The generator itself knows nothing of jobs, storage or the web.
"""
