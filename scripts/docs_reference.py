"""The generated parts of the documentation, written from the code they describe.

``python scripts/docs_reference.py --write`` (or ``scripts/docs generate``) rewrites them;
without ``--write`` it exits 1 naming each page that differs. tests/docs checks the same.

- docs/concepts/machine.md, between ``<!-- machine:begin -->`` and ``<!-- machine:end -->``:
  ``mfa-flow machine --format mermaid``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MACHINE_PAGE = ROOT / "docs" / "concepts" / "machine.md"


def machine_diagram() -> str:
    from mfa_flow.factors.registry import default

    return default().machine.mermaid()


def machine_page(current: str) -> str:
    block = f"<!-- machine:begin -->\n```mermaid\n{machine_diagram()}```\n<!-- machine:end -->"
    return re.sub(r"<!-- machine:begin -->\n.*?<!-- machine:end -->", lambda _: block, current, count=1, flags=re.S)


def pages() -> dict[Path, str]:
    """Each generated page as the code says it should read."""
    return {MACHINE_PAGE: machine_page(MACHINE_PAGE.read_text())}


def main(argv: list[str]) -> int:
    stale = [path for path, text in pages().items() if path.read_text() != text]
    if "--write" in argv:
        for path, text in pages().items():
            path.write_text(text)
        for path in stale:
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    for path in stale:
        print(f"{path.relative_to(ROOT)} is stale: run scripts/docs generate", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
