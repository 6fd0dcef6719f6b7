"""Signing roster members in to JupyterHub (``c.JupyterHub.authenticator_class``).

:class:`RosterAuthenticator` checks a name and password against the class's roster
(:class:`~workbench.hub.roster.Roster`, Argon2 hashes) and tells the hub the member's role, a
hub role of the same name (``manage_roles``): ``learner`` or ``trainer``. Anyone not on the
roster is refused, whatever they type; a member removed from the roster cannot sign in again.
"""

from __future__ import annotations

from jupyterhub.auth import Authenticator
from traitlets import Unicode

from .roster import Roster

__all__ = ["RosterAuthenticator"]


class RosterAuthenticator(Authenticator):
    """Sign in with a name and the password the trainer handed out."""

    state = Unicode(help="The hub's state folder, which holds roster.json.").tag(config=True)

    def _roster(self) -> Roster:
        return Roster(self.state)

    async def authenticate(self, handler, data):
        name = (data or {}).get("username", "")
        password = (data or {}).get("password", "")
        roster = self._roster()
        if not roster.check_password(name, password):
            self.log.warning("sign-in refused")  # never the name: it may be someone's password
            return None
        return {"name": name, "roles": [{"name": roster.role_of(name)}]}

    def check_allowed(self, username, authentication=None):
        return self._roster().role_of(username) is not None
