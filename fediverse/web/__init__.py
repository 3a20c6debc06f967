"""The HTTP shell: the Starlette app, sessions, headers, rendering and every route."""
