"""The deployment templates in docker/: what a user would check before trusting them.

No Docker engine, Kubernetes or Slurm here, so these read the files: compose files against
the Compose schema, KubeRay manifests for the fields the operator requires, every `sweeper`
command in them (and in docker/README.md) against sweeper's own parser, every embedded
search space against sweeper's loader, and the security rules (token auth on every Ray
process, nothing published beyond 127.0.0.1, a non-root image).
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from sweeper import config as spec_module
from sweeper.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE_FILES = [DOCKER / "compose.yaml", DOCKER / "compose.worker.yaml"]
KUBE_FILES = sorted((DOCKER / "kubernetes").glob("*.yaml"))
SBATCH = DOCKER / "slurm" / "sweep.sbatch"
RAY_PORTS = {"6379", "8265", "10001"}
SWEEPER_COMMANDS = ("run", "resume", "validate", "train", "status", "results", "export",
                    "compare", "ui", "stop", "extend", "list")


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def compose_schema() -> dict[str, Any]:
    """The vendored Compose schema, plus the top-level `name` the spec added after it."""
    schema = json.loads((ROOT / "tests" / "schemas" / "compose_spec.json").read_text())
    schema["properties"]["name"] = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"}
    return schema


def command_text(path: Path) -> str:
    """The parts of a file that are commands: Markdown code blocks, or non-comment lines."""
    text = path.read_text()
    if path.suffix == ".md":
        return "\n".join(re.findall(r"^```[a-z]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL))
    return "\n".join(line for line in text.splitlines()
                     if not line.lstrip().startswith("#") and "usage:" not in line)


def sweeper_commands(text: str) -> list[list[str]]:
    """Every `sweeper <command> ...` invocation in shell/YAML text, as argv."""
    joined = re.sub(r"\\\n\s*", " ", text)  # shell line continuations
    found = []
    pattern = rf"\bsweeper ({'|'.join(SWEEPER_COMMANDS)})\b[^\n]*"
    for match in re.finditer(pattern, joined):
        line = match.group(0).split(" #")[0]
        line = line.replace('"$@"', "")
        line = re.sub(r'"?\$\{?(\w+)\}?"?', r"\1", line)  # $VAR -> VAR as a placeholder
        found.append(shlex.split(line)[1:])
    return found


def containers(pod_template: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod_template["spec"]["containers"])


def env_names(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item for item in container.get("env", [])}


def cluster_specs() -> list[dict[str, Any]]:
    specs = []
    for path in KUBE_FILES:
        for doc in load_all(path):
            if doc["kind"] == "RayCluster":
                specs.append(doc["spec"])
            elif doc["kind"] == "RayJob":
                specs.append(doc["spec"]["rayClusterSpec"])
    return specs


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_files_match_the_compose_schema(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    errors = sorted(jsonschema.Draft201909Validator(compose_schema()).iter_errors(document),
                    key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    for name, service in document["services"].items():
        for secret in service.get("secrets", []):
            assert secret in document["secrets"], f"{name} uses undeclared secret {secret}"
            assert (path.parent / document["secrets"][secret]["file"]).parent == \
                DOCKER / "secrets"  # git-ignored


def test_compose_publishes_only_on_loopback_and_keeps_ray_private() -> None:
    document = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    published = []
    for name, service in document["services"].items():
        assert service.get("network_mode") != "host", name
        for port in service.get("ports", []):
            published.append(port)
            host_ip, host_port, _ = str(port).split(":")
            assert host_ip == "127.0.0.1", f"{name} publishes {port} on every interface"
            assert host_port not in {"6379", "10001"}, f"{name} publishes Ray's GCS/client"
    assert sorted(published) == ["127.0.0.1:5000:5000", "127.0.0.1:8265:8265"]


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_ray_process_in_compose_uses_token_auth(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    ray_services = {name: service for name, service in document["services"].items()
                    if "ray start" in str(service.get("command", ""))}
    assert ray_services
    for name, service in ray_services.items():
        env = service["environment"]
        assert env["RAY_AUTH_MODE"] == "token", name
        assert env["RAY_AUTH_TOKEN_PATH"] == "/run/secrets/ray_token", name
        assert "ray_token" in service["secrets"], name
        volumes = " ".join(service.get("volumes", []))
        assert ":/shared" in volumes, f"{name} does not mount the shared storage"


def test_compose_gpu_workers_reserve_gpus_and_head_schedules_no_trials() -> None:
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    devices = services["ray-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"] and devices[0]["driver"] == "nvidia"
    assert services["ray-worker"]["build"]["target"] == "gpu"
    assert "--num-gpus=0" in services["ray-head"]["command"]
    assert "--num-cpus=0" in services["ray-head"]["command"]
    assert "postgresql://" in services["mlflow"]["command"]
    assert "password" not in json.dumps(services["mlflow"]).replace("postgres_password", "")


@pytest.mark.parametrize("spec", cluster_specs(), ids=["raycluster", "rayjob"])
def test_kuberay_specs_have_the_fields_the_operator_requires(spec: dict[str, Any]) -> None:
    head = spec["headGroupSpec"]
    assert "rayStartParams" in head
    assert head["rayStartParams"]["num-gpus"] == "0"
    every = [*containers(head["template"])]
    groups = spec["workerGroupSpecs"]
    assert groups
    for group in groups:
        assert group["groupName"] and "rayStartParams" in group
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        worker_containers = containers(group["template"])
        assert any(int(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu", 0)) > 0
                   for c in worker_containers), f"{group['groupName']} asks for no GPU"
        every += worker_containers
    for container in every:
        assert container["name"] and container["image"].startswith("sweeper:")
        env = env_names(container)
        assert env["RAY_AUTH_MODE"]["value"] == "token", container["name"]
        secret = env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert secret == {"name": "sweeper-ray-token", "key": "token"}, container["name"]
        mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
        assert "/shared" in mounts, f"{container['name']} does not mount the shared storage"


def test_kuberay_documents_are_well_formed() -> None:
    kinds = []
    for path in KUBE_FILES:
        for doc in load_all(path):
            kinds.append(doc["kind"])
            assert doc["metadata"]["name"]
            if doc["kind"] in ("RayCluster", "RayJob"):
                assert doc["apiVersion"] == "ray.io/v1"
                spec = doc["spec"] if doc["kind"] == "RayCluster" else doc["spec"]["rayClusterSpec"]
                ray_version = importlib.metadata.version("ray")
                assert spec["rayVersion"] == ray_version, "rayVersion must match the image's Ray"
    assert sorted(kinds) == ["ConfigMap", "RayCluster", "RayJob"]


def test_rayjob_runs_a_valid_space_from_its_configmap() -> None:
    docs = {doc["kind"]: doc for doc in load_all(DOCKER / "kubernetes" / "rayjob.yaml")}
    job = docs["RayJob"]["spec"]
    submitter = containers(job["submitterPodTemplate"])[0]
    assert env_names(submitter)["RAY_AUTH_MODE"]["value"] == "token"
    assert "RAY_AUTH_TOKEN" in env_names(submitter)
    [argv] = sweeper_commands(job["entrypoint"])
    args = build_parser().parse_args(argv)
    assert args.command == "run" and args.storage.startswith("/shared/")
    head = job["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in head["containers"][0]["volumeMounts"]}
    space_volume = next(v for v in head["volumes"] if v["name"] == mounts["/etc/sweeper"])
    configmap = docs["ConfigMap"]
    assert space_volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert Path(args.file).name in configmap["data"]
    loaded = spec_module.loads(configmap["data"][Path(args.file).name], file=args.file)
    assert loaded.spec.resources.gpus_per_trial >= 1


def test_every_documented_sweeper_command_parses() -> None:
    texts = {path: command_text(path) for path in
             [DOCKER / "README.md", ROOT / "README.md", SBATCH, *COMPOSE_FILES, *KUBE_FILES]}
    total = 0
    for path, text in texts.items():
        for argv in sweeper_commands(text):
            try:
                build_parser().parse_args(argv)
            except SystemExit:
                pytest.fail(f"{path.relative_to(ROOT)}: `sweeper {shlex.join(argv)}` "
                            "does not parse")
            total += 1
    assert total >= 5
    runs = [argv for text in texts.values() for argv in sweeper_commands(text)
            if argv[0] == "run" and "--address" in argv]
    assert runs and all("--storage" in argv for argv in runs), \
        "every cluster run needs --storage on a shared path"


def test_slurm_script_is_valid_bash_that_starts_head_workers_and_driver() -> None:
    subprocess.run(["bash", "-n", str(SBATCH)], check=True)
    text = SBATCH.read_text()
    assert "export RAY_AUTH_MODE=token" in text
    assert "ray start --head" in text and "ray start --address" in text
    assert "#SBATCH --gpus-per-node" in text


def test_dockerfile_builds_cpu_and_gpu_images_as_a_non_root_user() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    targets = re.findall(r"^FROM \S+ AS (\w+)$", text, flags=re.MULTILINE)
    assert {"cpu", "gpu"} <= set(targets)
    assert re.search(r"^USER sweeper$", text, flags=re.MULTILINE)
    assert text.count("--constraint docker/constraints.txt") == 2
    assert '".[gpu]"' in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv/", "runs/", ".git/", "docker/secrets/"} <= set(ignored)


def test_image_constraints_pin_the_tested_versions() -> None:
    pins = dict(line.split("==") for line in (DOCKER / "constraints.txt").read_text().split("\n")
                if line and not line.startswith("#"))
    pins = {name.lower().replace("_", "-"): version for name, version in pins.items()}
    for package in ("tensorflow", "keras", "ray", "mlflow", "optuna", "pandas", "keras-tuner",
                    "pydantic"):
        assert pins[package] == importlib.metadata.version(package), (
            f"docker/constraints.txt pins {package}=={pins[package]} but the tests ran "
            f"{importlib.metadata.version(package)}: run `make pins`, then `make test`")
    for dev_tool in ("pytest", "ruff", "mypy", "playwright"):
        assert dev_tool not in pins
    assert "tensorflow-cpu" not in pins
