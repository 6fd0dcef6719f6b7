"""Run the data-access service: listen, log without identifiers, stop cleanly on a signal."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from ..errors import ConfigurationError
from .app import MAX_BODY_BYTES, make_app
from .state import open_state

__all__ = ["serve"]


def serve(state: str | os.PathLike, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the cohort of ``state`` on ``host:port`` until SIGINT or SIGTERM."""
    asyncio.run(_serve(state, host, port))


async def _serve(state, host: str, port: int) -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    app = make_app(open_state(state))
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
    logging.getLogger("workbench.service").info(
        "serving %s on http://%s:%d", app.registry.cohort.name, host, port
    )
    await stop.wait()
    server.stop()
    for key in list(app.registry.open):
        app.registry.close(key)
