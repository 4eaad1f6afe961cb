"""The deployment files as data: docker-compose.yml (rendered with compose's interpolation
rules, re-implemented below), Dockerfile, .dockerignore, .env.example, the Prometheus
config and the Grafana provisioning and dashboard. Metric names come from
:func:`app.metrics.catalog`. No Docker daemon, promtool or Grafana is needed.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config import Settings
from app.metrics import catalog
from app.tasks.celery_app import FleetQueues, worker_queues
from localstack.credentials import REDIS_ACL_RULES, REDIS_REFUSED_COMMANDS

FLEET_QUEUES = FleetQueues.of(Settings.model_construct()).all  # the default names

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DASHBOARD = ROOT / "deploy/grafana/dashboards/tensorfleet.json"
DATASOURCE = "deploy/grafana/provisioning/datasources/prometheus.yml"

REQUIRED_SERVICES = {"api", "worker", "beat", "redis", "mongodb", "flower", "prometheus", "grafana"}
APP_SERVICES = ("init", "api", "worker", "beat", "flower")  # one image, built from ./Dockerfile
PUBLISHED = {"api": 8000, "flower": 5555, "prometheus": 9090, "grafana": 3000}
SAMPLE_ENV = {
    "REDIS_PASSWORD": "redis-secret",
    "MONGO_USER": "tensorfleet",
    "MONGO_PASSWORD": "mongo-secret",
    "FLOWER_BASIC_AUTH": "admin:flower-secret",
    "GRAFANA_ADMIN_PASSWORD": "grafana-secret",
    "TENSORFLEET_ADMIN_KEY": "admin-key-secret-0123456789abcdef",
    "ARTIFACT_SIGNING_KEY": "signing-key-secret-0123456789abcdef",
}
SECRET_VARS = set(SAMPLE_ENV)
APP_KEYS = ("TENSORFLEET_ADMIN_KEY", "ARTIFACT_SIGNING_KEY")  # the app checks: 32+ characters

# -- compose interpolation ---------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_]\w*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>.*))?", re.S)
_REQUIRED_REF = re.compile(r"\$\{(?P<name>[A-Za-z_]\w*):\?[^}]+\}")
_CREDENTIAL = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)AUTH$|(^|_)KEY$", re.I)


class MissingVariable(LookupError):
    """A required variable (``${VAR:?message}``) is unset or empty; ``args[0]`` names it."""


def _parse(match: re.Match[str]) -> tuple[str, str | None, str]:
    if match["named"]:
        return match["named"], None, ""
    parts = _BRACED.fullmatch(match["braced"])
    assert parts, f"unsupported interpolation {match[0]!r}"
    return parts["name"], parts["op"], parts["arg"]


def references(value: str) -> list[tuple[str, str | None]]:
    """The variables ``value`` interpolates, as (name, operator)."""
    return [_parse(m)[:2] for m in _INTERPOLATION.finditer(value) if not m["escaped"]]


def interpolate(value: str, env: dict[str, str]) -> str:
    def expand(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name, op, arg = _parse(match)
        current = env.get(name)
        if op == ":-":
            return current or arg
        if op == "-":
            return arg if current is None else current
        if (op == ":?" and not current) or (op == "?" and current is None):
            raise MissingVariable(name, arg)
        return current or ""

    return _INTERPOLATION.sub(expand, value)


def render(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: render(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [render(value, env) for value in node]
    return interpolate(node, env) if isinstance(node, str) else node


def walk_strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string in ``node`` with its dotted path."""
    if isinstance(node, dict):
        items = [(f"{path}.{key}" if path else str(key), value) for key, value in node.items()]
    elif isinstance(node, list):
        items = [(f"{path}[{index}]", value) for index, value in enumerate(node)]
    else:
        return [(path, node)] if isinstance(node, str) else []
    return [found for sub_path, value in items for found in walk_strings(value, sub_path)]


def credential_problems(compose: dict) -> list[str]:
    """Credentials that are anything but a required ``${VAR:?message}`` reference."""
    problems = []
    for path, value in walk_strings(compose):
        for name, op in references(value):
            if (name in SECRET_VARS or _CREDENTIAL.search(name)) and op != ":?":
                problems.append(f"{path}: ${{{name}}} must be ${{{name}:?message}}")
        if _CREDENTIAL.search(path.rsplit(".", 1)[-1]) and not _REQUIRED_REF.fullmatch(value):
            problems.append(f"{path}: credential {value!r} is not a required variable")
    return problems


# -- small parsers -----------------------------------------------------------------------


def argv(command: Any) -> list[str]:
    """A rendered command as words; the script of ``sh -c`` is split like the shell would
    (its here-document, if any, left out: see :func:`heredoc`)."""
    if isinstance(command, str):
        return shlex.split(command)
    if command[:2] == ["sh", "-c"]:
        return shlex.split(command[2].partition("<<")[0].replace("\\\n", " "))
    return [str(word) for word in command]


def heredoc(command: list[str]) -> tuple[list[str], list[str]]:
    """(words, body lines) of a ``sh -c`` script ``<command> <<EOF``, body, ``EOF``."""
    assert command[:2] == ["sh", "-c"], command
    script = command[2]
    head, marker, rest = script.partition("<<EOF\n")
    body, end, after = rest.partition("\nEOF\n")
    assert marker and end and after.strip() == "", "one unquoted here-document, last"
    return shlex.split(head.replace("\\\n", " ")), body.splitlines()


def option(words: list[str], flag: str) -> str:
    return words[words.index(flag) + 1]


def split_port(spec: str) -> tuple[str, str, str]:
    """(host_ip, host_port, container_port) of a short-syntax port mapping."""
    host, _, container = spec.rpartition(":")
    host_ip, _, host_port = host.rpartition(":")
    return host_ip, host_port, container


def mounts(service: dict) -> dict[str, str]:
    return dict(str(volume).split(":")[:2] for volume in service.get("volumes", []))


_PROMQL_KEYWORDS = {"bool", "and", "or", "unless", "offset", "group_left", "group_right"}


def promql_metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: no functions, labels, numbers or keywords."""
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)  # label matchers, ranges
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", text)  # grouping labels
    text = re.sub(r"(?<![\w:])\d[\w.+-]*", " ", text)  # numbers and durations
    words = re.finditer(r"[A-Za-z_:][\w:]*+(?!\s*\()", text)  # not a function call
    return {word[0] for word in words} - _PROMQL_KEYWORDS


def load_yaml(path: str) -> Any:
    return yaml.safe_load((ROOT / path).read_text())


def all_panels(node: dict) -> list[dict]:
    """Every dashboard panel, those in collapsed rows included."""
    return [found for panel in node.get("panels", []) for found in (panel, *all_panels(panel))]


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml("docker-compose.yml")


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def rendered(compose: dict) -> dict:
    """The services as docker compose runs them with only the secrets set."""
    return render(compose, SAMPLE_ENV)["services"]


@pytest.fixture(scope="module")
def panels() -> list[dict]:
    return all_panels(json.loads(DASHBOARD.read_text()))


@pytest.fixture(scope="module")
def queries(panels: list[dict]) -> dict[str, set[str]]:
    """Each dashboard query → the metric names it selects."""
    exprs = [target["expr"] for panel in panels for target in panel.get("targets", [])]
    return {expr: promql_metric_names(expr) for expr in exprs}


# -- the checkers themselves -------------------------------------------------------------


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d}/${EMPTY:-d}/${UNSET:-d}/${EMPTY-d}", env) == "x/d/d/"
    assert interpolate("$$HOME $${HOME} ${SET}", env) == "$HOME ${HOME} x"
    for value in ("${EMPTY:?need it}", "${UNSET:?need it}", "${UNSET?need it}"):
        with pytest.raises(MissingVariable):
            interpolate(value, env)
    assert references("$$ESC ${A:?m} ${B:-1} $C") == [("A", ":?"), ("B", ":-"), ("C", None)]


@pytest.mark.parametrize(
    "service",
    [
        {"environment": {"MONGO_INITDB_ROOT_PASSWORD": "hunter2"}},
        {"environment": {"GF_SECURITY_ADMIN_PASSWORD": "${GRAFANA_ADMIN_PASSWORD:-admin}"}},
        {"environment": {"TENSORFLEET_ADMIN_KEY": "${TENSORFLEET_ADMIN_KEY-}"}},
        {"environment": {"ARTIFACT_SIGNING_KEY": "0123456789abcdef0123456789abcdef"}},
        {"command": "redis-server --requirepass ${REDIS_PASSWORD}"},
    ],
)
def test_credential_check_flags_literal_or_defaulted_secrets(service: dict) -> None:
    assert credential_problems({"services": {"svc": service}})


def test_promql_extraction_keeps_only_metric_names() -> None:
    expr = 'histogram_quantile(0.9, sum by (le) (rate(a_bucket{x="1"}[5m]))) / on (j) b offset 1h'
    assert promql_metric_names(expr + " > bool 1e3 and up") == {"a_bucket", "b", "up"}


# -- docker-compose.yml ------------------------------------------------------------------


def test_stack_has_every_required_service(services: dict) -> None:
    assert set(services) >= REQUIRED_SERVICES


def test_app_services_share_one_image_built_from_the_dockerfile(services: dict) -> None:
    builds = {json.dumps(services[name]["build"], sort_keys=True) for name in APP_SERVICES}
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(builds) == 1 and len(images) == 1
    build = services["api"]["build"]
    assert (ROOT / build["context"] / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE


@pytest.mark.parametrize("secret", sorted(SECRET_VARS))
def test_compose_refuses_to_start_without_a_secret(compose: dict, secret: str) -> None:
    for value in (None, ""):
        env = {k: v for k, v in SAMPLE_ENV.items() if k != secret}
        with pytest.raises(MissingVariable) as missing:
            render(compose, env if value is None else {**env, secret: value})
        assert missing.value.args[0] == secret


def test_no_credential_is_hardcoded_or_defaulted(compose: dict) -> None:
    assert credential_problems(compose) == []


def test_env_example_documents_every_variable_and_leaves_secrets_empty(compose: dict) -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    documented = dict(line.split("=", 1) for line in lines if re.match(r"\w+=", line))
    used = {name for _, value in walk_strings(compose) for name, _ in references(value)}
    assert used <= set(documented), "undocumented compose variables"
    assert all(documented[name] == "" for name in SECRET_VARS - {"MONGO_USER"})
    copied = render(compose, {**documented, **SAMPLE_ENV})["services"]  # cp .env.example .env
    assert all(split_port(copied[name]["ports"][0])[0] == "127.0.0.1" for name in PUBLISHED)


def test_only_front_services_publish_ports_so_workers_scale(services: dict) -> None:
    assert {name for name, service in services.items() if service.get("ports")} == set(PUBLISHED)
    worker = services["worker"]
    assert "container_name" not in worker and "replicas" not in worker.get("deploy", {})


@pytest.mark.parametrize(("name", "port"), PUBLISHED.items())
def test_published_port_binds_loopback_unless_configured(
    services: dict, rendered: dict, name: str, port: int
) -> None:
    assert split_port(rendered[name]["ports"][0]) == ("127.0.0.1", str(port), str(port))
    ((variable, _),) = references(services[name]["ports"][0])
    opened = render(services[name], {**SAMPLE_ENV, variable: "0.0.0.0:18000"})
    assert split_port(opened["ports"][0]) == ("0.0.0.0", "18000", str(port))


@pytest.mark.parametrize(
    ("name", "probe"),
    [("redis", "redis-cli ping"), ("mongodb", "--password"), ("api", "127.0.0.1:8000/health")],
)
def test_service_has_a_healthcheck(services: dict, name: str, probe: str) -> None:
    check = services[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL") and not check.get("disable")
    assert probe in " ".join(check["test"][1:])


HEALTHY = {"redis": "service_healthy", "mongodb": "service_healthy"}


@pytest.mark.parametrize(
    ("name", "needs"),
    [
        ("init", {"mongodb": "service_healthy"}),
        ("api", {**HEALTHY, "init": "service_completed_successfully"}),
        ("worker", HEALTHY),
        ("flower", {"redis": "service_healthy"}),
    ],
)
def test_service_waits_for_its_dependencies(services: dict, name: str, needs: dict) -> None:
    depends = services[name]["depends_on"]
    assert {dep: depends[dep]["condition"] for dep in needs} == needs


def test_bootstrap_runs_once_and_every_other_service_restarts(services: dict) -> None:
    assert argv(services["init"]["command"]) == ["python", "-m", "app.bootstrap"]
    restarts = {name: service.get("restart") for name, service in services.items()}
    assert restarts.pop("init") == "no" and set(restarts.values()) == {"unless-stopped"}


@pytest.mark.parametrize(
    ("name", "setting", "variable"),
    [
        ("redis", "REDIS_PASSWORD", "REDIS_PASSWORD"),  # for the script that starts Redis
        ("redis", "REDISCLI_AUTH", "REDIS_PASSWORD"),  # for the healthcheck's redis-cli
        ("mongodb", "MONGO_INITDB_ROOT_USERNAME", "MONGO_USER"),
        ("mongodb", "MONGO_INITDB_ROOT_PASSWORD", "MONGO_PASSWORD"),
        ("flower", "FLOWER_BASIC_AUTH", "FLOWER_BASIC_AUTH"),
        ("grafana", "GF_SECURITY_ADMIN_PASSWORD", "GRAFANA_ADMIN_PASSWORD"),
    ],
)
def test_service_requires_authentication(
    services: dict, name: str, setting: str, variable: str
) -> None:
    words, env = argv(services[name].get("command", [])), services[name].get("environment")
    value = option(words, setting) if setting in words else env[setting]
    assert _REQUIRED_REF.fullmatch(value)["name"] == variable


def test_redis_persists_jobs_and_never_evicts_them(services: dict) -> None:
    words = argv(services["redis"]["command"])
    assert words[:2] == ["exec", "redis-server"] and option(words, "--appendonly") == "yes"
    assert option(words, "--maxmemory-policy") == "noeviction"


def test_redis_reads_its_password_and_acl_from_stdin_not_its_command_line(
    services: dict, rendered: dict
) -> None:
    """The shell (PID 1, then exec'd into redis-server, which gets SIGTERM) expands the
    password into a here-document: no process's argv holds it, unlike --requirepass."""
    words, body = heredoc(services["redis"]["command"])
    assert words[:3] == ["exec", "redis-server", "-"]  # "-": configuration from stdin
    assert "--requirepass" not in words and "--aclfile" not in words
    # $$: compose leaves the variable to the container's shell, which reads its environment.
    assert body == [f"user default on >$$REDIS_PASSWORD {REDIS_ACL_RULES}"]
    assert _REQUIRED_REF.fullmatch(services["redis"]["environment"]["REDIS_PASSWORD"])
    run = rendered["redis"]
    assert SAMPLE_ENV["REDIS_PASSWORD"] not in json.dumps([run["command"], run["healthcheck"]])
    assert heredoc(run["command"])[1] == [f"user default on >$REDIS_PASSWORD {REDIS_ACL_RULES}"]
    assert run.get("user") == "redis", "not root: the image's redis user owns /data"


def test_redis_acl_refuses_the_commands_that_write_files_or_take_it_over() -> None:
    rules = REDIS_ACL_RULES.split()
    assert rules[:3] == ["~*", "&*", "+@all"]  # every key and channel (Celery uses pub/sub)
    assert rules[3:] == [f"-{name}" for name in REDIS_REFUSED_COMMANDS]
    required = {"config", "debug", "module", "slaveof", "replicaof", "acl"}
    assert required <= set(REDIS_REFUSED_COMMANDS)


def test_no_secret_is_on_any_command_line(rendered: dict) -> None:
    values = [value for name, value in SAMPLE_ENV.items() if name != "MONGO_USER"]
    for name, service in rendered.items():
        shown = json.dumps(
            [service.get("command"), service.get("healthcheck"), service.get("entrypoint")]
        )
        leaked = [value for value in values if value in shown]
        assert leaked == [], f"{name}: {leaked} on a command line"


@pytest.mark.parametrize(
    ("name", "volume", "target"),
    [
        ("redis", "redis-data", "/data"),
        ("mongodb", "mongo-data", "/data/db"),
        ("prometheus", "prometheus-data", "/prometheus"),
        ("grafana", "grafana-data", "/var/lib/grafana"),
    ],
)
def test_state_lives_in_a_named_volume(
    compose: dict, services: dict, name: str, volume: str, target: str
) -> None:
    assert mounts(services[name]).get(volume) == target and volume in compose["volumes"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_connects_with_the_secrets(rendered: dict, name: str) -> None:
    env = rendered[name]["environment"]
    for key in APP_KEYS:  # the admin key, and the HMAC secret of every stored file
        assert env[key] == SAMPLE_ENV[key]
    assert env["REDIS_URL"] == "redis://:redis-secret@redis:6379/0"
    assert (
        env["MONGODB_URL"] == "mongodb://tensorfleet:mongo-secret@mongodb:27017/?authSource=admin"
    )


@pytest.mark.parametrize(("name", "program"), [("api", "gunicorn"), ("worker", "celery")])
def test_process_gets_signals_and_a_fresh_metrics_dir(
    rendered: dict, name: str, program: str
) -> None:
    service = rendered[name]
    words = argv(service["command"])
    assert words[words.index(program) - 1] == "exec", f"{program} must receive SIGTERM"
    directory = service["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert directory in service["tmpfs"], "the multiprocess dir must be a per-start tmpfs"
    script = " ".join(words)
    assert 0 <= script.find("rm -rf ${PROMETHEUS_MULTIPROC_DIR:?}/*") < script.index(program)


def test_worker_takes_one_training_job_at_a_time(rendered: dict) -> None:
    words = argv(rendered["worker"]["command"])
    celery = words[words.index("celery") :]
    assert celery[:4] == ["celery", "-A", "worker:celery_app", "worker"]
    assert "-Q" not in celery  # the queues come from WORKER_QUEUES, as each pool's do
    environment = rendered["worker"]["environment"]
    assert environment["WORKER_QUEUES"] == ""  # empty: every queue the settings name
    queues = FleetQueues.of(Settings.model_validate(environment))
    assert worker_queues(Settings.model_validate(environment)) == queues.all == FLEET_QUEUES
    assert option(celery, "--prefetch-multiplier") == "1"
    assert option(celery, "--concurrency") == "1"


def test_stopping_worker_may_finish_its_running_job(rendered: dict) -> None:
    worker = rendered["worker"]
    assert worker["stop_signal"] == "SIGTERM"  # Celery warm shutdown
    grace = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", worker["stop_grace_period"])
    seconds = sum(int(n or 0) * unit for n, unit in zip(grace.groups(), (3600, 60, 1), strict=True))
    assert seconds > int(worker["environment"]["JOB_HARD_TIME_LIMIT"])


def test_flower_reads_basic_auth_from_the_environment(services: dict) -> None:
    assert not any("basic" in word for word in argv(services["flower"]["command"]))
    command = pytest.importorskip("flower.command")
    assert command.is_flower_envvar("FLOWER_BASIC_AUTH")


# -- Prometheus and Grafana --------------------------------------------------------------


def test_prometheus_loads_the_repository_config(services: dict) -> None:
    config = mounts(services["prometheus"])["./deploy/prometheus/prometheus.yml"]
    assert f"--config.file={config}" in services["prometheus"]["command"]


@pytest.mark.parametrize("name", ["api", "worker"])
def test_prometheus_discovers_every_replica_by_dns(rendered: dict, name: str) -> None:
    (job,) = [
        job
        for job in load_yaml("deploy/prometheus/prometheus.yml")["scrape_configs"]
        if any(name in sd["names"] for sd in job.get("dns_sd_configs", []))
    ]
    (sd,) = job["dns_sd_configs"]
    served = int(rendered["worker"]["environment"]["METRICS_PORT"]) if name == "worker" else 8000
    assert sd["names"] == [name] and sd["type"] == "A" and sd["port"] == served
    assert job.get("metrics_path", "/metrics") == "/metrics" and "static_configs" not in job


def test_grafana_provisions_the_datasource_and_dashboard(services: dict) -> None:
    grafana = mounts(services["grafana"])
    assert grafana["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    providers = load_yaml("deploy/grafana/provisioning/dashboards/tensorfleet.yml")["providers"]
    paths = [provider["options"]["path"] for provider in providers]
    assert grafana["./deploy/grafana/dashboards"] in paths
    (source,) = load_yaml(DATASOURCE)["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"


def test_dashboard_panels_use_the_provisioned_datasource(panels: list[dict]) -> None:
    (source,) = load_yaml(DATASOURCE)["datasources"]
    assert "${DS_" not in DASHBOARD.read_text(), "provisioned dashboards cannot resolve __inputs"
    for panel in panels:
        if panel["type"] != "row":
            refs = [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
            assert all(ref["uid"] == source["uid"] for ref in refs), panel["title"]
    assert len({panel["id"] for panel in panels}) == len(panels), "panel ids must be unique"


def test_dashboard_queries_only_metrics_the_catalog_exposes(queries: dict) -> None:
    known = {"up"}  # added by Prometheus to every target
    for name, kind in catalog().items():
        suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
        known.update(name + suffix for suffix in suffixes)
    assert queries
    for expr, names in queries.items():
        assert names and names <= known, f"{expr}: unknown {sorted(names - known)}"


def test_dashboard_charts_every_cataloged_metric(queries: dict) -> None:
    charted = {re.sub(r"_(bucket|sum|count)$", "", n) for names in queries.values() for n in names}
    assert set(catalog()) <= charted, f"not on the dashboard: {sorted(set(catalog()) - charted)}"


# -- Dockerfile and .dockerignore --------------------------------------------------------


def test_dockerfile_installs_requirements_before_code_and_runs_unprivileged() -> None:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    steps = [line.strip() for line in text.splitlines() if line.strip()[:1] not in ("", "#")]

    def first(pattern: str) -> int:
        return next(i for i, step in enumerate(steps) if re.match(pattern, step))

    assert first(r"COPY requirements\.txt ") < first(r"RUN pip install .*-r requirements\.txt")
    assert first(r"RUN pip install") < first(r"COPY (--\S+ )*\. "), "cache the dependency layer"
    users = [i for i, step in enumerate(steps) if step.startswith("USER ")]
    assert users and steps[users[-1]].split()[1].split(":")[0] not in ("root", "0")
    assert not any(step.startswith("RUN ") for step in steps[users[-1] :])


def test_dockerignore_keeps_secrets_out_and_the_runtime_in() -> None:
    patterns = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".git", ".venv"} <= patterns
    assert not {"app", "datasets", "worker.py", "requirements.txt", "gunicorn.conf.py"} & patterns


def test_beat_serves_the_supervisor_queue_and_workers_hand_back_within_their_stop_grace(
    rendered: dict,
) -> None:
    services = rendered
    beat = " ".join(services["beat"]["command"])
    assert "worker -B -Q supervisor" in beat and "-c 1" in beat
    assert "deploy" not in services["beat"] or services["beat"]["deploy"].get("replicas", 1) == 1
    worker = services["worker"]
    grace = int(worker["environment"]["WORKER_SHUTDOWN_GRACE_SECONDS"])
    stop = worker["stop_grace_period"]
    assert stop.endswith("m") and grace < int(stop[:-1]) * 60


def test_each_kind_of_work_can_have_a_pool_scaled_on_its_own(compose: dict) -> None:
    pools = render(compose, {**SAMPLE_ENV, "WORKER_QUEUES": "training"})["services"]
    served = {name: pools[name]["environment"]["WORKER_QUEUES"] for name in pools
              if name.startswith("worker")}  # fmt: skip
    assert served == {"worker": "training", "worker-search": "search",
                      "worker-prediction": "prediction"}  # fmt: skip
    for name in ("worker-search", "worker-prediction"):
        pool = pools[name]
        assert pool["profiles"] == ["pools"], "started only when asked for"
        assert pool["command"] == pools["worker"]["command"]
        assert pool["stop_grace_period"] == pools["worker"]["stop_grace_period"]
        assert "container_name" not in pool and "ports" not in pool  # scalable
    renamed = {"TRAINING_QUEUE": "tf-train", "SEARCH_QUEUE": "tf-hpo"}
    renamed["PREDICTION_QUEUE"] = "tf-batch"
    pools = render(compose, {**SAMPLE_ENV, **renamed, "WORKER_QUEUES": "tf-train"})["services"]
    for name, queue in {"worker": "tf-train", "worker-search": "tf-hpo",
                        "worker-prediction": "tf-batch"}.items():  # fmt: skip
        settings = Settings.model_validate(pools[name]["environment"])
        assert worker_queues(settings) == (queue,)  # every process agrees on the names
        assert FleetQueues.of(settings).all == ("tf-train", "tf-batch", "tf-hpo")
    assert pools["api"]["environment"]["SEARCH_QUEUE"] == "tf-hpo"
