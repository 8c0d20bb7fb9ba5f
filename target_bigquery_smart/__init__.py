"""target-bigquery-smart: a Singer target that loads streams into BigQuery in bounded batches."""

from __future__ import annotations
