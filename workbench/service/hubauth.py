"""Signing in with a JupyterHub identity: the hub says whose token it is.

In a class hosted on JupyterHub, each learner's server holds an API token the hub issued
(``JUPYTERHUB_API_TOKEN``). The service asks the hub's REST API whose it is
(``GET <hub api>/user``, the token in the ``Authorization`` header, as JupyterHub's own
``HubAuth`` does) and takes the returned user name as the principal's id. The answer is kept
for a minute (a class's kernels call often); any failure — a refused token, the hub down, an
odd answer — is "not signed in": the service fails closed.
"""

from __future__ import annotations

import hashlib
import time

import requests

__all__ = ["HubIdentities"]

#: How long the hub's answer for a token is reused (seconds).
CACHE_SECONDS = 60.0


class HubIdentities:
    """Who a JupyterHub token belongs to, asked of the hub at ``api_url`` (``…/hub/api``)."""

    def __init__(self, api_url: str, *, timeout: float = 5.0):
        self.api_url = api_url.rstrip("/")
        self._timeout = timeout
        self._http = requests.Session()
        self._seen: dict[str, tuple[str | None, float]] = {}

    def __repr__(self) -> str:
        return f"HubIdentities({self.api_url!r})"

    def name_of(self, token: str, *, ask: bool = True) -> str | None:
        """The hub user name behind ``token``, or ``None``.

        With ``ask=False`` only a recent answer is used; the hub is not asked.
        """
        key = hashlib.sha256(token.encode("utf-8")).hexdigest()  # no token kept in clear
        name, until = self._seen.get(key, (None, 0.0))
        if time.monotonic() < until:
            return name
        if not ask:
            return None
        name = self._ask(token)
        self._seen[key] = (name, time.monotonic() + CACHE_SECONDS)
        if len(self._seen) > 10_000:
            self._seen.clear()
        return name

    def _ask(self, token: str) -> str | None:
        try:
            r = self._http.get(
                f"{self.api_url}/user",
                headers={"Authorization": f"token {token}"},
                timeout=self._timeout,
            )
            if r.status_code != 200:
                return None
            name = r.json().get("name")
        except (requests.RequestException, ValueError, AttributeError):
            return None
        return name if isinstance(name, str) and name else None
