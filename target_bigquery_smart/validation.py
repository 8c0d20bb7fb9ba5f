"""Record validation against the stream's SCHEMA with a compiled validator (fastjsonschema).

The SDK validates each record with ``jsonschema``, which at 100,000 records costs more than
everything else the target does; ``fastjsonschema`` compiles the schema to Python once (the
SDK's own documentation suggests it). Schemas it cannot compile (newer drafts' keywords) fall
back to the SDK's validator. Defaults in the schema are never written into records.

Only what BigQuery would refuse is refused: a record that fails as sent is checked again with
its values converted for their declared types (:mod:`target_bigquery_smart.coercion`), so
``"42"`` for an integer or an epoch for a ``date-time`` passes.
"""

from __future__ import annotations

import logging
from typing import Any

import fastjsonschema
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator

from target_bigquery_smart.coercion import coerce

logger = logging.getLogger("target_bigquery_smart.validation")


def check_schema(schema: dict[str, Any]) -> None:
    """Check a stream's schema against its meta-schema, as the SDK's validator does when it is built.

    Run when ``validate_records`` is off too: a SCHEMA message that is not a JSON schema is bad
    input whether or not records are checked against it.

    Raises:
        InvalidJSONSchema: The schema is not valid against its meta-schema.
    """
    JSONSchemaValidator(schema)


class CompiledValidator(BaseJSONSchemaValidator):
    """Validates records with a compiled schema, or the SDK's validator when it cannot compile.

    Args:
        schema: The stream's JSON schema.

    Raises:
        InvalidJSONSchema: The schema is not valid against its meta-schema (checked by the SDK's
            validator first: fastjsonschema compiles some invalid schemas, such as ``"type": []``,
            into checks whose messages make no sense).
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__(schema)
        checked = JSONSchemaValidator(schema)
        self._fallback: JSONSchemaValidator | None = None
        try:
            self._validate = fastjsonschema.compile(schema, use_default=False)
        except (fastjsonschema.JsonSchemaDefinitionException, TypeError, ValueError, AttributeError) as exc:
            logger.info("Schema not compilable (%s); validating with jsonschema instead.", str(exc)[:200])
            self._fallback = checked

    def validate(self, record: dict[str, Any]) -> None:
        """Check one record; a record failing as sent is checked again with its values converted.

        Raises:
            InvalidRecord: The record does not match the schema even with its values converted
                for their declared types; the message is about the converted values.
        """
        try:
            self._check(record)
        except InvalidRecord:
            self._check(coerce(record, self.schema))

    def _check(self, record: dict[str, Any]) -> None:
        if self._fallback is not None:
            self._fallback.validate(record)
            return
        try:
            self._validate(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise InvalidRecord(exc.message, record) from None
