"""One batch of a stream as it travels from the sink to BigQuery, and the rows refused from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RowError:
    """A row BigQuery (or the target's own checks) refused.

    Attributes:
        index: Position of the row in its batch (0-based).
        reasons: ``reason: message`` strings.
    """

    index: int
    reasons: tuple[str, ...]


@dataclass(slots=True)
class Batch:
    """The rows of one batch, with what each came from; the lists are parallel (one item per row).

    Attributes:
        rows: JSON-ready rows, shaped for the table.
        records: The records as received (for insertIds and the dead-letter table): each a dict,
            or in the raw layout its JSON text as it came (:func:`.raw_records.as_record`).
        numbers: Each record's position in its stream, from 1 (in errors, dead letters, insertIds).
        lines: Each record's input line (0 when the reader counts none).
        problems: Row index -> reasons the target itself refuses the row (it is never sent).
        input_chars: Characters of the RECORD lines buffered (the ``batch_max_bytes`` measure).
    """

    rows: list[dict] = field(default_factory=list)
    records: list[dict | str] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: dict[int, list[str]] = field(default_factory=dict)
    input_chars: int = 0

    def add(
        self, row: dict, record: dict | str, number: int, line: int, chars: int = 0, problems: Sequence[str] = ()
    ) -> None:
        """Buffer one row with its record, record number, input line and its length (and reasons to refuse it)."""
        if problems:
            self.problems[len(self.rows)] = list(problems)
        self.rows.append(row)
        self.records.append(record)
        self.numbers.append(number)
        self.lines.append(line)
        self.input_chars += chars

    def refused_here(self) -> list[RowError]:
        """Return the rows the target refuses itself, by index."""
        return [RowError(index, tuple(reasons)) for index, reasons in sorted(self.problems.items())]

    def where(self, index: int) -> str:
        """Name row ``index`` in a message: ``record N`` and, when known, ``(input line L)``."""
        line = self.lines[index]
        return f"record {self.numbers[index]}{f' (input line {line})' if line else ''}"


def merged(items: Sequence[tuple[Batch, list[RowError]]]) -> tuple[Batch, list[RowError]]:
    """Join batches (each with the rows the target refused in it) into one, in order.

    Returns:
        The joined batch and its refused rows, indexes shifted to their place in it. One batch
        is returned as it is.
    """
    if len(items) == 1:
        return items[0]
    whole, refused = Batch(), []
    for batch, local in items:
        shift = len(whole.rows)
        whole.rows += batch.rows
        whole.records += batch.records
        whole.numbers += batch.numbers
        whole.lines += batch.lines
        whole.problems.update({index + shift: reasons for index, reasons in batch.problems.items()})
        whole.input_chars += batch.input_chars
        refused += [RowError(e.index + shift, e.reasons) for e in local]
    return whole, refused
