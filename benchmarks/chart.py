"""Draw benchmarks/chart.png from benchmarks/results.json: records/s and CPU seconds per tool.

Run by ``benchmarks/run.py --write`` with the matplotlib of ``.bench/matplotlib``.
Usage: python benchmarks/chart.py results.json chart.png
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402


def main() -> None:
    with open(sys.argv[1]) as source:  # noqa: PTH123
        data = json.load(source)
    sections = data["sections"]
    height = 2.2 + 0.55 * max(len(s) for s in sections.values()) * len(sections)
    fig, axes = plt.subplots(len(sections), 2, figsize=(14, height), squeeze=False)
    for row, (title, tools) in enumerate(sections.items()):
        names = list(tools)[::-1]
        ours = ["tab:blue" if "smart" in n or "generic-api" in n else "tab:gray" for n in names]
        panels = (("records_per_s", "records/s (higher is better)"), ("cpu_s", "CPU seconds (lower is better)"))
        for col, (key, label) in enumerate(panels):
            ax = axes[row][col]
            values = [tools[n][key] for n in names]
            ax.barh(names, values, color=ours)
            for y, v in enumerate(values):
                ax.text(v, y, f" {v:,.0f}" if key == "records_per_s" else f" {v:.2f}", va="center", fontsize=8)
            ax.set_xlabel(label)
            ax.set_xlim(0, max(values) * 1.25)
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 10 else f"{v:g}"))
            ax.tick_params(axis="y", labelsize=8)
            if col == 0:
                ax.set_title(title, loc="left", fontsize=10)
    fig.suptitle(data["title"], fontsize=11)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=90)


if __name__ == "__main__":
    main()
