"""The deployment files, checked as data: docker-compose.yml, Dockerfile,
.env.example, the Prometheus scrape config and the Grafana provisioning and
dashboard. No Docker daemon, promtool or Grafana is needed.

Compose variable interpolation (``${VAR}``, ``${VAR:-default}``,
``${VAR:?message}``, ``$$``) is re-implemented here in a few lines so the tests
can render the file the way ``docker compose`` would and check the result.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
REQUIREMENTS = ROOT / "requirements.txt"
PROMETHEUS_CONFIG = ROOT / "deploy/prometheus/prometheus.yml"
GRAFANA_PROVISIONING = ROOT / "deploy/grafana/provisioning"
GRAFANA_DATASOURCE = GRAFANA_PROVISIONING / "datasources/prometheus.yml"
GRAFANA_DASHBOARDS = ROOT / "deploy/grafana/dashboards"
DASHBOARD = GRAFANA_DASHBOARDS / "tensorfleet.json"

# The single source of truth for metric names the dashboard may query: the
# series the API and workers expose (name -> type). Histograms expose
# _bucket/_sum/_count series; counters are listed with their _total suffix.
APP_METRICS: dict[str, str] = {
    # API process
    "tensorfleet_api_requests_total": "counter",  # {method,endpoint,status}
    "tensorfleet_api_request_duration_seconds": "histogram",  # {method,endpoint}
    "tensorfleet_model_downloads_total": "counter",
    "tensorfleet_model_listings_total": "counter",
    "tensorfleet_jobs_submitted_total": "counter",  # {algorithm}
    # Gauges the API computes at scrape time
    "tensorfleet_queue_depth": "gauge",  # {queue}
    "tensorfleet_queue_oldest_job_age_seconds": "gauge",  # {queue}
    "tensorfleet_jobs": "gauge",  # {status}
    # Workers
    "tensorfleet_worker_task_duration_seconds": "histogram",  # {algorithm,outcome}
    "tensorfleet_worker_models_trained_total": "counter",  # {algorithm}
    "tensorfleet_worker_model_accuracy": "gauge",  # {model_name}
    "tensorfleet_worker_jobs_failed_total": "counter",  # {error_type}
}
# Series Prometheus itself produces for every target.
PROMETHEUS_BUILTIN_SERIES = {"up"}

REQUIRED_SERVICES = {"api", "worker", "redis", "mongodb", "flower", "prometheus", "grafana"}
APP_SERVICES = ("api", "worker", "flower")  # built from the one Dockerfile
PUBLISHED = {"api": 8000, "flower": 5555, "prometheus": 9090, "grafana": 3000}
SECRET_VARS = {
    "REDIS_PASSWORD",
    "MONGO_USER",
    "MONGO_PASSWORD",
    "FLOWER_BASIC_AUTH",
    "GRAFANA_ADMIN_PASSWORD",
}
WORKER_METRICS_PORT = 9100


# --------------------------------------------------------------------------
# Helpers: compose interpolation, secret scanning, PromQL metric extraction
# --------------------------------------------------------------------------

_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>.*))?", re.S)
_REQUIRED_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):\?(?P<msg>[^}]+)\}")
# A value the *container's* shell expands, written `$$VAR` / `$${VAR}` in compose.
_CONTAINER_REF = re.compile(r"\$\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")


class MissingVariable(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def interpolate(value: str, env: dict[str, str]) -> str:
    """Expand ``value`` the way docker compose interpolates the file."""

    def expand(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("named"):
            return env.get(match.group("named"), "")
        parts = _BRACED.fullmatch(match.group("braced"))
        assert parts, f"unsupported interpolation {match.group(0)!r}"
        name, op, arg = parts.group("name"), parts.group("op"), parts.group("arg")
        current = env.get(name)
        if op is None:
            return current or ""
        if op == ":-":
            return current if current else arg
        if op == "-":
            return arg if current is None else current
        if (op == ":?" and not current) or (op == "?" and current is None):
            raise MissingVariable(name, arg)
        return current or ""

    return _INTERPOLATION.sub(expand, value)


def references(value: str) -> list[tuple[str, str | None]]:
    """The compose variables ``value`` interpolates, as (name, operator)."""
    found = []
    for match in _INTERPOLATION.finditer(value):
        if match.group("named"):
            found.append((match.group("named"), None))
        elif match.group("braced") is not None:
            parts = _BRACED.fullmatch(match.group("braced"))
            assert parts, f"unsupported interpolation {match.group(0)!r}"
            found.append((parts.group("name"), parts.group("op")))
    return found


def render(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: render(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [render(value, env) for value in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def walk_strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string value in ``node`` with a dotted path (mapping keys included)."""
    out: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.extend(walk_strings(value, f"{path}.{key}" if path else str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.extend(walk_strings(value, f"{path}[{index}]"))
    elif isinstance(node, str):
        out.append((path, node))
    return out


def env_mapping(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def hide_references(text: str) -> tuple[str, list[str]]:
    """``text`` with every ``${...}`` replaced by a NUL-delimited index."""
    hidden: list[str] = []

    def hide(match: re.Match[str]) -> str:
        hidden.append(match.group(0))
        return f"\x00{len(hidden) - 1}\x00"

    return re.sub(r"\$\{[^}]*\}", hide, text), hidden


def restore_references(text: str, hidden: list[str]) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda m: hidden[int(m.group(1))], text)


def shell_words(script: str) -> list[str]:
    """Split a shell command line; compose ``${...}`` expressions stay whole."""
    text, hidden = hide_references(script)
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    return [restore_references(word, hidden) for word in words]


def command_tokens(value: Any) -> list[str]:
    """A command as argv words. A string is split like a shell would; in a list
    (exec form) only the script after ``sh -c`` / ``CMD-SHELL`` is split."""
    if value is None:
        return []
    if not isinstance(value, list):
        return shell_words(str(value))
    tokens: list[str] = []
    for index, item in enumerate(map(str, value)):
        previous = str(value[index - 1]) if index else ""
        if previous in ("-c", "CMD-SHELL"):
            tokens.extend(shell_words(item))
        else:
            tokens.append(item)
    return tokens


_SECRET_KEY = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|(^|_)AUTH$", re.I)
_SECRET_FLAG = re.compile(
    r"^--?(requirepass|masterauth|password|pass|basic[-_]auth|a)(=(?P<value>.*))?$"
)
_URL_USERINFO = re.compile(r"[a-z][a-z0-9+.-]*://(?P<userinfo>[^/@\s]*)@", re.I)


def is_required_ref(value: str) -> bool:
    return _REQUIRED_REF.fullmatch(value) is not None


def hardcoded_secrets(compose: dict) -> list[str]:
    """Places where a credential is anything but a required variable."""
    problems = []
    for path, value in walk_strings(compose):
        # 1. A variable that holds a secret is never given a default.
        for name, op in references(value):
            if (name in SECRET_VARS or _SECRET_KEY.search(name)) and op != ":?":
                problems.append(f"{path}: ${{{name}}} must use ${{{name}:?message}}")
        # 2. Keys naming a credential (environment entries) hold only a reference.
        key = path.rsplit(".", 1)[-1]
        if _SECRET_KEY.search(key) and not is_required_ref(value):
            problems.append(f"{path}: credential {value!r} is not a ${{VAR:?message}} reference")
        # 3. Credentials embedded in URLs are references.
        text, hidden = hide_references(value)
        for match in _URL_USERINFO.finditer(text):
            for part in match.group("userinfo").split(":"):
                part = restore_references(part, hidden)
                if part and not is_required_ref(part):
                    problems.append(f"{path}: URL credential {part!r} is hard-coded")
    # 4. Password-taking command-line flags get a reference.
    for path, command in walk_commands(compose):
        tokens = command_tokens(command)
        for index, token in enumerate(tokens):
            flag = _SECRET_FLAG.match(token)
            if not flag:
                continue
            arg = flag.group("value")
            if arg is None:
                arg = tokens[index + 1] if index + 1 < len(tokens) else ""
            if not (is_required_ref(arg) or _CONTAINER_REF.fullmatch(arg)):
                problems.append(f"{path}: {token} is given a literal {arg!r}")
    return problems


def walk_commands(node: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every string, and every list of strings taken whole as one command."""
    if isinstance(node, dict):
        return [
            found
            for key, value in node.items()
            for found in walk_commands(value, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(node, list):
        if node and all(isinstance(item, str) for item in node):
            return [(path, node)]
        return [
            found
            for index, item in enumerate(node)
            for found in walk_commands(item, f"{path}[{index}]")
        ]
    return [(path, node)] if isinstance(node, str) else []


# fmt: off
_PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "atan2", "inf", "nan", "Inf", "NaN",
}
# fmt: on


def promql_metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (functions, labels, keywords removed)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range / subquery selectors
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"(?<![\w:])(\d+(ms|[smhdwy]))+\b", " ", text)  # durations
    text = re.sub(r"(?<![\w:])\d+(\.\d+)?([eE][+-]?\d+)?", " ", text)  # numbers
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        if text[match.end() :].lstrip().startswith("("):
            continue  # function or aggregation operator
        if match.group() not in _PROMQL_KEYWORDS:
            names.add(match.group())
    return names


def allowed_series() -> set[str]:
    series = set(PROMETHEUS_BUILTIN_SERIES)
    for name, kind in APP_METRICS.items():
        if kind == "histogram":
            series.update(f"{name}_{suffix}" for suffix in ("bucket", "sum", "count"))
        else:
            series.add(name)
    return series


def parse_duration(text: str) -> float:
    """Seconds in a compose duration such as ``32m``, ``1h30m`` or ``90s``."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"bad duration {text!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


def split_port(spec: str) -> tuple[str, str, str]:
    """(host_ip, host_port, container_port) of a short-syntax port mapping."""
    pieces = spec.rsplit(":", 2) if spec.count(":") >= 2 else ["", *spec.split(":")]
    assert len(pieces) == 3, f"port {spec!r} publishes no fixed host port"
    return pieces[0], pieces[1], pieces[2].split("/")[0]


def volume_parts(spec: Any) -> tuple[str, str]:
    if isinstance(spec, dict):
        return str(spec.get("source", "")), str(spec["target"])
    source, target, *_ = str(spec).split(":")
    return source, target


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------

SAMPLE_ENV = {
    "REDIS_PASSWORD": "redis-secret",
    "MONGO_USER": "tensorfleet",
    "MONGO_PASSWORD": "mongo-secret",
    "FLOWER_BASIC_AUTH": "admin:flower-secret",
    "GRAFANA_ADMIN_PASSWORD": "grafana-secret",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def rendered(compose: dict) -> dict:
    """The compose file as docker compose sees it with only the secrets set."""
    return render(compose, SAMPLE_ENV)


@pytest.fixture(scope="module")
def prometheus_config() -> dict:
    return yaml.safe_load(PROMETHEUS_CONFIG.read_text())


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="module")
def datasource_uid() -> str:
    provisioned = yaml.safe_load(GRAFANA_DATASOURCE.read_text())["datasources"]
    prometheus = [ds for ds in provisioned if ds["type"] == "prometheus"]
    assert len(prometheus) == 1
    assert prometheus[0].get("uid"), "the data source needs a fixed uid the dashboard can name"
    return prometheus[0]["uid"]


def dashboard_panels(dashboard: dict) -> list[dict]:
    panels = []
    stack = list(dashboard["panels"])
    while stack:
        panel = stack.pop(0)
        panels.append(panel)
        stack.extend(panel.get("panels", []))  # collapsed rows
    return panels


def dashboard_exprs(dashboard: dict) -> list[tuple[str, str]]:
    return [
        (panel.get("title", ""), target["expr"])
        for panel in dashboard_panels(dashboard)
        for target in panel.get("targets", [])
        if "expr" in target
    ]


# --------------------------------------------------------------------------
# Helper self-tests: the checkers below must be able to fail
# --------------------------------------------------------------------------


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d}/${EMPTY:-d}/${UNSET:-d}/${EMPTY-d}", env) == "x/d/d/"
    assert interpolate("$$HOME $${HOME} ${SET}", env) == "$HOME ${HOME} x"
    for value in ("${EMPTY:?need it}", "${UNSET:?need it}", "${UNSET?need it}"):
        with pytest.raises(MissingVariable):
            interpolate(value, env)
    assert references("a $$ESCAPED ${A:?m} ${B:-1} $C") == [("A", ":?"), ("B", ":-"), ("C", None)]


@pytest.mark.parametrize(
    "bad",
    [
        {"environment": {"MONGO_INITDB_ROOT_PASSWORD": "hunter2"}},
        {"environment": {"GF_SECURITY_ADMIN_PASSWORD": "${GRAFANA_ADMIN_PASSWORD:-admin}"}},
        {"environment": {"REDIS_URL": "redis://:hunter2@redis:6379/0"}},
        {"environment": {"MONGODB_URL": "mongodb://root:${MONGO_PASSWORD:?m}@mongodb:27017"}},
        {"environment": {"MONGODB_URL": "mongodb://${MONGO_USER:?set it}:pw@mongodb:27017"}},
        {"command": ["redis-server", "--requirepass", "hunter2"]},
        {"command": "redis-server --requirepass ${REDIS_PASSWORD}"},
        {"command": "celery flower --basic-auth=admin:admin"},
        {"healthcheck": {"test": ["CMD-SHELL", "redis-cli -a hunter2 ping"]}},
    ],
)
def test_secret_scanner_catches_hardcoded_values(bad: dict) -> None:
    assert hardcoded_secrets({"services": {"svc": bad}})


def test_secret_scanner_accepts_references() -> None:
    good = {
        "environment": {
            "REDIS_URL": "redis://:${REDIS_PASSWORD:?m}@redis:6379/0",
            "PASSWORD": "${MONGO_PASSWORD:?m}",
        },
        "command": ["redis-server", "--requirepass", "${REDIS_PASSWORD:?m}"],
        "healthcheck": {"test": ["CMD-SHELL", 'mongosh --password "$$MONGO_INITDB_ROOT_PASSWORD"']},
    }
    assert hardcoded_secrets({"services": {"svc": good}}) == []


def test_promql_metric_extraction() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, algorithm) (rate(a_bucket{job="x", le!="+Inf"}'
        "[$__rate_interval]))) / on (job) group_left sum(b_total offset 5m) > bool 1e3 and up"
    )
    assert promql_metric_names(expr) == {"a_bucket", "b_total", "up"}


# --------------------------------------------------------------------------
# docker-compose.yml
# --------------------------------------------------------------------------


def test_required_services_exist(services: dict) -> None:
    assert set(services) >= REQUIRED_SERVICES


def test_worker_scales_freely(services: dict) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert not worker.get("ports"), "workers must not publish host ports"
    assert "deploy" not in worker or "replicas" not in worker["deploy"]


def test_only_front_services_publish_ports(services: dict, rendered: dict) -> None:
    publishing = {name for name, service in services.items() if service.get("ports")}
    assert publishing == set(PUBLISHED)
    for name, container_port in PUBLISHED.items():
        (spec,) = rendered["services"][name]["ports"]
        host_ip, host_port, target = split_port(spec)
        assert int(target) == container_port
        assert host_ip == "127.0.0.1", f"{name} must bind to loopback unless configured otherwise"
        assert host_port.isdigit()


def test_published_ports_are_configurable(services: dict) -> None:
    for name in PUBLISHED:
        (spec,) = services[name]["ports"]
        names = [ref for ref, _ in references(spec)]
        assert len(names) == 1 and names[0].endswith("_PORT"), spec
        opened = render(services[name], {**SAMPLE_ENV, names[0]: "0.0.0.0:18000"})
        assert split_port(opened["ports"][0])[:2] == ("0.0.0.0", "18000")


def test_app_services_share_one_image(services: dict) -> None:
    builds = {name: services[name].get("build") for name in APP_SERVICES}
    images = {name: services[name].get("image") for name in APP_SERVICES}
    assert len({json.dumps(b, sort_keys=True) for b in builds.values()}) == 1, builds
    assert len(set(images.values())) == 1, images
    build = builds["api"]
    context = build if isinstance(build, str) else build.get("context")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (ROOT / context / dockerfile).resolve() == DOCKERFILE


def test_api_command(services: dict, rendered: dict) -> None:
    api = services["api"]
    script = (
        " ".join(map(str, api["command"])) if isinstance(api["command"], list) else api["command"]
    )
    assert "${API_WORKERS:-2}" in script
    tokens = command_tokens(rendered["services"]["api"]["command"])
    start = tokens.index("gunicorn")
    assert tokens[tokens.index("--bind", start) + 1] == "0.0.0.0:8000"
    assert tokens[tokens.index("--workers", start) + 1] == "2"
    assert tokens[-1] == "app:create_app()"
    assert tokens[start - 1] == "exec", "gunicorn must replace the shell to receive SIGTERM"


def test_api_prometheus_multiproc_dir_is_fresh(rendered: dict) -> None:
    api = rendered["services"]["api"]
    directory = env_mapping(api)["PROMETHEUS_MULTIPROC_DIR"]
    assert directory in api.get("tmpfs", []), "multiprocess dir must be a per-start tmpfs"
    script = " ".join(command_tokens(api["command"]))
    cleared = script.find("rm -rf ${PROMETHEUS_MULTIPROC_DIR:?}/*")
    assert 0 <= cleared < script.index("gunicorn"), "clear the metrics dir before gunicorn starts"


def test_bootstrap_runs_once_before_api(services: dict) -> None:
    init = services["init"]
    assert command_tokens(init["command"]) == ["python", "-m", "app.bootstrap"]
    assert init.get("restart") == "no"
    assert init["depends_on"]["mongodb"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert init["image"] == services["api"]["image"] and init["build"] == services["api"]["build"]


def test_worker_command_and_metrics_port(
    services: dict, rendered: dict, prometheus_config: dict
) -> None:
    worker = rendered["services"]["worker"]
    tokens = command_tokens(worker["command"])
    start = tokens.index("celery")
    assert tokens[start - 1] == "exec", "celery must replace the shell to receive SIGTERM"
    assert tokens[start : start + 4] == ["celery", "-A", "worker:celery_app", "worker"]
    assert tokens[tokens.index("-Q") + 1] == "training"
    assert tokens[tokens.index("--prefetch-multiplier") + 1] == "1"
    assert tokens[tokens.index("--concurrency") + 1] == "1"
    assert "${WORKER_CONCURRENCY:-1}" in " ".join(command_tokens(services["worker"]["command"]))
    env = env_mapping(worker)
    assert env["METRICS_PORT"] == str(WORKER_METRICS_PORT)
    scraped = [
        sd["port"]
        for job in prometheus_config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        if "worker" in sd.get("names", [])
    ]
    assert scraped == [int(env["METRICS_PORT"])], "Prometheus must scrape the port workers serve"
    assert env["PROMETHEUS_MULTIPROC_DIR"] in worker.get("tmpfs", [])


def test_healthchecks(services: dict) -> None:
    for name in ("redis", "mongodb", "api"):
        check = services[name].get("healthcheck")
        assert check and not check.get("disable"), f"{name} needs a healthcheck"
        assert check["test"] and check["test"][0] in ("CMD", "CMD-SHELL"), name
    redis_env = env_mapping(services["redis"])
    redis_test = " ".join(services["redis"]["healthcheck"]["test"][1:])
    assert "redis-cli" in redis_test and "ping" in redis_test
    authenticated = redis_env.get("REDISCLI_AUTH", "").startswith(
        "${REDIS_PASSWORD:?"
    ) or "-a" in command_tokens(redis_test)
    assert authenticated, "the redis healthcheck must authenticate"
    assert "http://127.0.0.1:8000/health" in " ".join(services["api"]["healthcheck"]["test"])
    assert "ping" in " ".join(services["mongodb"]["healthcheck"]["test"])


@pytest.mark.parametrize(
    ("service", "needs"),
    [
        ("api", {"redis": "service_healthy", "mongodb": "service_healthy"}),
        ("worker", {"redis": "service_healthy", "mongodb": "service_healthy"}),
        ("flower", {"redis": "service_healthy"}),
    ],
)
def test_depends_on_conditions(services: dict, service: str, needs: dict) -> None:
    depends = services[service]["depends_on"]
    assert isinstance(depends, dict), "use the long depends_on syntax with conditions"
    for dependency, condition in needs.items():
        assert depends[dependency]["condition"] == condition


def test_redis_persistence_auth_and_policy(services: dict) -> None:
    redis = services["redis"]
    tokens = command_tokens(redis["command"])
    assert tokens[0] == "redis-server"
    options = dict(zip(tokens[1::2], tokens[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    assert options["--maxmemory-policy"] == "noeviction"
    assert _REQUIRED_REF.fullmatch(options["--requirepass"]).group("name") == "REDIS_PASSWORD"
    assert volume_parts(redis["volumes"][0]) == ("redis-data", "/data")


def test_mongodb_is_v7_with_auth(services: dict) -> None:
    mongo = services["mongodb"]
    image, _, tag = mongo["image"].partition(":")
    assert image == "mongo" and tag.split(".")[0] == "7"
    env = env_mapping(mongo)
    assert _REQUIRED_REF.fullmatch(env["MONGO_INITDB_ROOT_USERNAME"]).group("name") == "MONGO_USER"
    assert (
        _REQUIRED_REF.fullmatch(env["MONGO_INITDB_ROOT_PASSWORD"]).group("name") == "MONGO_PASSWORD"
    )


def test_app_connection_urls(rendered: dict) -> None:
    for name in (*APP_SERVICES, "init"):
        env = env_mapping(rendered["services"][name])
        assert env["REDIS_URL"] == "redis://:redis-secret@redis:6379/0", name
        assert (
            env["MONGODB_URL"]
            == "mongodb://tensorfleet:mongo-secret@mongodb:27017/?authSource=admin"
        ), name
        assert env["MONGODB_DB"] == "tensorfleet"
        for setting in (
            "MAX_UPLOAD_MB",
            "JOB_SOFT_TIME_LIMIT",
            "JOB_HARD_TIME_LIMIT",
            "MAX_JOB_ATTEMPTS",
        ):
            assert env[setting].isdigit(), (name, setting)


def test_no_hardcoded_secret(compose: dict) -> None:
    assert hardcoded_secrets(compose) == []


def test_every_secret_is_required(compose: dict) -> None:
    used = {name for _, value in walk_strings(compose) for name, _ in references(value)}
    assert used >= SECRET_VARS
    for secret in SECRET_VARS:
        env = {key: value for key, value in SAMPLE_ENV.items() if key != secret}
        with pytest.raises(MissingVariable) as missing:
            render(compose, env)
        assert missing.value.name == secret
        with pytest.raises(MissingVariable):
            render(compose, {**env, secret: ""})


def test_restart_policies(services: dict) -> None:
    for name, service in services.items():
        if name == "init":
            continue
        assert service.get("restart") == "unless-stopped", name


def test_worker_graceful_stop(rendered: dict) -> None:
    worker = rendered["services"]["worker"]
    assert worker["stop_signal"] == "SIGTERM"  # Celery warm shutdown
    grace = parse_duration(str(worker["stop_grace_period"]))
    hard_limit = int(env_mapping(worker)["JOB_HARD_TIME_LIMIT"])
    assert grace >= 600
    assert grace > hard_limit, "a running job must be able to finish before SIGKILL"


def test_named_volumes(compose: dict, services: dict) -> None:
    expected = {
        "redis": ("redis-data", "/data"),
        "mongodb": ("mongo-data", "/data/db"),
        "prometheus": ("prometheus-data", "/prometheus"),
        "grafana": ("grafana-data", "/var/lib/grafana"),
    }
    for name, (volume, target) in expected.items():
        assert (volume, target) in [volume_parts(v) for v in services[name]["volumes"]], name
        assert volume in compose["volumes"], volume


def test_flower_version_and_basic_auth(services: dict) -> None:
    pin = re.search(r"^flower\s*(==|>=|~=)\s*([\d.]+)", REQUIREMENTS.read_text(), re.M | re.I)
    assert pin, "flower must be pinned in requirements.txt"
    assert tuple(int(p) for p in pin.group(2).split(".")[:2]) >= (2, 2)
    flower = services["flower"]
    tokens = command_tokens(flower["command"])
    assert tokens[:4] == ["celery", "-A", "worker:celery_app", "flower"]
    assert "--port=5555" in tokens or tokens[tokens.index("--port") + 1] == "5555"
    env = env_mapping(flower)
    flag = [t for t in tokens if t.startswith(("--basic-auth", "--basic_auth"))]
    auth = env.get("FLOWER_BASIC_AUTH") or (flag[0].split("=", 1)[1] if flag else "")
    assert _REQUIRED_REF.fullmatch(auth).group("name") == "FLOWER_BASIC_AUTH"
    assert "REDIS_URL" in env, "flower needs the broker"


def test_installed_flower_reads_basic_auth_from_env() -> None:
    command = pytest.importorskip("flower.command")
    assert command.is_flower_envvar("FLOWER_BASIC_AUTH")
    assert command.is_flower_envvar("FLOWER_PURGE_OFFLINE_WORKERS")


def test_prometheus_mounts_repo_config(services: dict) -> None:
    prometheus = services["prometheus"]
    mounts = dict(volume_parts(v) for v in prometheus["volumes"])
    target = mounts["./deploy/prometheus/prometheus.yml"]
    assert (ROOT / "deploy/prometheus/prometheus.yml").is_file()
    config_flag = [
        t for t in command_tokens(prometheus.get("command")) if t.startswith("--config.file=")
    ]
    assert target == (
        config_flag[0].split("=", 1)[1] if config_flag else "/etc/prometheus/prometheus.yml"
    )


def _dns_sd_job(config: dict, name: str) -> dict:
    jobs = [
        job
        for job in config["scrape_configs"]
        if any(name in sd.get("names", []) for sd in job.get("dns_sd_configs", []))
    ]
    assert len(jobs) == 1, f"exactly one scrape job must discover {name!r} through DNS"
    return jobs[0]


@pytest.mark.parametrize(("service", "port"), [("worker", WORKER_METRICS_PORT), ("api", 8000)])
def test_prometheus_discovers_replicas_by_dns(
    prometheus_config: dict, services: dict, service: str, port: int
) -> None:
    job = _dns_sd_job(prometheus_config, service)
    (sd,) = [sd for sd in job["dns_sd_configs"] if service in sd["names"]]
    assert sd["names"] == [service] and service in services
    assert sd.get("type", "SRV") == "A" and sd["port"] == port
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert "static_configs" not in job


def test_grafana_provisioning_is_mounted(services: dict, rendered: dict) -> None:
    grafana = services["grafana"]
    mounts = dict(volume_parts(v) for v in grafana["volumes"])
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboards_target = mounts["./deploy/grafana/dashboards"]
    providers = [
        yaml.safe_load(path.read_text())
        for path in (GRAFANA_PROVISIONING / "dashboards").glob("*.y*ml")
    ]
    paths = [p["options"]["path"] for doc in providers for p in doc["providers"]]
    assert dashboards_target in paths, "a dashboard provider must load the mounted dashboards"
    env = env_mapping(grafana)
    assert (
        _REQUIRED_REF.fullmatch(env["GF_SECURITY_ADMIN_PASSWORD"]).group("name")
        == "GRAFANA_ADMIN_PASSWORD"
    )
    home = env_mapping(rendered["services"]["grafana"]).get(
        "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"
    )
    if home:
        assert home == f"{dashboards_target}/{DASHBOARD.name}"


def test_grafana_datasource_points_at_prometheus_service(services: dict) -> None:
    (ds,) = yaml.safe_load(GRAFANA_DATASOURCE.read_text())["datasources"]
    assert ds["url"] == f"http://prometheus:{PUBLISHED['prometheus']}"
    assert "prometheus" in services


# --------------------------------------------------------------------------
# Grafana dashboard
# --------------------------------------------------------------------------


def test_dashboard_uses_the_provisioned_datasource(dashboard: dict, datasource_uid: str) -> None:
    assert "${DS_" not in DASHBOARD.read_text(), "provisioned dashboards cannot resolve __inputs"
    for panel in dashboard_panels(dashboard):
        if panel.get("type") == "row":
            continue
        refs = [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]
        for ref in refs:
            assert isinstance(ref, dict) and ref.get("uid") == datasource_uid, (panel["title"], ref)


def test_dashboard_queries_only_known_metrics(dashboard: dict) -> None:
    known = allowed_series()
    exprs = dashboard_exprs(dashboard)
    assert exprs
    for title, expr in exprs:
        names = promql_metric_names(expr)
        assert names, f"{title}: {expr!r} selects no metric"
        assert names <= known, f"{title}: unknown metrics {sorted(names - known)}"


@pytest.mark.parametrize(
    ("topic", "pattern"),
    [
        ("jobs by status", r"by \(status\) \(tensorfleet_jobs\)"),
        ("queue depth", r"tensorfleet_queue_depth\b"),
        ("oldest queued job age", r"tensorfleet_queue_oldest_job_age_seconds\b"),
        (
            "training duration",
            r"histogram_quantile\(0\.\d+,.*tensorfleet_worker_task_duration_seconds_bucket",
        ),
        ("model accuracy", r"tensorfleet_worker_model_accuracy\b"),
        ("api request rate", r"rate\(tensorfleet_api_requests_total\["),
        (
            "api latency p50",
            r"histogram_quantile\(0\.5,.*tensorfleet_api_request_duration_seconds_bucket",
        ),
        (
            "api latency p95",
            r"histogram_quantile\(0\.95,.*tensorfleet_api_request_duration_seconds_bucket",
        ),
        (
            "jobs failed by error type",
            r"by \(error_type\) \(\w+\(tensorfleet_worker_jobs_failed_total\[",
        ),
    ],
)
def test_dashboard_has_required_panel(dashboard: dict, topic: str, pattern: str) -> None:
    assert any(re.search(pattern, expr) for _, expr in dashboard_exprs(dashboard)), topic


def test_dashboard_is_well_formed(dashboard: dict) -> None:
    assert dashboard.get("uid") and dashboard.get("title")
    ids = [panel["id"] for panel in dashboard_panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard_panels(dashboard):
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["title"]


# --------------------------------------------------------------------------
# Dockerfile, .dockerignore, .env.example
# --------------------------------------------------------------------------


def test_dockerfile() -> None:
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    froms = [arg for keyword, arg in instructions if keyword == "FROM"]
    assert froms == ["python:3.11-slim"]
    users = [arg for keyword, arg in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    index_user = max(i for i, (k, _) in enumerate(instructions) if k == "USER")
    assert not any(k == "RUN" for k, _ in instructions[index_user:]), (
        "nothing may run as root after USER"
    )

    def position(keyword: str, pattern: str) -> int:
        hits = [
            i for i, (k, arg) in enumerate(instructions) if k == keyword and re.search(pattern, arg)
        ]
        assert hits, f"{keyword} {pattern}"
        return hits[0]

    copy_requirements = position("COPY", r"^requirements\.txt\s")
    pip_install = position("RUN", r"pip install .*-r requirements\.txt")
    copy_code = position("COPY", r"^(--\S+\s+)*\.\s")
    assert copy_requirements < pip_install < copy_code, (
        "install dependencies before copying the code"
    )


def test_dockerignore_keeps_secrets_and_junk_out() -> None:
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".env", ".git", ".venv"} <= patterns
    assert not {"app", "datasets", "worker.py", "requirements.txt"} & patterns


def test_env_example_documents_every_variable(compose: dict) -> None:
    defined = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            defined[key.strip()] = value.strip()
    used = {name for _, value in walk_strings(compose) for name, _ in references(value)}
    assert used <= set(defined), f"undocumented: {sorted(used - set(defined))}"
    for secret in SECRET_VARS - {"MONGO_USER"}:
        assert defined[secret] == "", f"{secret} must be left empty in .env.example"
    rendered = render(compose, {**defined, **SAMPLE_ENV})
    for name in PUBLISHED:
        assert split_port(rendered["services"][name]["ports"][0])[0] == "127.0.0.1"
