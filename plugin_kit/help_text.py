"""``--help`` text of a plugin: what it does, how it is run, its sub-commands, where the docs are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def help_text(
    summary: str,
    examples: Sequence[tuple[str, str]],
    *,
    subcommands: Mapping[str, str] | None = None,
    docs: str = "",
) -> str:
    """Return a click help text (a backspace line keeps the lines of the paragraph after it as written).

    Args:
        summary: What the plugin does, one paragraph (click wraps it).
        examples: ``(command, what it does)`` pairs; each command on a line, what it does below.
        subcommands: ``{name: what it does}``, listed when not empty.
        docs: Where the documentation is (a path or URL).

    Returns:
        The text for ``click.Command.help``.
    """
    lines = "\n".join(f"  {command}" + (f"\n      {what}" if what else "") for command, what in examples)
    parts = [summary, f"\b\nExamples:\n{lines}"]
    if subcommands:
        width = max(len(name) for name in subcommands)
        lines = "\n".join(f"  {name.ljust(width)}  {what}" for name, what in subcommands.items())
        parts.append(f"\b\nSub-commands:\n{lines}")
    if docs:
        parts.append(f"Documentation: {docs}")
    return "\n\n".join(parts)
