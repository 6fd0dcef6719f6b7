"""Hosting a class: a JupyterHub on one machine, its roster, and the data-access service.

* :mod:`~workbench.hub.roster`: the class's roster (learners and trainers), each with a
  password of their own, kept as an Argon2 hash, never in clear;
* :mod:`~workbench.hub.auth`: the JupyterHub authenticator that signs roster members in;
* :mod:`~workbench.hub.config`: the hub's configuration for a class, with the data-access
  service as a hub-managed service that knows users by their hub identity;
* :mod:`~workbench.hub.cli`: ``workbench hub init | roster … | run``.
"""
