"""``python -m mfa_flow_client verify-bundle BUNDLE.json --key KEY``: an auditor's offline check
of a sign-in's proof bundle, with nothing but this package installed (no service, no network)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import ProofError
from .proofs import verify_bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mfa_flow_client", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "verify-bundle", help="check a proof bundle offline",
        description="Check a sign-in's proof bundle (mfa-flow audit prove) offline: the tree head's signature by the "
                    "pinned key, every row's inclusion proof, the hash chain and the flow's head. Exits 1 naming the "
                    "first thing that does not hold.")
    check.add_argument("bundle", help="the bundle's JSON file ('-' reads standard input)")
    check.add_argument("--key", help="the log's verifier key, as published (<name>+<id>+<key>); without it the "
                                     "bundle's own key is used, which proves only that the bundle is consistent")
    args = parser.parse_args(argv)
    try:
        text = sys.stdin.read() if args.bundle == "-" else Path(args.bundle).read_text()
        report = verify_bundle(json.loads(text), args.key)
    except OSError as exc:
        print(f"cannot read {args.bundle}: {exc.strerror}", file=sys.stderr)
        return 2
    except ValueError as exc:  # ProofError is one, and so is a file that is not JSON
        print(f"FAILED: {exc}" if isinstance(exc, ProofError) else f"FAILED: {args.bundle} is not JSON ({exc})")
        return 1
    print(f"flow {report.flow_id} ({report.state}): {report.rows} row(s), each included in the tree of"
          f" {report.tree.size} leaves of {report.tree.origin}")
    print(f"tree head signed by {report.verifier_key}"
          f" ({'pinned' if report.key_pinned else 'the bundle’s own key: compare it with the published one'})")
    print("OK: the signature, every inclusion proof and the hash chain hold")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
