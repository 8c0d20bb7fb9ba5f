"""Regenerate the ``--about --format markdown`` sections of the configuration reference pages.

Each plugin's section sits between ``<!-- about:<plugin> -->`` markers in its page under docs/.

Usage: .venv/bin/python scripts/update_about.py [--check]

With ``--check``, exit 1 (and say which page) when a page is out of date instead of writing it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Each plugin's page holding its ``--about`` section.
PAGES = {
    "tap-generic-api": ROOT / "docs" / "TAP_CONFIG.md",
    "target-bigquery-smart": ROOT / "docs" / "TARGET_CONFIG.md",
}


def about(plugin: str) -> str:
    """Return the plugin's ``--about --format markdown`` with headings moved two levels down."""
    exe = Path(sys.executable).parent / plugin
    text = subprocess.run(
        [str(exe), "--about", "--format", "markdown"], capture_output=True, text=True, check=True
    ).stdout
    return re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + 2) + " ", text.strip(), flags=re.MULTILINE)


def render(page: str, plugin: str, name: str) -> str:
    """Return ``page`` with the plugin's section between its markers replaced."""
    start, end = f"<!-- about:{plugin} -->", f"<!-- /about:{plugin} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(page):
        sys.exit(f"{name} lacks the markers {start} ... {end}")
    section = f"{start}\n{about(plugin)}\n{end}"
    return pattern.sub(lambda _, text=section: text, page)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the pages are current")
    args = parser.parse_args()
    stale = []
    for plugin, path in PAGES.items():
        name = str(path.relative_to(ROOT))
        current = path.read_text()
        wanted = render(current, plugin, name)
        if wanted == current:
            continue
        if args.check:
            stale.append(name)
        else:
            path.write_text(wanted)
    if stale:
        print(f"{', '.join(stale)}: --about section out of date: run scripts/update_about.py")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
