"""Jupyter integration: the server extension behind JupyterLab's Experiments panel.

Installing mlops-lab enables it (``etc/jupyter/jupyter_server_config.d/mlops_lab.json``)
and installs the prebuilt front-end under ``share/jupyter/labextensions/mlops-lab``,
so ``jupyter lab`` shows the panel with no build step and no Node.js. The routes
(:mod:`.handlers`) read the store found from the server's root directory, or
``MLOPS_LAB_HOME``. tornado and jupyter_server are imported only here, never by
``import mlops_lab``.
"""

from __future__ import annotations

from typing import Any

# The npm package name: the folder under share/jupyter/labextensions/.
LABEXTENSION_NAME = "mlops-lab"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": LABEXTENSION_NAME}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "mlops_lab.jupyter"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the ``/mlops-lab/api/`` routes with the running Jupyter server."""
    from .handlers import setup_handlers

    setup_handlers(server_app.web_app, server_app.root_dir)
    server_app.log.info("mlops-lab: Experiments panel routes at /mlops-lab/api/")
