"""The processor's error, and Flink's Java exceptions turned into a readable message."""

from __future__ import annotations

import re


class ProcessorError(RuntimeError):
    """The job or a query could not run; the message says why, without a Java stack trace."""


def flink_message(exc: BaseException) -> str:
    """The useful part of a Py4J/Flink exception: the first Java exception's message and,
    if it says something else, the root cause's."""
    text = str(exc)
    found = re.findall(
        r"^\s*(?:Caused by: |: )?((?:[a-z0-9_]+\.)+[A-Za-z0-9_$]*(?:Exception|Error)): (.+)$", text, re.MULTILINE
    )
    if not found:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("at ")]
        return "\n  ".join(lines[:6]) if lines else text[:500]
    first, root = found[0][1].strip(), found[-1][1].strip()
    return first if root in first else f"{first}\n  caused by: {root}"
