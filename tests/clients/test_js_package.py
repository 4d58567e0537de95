"""The browser SDK as a package: its types check, it packs, and what it packs works for a
consumer (the exports resolve in Node and type-check in TypeScript)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[2] / "clients" / "js"
BIN = JS / "node_modules" / ".bin"


def run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def npm() -> str:
    found = shutil.which("npm")
    assert found, "npm is missing: scripts/setup --test installs Node.js"
    assert BIN.is_dir(), "clients/js has no node_modules: scripts/setup --test runs npm ci there"
    return found


def test_the_package_type_checks_against_the_generated_api_types(npm):
    run([str(BIN / "tsc"), "-p", "tsconfig.json"], JS)


@pytest.fixture(scope="module")
def packed(npm, tmp_path_factory) -> Path:
    """``npm pack`` (its prepack writes the declarations), unpacked where a consumer would have it."""
    out = tmp_path_factory.mktemp("pack")
    listing = json.loads(run([npm, "pack", "--json", "--pack-destination", str(out)], JS))
    with tarfile.open(out / listing[0]["filename"]) as archive:
        archive.extractall(out / "consumer" / "node_modules", filter="data")
    (out / "consumer" / "node_modules" / "package").rename(out / "consumer" / "node_modules" / "mfa-flow-client")
    # The package's own dependencies, as npm would install them beside it.
    for dependency in ("jose", "standardwebhooks", "@stablelib", "fast-sha256", "@types"):
        os.symlink(JS / "node_modules" / dependency, out / "consumer" / "node_modules" / dependency)
    return out / "consumer"


def test_the_packed_package_holds_the_modules_and_their_declarations_and_nothing_else(packed):
    package = packed / "node_modules" / "mfa-flow-client"
    files = sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file())
    assert "src/index.js" in files and "src/node.js" in files
    assert "dist/index.d.ts" in files and "dist/node.d.ts" in files and "dist/openapi.d.ts" in files
    assert not [f for f in files if f.startswith("test/") or "node_modules" in f]
    manifest = json.loads((package / "package.json").read_text())
    for target in manifest["exports"].values():
        for path in target.values():
            assert (package / path).is_file(), f"the export {path} is not in the package"


def test_a_consumer_imports_the_packed_package_in_node(packed):
    (packed / "check.mjs").write_text(
        'import { MfaFlowClient, isTerminal } from "mfa-flow-client";\n'
        'import { verifyWebhook, ResultTokenVerifier } from "mfa-flow-client/node";\n'
        'const client = new MfaFlowClient({ baseUrl: "http://127.0.0.1:1" });\n'
        'console.log(typeof client.flows.start, isTerminal("done"), typeof verifyWebhook, typeof ResultTokenVerifier);\n'
    )
    assert run(["node", "check.mjs"], packed).strip() == "function true function function"


def test_a_typescript_consumer_type_checks_against_the_packed_declarations(packed):
    (packed / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": True, "noEmit": True,
        "lib": ["ES2022", "DOM"], "types": ["node"], "skipLibCheck": True}, "files": ["consumer.ts"]}))
    (packed / "consumer.ts").write_text(
        'import { MfaFlowClient, type FlowSession } from "mfa-flow-client";\n'
        'import { ResultTokenVerifier } from "mfa-flow-client/node";\n'
        'const client = new MfaFlowClient({ baseUrl: "https://id.example.com" });\n'
        'export async function signIn(username: string, password: string): Promise<string | undefined> {\n'
        '  const session: FlowSession = await client.flows.start();\n'
        '  const flow = await session.send({ type: "submit_password", username, password });\n'
        '  const state: string | undefined = flow?.state;\n'
        '  return state;\n'
        '}\n'
        'export const verifier = new ResultTokenVerifier({ baseUrl: "https://id.example.com", issuer: "mfa-flow" });\n'
    )
    run([str(BIN / "tsc"), "-p", "tsconfig.json"], packed)
    # and a misuse is caught: a Flow has no such field
    (packed / "consumer.ts").write_text(
        'import { MfaFlowClient } from "mfa-flow-client";\n'
        'const session = await new MfaFlowClient().flows.start();\n'
        'export const wrong: number = session.flow.no_such_field;\n'
    )
    done = subprocess.run([str(BIN / "tsc"), "-p", "tsconfig.json"], cwd=packed, capture_output=True, text=True)
    assert done.returncode != 0 and "no_such_field" in done.stdout
