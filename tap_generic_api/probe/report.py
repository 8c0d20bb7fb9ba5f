"""The probe's evidence: what it found, from which field or header, how sure, what to check by hand.

Rendered as readable text for stderr (:func:`render_text`) or as JSON (:func:`render_json`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

#: How sure a finding is: ``high`` = the API said so and a request confirmed it; ``medium`` = a
#: strong sign not confirmed; ``low`` = a guess the user must check; ``none`` = nothing found.
CONFIDENCE = ("high", "medium", "low", "none")


@dataclass
class Finding:
    """One decision of the probe.

    Attributes:
        key: The config key decided (``data_path``, ``pagination``, ``destination.key_fields``, ...).
        value: The value written into the config (None when nothing was written).
        source: The response field, header or value it was decided from.
        confidence: One of :data:`CONFIDENCE`.
        check: What to check by hand, if anything.
        warning: True when the user must act (a choice that could not be made).
    """

    key: str
    value: Any
    source: str
    confidence: str
    check: str = ""
    warning: bool = False


@dataclass
class Evidence:
    """Everything the probe found, and the verdict of paging with the config.

    Attributes:
        url: The probed URL (credential masked).
        findings: One per decision, in the order made.
        verdict: One line: did paging with the config work.
        proven: True when every page brought new records and the stop rule ended the sequence.
        requests: Requests sent.
        notes: Other lines for the user (how to give the secret, ...).
    """

    url: str
    findings: list[Finding] = field(default_factory=list)
    verdict: str = ""
    proven: bool = False
    requests: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, *findings: Finding) -> None:
        """Append findings."""
        self.findings.extend(findings)

    @property
    def warnings(self) -> list[Finding]:
        """Return the findings the user must act on."""
        return [f for f in self.findings if f.warning]


def _shown(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def render_text(evidence: Evidence) -> str:
    """Return the evidence as readable lines: each finding, then the verdict and notes."""
    lines = [f"probe of {evidence.url} ({evidence.requests} requests)", ""]
    for finding in evidence.findings:
        mark = "WARNING " if finding.warning else ""
        lines.append(f"{mark}{finding.key}: {_shown(finding.value)}  [{finding.confidence}]")
        lines.append(f"    from: {finding.source}")
        if finding.check:
            lines.append(f"    check: {finding.check}")
    lines += ["", f"verdict: {evidence.verdict}"]
    lines += [f"note: {note}" for note in evidence.notes]
    return "\n".join(lines) + "\n"


def render_json(evidence: Evidence) -> str:
    """Return the evidence as one JSON document (``findings``, ``verdict``, ``proven``, ...)."""
    return json.dumps(asdict(evidence), indent=2, default=str) + "\n"
