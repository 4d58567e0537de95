"""Mutation testing of the pure core against the fast tests (tests/unit); see scripts/mutation."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = {  # module prefix of mutmut's mutant names -> file
    "mfa_flow.domain.policy": "mfa_flow/domain/policy.py",
    "mfa_flow.domain.machine": "mfa_flow/domain/machine.py",
    "mfa_flow.domain.flow": "mfa_flow/domain/flow.py",
    "mfa_flow.audit.verify": "mfa_flow/audit/verify.py",
}
KILLED = {"killed", "timeout"}  # a mutant that hangs the tests is noticed too

DESCRIPTION = """\
Mutation testing of the pure core (mfa_flow/domain/policy.py, machine.py, flow.py and the
audit verifier mfa_flow/audit/verify.py) against the fast tests in tests/unit, in two passes:

  functions  mutmut 3 (configured in pyproject.toml, [tool.mutmut]) changes the code of every
             function of those files one change at a time (swapped comparisons, and/or,
             dropped not, changed constants and strings, return None, ...) and runs the unit
             tests that reach that function against each change.
  table      mutmut does not change data, so the machine's table (as the factor registry
             assembles it) is mutated here: each row dropped, each source and destination of a row dropped, a row's
             guard replaced, and forged edges added (done as a destination, skip from the
             verify states). Each mutant is run, in a forked process, against tests/unit.

A mutant is killed when a test fails. Each function mutant that survives mutmut's run is
applied again to a fresh copy of the tree and tests/unit run there, so that only a real
survivor counts. The score is killed / all mutants, per file and in total; the command fails
when the total is under --threshold. Survivors are listed; look at one with
`.venv/bin/mutmut show NAME` (run from the repository root). Equivalent survivors, with the
reason for each, are listed in docs/mutation.md. It takes over ten minutes on two cores,
which is why .ci/run does not run it.
"""


def say(text: str) -> None:
    print(f"\033[1m==> {text}\033[0m", file=sys.stderr, flush=True)


# --- Pass 1: mutmut over the functions ------------------------------------------------------


def run_mutmut(max_children: int) -> dict[str, Counter]:
    say(f"mutmut: mutating the functions of {', '.join(FILES.values())} (fresh mutants/ folder)")
    subprocess.run(["rm", "-rf", str(ROOT / "mutants")], check=True)
    started = time.monotonic()
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    subprocess.run([mutmut, "run", "--max-children", str(max_children)], cwd=ROOT, check=True)
    say(f"mutmut finished in {time.monotonic() - started:.0f} s")
    listing = subprocess.run([mutmut, "results", "--all", "true"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
    by_file: dict[str, Counter] = {path: Counter() for path in FILES.values()}
    survivors = []
    for line in listing.splitlines():
        name, _, status = line.strip().rpartition(": ")
        module = next((m for m in FILES if name.startswith(m + ".")), None)
        if module is None:
            continue
        verdict = "killed" if status in KILLED else "survived"
        by_file[FILES[module]][verdict] += 1
        if verdict == "survived":
            survivors.append(name)
    if survivors:
        say(f"{len(survivors)} function mutants survived; re-running each in a fresh copy of the tree")
        if not confirm_in_fresh_copy(mutmut, None):
            raise RuntimeError("tests/unit fail in a fresh, unmutated copy of the tree: every mutant would look killed")
        with ThreadPoolExecutor(max_children) as pool:
            verdicts = pool.map(lambda name: (name, confirm_in_fresh_copy(mutmut, name)), survivors)
            for name, confirmed in verdicts:
                if not confirmed:  # mutmut's run missed it (a cache, an import-time use): count it killed
                    by_file[FILES[next(m for m in FILES if name.startswith(m + "."))]].update(killed=1, survived=-1)
                print(f"  {name}: {'survived in a fresh copy too' if confirmed else 'KILLED in a fresh copy'}",
                      flush=True)
    return by_file


def confirm_in_fresh_copy(mutmut: str, name: str | None) -> bool:
    """Apply one mutant to a fresh copy of the tree and run tests/unit: True if they pass.
    With no mutant, the copy is left as it is: the check that the copy itself passes."""
    import tempfile

    if name is None:
        with tempfile.TemporaryDirectory(prefix="unmutated-") as folder:
            return _run_unit_tests(_fresh_copy(Path(folder)), "the unmutated copy")
    diff = subprocess.run([mutmut, "show", name], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    if "@@" not in diff:
        raise RuntimeError(f"mutmut show {name} gave no diff")
    path = diff.split("--- ", 1)[1].split("\n", 1)[0].strip()
    hunk = [line for line in diff.split("@@", 2)[2].split("\n", 1)[1].splitlines()]
    before = [line[1:] for line in hunk if line[:1] in (" ", "-")]
    after = [line[1:] for line in hunk if line[:1] in (" ", "+")]
    with tempfile.TemporaryDirectory(prefix="mutant-") as folder:
        copy = _fresh_copy(Path(folder))
        source = (copy / path).read_text().splitlines()
        # mutmut shows the function dedented: find it by its stripped lines, re-indent the change.
        stripped = [line.strip() for line in before]
        start = next(i for i in range(len(source)) if [line.strip() for line in source[i:i + len(before)]] == stripped)
        indent = source[start][: len(source[start]) - len(source[start].lstrip())]
        base = before[0][: len(before[0]) - len(before[0].lstrip())]
        shift = " " * (len(indent) - len(base))
        replacement = [shift + line if line.strip() else line for line in after]
        mutated = "\n".join(source[:start] + replacement + source[start + len(before):]) + "\n"
        compile(mutated, path, "exec")  # a patch that breaks the syntax would look like a kill
        (copy / path).write_text(mutated)
        return _run_unit_tests(copy, name)


def _fresh_copy(copy: Path) -> Path:
    """What tests/unit read: the package, the tests, the schemas and pyproject.toml (a file they
    read left out would fail every run, and every mutant would look killed)."""
    import shutil

    for part in ("mfa_flow", "tests", "schemas"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy)
    return copy


def _run_unit_tests(copy: Path, what: str) -> bool:
    """True when tests/unit pass in ``copy``."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "tests/unit"],
                            cwd=copy, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):  # 1: a test failed; anything else: the run itself broke
        raise RuntimeError(f"tests/unit could not run against {what}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.returncode == 0


# --- Pass 2: the machine's table ------------------------------------------------------------


def table_mutants(table: tuple) -> list[tuple[str, tuple]]:
    """(description, mutated table) for every mutation of the table worth noticing."""
    from mfa_flow.domain import machine
    from mfa_flow.factors.registry import default

    verify_states = tuple(default().machine.verify_state.values())

    mutants = []

    def replaced(i: int, row: tuple) -> tuple:
        return table[:i] + (row,) + table[i + 1:]

    for i, (event, sources, guard, destinations) in enumerate(table):
        label = f"row {i} ({event} [{guard}])"
        mutants.append((f"drop {label}", table[:i] + table[i + 1:]))
        if len(sources) > 1:
            for source in sources:
                rest = tuple(s for s in sources if s != source)
                mutants.append((f"{label}: drop source {source}", replaced(i, (event, rest, guard, destinations))))
        if len(destinations) > 1:
            for dest in destinations:
                rest = tuple(d for d in destinations if d != dest)
                mutants.append((f"{label}: drop destination {dest}", replaced(i, (event, sources, guard, rest))))
        if machine.DONE not in destinations:
            forged = replaced(i, (event, sources, guard, destinations + (machine.DONE,)))
            mutants.append((f"{label}: forge destination done", forged))
        other_guard = "always" if guard != "always" else "proof_ok"
        mutants.append((f"{label}: guard {other_guard}", replaced(i, (event, sources, other_guard, destinations))))
        if event == "skip":
            for state in verify_states:
                forged = replaced(i, (event, sources + (state,), guard, destinations))
                mutants.append((f"{label}: forge source {state}", forged))
    return mutants


def _run_table_mutant(mutated: tuple) -> bool:
    """In a fresh process forked for this mutant: True when the unit tests notice it."""
    import contextlib
    import io

    import pytest

    from mfa_flow.domain import machine
    from mfa_flow.factors import registry

    rows = tuple(machine.Row(*row) for row in mutated)
    assemble = machine.FlowMachine._assemble
    build = tuple(factor.name for factor in registry.FACTORS)

    def mutated_assemble(self: machine.FlowMachine) -> tuple[machine.Row, ...]:
        # Only this build's machine gets the mutant (tests that assemble other factors keep theirs).
        return rows if self.all_factors == build else assemble(self)

    machine.FlowMachine._assemble = mutated_assemble  # type: ignore[method-assign]
    registry.default.cache_clear()
    os.chdir(ROOT)
    options = ["-x", "-q", "-p", "no:cacheprovider"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        # The specification's tests alone first (quick to collect): most table mutants fail
        # there at once. Only a mutant that passes them meets the whole of tests/unit.
        if pytest.main([*options, "tests/unit/domain/test_machine_spec.py"]) != 0:
            return True
        return pytest.main([*options, "tests/unit"]) != 0


def run_table(max_children: int) -> Counter:
    import contextlib
    import io

    import pytest

    from mfa_flow.factors.registry import default

    # Load pytest's plugins and the conftest once, here, rather than in every forked mutant
    # (no test module: one that builds the machine when imported would keep the real table).
    with contextlib.redirect_stdout(io.StringIO()):
        pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "tests/conftest.py"])

    table = tuple(tuple(row) for row in default().machine.table)
    default.cache_clear()
    mutants = table_mutants(table)
    # The harness first: the table as it is must pass, or every "kill" below would be false.
    pid = os.fork()
    if pid == 0:
        os._exit(0 if _run_table_mutant(table) else 1)
    if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 1:
        raise SystemExit("the unmutated table fails tests/unit: fix the tests before measuring mutants")
    say(f"table: {len(mutants)} mutants of the machine's table, each against tests/unit")
    counts: Counter = Counter()
    started = time.monotonic()
    pending = list(enumerate(mutants))
    running: dict[int, str] = {}
    while pending or running:
        while pending and len(running) < max_children:
            _, (description, mutated) = pending.pop(0)
            pid = os.fork()
            if pid == 0:  # the mutant's own process: exit 0 when the tests notice it
                try:
                    os._exit(0 if _run_table_mutant(mutated) else 1)
                except Exception:  # noqa: BLE001  (the mutated table broke the machine outright: noticed)
                    os._exit(0)
            running[pid] = description
        pid, status = os.wait()
        description = running.pop(pid)
        killed = os.waitstatus_to_exitcode(status) != 1
        counts["killed" if killed else "survived"] += 1
        if not killed:
            print(f"  survived: {description}", flush=True)
        done = counts["killed"] + counts["survived"]
        if done % 10 == 0 or done == len(mutants):
            print(f"  {done}/{len(mutants)} table mutants run, {counts['survived']} survived "
                  f"({time.monotonic() - started:.0f} s)", flush=True)
    return counts


# --- Score ----------------------------------------------------------------------------------


def score(counts: Counter) -> float:
    total = counts["killed"] + counts["survived"]
    return 100.0 * counts["killed"] / total if total else 100.0


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/mutation", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threshold", type=float, default=85.0,
                        help="fail when the total score (percent of mutants killed) is under this (default 85)")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2,
                        help="mutants run at once (default: the number of cores)")
    parser.add_argument("--only", choices=("functions", "table"), help="run one pass only")
    args = parser.parse_args()
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    started = time.monotonic()
    rows: dict[str, Counter] = {}
    if args.only in (None, "table"):
        rows["machine table"] = run_table(args.max_children)
    if args.only in (None, "functions"):
        rows.update(run_mutmut(args.max_children))
    total: Counter = sum(rows.values(), Counter())
    print(f"\nmutation score against tests/unit ({time.monotonic() - started:.0f} s):")
    for name, counts in rows.items():
        print(f"  {name:32} {score(counts):5.1f} %  ({counts['killed']} of {counts['killed'] + counts['survived']} killed)")
    print(f"  {'total':32} {score(total):5.1f} %  ({total['killed']} of {total['killed'] + total['survived']} killed)"
          f"; threshold {args.threshold:g} %")
    return 0 if score(total) >= args.threshold else 1


if __name__ == "__main__":
    sys.exit(main())
