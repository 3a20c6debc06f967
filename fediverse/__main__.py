"""``python -m fediverse`` runs the ``reverie`` command."""

from __future__ import annotations

import sys

from fediverse.cli import main

sys.exit(main())
