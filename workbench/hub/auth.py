"""Signing roster members in to JupyterHub (``c.JupyterHub.authenticator_class``).

:class:`RosterAuthenticator` checks a name and password against the class's roster
(:class:`~workbench.hub.roster.Roster`, Argon2 hashes) and tells the hub the member's role, a
hub role of the same name (``manage_roles``): ``learner`` or ``trainer``. Anyone not on the
roster is refused, whatever they type; a member removed from the roster cannot sign in again.

It is JupyterHub's :class:`~jupyterhub.auth.LocalAuthenticator`: when the hub runs as root
(``create_system_users``, set by :func:`~workbench.hub.config.configure`), a member's first
sign-in creates their OS account (``useradd``, a home of their own, 0700), under which
``LocalProcessSpawner`` starts their server. Without root every server runs as the hub's own
account and no account is made. Taking a member off the roster leaves their account and files
to the administrator.
"""

from __future__ import annotations

import os
import pwd

from jupyterhub.auth import Authenticator, LocalAuthenticator
from traitlets import Unicode

from .roster import Roster

__all__ = ["RosterAuthenticator"]


class RosterAuthenticator(LocalAuthenticator):
    """Sign in with a name and the password the trainer handed out."""

    state = Unicode(help="The hub's state folder, which holds roster.json.").tag(config=True)

    async def add_user(self, user):
        if not self.create_system_users:  # one account for all servers: a rehearsal
            return await Authenticator.add_user(self, user)
        return await super().add_user(user)

    def add_system_user(self, user):
        super().add_system_user(user)
        os.chmod(pwd.getpwnam(user.name).pw_dir, 0o700)  # nobody else reads a member's home

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
