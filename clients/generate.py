"""Writes what the client packages take from the service, from the service itself:

- the types of both clients, generated from the OpenAPI document the service serves
  (``GET /openapi.json``): ``clients/js/src/openapi.d.ts`` by openapi-typescript (npm) and
  ``clients/python/src/mfa_flow_client/models.py`` by datamodel-code-generator (PyPI);
- the copy of the browser SDK the service serves to its own pages
  (``mfa_flow/web/vendor/mfa-flow-client/``: the SDK's browser modules, byte for byte);
- the Python client's version, which follows the service's.

Run it with the service's virtualenv after changing the API or the SDK (``scripts/setup --test``
installs both generators)::

    .venv/bin/python clients/generate.py          # write
    .venv/bin/python clients/generate.py --check  # exit 1, naming each file that is not up to date

The tests run the check, so a change that forgets to regenerate does not pass.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "clients" / "js"
PYTHON = ROOT / "clients" / "python"
TYPESCRIPT_TYPES = JS / "src" / "openapi.d.ts"
PYTHON_MODELS = PYTHON / "src" / "mfa_flow_client" / "models.py"
PYTHON_PROJECT = PYTHON / "pyproject.toml"
SERVED_SDK = ROOT / "mfa_flow" / "web" / "vendor" / "mfa-flow-client"
# The SDK's modules that run in a browser: everything but the Node-only checks (which import
# npm packages by name, as browsers cannot without an import map) and the type declarations.
NODE_ONLY = {"node.js"}

DATAMODEL_OPTIONS = [
    "--input-file-type", "openapi",
    "--output-model-type", "typing.TypedDict",
    "--target-python-version", "3.11",
    "--use-standard-collections", "--use-union-operator", "--use-double-quotes",
    "--enum-field-as-literal", "all",
    "--naming-strategy", "enclosing-model",
    "--no-use-closed-typed-dict",  # PEP 728 is not in mypy yet
    "--disable-timestamp",
    "--formatters", "builtin",  # the same text whatever formatter versions are installed
]


def served_document() -> dict:
    """What ``GET /openapi.json`` answers, built the way the service builds it."""
    sys.path.insert(0, str(ROOT))
    from mfa_flow import bootstrap
    from mfa_flow.http.validation import Schemas

    return Schemas(ROOT / "schemas", bootstrap.registry()).bundled()


def service_version() -> str:
    match = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert match, "the service's pyproject.toml has no version"
    return match.group(1)


def typescript_types(document_path: Path, workdir: Path) -> str:
    out = workdir / "openapi.d.ts"
    # A field with a default may be left out of a request: optional, as the schema means.
    command = [str(JS / "node_modules" / ".bin" / "openapi-typescript"), str(document_path), "--output", str(out),
               "--default-non-nullable=false"]
    if not Path(command[0]).exists():
        raise SystemExit("clients/js has no node_modules: run scripts/setup --test (or npm ci in clients/js)")
    subprocess.run(command, check=True, capture_output=True, cwd=JS)
    return out.read_text()


def python_models(document_path: Path, workdir: Path) -> str:
    out = workdir / "models.py"
    generator = Path(sys.executable).with_name("datamodel-codegen")
    subprocess.run([str(generator), "--input", str(document_path), "--output", str(out), *DATAMODEL_OPTIONS],
                   check=True, capture_output=True, cwd=workdir)
    text = out.read_text().replace(f"#   filename:  {document_path.name}", "#   from:      the service's GET /openapi.json")
    header = '"""The API\'s types, generated from the service\'s OpenAPI document: do not edit (clients/generate.py)."""\n\n'
    return header + text


def python_project(version: str) -> str:
    return re.sub(r'^version = "[^"]*"', f'version = "{version}"', PYTHON_PROJECT.read_text(), count=1, flags=re.MULTILINE)


def browser_modules() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((JS / "src").glob("*.js")) if p.name not in NODE_ONLY}


def expected_files() -> dict[Path, bytes]:
    """Every generated file, as it should be now."""
    with tempfile.TemporaryDirectory(prefix="mfa-flow-clients-") as tmp:
        workdir = Path(tmp)
        document_path = workdir / "openapi.json"
        document_path.write_text(json.dumps(served_document(), indent=2, sort_keys=True, ensure_ascii=False))
        files = {
            TYPESCRIPT_TYPES: typescript_types(document_path, workdir).encode(),
            PYTHON_MODELS: python_models(document_path, workdir).encode(),
            PYTHON_PROJECT: python_project(service_version()).encode(),
        }
    files.update({SERVED_SDK / name: content for name, content in browser_modules().items()})
    return files


def stale_files(expected: dict[Path, bytes]) -> list[Path]:
    """The generated files that differ from what they should be."""
    return [path for path, content in expected.items() if not path.exists() or path.read_bytes() != content]


def stray_copies(expected: dict[Path, bytes]) -> list[Path]:
    """Files in the served copy of the SDK that are not one of its modules (a module removed since)."""
    return [p for p in sorted(SERVED_SDK.iterdir()) if p not in expected] if SERVED_SDK.exists() else []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 naming each stale file")
    args = parser.parse_args()
    expected = expected_files()
    stale = stale_files(expected) + stray_copies(expected)
    if args.check:
        for path in stale:
            print(f"not up to date: {path.relative_to(ROOT)} (run .venv/bin/python clients/generate.py)")
        return 1 if stale else 0
    if SERVED_SDK.exists():
        shutil.rmtree(SERVED_SDK)
    for path, content in expected.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    for path in stale:
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
