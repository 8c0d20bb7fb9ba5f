"""The tap's sub-commands (``tap-generic-api probe ...``, ``tap-generic-api from-openapi ...``).

They are dispatched before the singer-sdk CLI sees the arguments, so ``tap-generic-api --config
...`` runs exactly as before; ``--help`` lists them (:data:`tap_generic_api.cli_help.SUBCOMMANDS`).
"""

from __future__ import annotations

import importlib

#: Sub-command -> module whose ``main(argv) -> int`` runs it.
SUBCOMMANDS = {
    "probe": "tap_generic_api.probe.cli",
    "from-openapi": "tap_generic_api.openapi.cli",
}


def dispatch(argv: list[str]) -> int | None:
    """Run the sub-command ``argv[0]`` names with the rest of ``argv``; return its exit status.

    Returns None when ``argv`` names no sub-command (the Singer CLI then runs).
    """
    if not argv or argv[0] not in SUBCOMMANDS:
        return None
    module = importlib.import_module(SUBCOMMANDS[argv[0]])
    return module.main(argv[1:])
