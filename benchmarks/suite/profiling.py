"""``--profile DIR``: py-spy samples the serving process while the transitions benchmark drives
it; DIR gets the flame graph (SVG), the raw stacks, and the top entries (by own time and by time
spent in, including callees) as text."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from collections import Counter
from pathlib import Path


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, folder: Path) -> list[subprocess.Popen]:
    """Two samplers (py-spy writes one format per run): the flame graph and the raw stacks."""
    binary = py_spy()
    if binary is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    folder.mkdir(parents=True, exist_ok=True)
    common = [binary, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "100",
              "--nonblocking"]
    return [
        subprocess.Popen([*common, "--format", "flamegraph", "--output", str(folder / "transitions-flame.svg")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([*common, "--format", "raw", "--output", str(folder / "transitions-stacks.txt")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]


def _short(frame: str) -> str:
    """A frame without the folders every frame shares (the virtualenv's, Python's, the checkout's)."""
    paths = sysconfig.get_paths()
    for folder in (paths["purelib"], paths["platlib"], paths["stdlib"], str(Path(__file__).resolve().parents[2])):
        frame = frame.replace(folder + "/", "")
    return frame


def top(stacks: Path, entries: int = 25) -> str:
    """The functions with the most samples: on top of the stack (own time), and anywhere in it."""
    own: Counter[str] = Counter()
    within: Counter[str] = Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        total += samples
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            within[frame] += samples
    lines = [f"{total} samples (100 per second) of the serving process, while 16 clients drove transitions", "",
             "own time (the function itself was running):"]
    lines += [f"  {100 * n / total:5.1f} %  {frame}" for frame, n in own.most_common(entries)]
    lines += ["", "time spent in (the function or what it called):"]
    lines += [f"  {100 * n / total:5.1f} %  {frame}" for frame, n in within.most_common(entries * 2)]
    return "\n".join(lines) + "\n"
