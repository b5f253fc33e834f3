"""Deployment artifacts agree with the app: probe routes, ports, CLI commands, stop timing.

Docker and a cluster are not available here, so the Dockerfile, Procfile and Kubernetes
manifests are checked statically against the real Flask url_map, the real click CLI and the
real gunicorn settings: a renamed route, option or command breaks these tests, not a rollout.
"""

from __future__ import annotations

import json
import re
import shlex
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml
from flask import Flask

import ratecard.gunicorn_conf as gunicorn_conf
from ratecard.app import create_app
from ratecard.cli import main as ratecard_cli
from ratecard.settings import Settings
from tests.support.services import REPO

K8S = REPO / "deploy" / "kubernetes"
MANIFESTS = sorted(K8S.glob("*.yaml"))
PROBES = {
    "livenessProbe": "/health/live",
    "readinessProbe": "/health/ready",
    "startupProbe": "/health/startup",
}
COMPILERS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|cpp)\b")
PLACEHOLDER = re.compile(r"^(<[^<>]+>|change[-_]?me|replace[-_]?me)$", re.IGNORECASE)
SECRET_WORDS = ("TOKEN", "PASSWORD", "SECRET", "KEY")


# --- loading -----------------------------------------------------------------------------------


def load_docs(path: Path) -> list[dict[str, Any]]:
    """Parse every YAML document in a file, dropping empty ones."""
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def load_one(name: str, kind: str) -> dict[str, Any]:
    """Return the single document of `kind` in deploy/kubernetes/<name>."""
    docs = [doc for doc in load_docs(K8S / name) if doc.get("kind") == kind]
    assert len(docs) == 1, f"{name} must hold exactly one {kind}, found {len(docs)}"
    return docs[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def only_container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']} must run one container"
    container: dict[str, Any] = containers[0]
    return container


def container_port(container: dict[str, Any], port: int | str) -> int:
    """Resolve a probe/Service port (a number or a port name) to the container's port number."""
    for declared in container.get("ports", []):
        if port in (declared["containerPort"], declared.get("name")):
            number: int = declared["containerPort"]
            return number
    raise AssertionError(f"port {port!r} is not declared by container {container['name']!r}")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """Return (KEYWORD, arguments) pairs, joining backslash continuations and dropping comments."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # Docker ignores comment lines, even inside a continuation
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "Dockerfile ends inside a line continuation"
    return instructions


def dockerfile_stages(path: Path) -> list[list[tuple[str, str]]]:
    """Split the instructions into build stages, each starting with its FROM."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, arguments in dockerfile_instructions(path):
        if keyword == "FROM":
            stages.append([])
        assert stages, f"{keyword} before the first FROM"
        stages[-1].append((keyword, arguments))
    return stages


def procfile_entries() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in (REPO / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            process, sep, command = line.partition(":")
            assert sep, f"Procfile line without `process: command`: {line!r}"
            assert process.strip() not in entries, f"Procfile names {process!r} twice"
            entries[process.strip()] = command.strip()
    return entries


def parse_ratecard_command(argv: list[str]) -> click.Context:
    """Parse argv with the real `ratecard` CLI without running it; raise on anything unknown.

    Subcommands are resolved through the lazy group exactly as at run time, and the final
    command's options are parsed and type-checked (so `--port abc` or `--wiat 300` fail).
    """
    assert argv[:1] == ["ratecard"], f"not a ratecard command: {argv}"
    command: click.Command = ratecard_cli
    ctx = click.Context(command, info_name="ratecard")
    name, args = "ratecard", argv[1:]
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        resolved_name, resolved, args = command.resolve_command(ctx, args)
        assert resolved is not None and resolved_name is not None
        name, command = resolved_name, resolved
        ctx = click.Context(command, info_name=name, parent=ctx)
    assert ctx.parent is not None, f"{argv} names no subcommand"
    return command.make_context(name, list(args), parent=ctx.parent)


def workload_commands() -> dict[str, list[str]]:
    """Every container command in the manifests, keyed file:container."""
    commands: dict[str, list[str]] = {}
    for path in MANIFESTS:
        for doc in load_docs(path):
            if doc.get("kind") in ("Deployment", "Job"):
                for container in pod_spec(doc)["containers"]:
                    commands[f"{path.name}:{container['name']}"] = container["command"]
    return commands


def every_ratecard_command() -> dict[str, list[str]]:
    """Every ratecard invocation shipped: manifests, Procfile (with $PORT set) and Docker CMD."""
    commands = workload_commands()
    for process, line in procfile_entries().items():
        commands[f"Procfile:{process}"] = shlex.split(line.replace("$PORT", "5000"))
    commands["Dockerfile:CMD"] = docker_cmd()
    return commands


def docker_cmd() -> list[str]:
    final = dockerfile_stages(REPO / "Dockerfile")[-1]
    cmds = [arguments for keyword, arguments in final if keyword == "CMD"]
    assert cmds, "the final stage has no CMD"
    argv = json.loads(cmds[-1])  # exec form: no shell in between, SIGTERM reaches ratecard
    assert isinstance(argv, list), "CMD must be the JSON exec form"
    return [str(part) for part in argv]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    database = tmp_path_factory.mktemp("deploy") / "ratecard.sqlite3"
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{database}"}).with_overrides(
        start_coordinator=False
    )
    return create_app(settings)


def assert_route(app: Flask, path: str) -> None:
    """Fail unless GET `path` reaches a real view of the app (not a 404 or a redirect)."""
    endpoint, _ = app.url_map.bind("localhost").match(path, method="GET")
    assert endpoint in app.view_functions, f"{path} matches {endpoint!r}, which has no view"


# --- every file parses -------------------------------------------------------------------------


def test_the_kubernetes_directory_holds_the_expected_manifests() -> None:
    names = {path.name for path in MANIFESTS}
    expected = {"configmap.yaml", "secret.example.yaml", "deployment.yaml", "service.yaml"}
    expected |= {"hpa.yaml", "migrate-job.yaml", "kustomization.yaml"}
    assert expected <= names, f"missing: {sorted(expected - names)}"


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: path.name)
def test_every_manifest_parses_into_named_objects(path: Path) -> None:
    docs = load_docs(path)
    assert docs, f"{path.name} holds no document"
    for doc in docs:
        assert isinstance(doc, dict), f"{path.name}: a document is not a mapping"
        assert doc.get("apiVersion") and doc.get("kind"), f"{path.name}: apiVersion/kind missing"
        if doc["kind"] != "Kustomization":
            assert doc["metadata"]["name"], f"{path.name}: {doc['kind']} has no name"


def test_kustomization_lists_existing_manifests_but_never_the_placeholder_secret() -> None:
    kustomization = load_one("kustomization.yaml", "Kustomization")
    resources = kustomization["resources"]
    for resource in resources:
        assert (K8S / resource).is_file(), f"kustomization lists missing {resource}"
    assert {"configmap.yaml", "deployment.yaml", "service.yaml", "hpa.yaml"} <= set(resources)
    # Applying the example would overwrite the real Secret with placeholders.
    assert "secret.example.yaml" not in resources


# --- probes and ports --------------------------------------------------------------------------


@pytest.mark.parametrize(("probe", "path"), PROBES.items())
def test_deployment_probes_hit_the_apps_real_health_routes(
    app: Flask, probe: str, path: str
) -> None:
    container = only_container(load_one("deployment.yaml", "Deployment"))
    assert container[probe]["httpGet"]["path"] == path
    assert_route(app, path)


@pytest.mark.parametrize("probe", PROBES)
def test_probe_ports_are_the_container_port_that_serve_binds(probe: str) -> None:
    container = only_container(load_one("deployment.yaml", "Deployment"))
    serve_port = parse_ratecard_command(container["command"]).params["port"]
    probe_port = container_port(container, container[probe]["httpGet"]["port"])
    assert probe_port == serve_port == container["ports"][0]["containerPort"]


def test_service_selects_the_deployment_pods_and_targets_the_serving_port() -> None:
    deployment = load_one("deployment.yaml", "Deployment")
    service = load_one("service.yaml", "Service")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = service["spec"]["selector"]
    assert selector, "a Service without a selector routes to nothing"
    assert selector.items() <= pod_labels.items(), f"{selector} does not select {pod_labels}"
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    container = only_container(deployment)
    serve_port = parse_ratecard_command(container["command"]).params["port"]
    for port in service["spec"]["ports"]:
        assert container_port(container, port["targetPort"]) == serve_port


def test_hpa_scales_the_deployment_on_cpu_it_requests() -> None:
    deployment = load_one("deployment.yaml", "Deployment")
    hpa = load_one("hpa.yaml", "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert any(
        m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in hpa["spec"]["metrics"]
    )
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    # CPU utilization is a percentage of the request: without one the HPA cannot scale.
    assert only_container(deployment)["resources"]["requests"]["cpu"]


# --- commands ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "argv"), every_ratecard_command().items(), ids=list(every_ratecard_command())
)
def test_every_shipped_command_is_a_real_ratecard_invocation(where: str, argv: list[str]) -> None:
    ctx = parse_ratecard_command(argv)  # raises on an unknown command, option or bad value
    assert ctx.info_name in ("serve", "migrate", "run"), f"{where} runs {ctx.info_name!r}"


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["ratecard", "srve"], click.UsageError),
        (["ratecard", "migrate", "--wiat", "300"], click.NoSuchOption),
        (["ratecard", "serve", "--port", "http"], click.BadParameter),
    ],
)
def test_the_command_check_rejects_what_the_cli_would_reject(
    argv: list[str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        parse_ratecard_command(argv)


def test_the_migrate_job_runs_migrate_before_the_rollout() -> None:
    job = load_one("migrate-job.yaml", "Job")
    ctx = parse_ratecard_command(only_container(job)["command"])
    assert ctx.info_name == "migrate"
    # An actual migration: none of the read-only modes, and a bounded wait for the lock.
    assert not (ctx.params["dry_run"] or ctx.params["show_status"] or ctx.params["check"])
    assert not ctx.params["fail_fast"]
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert set(annotations["helm.sh/hook-delete-policy"].split(",")) == {
        "before-hook-creation",
        "hook-succeeded",
    }
    assert job["spec"]["backoffLimit"] >= 0
    assert job["spec"]["activeDeadlineSeconds"] > ctx.params["wait"], "deadline cuts lock wait"
    assert pod_spec(job)["restartPolicy"] in ("Never", "OnFailure")


def test_the_migrate_job_gets_the_database_from_the_secret() -> None:
    job = load_one("migrate-job.yaml", "Job")
    secret = load_one("secret.example.yaml", "Secret")
    env = {item["name"]: item for item in only_container(job).get("env", [])}
    ref = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == secret["metadata"]["name"]
    assert ref["key"] in secret["stringData"]


def test_every_workload_runs_the_same_image() -> None:
    images = set()
    for path in MANIFESTS:
        for doc in load_docs(path):
            if doc.get("kind") in ("Deployment", "Job"):
                images |= {c["image"] for c in pod_spec(doc)["containers"]}
    # The Job must migrate with the release's revisions, the ones the new pods expect.
    assert len(images) == 1, f"workloads run different images: {sorted(images)}"


# --- graceful stop -----------------------------------------------------------------------------


def test_termination_grace_outlasts_the_drain_and_the_lease_release() -> None:
    deployment = load_one("deployment.yaml", "Deployment")
    spec, container = pod_spec(deployment), only_container(deployment)
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep" and float(pre_stop[1]) > 0, "no drain before SIGTERM"
    # Timeline prevented: preStop sleep, SIGTERM, gunicorn gives workers graceful_timeout to
    # release the lease; a grace period shorter than both SIGKILLs a lease holder mid-release.
    needed = float(pre_stop[1]) + gunicorn_conf.graceful_timeout
    assert spec["terminationGracePeriodSeconds"] > needed
    assert spec["terminationGracePeriodSeconds"] >= 30


# --- settings, secrets, security ---------------------------------------------------------------


def test_deployment_takes_settings_from_the_configmap_secret_and_pod_name() -> None:
    container = only_container(load_one("deployment.yaml", "Deployment"))
    config_name = load_one("configmap.yaml", "ConfigMap")["metadata"]["name"]
    secret_name = load_one("secret.example.yaml", "Secret")["metadata"]["name"]
    sources = container["envFrom"]
    assert {"configMapRef": {"name": config_name}} in sources
    assert {"secretRef": {"name": secret_name}} in sources
    env = {item["name"]: item for item in container["env"]}
    field_ref = env["RATECARD_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert field_ref == "metadata.name"


def test_configmap_and_secret_example_are_settings_ratecard_accepts() -> None:
    data = load_one("configmap.yaml", "ConfigMap")["data"]
    secrets = load_one("secret.example.yaml", "Secret")["stringData"]
    assert not set(data) & set(secrets), "a setting defined twice"
    settings = Settings.from_env({**data, **secrets})  # raises SettingsError on a bad value
    assert settings.refresh_interval == float(data["RATECARD_REFRESH_INTERVAL"])
    assert settings.lease_ttl == float(data["RATECARD_LEASE_TTL"])
    # from_env ignores unknown names, so a typo would silently fall back to a default.
    read_somewhere = "".join(
        (REPO / "src" / "ratecard" / name).read_text(encoding="utf-8")
        for name in ("settings.py", "gunicorn_conf.py", "metrics.py")
    )
    for name in [*data, *secrets]:
        assert f'"{name}"' in read_somewhere, f"{name} is read by no settings module"


def test_secret_example_holds_placeholders_only() -> None:
    secret = load_one("secret.example.yaml", "Secret")
    assert "data" not in secret, "base64 `data` hides what is committed; use stringData"
    for name, value in secret["stringData"].items():
        if "://" in value:
            password = urlsplit(value).password
            assert password is None or PLACEHOLDER.match(password), f"{name} has a real password"
        elif any(word in name for word in SECRET_WORDS):
            assert PLACEHOLDER.match(value), f"{name} is not a placeholder"


def test_the_placeholder_check_would_catch_a_real_looking_secret() -> None:
    assert not PLACEHOLDER.match("9f2c1e7d0a4b")
    assert not PLACEHOLDER.match(urlsplit("postgresql://u:hunter2@db/x").password or "")
    assert PLACEHOLDER.match("CHANGE_ME") and PLACEHOLDER.match("<admin-token>")


@pytest.mark.parametrize("name", ["deployment.yaml", "migrate-job.yaml", "worker-deployment.yaml"])
def test_workloads_run_non_root_on_a_read_only_root_with_a_writable_tmp(name: str) -> None:
    workload = next(d for d in load_docs(K8S / name) if d["kind"] in ("Deployment", "Job"))
    spec, container = pod_spec(workload), only_container(workload)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "/tmp must be a writable emptyDir"
    assert container["resources"]["requests"] and container["resources"]["limits"]


# --- Procfile ----------------------------------------------------------------------------------


def test_procfile_releases_with_migrate_and_serves_on_the_platform_port() -> None:
    entries = procfile_entries()
    assert set(entries) == {"release", "web", "worker"}
    assert entries["release"] == "ratecard migrate"
    assert entries["worker"] == "ratecard worker run"
    web = parse_ratecard_command(shlex.split(entries["web"].replace("$PORT", "5123")))
    assert web.info_name == "serve"
    assert web.params["host"] == "0.0.0.0" and web.params["port"] == 5123


# --- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_builds_wheels_in_a_builder_and_ships_a_slim_stage_without_compiler() -> None:
    stages = dockerfile_stages(REPO / "Dockerfile")
    assert len(stages) >= 2, "expected a builder stage and a final stage"
    builder, final = stages[0], stages[-1]
    assert builder[0][1].startswith("python:3.11-slim") and " AS " in builder[0][1].upper()
    assert final[0][1].split()[0] == "python:3.11-slim"
    assert any("/wheels" in arguments for keyword, arguments in builder if keyword == "RUN")
    # Every download is checked against the lock's hashes.
    assert any(
        "--require-hashes" in arguments and "requirements/runtime.txt" in arguments
        for keyword, arguments in builder
        if keyword == "RUN"
    )
    # The check can tell a compiler install; the final stage must have none.
    assert COMPILERS.search("apt-get install -y --no-install-recommends build-essential")
    final_text = " ".join(arguments for _, arguments in final)
    assert not COMPILERS.search(final_text), COMPILERS.search(final_text)


def test_dockerfile_installs_dependencies_in_a_layer_before_the_source() -> None:
    final = dockerfile_stages(REPO / "Dockerfile")[-1]

    def first(predicate: Any, what: str) -> int:
        for index, (keyword, arguments) in enumerate(final):
            if predicate(keyword, arguments):
                return index
        raise AssertionError(f"final stage has no {what}")

    copy_lock = first(
        lambda k, a: k == "COPY" and "requirements/runtime.txt" in a.split(), "COPY the lock"
    )
    install_deps = first(
        lambda k, a: k == "RUN" and "pip install" in a and " -r requirements/runtime.txt" in a,
        "deps install from the lock",
    )
    install_project = first(
        lambda k, a: k == "RUN" and "pip install" in a and "/project/ratecard-" in a,
        "project install",
    )
    # The project arrives as the builder's wheel: a source edit must invalidate only the layer
    # that installs it, never the dependencies' (which depend on the lock alone).
    assert copy_lock < install_deps < install_project
    assert not any(k == "COPY" and a.split()[0] in ("src", "src/") for k, a in final)


def test_dockerfile_runs_as_the_non_root_user_the_manifests_expect() -> None:
    final = dockerfile_stages(REPO / "Dockerfile")[-1]
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users, "the final stage runs as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # Numeric, so Kubernetes' runAsNonRoot can verify it; the manifests run as the same uid.
    run_as = pod_spec(load_one("deployment.yaml", "Deployment"))["securityContext"]["runAsUser"]
    assert user == str(run_as)


def test_dockerfile_env_expose_healthcheck_and_cmd_agree_with_the_app(app: Flask) -> None:
    final = dockerfile_stages(REPO / "Dockerfile")[-1]
    env_text = " ".join(arguments for keyword, arguments in final if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env_text and "PYTHONUNBUFFERED=1" in env_text
    serve = parse_ratecard_command(docker_cmd())
    assert serve.info_name == "serve" and serve.params["host"] == "0.0.0.0"
    exposed = {int(a.split("/")[0]) for k, args in final if k == "EXPOSE" for a in args.split()}
    assert exposed == {serve.params["port"]}
    healthchecks = [arguments for keyword, arguments in final if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    url = re.search(r"https?://[^'\"\s]+", healthchecks[0])
    assert url, "HEALTHCHECK requests no URL"
    assert "urllib" in healthchecks[0] and "curl" not in healthchecks[0]  # slim has no curl
    parts = urlsplit(url.group(0))
    assert parts.port == serve.params["port"] and parts.path == "/health/live"
    assert_route(app, parts.path)


def test_dockerfile_copies_only_files_that_exist_and_are_not_dockerignored() -> None:
    ignored = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for keyword, arguments in dockerfile_instructions(REPO / "Dockerfile"):
        if keyword != "COPY" or "--from=" in arguments:
            continue
        *sources, _destination = arguments.split()
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            hit = [pattern for pattern in ignored if fnmatch(source.rstrip("/"), pattern)]
            assert not hit, f"COPY {source} is excluded by .dockerignore {hit}"
    assert ".venv" in ignored and ".git" in ignored, "the context would ship local state"
