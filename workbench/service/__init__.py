"""The data-access service: the one process that opens a cohort's protected files.

``workbench service init`` creates its state (keys, tokens) outside the cohort folder;
``workbench service token issue`` gives a user a token; ``workbench service run`` serves the
cohort over HTTP on 127.0.0.1; :func:`workbench.connect` is the client. See
:mod:`workbench.service.app` for the routes and :mod:`workbench.service.state` for the state.
"""

from .state import ENTITLEMENTS, init_state, open_state

__all__ = ["ENTITLEMENTS", "init_state", "open_state"]
