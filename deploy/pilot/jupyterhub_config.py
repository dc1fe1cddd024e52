# Rendered by `adoptkit hub config` from ../../_config.yml.
# Do not edit: change `adoptkit: hub:` in that file and render again (`adoptkit hub start` renders
# before it starts). Site additions (TLS, anything else) go in the file `hub.extra_config` names.
"""The course's JupyterHub on one machine: learners, instructors, nbgrader's exchange and the sandbox
gateway (book/deploy.md). Run it with `adoptkit hub start`, or `jupyterhub -f` this file."""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)

ROOT = (Path(__file__).resolve().parent / '../..').resolve()  # the folder of _config.yml
CONFIG = ROOT / '_config.yml'  # the kit's settings, for the gateway and every server (the defaults if it is missing)
DATA = ROOT / '.cache/hub'  # the hub's database and secrets, everyone's home folder
EXCHANGE = ROOT / '.cache/hub/exchange'  # nbgrader's exchange
COURSE = ROOT  # nbgrader's course root: instructors work here
COURSE_CONFIG = ROOT / 'autograders/nbgrader_config.py'  # the course's nbgrader config
JUPYTER_CONFIG = ROOT / 'deploy/jupyter'  # the kit's Jupyter config by role (common/, learner/, instructor/)
BIN = Path(sys.executable).parent  # the course environment: the hub, the servers and the gateway run in it
OWN_ACCOUNTS = os.geteuid() == 0  # run as root, the hub gives each learner an OS account of their own
for folder in (DATA, EXCHANGE):
    folder.mkdir(parents=True, exist_ok=True)
if OWN_ACCOUNTS:  # learners may pass through DATA (to their home, the exchange) but not list or read it
    os.chmod(DATA, 0o711)
    (DATA / "jupyterhub.sqlite").touch(mode=0o600)  # the hub's database: made private before it is opened
    os.chmod(DATA / "jupyterhub.sqlite", 0o600)

# Where the hub listens and keeps its state
c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = 8081
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:8001"
c.ConfigurableHTTPProxy.command = [str(ROOT / '.cache/chp/node_modules/.bin/configurable-http-proxy')]
c.ConfigurableHTTPProxy.pid_file = str(DATA / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{DATA / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(DATA / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(DATA / "jupyterhub.pid")

# Who may log in, and the groups: `instructors` get nbgrader's instructor tools, everyone else is a
# learner; cohorts are groups the gateway can budget by.
c.JupyterHub.authenticator_class = 'shared-password'
if c.JupyterHub.authenticator_class == "shared-password":  # a short pilot: one password for all learners
    c.SharedPasswordAuthenticator.user_password = os.environ.get("ADOPTKIT_HUB_PASSWORD")
    c.SharedPasswordAuthenticator.admin_password = os.environ.get("ADOPTKIT_HUB_ADMIN_PASSWORD")
c.Authenticator.admin_users = set()
c.Authenticator.allowed_users = set()
c.Authenticator.allow_existing_users = True  # users an admin adds (admin page, REST API) may log in
c.JupyterHub.load_groups = {'instructors': {'users': []}, 'learners': {'users': []}}

# Everyone's server. Run as root, the hub gives each learner an OS account of their own (made at their
# first start) and a private home; instructors' servers, and everyone's when the hub is not root, run
# under the hub's own account (adoptkit.hub.spawner; book/deploy.md says what each trusts).
c.JupyterHub.spawner_class = "adoptkit.hub.spawner.CourseSpawner"
c.CourseSpawner.home_dir_template = str(DATA / "home" / "{username}")
c.CourseSpawner.reachable = [str(p) for p in (JUPYTER_CONFIG, CONFIG, EXCHANGE, ROOT / '.cache/data',
                                              os.environ.get("ADOPTKIT_DATA_CACHE"), os.environ.get("ADOPTKIT_DATA_MIRROR")) if p]
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.args = ['--allow-root', '--ServerApp.shutdown_no_activity_timeout=3600', '--MappingKernelManager.cull_idle_timeout=3600']
c.Spawner.default_url = "/lab"
c.Spawner.env_keep = ['CONDA_DEFAULT_ENV', 'CONDA_ROOT', 'JUPYTERHUB_SINGLEUSER_APP', 'LANG', 'LC_ALL', 'LD_LIBRARY_PATH', 'PATH', 'PYTHONPATH', 'VIRTUAL_ENV', 'ADOPTKIT_DATA_MIRROR', 'ADOPTKIT_DATA_CACHE']
c.Spawner.environment = {
    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    "ADOPTKIT_BIN": str(BIN),  # a terminal's login shell puts it back on PATH (adoptkit.hub.profile)
    "ADOPTKIT_LEARNER_ACCOUNTS": "own" if OWN_ACCOUNTS else "shared",
    "ADOPTKIT_EXCHANGE_DIR": str(EXCHANGE),
    **({"ADOPTKIT_CONFIG": str(CONFIG)} if CONFIG.is_file() else {}),
    'ADOPTKIT_LLM_URL': 'http://127.0.0.1:8765/v1',
}


def per_role(spawner):
    """Instructors work in the course folder with nbgrader's instructor config; learners in their home."""
    role = "instructor" if any(g.name == "instructors" for g in spawner.user.groups) else "learner"
    env = {"ADOPTKIT_HUB_ROLE": role,
           "JUPYTER_CONFIG_PATH": os.pathsep.join([str(JUPYTER_CONFIG / "common"), str(JUPYTER_CONFIG / role)])}
    if role == "instructor":
        env.update(ADOPTKIT_COURSE_ROOT=str(COURSE), ADOPTKIT_COURSE_CONFIG=str(COURSE_CONFIG))
        spawner.notebook_dir = str(COURSE)  # nbgrader's formgrader needs the course inside the server's root
    spawner.environment = {**spawner.environment, **env}


c.Spawner.pre_spawn_hook = per_role

# The sandbox gateway: started and stopped by the hub. A learner's server token may be shown to it
# (and only to it), which is how the learner trades it for their own gateway key; the gateway asks the
# hub whose token it is and in which groups they are (cohort-<name> groups set their cohort).
c.JupyterHub.services = [{
    "name": 'sandbox',
    "url": 'http://127.0.0.1:8765',
    "command": [sys.executable, *['-m', 'adoptkit.cli', 'sandbox', 'serve', '--host', '127.0.0.1', '--port', '8765']],
    "cwd": str(ROOT),
    "environment": {**{k: os.environ[k] for k in ('ADOPTKIT_DATA_MIRROR', 'ADOPTKIT_DATA_CACHE') if k in os.environ},
                    **({"ADOPTKIT_CONFIG": str(CONFIG)} if CONFIG.is_file() else {})},
    "display": False,
    "oauth_no_confirm": True,
}]
c.Spawner.server_token_scopes = ['users:activity!user', 'access:servers!server', 'read:users:groups!user', 'access:services!service=sandbox']
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", "access:services!service=sandbox"]},
    {"name": "sandbox-service", "services": ['sandbox'], "scopes": ["read:users:name", "read:users:groups"]},
]

EXTRA = None
if EXTRA is not None:  # the site's own additions, with this same `c`
    exec(compile(EXTRA.read_text(encoding="utf-8"), str(EXTRA), "exec"), {"c": c, "__file__": str(EXTRA)})
