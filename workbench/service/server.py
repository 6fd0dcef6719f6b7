"""Run the data-access service (or the keyholder): listen, log without identifiers, stop cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from ..errors import ConfigurationError
from .app import MAX_BODY_BYTES, make_app
from .state import open_state

__all__ = ["serve", "serve_keyholder"]


def serve(state: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the cohort of ``state`` on ``host:port`` until SIGINT or SIGTERM."""
    app = make_app(open_state(state))

    def stopped():
        for key in list(app.registry.open):
            app.registry.close(key)

    asyncio.run(_serve(app, host, port, f"serving {app.registry.cohort.name}", stopped))


def serve_keyholder(state: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8766):
    """Answer the data-access service's re-identifications on ``host:port`` until stopped."""
    from .keyholder import make_keyholder_app, open_keyholder

    app = make_keyholder_app(open_keyholder(state))
    asyncio.run(_serve(app, host, port, "keyholder answering", lambda: None))


async def _serve(app, host: str, port: int, what: str, stopped) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    try:
        server = app.listen(port, address=host, xheaders=False, max_body_size=MAX_BODY_BYTES)
    except OSError as e:
        raise ConfigurationError(
            f"cannot listen on {host}:{port} ({e.strerror}); choose another --port"
        ) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    logging.getLogger("workbench.service").info("%s on http://%s:%d", what, host, port)
    await stop.wait()
    server.stop()
    stopped()
