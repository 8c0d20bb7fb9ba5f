"""Prism (``@stoplight/prism-cli``) mocking an OpenAPI description on 127.0.0.1.

Installed by ``scripts/install_plugins.sh`` into ``.plugins/prism`` (``PRISM_BIN`` overrides
where the executable is). Prism answers each operation from its examples and schemas and
checks requests against the description (parameters, security), so a config generated from
the same description is run against a server it must match.
"""

from __future__ import annotations

import os
from pathlib import Path

from local_services import HOST, ROOT, _Server

PLUGINS = Path(os.environ.get("PLUGINS_DIR", ROOT / ".plugins"))
PRISM_BIN = Path(os.environ.get("PRISM_BIN", PLUGINS / "prism" / "node_modules" / ".bin" / "prism"))


class PrismMock(_Server):
    """``prism mock SPEC`` on 127.0.0.1; a context manager that stops it.

    Attributes:
        base_url: ``http://127.0.0.1:<port>``.
    """

    def __init__(self, spec: Path) -> None:
        super().__init__()
        self.spec = spec
        self.base_url = f"http://{HOST}:{self.port}"

    def start(self) -> None:
        """Start Prism; ready when it answers (any status).

        Raises:
            RuntimeError: Prism is not installed (run scripts/install_plugins.sh) or does not start.
        """
        if not PRISM_BIN.exists():
            msg = f"Prism is not installed at {PRISM_BIN}: run scripts/install_plugins.sh (needs npm)."
            raise RuntimeError(msg)
        self._spawn(
            [str(PRISM_BIN), "mock", str(self.spec), "-h", HOST, "-p", str(self.port)],
            ready_url=f"{self.base_url}/__ready",
            timeout=120.0,
        )
