"""Static checks of the deployment folder (deploy/).

Lives at tests/deploy/test_manifests.py in the repository, so deploy/ is two
levels up from here; the DEPLOY_DIR environment variable overrides that.

Everything runs offline, which the autouse ``no_network`` fixture enforces:
- Kubernetes manifests are validated against the official Kubernetes JSON
  schemas bundled in the ``kubernetes-validate`` package (strict mode, so
  unknown or misspelt fields fail too);
- compose.yaml is validated against the Compose Specification schema that
  ``check-jsonschema`` ships (vendor.compose-spec);
- the Dockerfile is parsed with ``dockerfile`` (BuildKit's own Go parser).
Beyond the schemas, the tests check the things that make the deployment
work: probes, graceful shutdown, non-root users, wiring between files.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import dockerfile
import jsonschema
import kubernetes_validate
import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema
from kubernetes_validate.utils import latest_version

DEPLOY_DIR = Path(
    os.environ.get("DEPLOY_DIR") or Path(__file__).resolve().parents[2] / "deploy"
)
K8S_DIR = DEPLOY_DIR / "k8s"

# Oldest Kubernetes minor we claim to support, and the newest bundled schema.
K8S_VERSIONS = ("1.29.0", latest_version())

SERVE_ARGS = ["mfa-flow", "serve", "--host", "0.0.0.0", "--port", "8080"]
SECRET_NAME = "mfa-flow-secrets"
# Environment variables that must never have a literal value in compose.yaml.
SECRET_ENV = {
    "DATABASE_URL",
    "POSTGRES_PASSWORD",
    "MFA_FLOW_ADMIN_KEY",
    "MFA_FLOW_AUDITOR_KEY",
    "MFA_FLOW_SECRET_KEY",
}
REQUIRED_VAR = re.compile(r"\$\{[A-Z0-9_]+:\?[^}]*\}")  # ${VAR:?message}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Fail any test that tries to reach the network (schemas must be local)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --------------------------------------------------------------------------
# Loading helpers
# --------------------------------------------------------------------------


def load_yaml_docs(path: Path) -> list[dict]:
    with path.open() as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S_DIR.glob("*.yaml") if p.name != "kustomization.yaml")


def k8s_objects() -> list[tuple[str, dict]]:
    return [(p.name, doc) for p in manifest_files() for doc in load_yaml_docs(p)]


def find(kind: str, name: str) -> dict:
    for _, obj in k8s_objects():
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"no {kind}/{name} in {K8S_DIR}")


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def workloads() -> list[dict]:
    return [obj for _, obj in k8s_objects() if obj["kind"] in ("Deployment", "Job")]


def strip_comments(text: str, marker: str = "#") -> str:
    return "\n".join(line.split(marker, 1)[0] for line in text.splitlines())


# --------------------------------------------------------------------------
# Kubernetes: schema validation
# --------------------------------------------------------------------------


def test_schemas_are_bundled_offline():
    """kubernetes-validate must find its schemas inside the installed package."""
    assert kubernetes_validate.utils.all_versions(), "no bundled Kubernetes schemas"


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(
    "name,obj",
    k8s_objects(),
    ids=[f"{n}:{o['kind']}/{o['metadata']['name']}" for n, o in k8s_objects()],
)
def test_k8s_manifest_matches_official_schema(name, obj, version):
    problem = None
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        problem = f"{name}: {'.'.join(map(str, exc.path))}: {exc.message}"
    if problem:  # reported outside the except block: one short message
        pytest.fail(problem)


def test_expected_objects_and_no_secret_or_namespace():
    found = {(o["kind"], o["metadata"]["name"]) for _, o in k8s_objects()}
    assert found == {
        ("Deployment", "mfa-flow-web"),
        ("Deployment", "mfa-flow-worker"),
        ("Service", "mfa-flow-web"),
        ("Job", "mfa-flow-migrate"),
        ("PodDisruptionBudget", "mfa-flow-web"),
        ("HorizontalPodAutoscaler", "mfa-flow-web"),
    }
    for name, obj in k8s_objects():
        # Namespace-agnostic, and no secret material committed.
        assert "namespace" not in obj["metadata"], name
        assert obj["kind"] != "Secret", name


def test_kustomization_lists_every_manifest():
    (kust,) = load_yaml_docs(K8S_DIR / "kustomization.yaml")
    assert kust["kind"] == "Kustomization"
    assert "namespace" not in kust
    listed = kust["resources"]
    assert len(listed) == len(set(listed)), "duplicate entries"
    assert sorted(listed) == [p.name for p in manifest_files()]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kustomize_build_renders_valid_objects():
    # kubectl's built-in kustomize works offline (a subprocess, so the
    # no_network fixture does not apply; it needs no network anyway).
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S_DIR)],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    rendered = [d for d in yaml.safe_load_all(out) if d]
    assert len(rendered) == len(k8s_objects())
    for obj in rendered:
        kubernetes_validate.validate(obj, K8S_VERSIONS[-1], strict=True)


# --------------------------------------------------------------------------
# Kubernetes: behaviour
# --------------------------------------------------------------------------


def test_web_deployment_probes_and_shutdown():
    web = find("Deployment", "mfa-flow-web")
    assert web["spec"]["replicas"] == 2
    spec = pod_spec(web)
    (container,) = spec["containers"]
    assert container["args"] == SERVE_ARGS
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080}

    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in ("http", 8080)

    # preStop sleep, then serve drains within 10 s: the grace period must
    # cover both or Kubernetes kills in-flight requests.
    assert spec["terminationGracePeriodSeconds"] == 15
    pre_stop = container["lifecycle"]["preStop"]
    if "exec" in pre_stop:  # ["sleep", "N"]
        sleep = int(pre_stop["exec"]["command"][-1])
    else:  # native sleep action (Kubernetes >= 1.30)
        sleep = pre_stop["sleep"]["seconds"]
    assert 0 < sleep and sleep + 10 <= spec["terminationGracePeriodSeconds"]

    # The HPA computes utilisation from CPU requests.
    assert container["resources"]["requests"]["cpu"]


@pytest.mark.parametrize("obj", workloads(), ids=lambda o: o["metadata"]["name"])
def test_workload_security_and_config(obj):
    spec = pod_spec(obj)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec.get("automountServiceAccountToken") is False
    mounts_needed = set()
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert c["resources"]["requests"] and c["resources"]["limits"]
        assert {"secretRef": {"name": SECRET_NAME}} in c["envFrom"]
        # `args`, not `command`, so the image's tini entrypoint stays PID 1.
        assert "command" not in c and c["args"][0] == "mfa-flow"
        # A read-only root needs writable scratch space.
        mounts_needed |= {m["name"] for m in c.get("volumeMounts", [])}
        assert "/tmp" in {m["mountPath"] for m in c["volumeMounts"]}
    assert mounts_needed <= {v["name"] for v in spec.get("volumes", [])}


def test_worker_and_migration_job():
    worker = find("Deployment", "mfa-flow-worker")
    assert pod_spec(worker)["containers"][0]["args"] == ["mfa-flow", "worker"]
    job = find("Job", "mfa-flow-migrate")
    spec = pod_spec(job)
    assert spec["containers"][0]["args"] == ["mfa-flow", "migrate"]
    assert spec["restartPolicy"] in ("Never", "OnFailure")
    assert job["spec"]["backoffLimit"] >= 1


def test_service_pdb_hpa_target_web_pods():
    web = find("Deployment", "mfa-flow-web")
    pod_labels = web["spec"]["template"]["metadata"]["labels"]
    assert web["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()

    svc = find("Service", "mfa-flow-web")
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert svc["spec"].get("sessionAffinity", "None") == "None"  # no sticky sessions
    port_names = {p["name"] for p in pod_spec(web)["containers"][0]["ports"]}
    assert all(p["targetPort"] in port_names | {8080} for p in svc["spec"]["ports"])

    pdb = find("PodDisruptionBudget", "mfa-flow-web")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()

    hpa = find("HorizontalPodAutoscaler", "mfa-flow-web")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "mfa-flow-web"
    }
    assert hpa["spec"]["minReplicas"] >= pdb["spec"]["minAvailable"] + 1
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


# --------------------------------------------------------------------------
# Compose
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    # PyYAML resolves the `<<: *anchor` merge keys compose.yaml uses.
    (doc,) = load_yaml_docs(DEPLOY_DIR / "compose.yaml")
    return doc


def test_compose_matches_compose_spec(compose):
    schema = get_builtin_schema("vendor.compose-spec")
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    errors = sorted(
        validator_cls(schema).iter_errors(compose), key=lambda e: list(e.path)
    )
    assert not errors, "\n".join(
        f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors
    )


def _depends(service: dict) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):  # short form: no condition
        return {d: "service_started" for d in deps}
    return {name: d.get("condition", "service_started") for name, d in deps.items()}


def test_compose_services_healthchecks_and_ordering(compose):
    svcs = compose["services"]
    assert set(svcs) == {"postgres", "migrate", "web1", "web2", "worker", "lb"}
    for name, svc in svcs.items():
        assert set(_depends(svc)) <= set(svcs), f"{name} depends on an unknown service"

    pg = svcs["postgres"]
    assert pg["image"] == "postgres:16"
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])

    assert svcs["migrate"]["command"] == ["mfa-flow", "migrate"]
    assert svcs["migrate"]["restart"] == "no"
    assert _depends(svcs["migrate"]) == {"postgres": "service_healthy"}

    for name in ("web1", "web2"):
        web = svcs[name]
        assert web["command"] == SERVE_ARGS
        assert "/healthz" in " ".join(web["healthcheck"]["test"])
        assert _depends(web) == {
            "postgres": "service_healthy",
            "migrate": "service_completed_successfully",
        }

    worker = svcs["worker"]
    assert worker["command"] == ["mfa-flow", "worker"]
    assert _depends(worker)["migrate"] == "service_completed_successfully"

    # No HTTP server in these roles: the image's HEALTHCHECK must be off, or
    # Docker reports them unhealthy.
    for name in ("migrate", "worker"):
        assert svcs[name]["healthcheck"] == {"disable": True}, name

    lb = svcs["lb"]
    assert lb["image"] == "nginx:stable"
    assert any(str(p).endswith(":8080") for p in lb["ports"])
    assert any(v.split(":")[0] == "./nginx.conf" for v in lb["volumes"])
    assert _depends(lb) == {"web1": "service_healthy", "web2": "service_healthy"}


def test_compose_builds_this_dockerfile(compose):
    for name in ("migrate", "web1", "web2", "worker"):
        build = compose["services"][name]["build"]
        dockerfile_path = (DEPLOY_DIR / build["context"] / build["dockerfile"]).resolve()
        assert dockerfile_path == (DEPLOY_DIR / "Dockerfile").resolve(), name


def test_compose_commits_no_secret(compose):
    for name, svc in compose["services"].items():
        env = svc.get("environment", {})
        assert isinstance(env, dict), f"{name}: use the mapping form"
        for key in SECRET_ENV & set(env):
            assert REQUIRED_VAR.search(str(env[key])), (
                f"{name}.{key} must come from ${{VAR:?...}}, not a literal"
            )


# --------------------------------------------------------------------------
# nginx load balancer
# --------------------------------------------------------------------------


def _blocks(text: str, header: str) -> list[str]:
    """Bodies of every `header ... { ... }` block (header is a regex)."""
    bodies = []
    for m in re.finditer(header + r"[^{;]*\{", text):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        bodies.append(text[m.end(): i - 1])
    return bodies


def test_nginx_supports_websocket_and_sse(compose):
    conf = strip_comments((DEPLOY_DIR / "nginx.conf").read_text())
    (upstream,) = _blocks(conf, r"\bupstream\s+mfa_flow\b")
    servers = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", upstream, re.M)
    web_services = {n for n in compose["services"] if n.startswith("web")}
    assert {host for host, _ in servers} == web_services
    assert {port for _, port in servers} == {"8080"}
    # No sticky sessions: any web process serves any flow.
    assert not re.search(r"^\s*(ip_hash|hash|sticky)\b", upstream, re.M)

    assert re.search(r"^\s*listen\s+8080\b", conf, re.M)
    assert re.search(r"proxy_http_version\s+1\.1;", conf)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", conf)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade;", conf)

    # The location(s) proxying /api/flows/{id}/ws and /api/flows/{id}/sse.
    stream_blocks = [
        b for b in _blocks(conf, r"\blocation\s+~\s+\S*(ws|sse)") if "proxy_pass" in b
    ]
    assert stream_blocks, "no location for /ws and /sse"
    for body in stream_blocks:
        assert re.search(r"proxy_buffering\s+off;", body)
        timeout = re.search(r"proxy_read_timeout\s+(\d+)s;", body)
        assert timeout and int(timeout.group(1)) >= 300


# --------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stages() -> list[list[dockerfile.Command]]:
    """Instructions grouped by build stage; [0] holds the global ARGs."""
    groups: list[list[dockerfile.Command]] = [[]]
    for cmd in dockerfile.parse_file(str(DEPLOY_DIR / "Dockerfile")):
        if cmd.cmd.upper() == "FROM":
            groups.append([])
        groups[-1].append(cmd)
    return groups


def _only(stage, name):
    return [c for c in stage if c.cmd.upper() == name]


def test_dockerfile_is_multi_stage(stages):
    build_stages = stages[1:]
    assert len(build_stages) >= 2
    global_args = dict(a.value[0].split("=", 1) for a in _only(stages[0], "ARG"))
    base = build_stages[-1][0].value[0]
    base = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m.group(1)], base)
    assert base == "python:3.11-slim"
    builder = build_stages[0][0].value
    assert len(builder) == 3 and builder[1].upper() == "AS"
    copies_from = [c for c in _only(build_stages[-1], "COPY") if f"--from={builder[2]}" in c.flags]
    assert copies_from, "runtime stage copies nothing from the builder"


def test_dockerfile_runtime_user_healthcheck_and_cmd(stages):
    final = stages[-1]
    users = _only(final, "USER")
    assert users, "runtime stage has no USER"
    user = users[-1].value[0].split(":")[0]
    assert user not in ("root", "0")
    # The k8s securityContext asserts the same numeric UID.
    uids = {pod_spec(o)["securityContext"]["runAsUser"] for o in workloads()}
    assert uids == {int(user)}

    (health,) = _only(final, "HEALTHCHECK")
    assert health.value[0] == "CMD" and "/healthz" in " ".join(health.value)
    assert "8080" in [v for e in _only(final, "EXPOSE") for v in e.value]
    (cmd,) = _only(final, "CMD")
    assert cmd.json and list(cmd.value) == SERVE_ARGS


def test_dockerfile_ships_schemas(stages):
    final = stages[-1]
    env = {}
    for e in _only(final, "ENV"):
        env.update(zip(e.value[::2], e.value[1::2], strict=True))
    schemas_dir = env["MFA_FLOW_SCHEMAS_DIR"]
    copied = {c.value[-1].rstrip("/") for c in _only(final, "COPY") if c.value[0] == "schemas"}
    assert schemas_dir in copied
