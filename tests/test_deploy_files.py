"""Static checks of the deployment files: docker/ (image, compose) and helm/ (the chart).

No Docker engine and no Helm are needed: files are parsed as YAML, Go-template actions are
checked for balance and stripped to check the manifests' shape, every ``.Values`` path a
template reads must exist in values.yaml, and every ``TIMESHEET_*`` variable must be a
setting (and the production values must pass the Settings validation). When a ``helm``
binary is on PATH, ``helm lint`` / ``helm template`` run too.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest
import yaml

from timesheet_batch.settings import DEV_MASKING_KEY, ENV_PREFIX, PACKAGED_VENDORS_FILE, Settings

REPO = Path(__file__).resolve().parent.parent
DOCKER = REPO / "docker"
CHART = REPO / "helm" / "timesheet-batch"
TEMPLATES = CHART / "templates"

SETTING_NAMES = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
QUEUES = ["high", "medium", "low"]
EXPECTED_PROD = {
    "TIMESHEET_ENV": "prod",
    "TIMESHEET_BROKER_URL": "redis://redis:6379/0",
    "TIMESHEET_RESULT_BACKEND": "redis://redis:6379/1",
    "TIMESHEET_STORAGE_URL": "s3://timesheets/farm",
    "TIMESHEET_S3_ENDPOINT_URL": "http://minio:9000",
}
VENDORS_PATH = "/etc/timesheet/vendors.yaml"
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?])?([^}]*)\}")


def _load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose-style ${VAR}, ${VAR:-default}, ${VAR:?message}: env value, else the default."""
    env = env or {}

    def repl(match: re.Match) -> str:
        name, rest = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if match.group(0).startswith(f"${{{name}:?") or match.group(0).startswith(f"${{{name}?"):
            raise KeyError(name)
        return rest

    return _INTERPOLATION.sub(repl, value)


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Validate the given environment with the real Settings (nothing else set)."""
    import os

    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


# ---- docker/compose.yaml -------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return _load(DOCKER / "compose.yaml")


def _command(service: dict) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def test_compose_has_the_services(compose):
    services = compose["services"]
    for name in ("redis", "postgres", "minio", "minio-init", "migrate", "worker", "beat", "flower"):
        assert name in services, name


def test_compose_beat_has_exactly_one_replica(compose):
    beat = compose["services"]["beat"]
    assert beat["deploy"]["replicas"] == 1
    assert _command(beat)[:4] == ["celery", "-A", "timesheet_batch", "beat"]


def test_compose_worker_command_and_shutdown(compose):
    worker = compose["services"]["worker"]
    command = _command(worker)
    assert command[:4] == ["celery", "-A", "timesheet_batch", "worker"]
    assert " ".join(command).count("-Q high,medium,low") == 1
    assert command[command.index("-n") + 1] == "worker@%h"
    concurrency = [part for part in command if part.startswith("--concurrency=")]
    assert len(concurrency) == 1 and int(_interpolate(concurrency[0].split("=", 1)[1])) >= 1
    assert int(_interpolate(str(worker["deploy"]["replicas"]))) >= 1
    assert worker.get("stop_signal", "SIGTERM") == "SIGTERM"
    grace = re.fullmatch(r"(\d+)s", worker["stop_grace_period"])
    assert grace and int(grace.group(1)) >= 60


# ---- Flower: only behind its login, in every deployment -------------------------------------

FLOWER_ARGV = ["celery", "-A", "timesheet_batch", "flower", "--address=0.0.0.0", "--port=5555"]
BAD_LOGINS = [None, "", "admin", ":secret", "admin:", "   "]


def _guarded(command: list[str]) -> tuple[str, list[str]]:
    """(the guard script, the command it runs) of ``sh -c SCRIPT NAME ARGV...``."""
    assert command[:2] == ["sh", "-c"] and command[3] == "flower", command
    return command[2], command[4:]


def _run_guard(script: str, argv: list[str], tmp_path: Path,
               login: str | None) -> tuple[subprocess.CompletedProcess, str]:
    """Run the guard as the container would, with a stand-in ``celery`` that records how it was called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    record = tmp_path / "celery-called"
    record.unlink(missing_ok=True)
    fake = bin_dir / "celery"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" "auth=$FLOWER_BASIC_AUTH" > {record}\n')
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    if login is not None:
        env["FLOWER_BASIC_AUTH"] = login
    proc = subprocess.run(["sh", "-c", script, "flower", *argv], env=env, capture_output=True, text=True, timeout=30)
    return proc, record.read_text() if record.exists() else ""


def _check_guard(script: str, argv: list[str], tmp_path: Path) -> None:
    for login in BAD_LOGINS:
        proc, called = _run_guard(script, argv, tmp_path, login)
        assert proc.returncode == 2 and called == "", (login, proc)
        assert "FLOWER_BASIC_AUTH must be user:password" in proc.stderr
    for login in ("admin:s3cret", "admin:s3cret,ops:other"):
        proc, called = _run_guard(script, argv, tmp_path, login)
        assert proc.returncode == 0, proc.stderr
        # Flower reads its login from the environment; the command line (``ps``) never holds it.
        assert called.splitlines() == [" ".join(argv[1:]), f"auth={login}"]
        assert all(login not in part for part in argv)


def test_compose_flower_runs_only_behind_its_login_on_loopback(compose, tmp_path):
    flower = compose["services"]["flower"]
    script, argv = _guarded(_command(flower))
    assert argv == FLOWER_ARGV
    assert flower["ports"] == ["127.0.0.1:5555:5555"]
    env = flower["environment"]
    # Required and not empty (``:?``): compose refuses to start anything without it.
    assert env["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    with pytest.raises(KeyError):
        _interpolate(env["FLOWER_BASIC_AUTH"])
    assert _interpolate(env["FLOWER_BASIC_AUTH"], {"FLOWER_BASIC_AUTH": "admin:pw"}) == "admin:pw"
    # Its own environment keeps every setting the other containers get.
    assert {k: v for k, v in env.items() if k != "FLOWER_BASIC_AUTH"} == compose["services"]["worker"]["environment"]
    assert not any("UNAUTHENTICATED" in name for name in env)
    for service in compose["services"].values():
        if "command" in service:
            assert not any(re.match(r"--basic[-_]auth", part) for part in _command(service))
    _check_guard(script.replace("$$", "$"), argv, tmp_path)  # compose writes a literal $ as $$


def test_compose_migrations_run_first(compose):
    services = compose["services"]
    assert _command(services["migrate"]) == ["timesheet-batch", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in ("worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["migrate"]["depends_on"]["minio-init"] == {"condition": "service_completed_successfully"}


def test_compose_depends_on_conditions_are_backed(compose):
    services = compose["services"]
    for name, service in services.items():
        for target, spec in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = spec["condition"]
            assert condition in ("service_healthy", "service_completed_successfully", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}'s healthcheck"
            if condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} is a one-shot"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]


def test_compose_environment_is_production_and_valid(compose, monkeypatch):
    app_services = ("migrate", "worker", "beat", "flower")
    for name in app_services:
        env = compose["services"][name]["environment"]
        for variable in env:
            if variable.startswith(ENV_PREFIX):
                assert variable in SETTING_NAMES, f"{name}: {variable} is not a setting"
        for variable, value in EXPECTED_PROD.items():
            assert env[variable] == value, variable
        assert env["TIMESHEET_DATABASE_URL"] == "postgresql+psycopg://timesheet:timesheet@postgres:5432/timesheet"
        assert env["TIMESHEET_VENDORS_FILE"] == VENDORS_PATH
        # The masking key is interpolated from outside, required, never written here.
        assert env["TIMESHEET_MASKING_KEY"].startswith("${TIMESHEET_MASKING_KEY:?")
    env = {
        key: _interpolate(str(value), {"TIMESHEET_MASKING_KEY": "a-real-secret-for-the-test"})
        for key, value in compose["services"]["worker"]["environment"].items()
    }
    settings = _settings_from({k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}, monkeypatch)
    assert settings.env == "prod" and settings.storage_url == "s3://timesheets/farm"
    with pytest.raises(KeyError):
        _interpolate(compose["services"]["worker"]["environment"]["TIMESHEET_MASKING_KEY"])


def test_compose_mounts_the_packaged_vendors_read_only(compose):
    for name in ("migrate", "worker", "beat", "flower"):
        mounts = [m for m in compose["services"][name]["volumes"] if m.endswith(f":{VENDORS_PATH}:ro")]
        assert len(mounts) == 1, name
        source = (DOCKER / mounts[0].split(":", 1)[0]).resolve()
        assert source == PACKAGED_VENDORS_FILE.resolve()


def test_compose_builds_from_the_repo_root(compose):
    for name in ("migrate", "worker", "beat", "flower"):
        build = compose["services"][name]["build"]
        context = (DOCKER / build["context"]).resolve()
        assert context == REPO
        assert (context / build["dockerfile"]).resolve() == DOCKER / "Dockerfile"


def test_compose_bucket_matches_storage_url(compose):
    init = compose["services"]["minio-init"]
    bucket = EXPECTED_PROD["TIMESHEET_STORAGE_URL"].removeprefix("s3://").split("/")[0]
    assert _command(init)[-1] == f"local/{bucket}"
    assert init["depends_on"]["minio"] == {"condition": "service_healthy"}


# ---- docker/Dockerfile ---------------------------------------------------------------------


def test_dockerfile_installs_the_package_as_non_root():
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\}", text, re.M)
    assert re.search(r"^COPY pyproject\.toml README\.md celeryconfig\.py \./$", text, re.M)
    assert re.search(r"^COPY timesheet_batch/ \./timesheet_batch/$", text, re.M)
    assert "pip install ." in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^ARG APP_UID=(\d+)$", text, re.M).group(1) != "0"
    # No secret baked in.
    for line in text.splitlines():
        if line.startswith(("ENV", "ARG")):
            assert not re.search(r"MASKING_KEY|PASSWORD|SECRET|DATABASE_URL", line), line


def test_dockerignore_keeps_what_the_build_copies():
    patterns = [
        line.strip()
        for line in (DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ".git" in patterns
    for needed in ("pyproject.toml", "README.md", "celeryconfig.py", "timesheet_batch", "timesheet_batch/settings.py"):
        for pattern in patterns:
            assert not pattern.startswith("!"), "keep the ignore file simple"
            top = needed.split("/")[0]
            assert not fnmatch.fnmatch(needed, pattern) and not fnmatch.fnmatch(top, pattern), (needed, pattern)


# ---- helm: Chart.yaml, values.yaml ---------------------------------------------------------


@pytest.fixture(scope="module")
def values() -> dict:
    return _load(CHART / "values.yaml")


def test_chart_metadata():
    chart = _load(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "timesheet-batch" == CHART.name
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert chart["appVersion"] == project["version"]


def test_values_settings_are_settings(values, monkeypatch):
    env = {name: str(value) for name, value in values["env"].items()}
    for name in env:
        assert name in SETTING_NAMES, f"values env.{name} is not a setting"
    assert "TIMESHEET_MASKING_KEY" not in env and "TIMESHEET_DATABASE_URL" not in env
    for variable, value in EXPECTED_PROD.items():
        assert env[variable] == value, variable
    rendered = {name: value for name, value in env.items() if value != ""}
    rendered["TIMESHEET_VENDORS_FILE"] = VENDORS_PATH
    rendered["TIMESHEET_MASKING_KEY"] = "a-real-secret-for-the-test"
    rendered["TIMESHEET_DATABASE_URL"] = "postgresql+psycopg://u:p@db/timesheet"
    settings = _settings_from(rendered, monkeypatch)
    assert settings.env == "prod"
    assert settings.masking_key.get_secret_value() != DEV_MASKING_KEY
    assert values["secret"]["name"] and values["secret"]["maskingKeyKey"] and values["secret"]["databaseUrlKey"]


def test_values_workers_and_keda(values):
    worker = values["worker"]
    assert [pool["queues"] for pool in worker["pools"]] == [QUEUES]
    assert worker["replicas"] >= 1 and worker["concurrency"] >= 1
    assert worker["terminationGracePeriodSeconds"] >= 60
    assert worker["resources"]["limits"]["memory"]
    keda = values["keda"]
    assert keda["enabled"] is False
    assert 0 <= keda["minReplicas"] <= keda["maxReplicas"]
    assert keda["redis"]["address"] == "redis:6379"
    # The broker's database index, as the KEDA trigger reads it.
    assert EXPECTED_PROD["TIMESHEET_BROKER_URL"].endswith("/" + keda["redis"]["databaseIndex"])


def test_chart_vendors_file_is_the_packaged_sample():
    assert (CHART / "files" / "vendors.yaml").read_bytes() == PACKAGED_VENDORS_FILE.read_bytes()


def test_no_unknown_timesheet_variables_anywhere():
    for root in (DOCKER, CHART.parent):
        for path in root.rglob("*"):
            if path.is_file():
                for name in re.findall(r"TIMESHEET_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8")):
                    assert name in SETTING_NAMES, f"{path.relative_to(REPO)}: {name}"


# ---- helm: templates, checked without helm -------------------------------------------------

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_OPENERS = ("if", "range", "with", "define", "block")


def _template_files() -> list[Path]:
    files = sorted(TEMPLATES.iterdir())
    assert {p.name for p in files} >= {
        "_helpers.tpl",
        "configmap.yaml",
        "worker-deployment.yaml",
        "beat-deployment.yaml",
        "flower.yaml",
        "migrate-job.yaml",
        "keda-scaledobject.yaml",
    }
    return files


def _actions(text: str) -> list[str]:
    return [match.group(1) for match in _ACTION.finditer(text)]


@pytest.mark.parametrize("path", _template_files(), ids=lambda p: p.name)
def test_template_delimiters_and_blocks_balance(path):
    text = path.read_text(encoding="utf-8")
    assert text.count("{{") == text.count("}}") == len(_ACTION.findall(text))
    stack: list[str] = []
    for action in _actions(text):
        if action.startswith("/*"):
            assert action.endswith("*/"), action
            continue
        word = action.split()[0] if action.split() else ""
        if word in _OPENERS:
            stack.append(word)
        elif word == "else":
            assert stack and stack[-1] in ("if", "with", "range"), f"stray else in {path.name}"
        elif word == "end":
            assert stack, f"unmatched end in {path.name}"
            stack.pop()
    assert not stack, f"unclosed {stack} in {path.name}"


def _helpers() -> set[str]:
    return set(re.findall(r'\{\{-?\s*define\s+"([^"]+)"', (TEMPLATES / "_helpers.tpl").read_text(encoding="utf-8")))


def test_includes_name_defined_helpers():
    defined = _helpers()
    used: set[str] = set()
    for path in _template_files():
        for name in re.findall(r'(?:include|template)\s+"([^"]+)"', path.read_text(encoding="utf-8")):
            assert name in defined, f"{path.name} includes undefined {name}"
            used.add(name)
    assert defined <= used, f"unused helpers: {defined - used}"
    for path in _template_files():
        if path.suffix == ".yaml":
            assert 'include "timesheet-batch.fullname"' in path.read_text(encoding="utf-8"), path.name


def _has_path(tree, keys: list[str]) -> bool:
    for key in keys:
        if not isinstance(tree, dict) or key not in tree:
            return False
        tree = tree[key]
    return True


def test_every_values_reference_exists(values):
    for path in _template_files():
        for reference in re.findall(r"\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", path.read_text(encoding="utf-8")):
            keys = reference.strip(".").split(".")
            assert _has_path(values, keys), f"{path.name}: .Values.{'.'.join(keys)} is not in values.yaml"


def _strip_template(text: str) -> str:
    """The manifest with Go-template actions gone: action-only lines dropped, inline ones -> X."""
    lines = []
    for line in text.splitlines():
        if _ACTION.sub("", line).strip() == "" and "{{" in line:
            continue
        lines.append(_ACTION.sub("X", line))
    return "\n".join(lines)


def _manifests(name: str) -> list[dict]:
    docs = [d for d in yaml.safe_load_all(_strip_template((TEMPLATES / name).read_text(encoding="utf-8"))) if d]
    for doc in docs:
        assert isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"), name
        assert doc["metadata"]["name"].startswith("X"), f"{name}: names start with the fullname"
    return docs


@pytest.mark.parametrize("name", [p.name for p in _template_files() if p.suffix == ".yaml"])
def test_template_skeleton_is_a_manifest(name):
    assert _manifests(name)


def _one(name: str, kind: str) -> dict:
    docs = [d for d in _manifests(name) if d["kind"] == kind]
    assert len(docs) == 1, (name, kind)
    return docs[0]


def _container(doc: dict) -> dict:
    containers = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_beat_is_one_replica_recreated():
    beat = _one("beat-deployment.yaml", "Deployment")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert _container(beat)["command"][:4] == ["celery", "-A", "timesheet_batch", "beat"]


def test_worker_deployment_shape():
    text = (TEMPLATES / "worker-deployment.yaml").read_text(encoding="utf-8")
    worker = _one("worker-deployment.yaml", "Deployment")
    command = _container(worker)["command"]
    assert command[:5] == ["celery", "-A", "timesheet_batch", "worker", "-Q"]
    assert command[command.index("-n") + 1] == "worker@%h"
    assert '{{ join "," $queues | quote }}' in text and "--concurrency={{ $concurrency }}" in text
    assert "terminationGracePeriodSeconds: {{ $.Values.worker.terminationGracePeriodSeconds }}" in text
    # KEDA owns replicas when enabled.
    assert re.search(r"\{\{-? if not \$\.Values\.keda\.enabled \}\}\s*replicas:", text)


def test_every_pod_gets_settings_secret_and_vendors():
    for name in ("worker-deployment.yaml", "beat-deployment.yaml", "flower.yaml", "migrate-job.yaml"):
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        assert 'include "timesheet-batch.secretEnv"' in text, name
        assert 'include "timesheet-batch.volumeMounts"' in text and 'include "timesheet-batch.volumes"' in text, name
    helpers = (TEMPLATES / "_helpers.tpl").read_text(encoding="utf-8")
    for variable in ("TIMESHEET_MASKING_KEY", "TIMESHEET_DATABASE_URL"):
        assert f"- name: {variable}\n  valueFrom:\n    secretKeyRef:" in helpers


def test_migrate_job_is_a_pre_install_pre_upgrade_hook():
    job = _one("migrate-job.yaml", "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert _container(job)["command"] == ["timesheet-batch", "db", "upgrade"]
    # Its vendor file must exist before it: a hook ConfigMap with a lower weight.
    config = _one("migrate-job.yaml", "ConfigMap")
    assert config["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(config["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])


def _helm_flower_command(values: dict) -> list[str]:
    """The Flower container's command with its two values put in, as helm would render them."""
    text = (TEMPLATES / "flower.yaml").read_text(encoding="utf-8")
    text = text.replace('{{ required "flower.address is required" .Values.flower.address }}', values["address"])
    text = text.replace("{{ .Values.flower.port }}", str(values["port"]))
    assert not values["extraArgs"]
    extra_args = r"\n *\{\{- range \.Values\.flower\.extraArgs \}\}\n *- \{\{ \. \| quote \}\}\n *\{\{- end \}\}"
    text, found = re.subn(extra_args, "", text)
    assert found == 1
    return _container(yaml.safe_load_all(_strip_template(text)).__next__())["command"]


def test_flower_deployment_and_service(values, tmp_path):
    container = _container(_one("flower.yaml", "Deployment"))
    script, argv = _guarded(container["command"])
    assert argv == ["celery", "-A", "timesheet_batch", "flower", "--address=X", "--port=X", "X"]  # X: extraArgs
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthcheck"  # the one page without a login
    assert _one("flower.yaml", "Service")["spec"]["ports"][0]["targetPort"] == "http"
    assert (CHART / "values.yaml").read_text(encoding="utf-8").count("port: 5555") == 2
    # The login comes from a Secret; without a key to read it from, the chart does not render.
    [auth] = [e for e in container["env"] if isinstance(e, dict) and e.get("name") == "FLOWER_BASIC_AUTH"]
    assert set(auth["valueFrom"]["secretKeyRef"]) == {"name", "key"}  # not optional: no key, no pod
    text = (TEMPLATES / "flower.yaml").read_text(encoding="utf-8")
    assert 'required "flower.basicAuth.secretKey is required' in text
    assert "{{ default .Values.secret.name .Values.flower.basicAuth.secretName }}" in text
    assert re.search(r'fail \(printf "flower\.extraArgs: %s is set by the chart', text)
    assert values["flower"]["basicAuth"]["secretKey"] and values["flower"]["address"] == "0.0.0.0"
    assert not any(re.match(r"--(basic[-_]auth|address)", arg) for arg in values["flower"]["extraArgs"])
    # The same guard as compose's, and it behaves the same.
    compose_script, _ = _guarded(_command(_load(DOCKER / "compose.yaml")["services"]["flower"]))
    assert script == compose_script.replace("$$", "$")
    rendered = _helm_flower_command(values["flower"])
    assert _guarded(rendered)[1] == FLOWER_ARGV
    _check_guard(script, _guarded(rendered)[1], tmp_path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str, login: str | None = None) -> int:
    request = urllib.request.Request(url)
    if login is not None:
        request.add_header("Authorization", "Basic " + b64encode(login.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_shipped_flower_command_serves_nothing_without_the_login(values, tmp_path):
    """The chart's command, run for real (Flower on the embedded broker, on loopback here)."""
    port = _free_port()
    command = _helm_flower_command(values["flower"] | {"address": "127.0.0.1", "port": port})
    celery = shutil.which("celery", path=os.path.dirname(sys.executable)) or shutil.which("celery")
    command[command.index("celery")] = celery
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIMESHEET_", "FLOWER_"))}
    env |= {"TIMESHEET_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    # Without a login it does not start at all (rather than serve an open dashboard).
    refused = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "FLOWER_BASIC_AUTH must be user:password" in refused.stderr
    env["FLOWER_BASIC_AUTH"] = "admin:s3cret"
    proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _status(f"{base}/healthcheck") == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "Flower did not start"
            time.sleep(0.3)
        for page in ("/", "/tasks", "/workers", "/api/workers", "/api/tasks"):
            assert _status(base + page) == 401, page
            assert _status(base + page, "admin:wrong") == 401, page
        assert _status(base + "/", "admin:s3cret") == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_keda_scaled_object_per_pool_only_when_enabled():
    text = (TEMPLATES / "keda-scaledobject.yaml").read_text(encoding="utf-8")
    assert _actions(text)[0] == "if .Values.keda.enabled"
    assert _actions(text)[1] == "range $pool := .Values.worker.pools"
    scaled = _one("keda-scaledobject.yaml", "ScaledObject")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert set(scaled["spec"]) >= {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "triggers"}
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "redis"
    assert set(trigger["metadata"]) >= {"address", "listName", "listLength", "databaseIndex"}
    assert "listName: {{ $queue | quote }}" in text
    assert "-worker-{{ $poolName }}" in text  # scales the pool's Deployment
