"""What the tools writing docs/example-*.html share: write the example, or
with --check exit 1 when the file in docs/ is not what the generator makes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_or_check(argv: list[str], example: Path, render: Callable[[], str], module: str) -> int:
    html = render()
    if "--check" in argv:
        if example.read_text() != html:
            print(f"{example.relative_to(ROOT)} is stale: python -m {module}")
            return 1
        return 0
    example.write_text(html)
    return 0
