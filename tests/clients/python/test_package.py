"""The Python client as a package: it builds as a wheel and an sdist (its own pyproject, built
with ``python -m build``), the wheel carries the typed package at the service's version, and
what it installs imports and runs on its own."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "clients" / "python"


def service_version() -> str:
    return re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE).group(1)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out),
                           str(PACKAGE)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_wheel_holds_the_typed_package_at_the_services_version(built):
    version = service_version()
    wheel = built / f"mfa_flow_client-{version}-py3-none-any.whl"
    assert wheel.is_file(), sorted(p.name for p in built.iterdir())
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"mfa_flow_client-{version}.dist-info/METADATA").decode()
    modules = {"__init__.py", "__main__.py", "client.py", "flows.py", "management.py", "embedding.py", "audit.py",
               "proofs.py", "errors.py", "models.py", "py.typed"}
    assert {f"mfa_flow_client/{m}" for m in modules} <= names
    assert f"Version: {version}" in metadata
    for dependency in ("aiohttp", "cryptography", "joserfc", "standardwebhooks"):
        assert re.search(rf"^Requires-Dist: {dependency}\b", metadata, re.MULTILINE), dependency
    assert not any(n.startswith(("mfa_flow/", "tests/")) for n in names)


def test_the_sdist_holds_the_source_and_its_readme(built):
    with tarfile.open(built / f"mfa_flow_client-{service_version()}.tar.gz") as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", "src/mfa_flow_client/models.py", "src/mfa_flow_client/py.typed"} <= names


def test_the_installed_wheel_imports_from_where_it_was_installed_and_checks_bundles(built, tmp_path):
    wheel = next(built.glob("*.whl"))
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import mfa_flow_client as c; "
             "print(c.__file__.startswith(sys.argv[1]), c.__version__)")
    ran = subprocess.run([sys.executable, "-I", "-c", probe, str(target)], capture_output=True, text=True, timeout=60)
    assert ran.stdout.split() == ["True", service_version()], ran.stderr
    helped = subprocess.run([sys.executable, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                             "from mfa_flow_client.__main__ import main; main(['verify-bundle', '--help'])", str(target)],
                            capture_output=True, text=True, timeout=60)
    assert "proof bundle" in helped.stdout
