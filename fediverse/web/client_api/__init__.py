"""The Mastodon client API: OAuth 2 and the REST and streaming endpoints apps call (docs/client-api.md)."""
