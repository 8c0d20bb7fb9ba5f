"""Console entry helper shared by the tap and the target."""

from __future__ import annotations

import sys
from collections.abc import Callable

from singer_sdk.exceptions import ConfigValidationError


def run_cli(cli: Callable[[], object]) -> None:
    """Run a singer-sdk CLI; a :class:`ConfigValidationError` prints its errors and exits 1.

    Args:
        cli: The plugin's ``cli`` click command.

    Raises:
        SystemExit: With status 1 on a config error.
    """
    try:
        cli()
    except ConfigValidationError as exc:
        for error in exc.errors or [str(exc)]:
            sys.stderr.write(f"Config error: {error}\n")
        raise SystemExit(1) from None
