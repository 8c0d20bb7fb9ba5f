"""``tap-generic-api probe URL``: request an API, detect its config keys with evidence, prove them by paging.

Modules: :mod:`.client` (auth from the environment, the request budget and rate),
:mod:`.bodies` (``data_path``), :mod:`.pagination` (the pagination type and its keys),
:mod:`.fields` (key fields, replication key candidates, rate-limit headers), :mod:`.prove`
(paging with the tap's own paginators), :mod:`.report` (evidence and verdict, as text or JSON),
:mod:`.cli` (the command).
"""
