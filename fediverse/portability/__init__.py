"""Coming and going: Mastodon-format CSV imports and exports, archives, deleting and suspending accounts
(decision 0060). Sits beside ``studio`` and ``housekeeping``: it uses ``social``, ``federation`` and ``reads``,
never the web, the worker or the CLI."""
