"""QR codes back to text: rsvg-convert renders the SVG, zbarimg (both Debian) reads the PNG."""

from __future__ import annotations

import subprocess
from pathlib import Path


def svg_to_png(svg: str, png: Path) -> Path:
    subprocess.run(
        ["rsvg-convert", "--background-color=white", "--zoom=4", "-o", str(png)],
        input=svg.encode(),
        check=True,
    )
    return png
