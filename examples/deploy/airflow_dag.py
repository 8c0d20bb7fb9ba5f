"""An Airflow DAG: one extraction split across 8 mapped tasks (dynamic task mapping), then the states combined.

Each mapped task runs the image's run.sh with its index; every task gets the same END_DATE
(the run's data_interval_end), so they cut the same date windows. A failed mapped task can be
cleared and rerun alone: it resumes from its own state. ``combine`` runs when all succeeded.
"""

from __future__ import annotations

import pendulum
from airflow import DAG
from airflow.providers.docker.operators.docker import DockerOperator
from docker.types import Mount

TASKS = 8
IMAGE = "europe-docker.pkg.dev/my-project/etl/tap-generic-api-bigquery:latest"
MOUNTS = [
    Mount(source="/srv/etl/events/config", target="/config", type="bind", read_only=True),
    Mount(source="/srv/etl/events/secrets", target="/secrets", type="bind", read_only=True),
    Mount(source="/srv/etl/events/state", target="/state", type="bind"),
]

with DAG(
    dag_id="events_extract",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
) as dag:
    extract = DockerOperator.partial(
        task_id="extract",
        image=IMAGE,
        mounts=MOUNTS,
        retries=2,
    ).expand(
        environment=[
            {
                "JOB_COMPLETION_INDEX": str(index),
                "JOB_COMPLETION_COUNT": str(TASKS),
                "END_DATE": "{{ data_interval_end.strftime('%Y-%m-%dT%H:%M:%SZ') }}",
            }
            for index in range(TASKS)
        ]
    )
    combine = DockerOperator(
        task_id="combine",
        image=IMAGE,
        mounts=MOUNTS,
        command="combine",
    )
    extract >> combine
