"""``python -m mlops_lab COMMAND ...``: the ``mlops-lab`` command without its script.

The model server's background process (``start_server``) and the bundle's Dockerfile
start ``python -m mlops_lab serve ...``.
"""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
