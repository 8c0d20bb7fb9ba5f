"""Console start-up shared by both plugins: import the plugin with the cyclic GC paused.

Importing a plugin builds some 200,000 container objects (singer-sdk, jsonschema, the Google
clients, pyarrow's Python layer). Each time allocations pass the GC's generation-0 threshold
the collector walks them, and none of them is garbage: measured on 200,000 raw records into
the local emulator, these collections were about 0.1 CPU s of a 1.3 s run (start-up 0.43 s
with the GC on, 0.32 s paused; ``benchmarks/RESULTS.md``). Python's own advice for this is
``gc.disable()`` during start-up and ``gc.freeze()`` after it
(https://docs.python.org/3/library/gc.html#gc.freeze): the frozen objects never get walked
again, which also makes every later full collection of the per-record loop cheaper.
"""

from __future__ import annotations

import gc
import importlib


def run_main(module: str, attribute: str = "main") -> None:
    """Import ``module`` with the cyclic GC paused, turn it back on, then call ``module.attribute()``.

    Args:
        module: Dotted module name holding the entry function, e.g. ``"target_bigquery_smart.target"``.
        attribute: Name of the entry function in ``module``; called with no arguments.

    Raises:
        Whatever the import or the entry function raises (``SystemExit`` from the CLI included);
        the GC is back on before either propagates.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        entry = getattr(importlib.import_module(module), attribute)
    finally:
        if was_enabled:
            gc.enable()
    # Everything alive now lives for the whole run; keep it out of every later collection.
    gc.freeze()
    entry()
