"""``python -m tap_generic_api`` and the ``tap-generic-api`` console script."""

from __future__ import annotations

from plugin_kit.startup import run_main


def main() -> None:
    """Run the tap's CLI, its modules imported with the GC paused (see ``plugin_kit.startup``)."""
    run_main("tap_generic_api.tap")


if __name__ == "__main__":
    main()
