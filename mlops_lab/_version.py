"""The package's version, in a module of its own so that any layer can read it.

``mlops_lab/__init__.py`` re-exports it as ``mlops_lab.__version__``; modules inside the
package import it from here, since importing the root package would pull its whole public
API (and the magics) into their import graph.
"""

from __future__ import annotations

__version__ = "0.1.0"
