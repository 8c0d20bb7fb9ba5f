"""tap-generic-api: a Singer tap that extracts any REST API by configuration alone."""

from __future__ import annotations
