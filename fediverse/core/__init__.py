"""The shared core: settings, errors, URLs, accounts, and the rules of who may see what."""
