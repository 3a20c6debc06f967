"""Per-process generation resources: the options, the one generator instance and the C2PA credentials.

``open_services`` creates a ``Studio``; the generator is built on first use (the worker and the web app
use it at start, so a bad setting stops start-up with the variable's name; other CLI commands never
build it).
"""

from __future__ import annotations

import asyncio

import httpx

from fediverse.core.config import ConfigError, Settings
from fediverse.generation import BackendConfigError, ImageGenerator, create_generator
from fediverse.studio.options import StudioOptions, as_config_error, read_studio_options
from fediverse.studio.signing import c2pa_available, c2pa_signing, load_or_create_credentials


class Studio:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.options: StudioOptions = read_studio_options(settings.extra)
        if self.options.c2pa and not c2pa_available():
            raise ConfigError("REVERIE_C2PA", "signing needs the c2pa extra: pip install 'reverie[c2pa]'")
        self._settings = settings
        self._http = http
        self._generator: ImageGenerator | None = None
        self._credentials: c2pa_signing.SigningCredentials | None = None
        self._credentials_lock = asyncio.Lock()

    @property
    def generator(self) -> ImageGenerator:
        """This process's generator (``REVERIE_GENERATOR``), created once."""
        if self._generator is None:
            try:
                self._generator = create_generator(
                    self._settings.generator, self._settings.extra, http_client=self._http
                )
            except BackendConfigError as error:
                raise as_config_error(error) from error
        return self._generator

    async def signing_credentials(self) -> c2pa_signing.SigningCredentials | None:
        """The instance's C2PA credentials when ``REVERIE_C2PA`` is on (made on first use), else None."""
        if not self.options.c2pa:
            return None
        async with self._credentials_lock:
            if self._credentials is None:
                self._credentials = await asyncio.to_thread(
                    load_or_create_credentials, self._settings.data_dir / "c2pa", self._settings.instance_name
                )
        return self._credentials
