"""The local demo: Datasette -> tap-generic-api | target-bigquery-smart -> BigQuery emulator.

Starts both servers on free 127.0.0.1 ports, runs the two console scripts joined by a shell
pipe with the configs from ``examples/demo/`` (ports filled in), then prints the row count and
three rows read back with the real BigQuery client. Exits 1 when the count differs from the
records served. Both servers stop when the demo ends.

Usage: .venv/bin/python scripts/demo.py [--records N] [--serve [--emulator-only]]

With ``--serve`` it only starts the two servers and prints the environment variables that
point the example configs and the Meltano ``demo`` job at them, until Ctrl-C. With
``--emulator-only`` as well, only the BigQuery emulator (port 9050 when free), for a run
against an API of one's own.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from local_services import DATASETTE_TOKEN, ROOT, BigQueryEmulator, DatasetteAPI  # noqa: E402

BIN = Path(sys.executable).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000, help="records served by the local API")
    parser.add_argument("--serve", action="store_true", help="only start the servers, until Ctrl-C")
    parser.add_argument("--emulator-only", action="store_true", help="with --serve: only the BigQuery emulator")
    args = parser.parse_args()
    if args.serve and args.emulator_only:
        return serve_emulator()
    if args.serve:
        return serve(args.records)

    tap_config = json.loads((ROOT / "examples/demo/tap.json").read_text())
    target_config = json.loads((ROOT / "examples/demo/target.json").read_text())
    work = ROOT / ".demo"
    work.mkdir(exist_ok=True)

    print(f"Starting the local API (Datasette, {args.records} records) and the BigQuery emulator...")
    with DatasetteAPI(args.records) as api, BigQueryEmulator() as bq:
        tap_config["variables"]["api_base"] = api.base_url
        target_config["api_endpoint"] = bq.endpoint
        tap_path, target_path, state_path = work / "tap.json", work / "target.json", work / "state.json"
        tap_path.write_text(json.dumps(tap_config, indent=2))
        target_path.write_text(json.dumps(target_config, indent=2))

        command = (
            f"{shlex.quote(str(BIN / 'tap-generic-api'))} --config {shlex.quote(str(tap_path))}"
            f" | {shlex.quote(str(BIN / 'target-bigquery-smart'))} --config {shlex.quote(str(target_path))}"
            f" > {shlex.quote(str(state_path))}"
        )
        print(
            f"Running: tap-generic-api --config {tap_path.name} | target-bigquery-smart --config "
            f"{target_path.name} > {state_path.name}"
        )
        subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True)

        table = f"{target_config['project']}.{target_config['dataset']}.{tap_config['destination']['table']}"
        client = bq.client()
        count = next(iter(client.query_and_wait(f"SELECT COUNT(*) AS n FROM `{table}`")))["n"]
        sample = client.query_and_wait(
            f"SELECT org_slug, raw_data, extracted_at FROM `{table}` "
            "ORDER BY CAST(JSON_VALUE(raw_data, '$.id') AS INT64) LIMIT 3"
        )
        print(f"\nRows in {table}: {count} (records served: {args.records})")
        for row in sample:
            print(
                f"  org_slug={row['org_slug']} extracted_at={row['extracted_at'].isoformat()} "
                f"raw_data={row['raw_data']}"
            )
        states = state_path.read_text().strip().splitlines()
        print(f"Last STATE written by the target: {states[-1] if states else '(none)'}")
    if count != args.records:
        print(f"error: {count} rows loaded, {args.records} served", file=sys.stderr)
        return 1
    return 0


def _free_or_none(port: int) -> int | None:
    """Return ``port`` if nothing listens on 127.0.0.1:``port``, else None (a free port is picked)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return None
    return port


def _stop_on_signals() -> None:
    import signal

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _wait() -> None:
    import time

    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def serve_emulator() -> int:
    """Start only the BigQuery emulator; print its endpoint; wait for Ctrl-C or SIGTERM."""
    _stop_on_signals()
    with BigQueryEmulator(port=_free_or_none(9050)) as bq:
        print(f"BigQuery emulator: {bq.endpoint} (project: any name, e.g. local)")
        print(f'In the target config: "api_endpoint": "{bq.endpoint}"')
        print("Ctrl-C (or SIGTERM) stops it; its tables go with it.", flush=True)
        _wait()
    return 0


def serve(records: int) -> int:
    """Start Datasette and the emulator; print how to use them; wait for Ctrl-C or SIGTERM."""
    _stop_on_signals()

    # The ports examples/demo/*.json name, so those configs work as written, when free.
    with (
        DatasetteAPI(records, port=_free_or_none(8001)) as api,
        BigQueryEmulator(port=_free_or_none(9050), grpc_port=_free_or_none(9060)) as bq,
    ):
        print(f"Datasette ({records} items): {api.base_url}   BigQuery emulator: {bq.endpoint}")
        print(f"Storage Write API (examples/storage_write/target.json storage_api_endpoint): {bq.storage_endpoint}")
        print("For the Meltano demo job (meltano run demo):")
        print(f"  export DEMO_API_BASE={api.base_url} DEMO_BIGQUERY_ENDPOINT={bq.endpoint}")
        print(f'  export TAP_GENERIC_API_SECRETS=\'{{"demo_api": "{DATASETTE_TOKEN}"}}\'')
        if (api.port, bq.port) != (8001, 9050):
            print("For examples/demo/*.json: set variables.api_base and api_endpoint to the addresses above.")
        print("Ctrl-C (or SIGTERM) stops both servers.", flush=True)
        _wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
