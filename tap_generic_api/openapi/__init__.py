"""``tap-generic-api from-openapi SPEC``: one stream per list-returning GET operation of an OpenAPI description.

Modules: :mod:`.load` (parsing and ``$ref`` resolution with prance), :mod:`.schemas` (response
schemas into the stream's JSON schema), :mod:`.pagination` (pagination from parameters and
response properties), :mod:`.auth` (``securitySchemes`` into the ``auth`` block),
:mod:`.streams` (one operation into one stream), :mod:`.cli` (the command and its ``--explain`` report).
"""
