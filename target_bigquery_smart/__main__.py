"""``python -m target_bigquery_smart`` and the ``target-bigquery-smart`` console script."""

from __future__ import annotations

from plugin_kit.startup import run_main


def main() -> None:
    """Run the target's CLI, its modules imported with the GC paused (see ``plugin_kit.startup``)."""
    run_main("target_bigquery_smart.target")


if __name__ == "__main__":
    main()
