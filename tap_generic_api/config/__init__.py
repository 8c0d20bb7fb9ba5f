"""The tap's config: its settings (the schema), the checked per-stream config objects, and their parsing.

- :mod:`~tap_generic_api.config.settings`: every key, default and description, declared once.
- :mod:`~tap_generic_api.config.models`: the frozen per-stream config objects.
- :mod:`~tap_generic_api.config.streams`, :mod:`~tap_generic_api.config.blocks`,
  :mod:`~tap_generic_api.config.checks`: parsing and checking, each error naming its key.
- :mod:`~tap_generic_api.config.unused_keys`: keys set but not used by the stream's types.
"""

from __future__ import annotations

from tap_generic_api.config.checks import plain_numbers
from tap_generic_api.config.models import AuthConfig, OAuth2Config, PaginationConfig, RateLimitConfig, StreamConfig
from tap_generic_api.config.streams import parse_stream, parse_streams

__all__ = [
    "AuthConfig",
    "OAuth2Config",
    "PaginationConfig",
    "RateLimitConfig",
    "StreamConfig",
    "parse_stream",
    "parse_streams",
    "plain_numbers",
]
