"""The single-user server's side of a link: ``/user/<name>/workbench/open/<notebook>``.

Enabled in every member's server by the hub (``ServerApp.jpserver_extensions``, from the
configuration in the content folder). ``GET …/workbench/open/<course>/<module>.ipynb?ui=voila``
places the member's own copy of the notebook in her server's root folder
(:func:`workbench.hub.content.place_copy`) and redirects to it in Voila (``ui=voila``, code
hidden) or JupyterLab (``ui=lab``); ``fresh=1`` starts the module again. Only the server's
owner passes (the hub's OAuth, as for every page of her server), and she writes only her own
folder: the server runs as her account.
"""

from __future__ import annotations

import os

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_escape, url_path_join
from tornado import web

from ..errors import InputError
from .content import CONTENT_ENV, UIS, place_copy

__all__ = ["OpenHandler"]


class OpenHandler(JupyterHandler):
    """Copy a module or dashboard into the member's folder, then show it."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    def get(self, relpath: str) -> None:
        ui = self.get_argument("ui", "voila")
        if ui not in UIS:
            raise web.HTTPError(400, f"ui must be one of {', '.join(UIS)}")
        content = os.environ.get(CONTENT_ENV)
        if not content:
            raise web.HTTPError(503, "this server was not started by the class's hub")
        root = self.settings["server_root_dir"]
        try:
            copy = place_copy(content, relpath, root, fresh=self.get_argument("fresh", "") == "1")
        except InputError as e:
            raise web.HTTPError(404, str(e)) from None
        where = os.path.relpath(copy, root).replace(os.sep, "/")
        page = "voila/render" if ui == "voila" else "lab/tree"
        self.redirect(url_path_join(self.base_url, page, url_escape(where)))


def _jupyter_server_extension_points():
    return [{"module": "workbench.hub.extension"}]


def _load_jupyter_server_extension(serverapp) -> None:
    route = url_path_join(serverapp.web_app.settings["base_url"], "workbench/open/(.+)")
    serverapp.web_app.add_handlers(".*$", [(route, OpenHandler)])
