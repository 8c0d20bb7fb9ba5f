"""The tap's ``--help`` text. A new sub-command adds one line to :data:`SUBCOMMANDS`."""

from __future__ import annotations

from plugin_kit.help_text import help_text

#: Sub-commands, ``command -> what it does`` (each also takes ``--help``).
SUBCOMMANDS: dict[str, str] = {
    "tap-generic-api probe URL": "detect a config for a list endpoint, proven by paging (docs/PROBE.md)",
    "tap-generic-api from-openapi SPEC": "write a config from an OpenAPI description (docs/PROBE.md)",
}

#: Related commands installed with the tap.
RELATED = {"tap-generic-api-credentials": "store credentials encrypted with Cloud KMS (docs/CREDENTIALS.md)"}

TAP_HELP = help_text(
    "Singer tap for any REST API, by configuration alone: auth, pagination, data_path, templated "
    "requests, rate limits and retries, incremental bookmarks, date windows, many streams. Writes "
    "SCHEMA, RECORD and STATE messages to stdout, for a Singer target such as target-bigquery-smart.",
    [
        ("tap-generic-api --config tap.json --test", "first page of each stream: record count and keys"),
        ("tap-generic-api --config tap.json --discover", "the catalog (each stream's schema)"),
        ("tap-generic-api --config tap.json [--state state.json]", "extract; Singer messages on stdout"),
        ("tap-generic-api --about", "every setting, its type and default"),
        *RELATED.items(),
    ],
    subcommands=SUBCOMMANDS,
    docs="README.md and docs/TAP_CONFIG.md in the repository",
)

#: ``--help`` lines of the options whose behaviour the tap changes.
TAP_OPTION_HELP = {
    "test": (
        "Fetch each stream's first page and print its record count and the keys of its first record "
        "(nothing is loaded). --test=schema writes the SCHEMA messages."
    ),
    "discover": "Print the catalog: each stream's SCHEMA (the config is checked in full first).",
}
