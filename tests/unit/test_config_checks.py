"""The tap's config value checks (tap_generic_api/config/checks.py), called directly."""

from __future__ import annotations

import pytest

from plugin_kit.errors import ConfigError
from tap_generic_api.config.checks import choice

TYPES = ("cursor", "offset", "page", "link", "none")


def test_a_valid_choice_is_returned():
    assert choice("page", TYPES, "config.pagination.type") == "page"


def test_a_misspelt_choice_names_the_closest_and_the_valid_values():
    with pytest.raises(ConfigError) as info:
        choice("pages", TYPES, "config.pagination.type")
    assert str(info.value) == (
        "config.pagination.type: invalid value 'pages' (did you mean 'page'?). "
        "Valid values: cursor, offset, page, link, none."
    )


def test_a_choice_nothing_is_close_to_lists_the_valid_values_only():
    with pytest.raises(ConfigError) as info:
        choice(7, TYPES, "config.pagination.type")
    assert str(info.value) == "config.pagination.type: invalid value 7. Valid values: cursor, offset, page, link, none."
