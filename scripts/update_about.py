"""Regenerate the ``--about --format markdown`` sections of README.md.

Usage: .venv/bin/python scripts/update_about.py [--check]

With ``--check``, exit 1 (and say which) when README.md is out of date instead of writing it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PLUGINS = ("tap-generic-api", "target-bigquery-smart")


def about(plugin: str) -> str:
    """Return the plugin's ``--about --format markdown`` with headings moved two levels down."""
    exe = Path(sys.executable).parent / plugin
    text = subprocess.run(
        [str(exe), "--about", "--format", "markdown"], capture_output=True, text=True, check=True
    ).stdout
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", text.strip(), flags=re.MULTILINE)


def render(readme: str) -> str:
    """Return ``readme`` with each plugin's section between its markers replaced."""
    for plugin in PLUGINS:
        start, end = f"<!-- about:{plugin} -->", f"<!-- /about:{plugin} -->"
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
        if not pattern.search(readme):
            sys.exit(f"README.md lacks the markers {start} ... {end}")
        section = f"{start}\n{about(plugin)}\n{end}"
        readme = pattern.sub(lambda _, text=section: text, readme)
    return readme


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that README.md is current")
    args = parser.parse_args()
    current = README.read_text()
    wanted = render(current)
    if args.check:
        if wanted != current:
            print("README.md --about sections are out of date: run scripts/update_about.py")
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
