"""Hints for the exercises, in levels: 1 a nudge, 2 the idea, 3 nearly the answer.

The texts are Markdown files, `hints/<exercise>.md`, levels separated by a
line `---`. `hint(name)` gives the next level each time it is asked in a
kernel (so a stuck student climbs the ladder one step at a time), or the level
asked for.
"""

from __future__ import annotations

from pathlib import Path

HINTS_DIR = Path(__file__).resolve().parent / "hints"
_ASKED: dict[str, int] = {}


def levels(name: str) -> list[str]:
    path = HINTS_DIR / f"{name}.md"
    if not path.exists():
        return []
    return [part.strip() for part in path.read_text().split("\n---\n") if part.strip()]


def asked(name: str) -> int:
    """The highest level of `name`'s hints shown in this kernel (0: none)."""
    return _ASKED.get(name, 0)


def hint(name: str, level: int | None = None) -> str:
    texts = levels(name)
    if not texts:
        return f"no hint for {name!r} yet: ask your instructor."
    if level is None:
        level = min(_ASKED.get(name, 0) + 1, len(texts))
    if not 1 <= level <= len(texts):
        raise ValueError(f"the hints of {name!r} have levels 1 to {len(texts)}, not {level}")
    _ASKED[name] = max(_ASKED.get(name, 0), level)
    more = f" (hint({name!r}) again for level {level + 1})" if level < len(texts) else ""
    return f"Hint {level} of {len(texts)} for {name}{more}:\n{texts[level - 1]}"
