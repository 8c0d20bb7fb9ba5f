"""Writing a generated config to ``--write FILE`` (``probe``, ``from-openapi``) without losing anything.

The file is checked before any request is sent: an existing file is a user's config, replaced
only with ``--force``; a folder that does not exist or cannot be written is an error at once,
not after the probe's requests. If writing still fails, the config goes to stdout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from plugin_kit.errors import ConfigError


def check_writable(path: Path | None, *, force: bool) -> None:
    """Raise when ``--write path`` would overwrite a file without ``force``, or cannot be written.

    Raises:
        ConfigError: Naming the file and why.
    """
    if path is None:
        return
    if path.is_dir():
        msg = f"--write {path}: is a folder; give a file name."
        raise ConfigError(msg)
    if path.exists() and not force:
        msg = f"--write {path}: the file exists; give --force to replace it, or another file name."
        raise ConfigError(msg)
    folder = path.parent if str(path.parent) else Path()
    if not folder.is_dir():
        msg = f"--write {path}: folder {folder} does not exist."
        raise ConfigError(msg)
    if not os.access(path if path.exists() else folder, os.W_OK):
        msg = f"--write {path}: not writable."
        raise ConfigError(msg)


def write_config(path: Path | None, text: str) -> str:
    """Write ``text`` to ``path`` (stdout when None); return "" or the error (the config then went to stdout)."""
    if path is not None:
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            sys.stdout.write(text)
            return f"--write {path}: {exc.strerror or exc}; the config was printed on stdout instead."
        return ""
    sys.stdout.write(text)
    return ""
