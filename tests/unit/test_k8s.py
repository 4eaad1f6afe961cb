"""The Kubernetes manifests (deploy/k8s/) as data, offline, without a cluster.

Each overlay is rendered by tests/unit/k8s_render.py (a renderer for the subset of
kustomize the manifests use), which is checked to agree with real kustomize wherever
``kustomize`` or ``kubectl`` (kustomize 5) is installed. Every rendered object is
validated against the Kubernetes OpenAPI schemas of ``kubernetes-validate`` (strict:
unknown fields fail); KEDA's ScaledObjects, a custom resource, are checked by hand.
Then the properties the deployment promises are checked on the rendered objects.
Setting names and defaults come from :class:`app.config.Settings`, the queue names
from :mod:`app.tasks.celery_app`, metric names from :func:`app.metrics.catalog`.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.config import Settings
from app.metrics import catalog
from app.tasks.celery_app import FleetQueues, worker_queues
from tests.unit import k8s_render

FLEET_QUEUES = FleetQueues.of(Settings.model_construct()).all  # the default names

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
OVERLAYS = ("local", "production")
# The oldest Kubernetes the manifests are validated for (docs/deploy.md says so).
KUBERNETES_VERSION = "1.29.0"
CUSTOM_RESOURCES = {("keda.sh/v1alpha1", "ScaledObject")}
APP_DEPLOYMENTS = {"api", "inference", "flower", "beat"} | {f"worker-{q}" for q in FLEET_QUEUES}
APP_SECRET = "tensorfleet-secrets"
LOCAL_SECRET = "tensorfleet-local-datastores"  # the local overlay's Redis and MongoDB only
SECRET_KEYS = {
    "TENSORFLEET_ADMIN_KEY",
    "ARTIFACT_SIGNING_KEY",
    "REDIS_URL",
    "MONGODB_URL",
    "FLOWER_BASIC_AUTH",
}
LOCAL_SECRET_KEYS = {"REDIS_PASSWORD", "MONGO_USER", "MONGO_PASSWORD"}
# Variables of the app containers that are not app.config settings.
NOT_SETTINGS = {
    "PYTHONPATH",
    "POD_NAME",
    "WORKER_NODE",
    "FLOWER_BASIC_AUTH",
    "FLOWER_PURGE_OFFLINE_WORKERS",
}
APP_TIER = {"app.kubernetes.io/part-of": "tensorfleet", "tier": "app"}
SHUTDOWN_MARGIN = 60  # seconds for Celery to stop after the job ended, at the least
_CREDENTIAL = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)AUTH$|(^|_)KEY$|_URL$", re.I)
Obj = dict[str, Any]


# -- rendering ---------------------------------------------------------------------------


@functools.cache
def rendered(overlay: str) -> tuple[Obj, ...]:
    return tuple(k8s_render.build(K8S / overlay))


def kustomize_command() -> list[str] | None:
    """``kustomize build`` or ``kubectl kustomize`` (kustomize 5), if installed."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        version = subprocess.run(
            ["kubectl", "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if version.returncode == 0:
            kustomize = json.loads(version.stdout).get("kustomizeVersion", "")
            if re.match(r"v?([5-9]|\d\d)\.", kustomize):
                return ["kubectl", "kustomize"]
    return None


def of_kind(objects: tuple[Obj, ...], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: tuple[Obj, ...]) -> dict[str, Obj]:
    """Deployments, StatefulSets and Jobs by name."""
    return {
        o["metadata"]["name"]: o
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "Job")
    }


def pod_spec(workload: Obj) -> Obj:
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: Obj) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


def containers(workload: Obj) -> list[Obj]:
    spec = pod_spec(workload)
    return spec.get("initContainers", []) + spec["containers"]


def env(container: Obj) -> dict[str, Obj]:
    return {item["name"]: item for item in container.get("env", [])}


def app_config(objects: tuple[Obj, ...]) -> dict[str, str]:
    """The data of the ConfigMap tensorfleet-config (its name has a hash suffix)."""
    (configmap,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("tensorfleet-config-")
    ]
    return configmap["data"]


def celery_argv(container: Obj) -> list[str]:
    """The argv of the Celery command a container execs (inside ``sh -c`` or not)."""
    command = container["command"] + container.get("args", [])
    if command[:2] == ["sh", "-c"]:
        (segment,) = [s for s in command[2].split("&&") if "celery" in s]
        command = shlex.split(segment)
    assert "celery" in command[:2], command
    return command


def option(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv[:-1]):
        if arg in names:
            return argv[i + 1]
    return None


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity (``250m``, ``2``, ``512Mi``, ``1G``) as a number."""
    text = str(value)
    units = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    return float(text)


def settings_default(name: str) -> Any:
    """The default of a setting, from the class: the environment cannot change it."""
    return Settings.model_fields[name].default


def dockerfile_uid() -> int:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")  # join continued lines
    (user,) = re.findall(r"^USER\s+(\S+)", text, re.M)
    created = re.search(rf"useradd\b[^&\n]*--uid\s+(\d+)[^&\n]*\s{re.escape(user)}\b", text)
    assert created, f"the Dockerfile's USER {user} is not created with a fixed --uid"
    return int(created[1])


def ping_code(container: Obj, probe: str) -> str:
    command = container[probe]["exec"]["command"]
    assert command[:2] == ["python", "-c"], command
    return command[2]


# -- the renderer and the schemas --------------------------------------------------------


@pytest.mark.parametrize("overlay", ["base", *OVERLAYS])
def test_renderer_agrees_with_kustomize(overlay: str) -> None:
    command = kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl with kustomize 5 is installed")
    out = subprocess.run(
        [*command, str(K8S / overlay)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    real = {k8s_render.object_id(o): o for o in yaml.safe_load_all(out) if o}
    ours = {k8s_render.object_id(o): o for o in k8s_render.build(K8S / overlay)}
    assert sorted(ours) == sorted(real)
    for key, obj in ours.items():
        assert obj == real[key], key


def test_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("commonLabels: {a: b}\nresources: []\n")
    with pytest.raises(k8s_render.Unsupported, match="commonLabels"):
        k8s_render.build(tmp_path)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_matches_the_kubernetes_schemas(overlay: str) -> None:
    for obj in rendered(overlay):
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_RESOURCES:
            continue  # checked by hand: test_scaled_objects_*
        # any other kind without a schema raises SchemaNotFoundError
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_schema_validation_catches_a_misspelled_field() -> None:
    deployment = json.loads(json.dumps(of_kind(rendered("production"), "Deployment")["api"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_is_there(overlay: str) -> None:
    assert set(of_kind(rendered(overlay), "Deployment")) >= APP_DEPLOYMENTS
    assert "bootstrap" in of_kind(rendered(overlay), "Job")


# -- images ------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_application_image_tagged_by_the_overlay(overlay: str) -> None:
    kustomization = yaml.safe_load((K8S / overlay / "kustomization.yaml").read_text())
    (image,) = [i for i in kustomization["images"] if i["name"] == "tensorfleet"]
    expected = image.get("newName", "tensorfleet") + (
        "@" + image["digest"] if "digest" in image else ":" + str(image["newTag"])
    )
    assert not expected.endswith(":latest")
    app = {
        name: w
        for name, w in workloads(rendered(overlay)).items()
        if matches(APP_TIER, pod_labels(w))
    }
    assert set(app) == APP_DEPLOYMENTS | {"bootstrap"}
    for name, workload in workloads(rendered(overlay)).items():
        for container in containers(workload):
            if name in app:
                assert container["image"] == expected, name
            else:
                assert not container["image"].startswith(image.get("newName", "tensorfleet"))


# -- beat, the worker pools and their shutdown -------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_beat_runs_exactly_one_replica(overlay: str) -> None:
    objects = rendered(overlay)
    beat = of_kind(objects, "Deployment")["beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}  # never two during an upgrade
    argv = celery_argv(pod_spec(beat)["containers"][0])
    assert "-B" in argv
    assert option(argv, "-Q") == "supervisor"
    assert option(argv, "-c", "--concurrency") == "1"
    targets = {
        s["spec"]["scaleTargetRef"]["name"] for s in of_kind(objects, "ScaledObject").values()
    }
    assert "beat" not in targets
    assert not of_kind(objects, "HorizontalPodAutoscaler")


def worker_pools(objects: tuple[Obj, ...]) -> dict[str, Obj]:
    """Worker Deployments by their queue."""
    return {
        name.removeprefix("worker-"): deployment
        for name, deployment in of_kind(objects, "Deployment").items()
        if name.startswith("worker-")
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_worker_pool_per_queue(overlay: str) -> None:
    pools = worker_pools(rendered(overlay))
    assert set(pools) == set(FLEET_QUEUES)
    for queue, deployment in pools.items():
        (container,) = pod_spec(deployment)["containers"]
        variables = env(container)
        argv = celery_argv(container)
        assert variables["WORKER_QUEUES"]["value"] == queue
        assert option(argv, "-Q", "--queues") == queue
        assert option(argv, "-n", "--hostname") == "${WORKER_NODE:?}"
        assert variables["WORKER_NODE"]["value"] == f"{queue}@$(POD_NAME)"
        assert variables["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        names = [item["name"] for item in container["env"]]  # $(POD_NAME) must come first
        assert names.index("POD_NAME") < names.index("WORKER_NODE")
        assert option(argv, "-c", "--concurrency") == "1"
        assert option(argv, "--prefetch-multiplier") == "1"
        # KEDA's HPA owns the replica count: a value here would be re-applied on every apply
        assert "replicas" not in deployment["spec"]


def grace_problems(objects: tuple[Obj, ...]) -> list[str]:
    """Why a scale-in could kill a running job of some worker pool (nothing: no reason)."""
    default = settings_default("job_hard_time_limit")
    hard_limit = max(default, int(app_config(objects).get("JOB_HARD_TIME_LIMIT", default)))
    problems = []
    for name, deployment in worker_pools(objects).items():
        (container,) = pod_spec(deployment)["containers"]
        shutdown_grace = float(env(container)["WORKER_SHUTDOWN_GRACE_SECONDS"]["value"])
        termination_grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
        # a running job ends on its own (done, or killed at its hard limit) before hand-back
        if shutdown_grace < hard_limit:
            problems.append(f"{name}: shutdown grace {shutdown_grace} < hard limit {hard_limit}")
        # and the kubelet's SIGKILL comes only after the warm shutdown had all that time
        if termination_grace < shutdown_grace + SHUTDOWN_MARGIN:
            problems.append(f"{name}: termination grace {termination_grace} too short")
        if termination_grace <= default + SHUTDOWN_MARGIN:
            problems.append(f"{name}: termination grace {termination_grace} <= default limit")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_worker_grace_outlasts_the_hard_time_limit(overlay: str) -> None:
    objects = rendered(overlay)
    assert "WORKER_SHUTDOWN_GRACE_SECONDS" not in app_config(objects)  # set beside the pod's
    assert grace_problems(objects) == []


def test_raising_the_hard_limit_alone_is_caught(tmp_path: Path) -> None:
    """An overlay that raises JOB_HARD_TIME_LIMIT but not the workers' grace fails."""
    base = Path(os.path.relpath(K8S / "production", tmp_path)).as_posix()
    (tmp_path / "kustomization.yaml").write_text(
        f"resources: [{base}]\n"
        "configMapGenerator:\n"
        "  - name: tensorfleet-config\n"
        "    behavior: merge\n"
        "    literals: [JOB_HARD_TIME_LIMIT=7200]\n"
    )
    objects = tuple(k8s_render.build(tmp_path))
    assert app_config(objects)["JOB_HARD_TIME_LIMIT"] == "7200"
    problems = grace_problems(objects)
    assert len(problems) == len(FLEET_QUEUES)
    assert all("< hard limit 7200" in problem for problem in problems)
    command = kustomize_command()
    if command is not None:  # the merged ConfigMap (and its hash) as kustomize makes it
        out = subprocess.run(
            [*command, str(tmp_path)], capture_output=True, text=True, timeout=120, check=True
        ).stdout
        assert sorted(map(k8s_render.object_id, yaml.safe_load_all(out))) == sorted(
            map(k8s_render.object_id, objects)
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workers_get_sigterm_as_pid_1(overlay: str) -> None:
    """Kubernetes sends SIGTERM to PID 1: it must be Celery itself (warm shutdown)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.findall(r"^STOPSIGNAL\s+(\S+)", dockerfile, re.M) in ([], ["SIGTERM"])
    for name in [f"worker-{q}" for q in FLEET_QUEUES] + ["beat"]:
        (container,) = pod_spec(of_kind(rendered(overlay), "Deployment")[name])["containers"]
        assert container["command"][:2] == ["sh", "-c"], name
        last = container["command"][2].split("&&")[-1].split()
        assert last[:2] == ["exec", "celery"], name
        assert "preStop" not in container.get("lifecycle", {}), name  # SIGTERM is enough


# -- autoscaling -------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_agrees_on_the_queue_names_and_each_pool_serves_its_own(overlay: str) -> None:
    objects = rendered(overlay)
    settings = Settings.model_validate(app_config(objects))  # what every app pod reads
    queues = FleetQueues.of(settings)
    assert queues.all == FLEET_QUEUES
    by_kind = {"training": queues.training, "search": queues.search}
    by_kind["prediction"] = queues.prediction
    for kind, deployment in worker_pools(objects).items():
        (container,) = pod_spec(deployment)["containers"]
        served = env(container)["WORKER_QUEUES"]["value"]
        assert served == by_kind[kind] == option(celery_argv(container), "-Q", "--queues")
        assert worker_queues(settings.model_copy(update={"worker_queues": served})) == (served,)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_scaled_objects_scale_each_pool_on_queued_plus_running_work(overlay: str) -> None:
    objects = rendered(overlay)
    assert catalog().get("tensorfleet_queue_work") == "gauge"
    pools = worker_pools(objects)
    scaled = of_kind(objects, "ScaledObject")
    targets = {}
    for name, obj in scaled.items():
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        spec = obj["spec"]
        target = spec["scaleTargetRef"]["name"]
        assert target in of_kind(objects, "Deployment"), name
        assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        targets[target] = obj
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "prometheus", name  # never a Redis list length
        meta = trigger["metadata"]
        query = re.fullmatch(r'max\(tensorfleet_queue_work\{queue="(\w+)"\}\)', meta["query"])
        assert query, meta["query"]
        queue = query[1]
        assert target == f"worker-{queue}"
        (container,) = pod_spec(pools[queue])["containers"]
        # one pod per `concurrency` queued or running jobs
        assert float(meta["threshold"]) == float(
            option(celery_argv(container), "-c", "--concurrency") or 0
        )
        assert re.fullmatch(r"https?://[\w.-]+(:\d+)?/?", meta["serverAddress"])
        assert meta["ignoreNullValues"] == "false"  # no data is not zero work
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        assert spec["maxReplicaCount"] >= 1
        assert isinstance(spec["cooldownPeriod"], int) and spec["cooldownPeriod"] > 0
        assert isinstance(spec["pollingInterval"], int) and spec["pollingInterval"] > 0
        assert 1 <= spec["fallback"]["replicas"] <= spec["maxReplicaCount"]
    assert set(targets) == {f"worker-{q}" for q in FLEET_QUEUES}
    assert len(targets) == len(scaled)


def test_local_keda_asks_the_local_prometheus() -> None:
    objects = rendered("local")
    service = of_kind(objects, "Service")["prometheus"]
    namespace = service["metadata"]["namespace"]
    port = service["spec"]["ports"][0]["port"]
    for obj in of_kind(objects, "ScaledObject").values():
        address = obj["spec"]["triggers"][0]["metadata"]["serverAddress"]
        assert address == f"http://prometheus.{namespace}.svc:{port}"
    config = yaml.safe_load((K8S / "local/prometheus.yml").read_text())
    targets = [
        t for job in config["scrape_configs"] for c in job["static_configs"] for t in c["targets"]
    ]
    api_port = of_kind(objects, "Service")["api"]["spec"]["ports"][0]["port"]
    assert f"api:{api_port}" in targets


def test_local_prometheus_config_is_valid(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(K8S / "local/prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- probes, resources, security ---------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_long_running_container_has_probes(overlay: str) -> None:
    for name, workload in workloads(rendered(overlay)).items():
        if workload["kind"] == "Job":
            continue
        for container in containers(workload):
            assert "livenessProbe" in container, name
            assert "readinessProbe" in container, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_http_probes_of_api_and_inference(overlay: str) -> None:
    for name in ("api", "inference"):
        (container,) = pod_spec(of_kind(rendered(overlay), "Deployment")[name])["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert container[probe]["httpGet"]["port"] in ports
        assert ports["http"] == int(env(container)["API_BIND"]["value"].rsplit(":", 1)[1])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workers_and_beat_answer_a_celery_ping(overlay: str) -> None:
    for name in [f"worker-{q}" for q in FLEET_QUEUES] + ["beat"]:
        (container,) = pod_spec(of_kind(rendered(overlay), "Deployment")[name])["containers"]
        assert option(celery_argv(container), "-n") == "${WORKER_NODE:?}"
        node = env(container)["WORKER_NODE"]["value"]
        assert node == f"{name.removeprefix('worker-')}@$(POD_NAME)", name
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            code = ping_code(container, probe)
            compile(code, f"{name}.{probe}", "exec")
            assert "control.ping([node]" in code
            assert 'os.environ["WORKER_NODE"]' in code
            # no metrics files of probe processes: the variable goes before the app loads
            assert code.index('pop("PROMETHEUS_MULTIPROC_DIR"') < code.index("from app")
            timeout = float(re.search(r"timeout=(\d+)", code)[1])
            assert container[probe]["timeoutSeconds"] > timeout, (name, probe)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_requests_and_limits(overlay: str) -> None:
    for name, workload in workloads(rendered(overlay)).items():
        for container in containers(workload):
            resources = container["resources"]
            for resource in ("cpu", "memory"):
                request = quantity(resources["requests"][resource])
                limit = quantity(resources["limits"][resource])
                assert 0 < request <= limit, (name, resource)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_worker_memory_limit_is_above_the_job_memory_cap(overlay: str) -> None:
    cap_mb = settings_default("job_memory_limit_mb")
    for name, deployment in worker_pools(rendered(overlay)).items():
        (container,) = pod_spec(deployment)["containers"]
        limit = quantity(container["resources"]["limits"]["memory"])
        # a job over its own cap fails as `resources` instead of the pod being OOM-killed
        assert limit >= (cap_mb + 1024) * 2**20, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_runs_unprivileged(overlay: str) -> None:
    uid = dockerfile_uid()
    for name, workload in workloads(rendered(overlay)).items():
        spec = pod_spec(workload)
        context = spec["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] > 0, name
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        if matches(APP_TIER, pod_labels(workload)):
            assert context["runAsUser"] == uid, name
        for container in containers(workload):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert not security.get("privileged"), name
            assert "runAsUser" not in security or security["runAsUser"] > 0, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_read_only_app_containers_can_write_tmp_and_metrics(overlay: str) -> None:
    objects = rendered(overlay)
    metrics_dir = app_config(objects)["PROMETHEUS_MULTIPROC_DIR"]
    for name, workload in workloads(objects).items():
        if not matches(APP_TIER, pod_labels(workload)):
            continue
        volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
        for container in containers(workload):
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            for path in ("/tmp", metrics_dir):
                assert path in mounts, (name, path)
                assert "emptyDir" in volumes[mounts[path]], (name, path)


# -- configuration and secrets -----------------------------------------------------------


@pytest.mark.parametrize("overlay", ["base", *OVERLAYS])
def test_no_secret_value_in_the_repository(overlay: str) -> None:
    objects = tuple(k8s_render.build(K8S / overlay)) if overlay == "base" else rendered(overlay)
    assert not of_kind(objects, "Secret")  # the Secrets are created in the cluster
    allowed = {APP_SECRET: SECRET_KEYS, LOCAL_SECRET: LOCAL_SECRET_KEYS}
    if overlay != "local":
        allowed.pop(LOCAL_SECRET)
    for configmap in of_kind(objects, "ConfigMap").values():
        for key in configmap["data"]:
            assert not _CREDENTIAL.search(key), key
    for name, workload in workloads(objects).items():
        for container in containers(workload):
            assert not any("secretRef" in source for source in container.get("envFrom", []))
            for variable, item in env(container).items():
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if _CREDENTIAL.search(variable) and variable not in ("REDISCLI_AUTH",):
                    assert ref is not None, (name, variable)
                if ref is not None:
                    assert ref["key"] in allowed.get(ref["name"], set()), (name, ref)


def test_secret_keys_are_documented() -> None:
    docs = (ROOT / "docs/deploy.md").read_text()
    section = docs[docs.index("## Kubernetes") :]
    for key in SECRET_KEYS | LOCAL_SECRET_KEYS | {APP_SECRET, LOCAL_SECRET}:
        assert f"`{key}`" in section or f"{key}=" in section, key


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_app_variables_are_settings(overlay: str) -> None:
    objects = rendered(overlay)
    settings = {name.upper() for name in Settings.model_fields}
    assert set(app_config(objects)) - NOT_SETTINGS <= settings
    for name in APP_DEPLOYMENTS | {"bootstrap"}:
        for container in containers(workloads(objects)[name]):
            assert set(env(container)) - NOT_SETTINGS <= settings, name
            refs = [s["configMapRef"]["name"] for s in container.get("envFrom", [])]
            assert [r.rsplit("-", 1)[0] for r in refs] == ["tensorfleet-config"], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_configmap_references_resolve(overlay: str) -> None:
    objects = rendered(overlay)
    names = set(of_kind(objects, "ConfigMap"))
    for name, workload in workloads(objects).items():
        for container in containers(workload):
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in names, name
        for volume in pod_spec(workload).get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in names, name


# -- network, data stores, availability --------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_app_tier_reaches_redis_and_mongodb(overlay: str) -> None:
    objects = rendered(overlay)
    policies = of_kind(objects, "NetworkPolicy")
    guarded = {}
    for policy in policies.values():
        spec = policy["spec"]
        store = spec["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        guarded[store] = {p["port"] for rule in spec["ingress"] for p in rule["ports"]}
        assert "Ingress" in spec["policyTypes"]
        for rule in spec["ingress"]:
            (source,) = rule["from"]
            assert set(source) == {"podSelector"}  # no namespaceSelector, no ipBlock
            assert source["podSelector"] == {"matchLabels": APP_TIER}
    assert guarded == {"redis": {6379}, "mongodb": {27017}}
    for name, workload in workloads(objects).items():
        labels = pod_labels(workload)
        needs_stores = any({"REDIS_URL", "MONGODB_URL"} & set(env(c)) for c in containers(workload))
        assert matches(APP_TIER, labels) == needs_stores, name
        if name in guarded:  # the local overlay's own Redis and MongoDB
            assert labels["app.kubernetes.io/name"] == name
            assert not matches(APP_TIER, labels)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_redis_and_mongodb_run_in_the_local_overlay_only(overlay: str) -> None:
    objects = rendered(overlay)
    statefulsets = of_kind(objects, "StatefulSet")
    images = {c["image"] for w in workloads(objects).values() for c in containers(w)}
    if overlay == "production":
        assert not statefulsets
        assert not any(i.startswith(("redis", "mongo")) for i in images)
        return
    assert set(statefulsets) == {"redis", "mongodb"}
    services = of_kind(objects, "Service")
    for statefulset in statefulsets.values():
        spec = statefulset["spec"]
        assert spec["replicas"] == 1
        (claim,) = spec["volumeClaimTemplates"]
        (container,) = spec["template"]["spec"]["containers"]
        assert claim["metadata"]["name"] in {m["name"] for m in container["volumeMounts"]}
        service = services[spec["serviceName"]]
        assert service["spec"]["clusterIP"] == "None"
        assert matches(service["spec"]["selector"], pod_labels(statefulset))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budgets_cover_api_and_workers(overlay: str) -> None:
    objects = rendered(overlay)
    deployments = of_kind(objects, "Deployment")
    covered = set()
    for name, budget in of_kind(objects, "PodDisruptionBudget").items():
        selector = budget["spec"]["selector"]["matchLabels"]
        selected = {d for d, obj in deployments.items() if matches(selector, pod_labels(obj))}
        assert len(selected) == 1, name
        covered |= selected
        assert budget["spec"].get("maxUnavailable", 0) >= 1 or "minAvailable" in budget["spec"]
    assert covered == {"api", "inference"} | {f"worker-{q}" for q in FLEET_QUEUES}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_route_to_named_container_ports(overlay: str) -> None:
    objects = rendered(overlay)
    for name, service in of_kind(objects, "Service").items():
        selected = [
            w
            for w in workloads(objects).values()
            if matches(service["spec"]["selector"], pod_labels(w))
        ]
        assert selected, name
        ports = {p["name"] for w in selected for c in containers(w) for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (name, port)
