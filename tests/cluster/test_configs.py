"""Offline checks of the cluster configs in cluster/ (no cloud account, no network).

The Ray cluster-launcher configs are checked with ``prepare_config`` + ``validate_config`` from
``ray.autoscaler._private.util``: the same functions ``ray up`` runs on a config (defaults merged,
then Ray's own JSON schema, ray/autoscaler/ray-schema.json). They are private Ray APIs and may
change between releases; that is acceptable here because the project pins ``ray[tune]==2.60.0``
(pyproject.toml), and ``test_configs_use_the_pinned_ray_version`` fails first when the pin moves,
pointing at these files. The KubeRay manifest is checked for structure with plain YAML, and its
cluster spec through Ray's own KubeRay autoscaler translation (also private, same reasoning).
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

ray = pytest.importorskip("ray")
from ray.autoscaler._private.util import prepare_config, validate_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "cluster"
DOC = ROOT / "docs" / "cluster.md"
RAY_VERSION = ray.__version__

# Ray cluster-launcher configs, and whether Ray runs inside Docker on their nodes.
LAUNCHER_CONFIGS = {"gpu.yaml": True, "gcp-gpu.yaml": True, "onprem.yaml": False}
CLOUD_CONFIGS = ["gpu.yaml", "gcp-gpu.yaml"]
KUBERAY = "kuberay-job.yaml"
TOKEN_FILE = "~/.ray/auth_token"
DATA_DIR = "/home/ray/data"  # the data directory in the cloud and KubeRay nodes


def load(name: str) -> dict[str, Any]:
    with open(CLUSTER / name) as f:
        return yaml.safe_load(f)


def header(name: str) -> str:
    """The leading comment block of a config (its usage notes), without the '#'s."""
    lines = []
    for line in (CLUSTER / name).read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#"))
    return "\n".join(lines)


def start_commands(cfg: dict[str, Any]) -> list[str]:
    return list(cfg["head_start_ray_commands"]) + list(cfg["worker_start_ray_commands"])


def ray_start_commands(cfg: dict[str, Any]) -> list[str]:
    return [c for c in start_commands(cfg) if re.search(r"\bray start\b", c)]


def head_type(cfg: dict[str, Any]) -> dict[str, Any]:
    return cfg["available_node_types"][cfg["head_node_type"]]


def worker_types(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in cfg["available_node_types"].items() if k != cfg["head_node_type"]}


# ---- the pin these checks rely on ------------------------------------------------------------
def test_configs_use_the_pinned_ray_version() -> None:
    with open(ROOT / "pyproject.toml", "rb") as f:
        study = tomllib.load(f)["project"]["optional-dependencies"]["study"]
    pins = [re.fullmatch(r"ray\[[\w,]+\]==([\w.]+)", dep) for dep in study]
    pinned = [m.group(1) for m in pins if m]
    assert pinned == [RAY_VERSION], (
        f"pyproject pins Ray {pinned}, installed is {RAY_VERSION}: the private validation API "
        "and the versions in cluster/ must be re-checked together"
    )


# ---- Ray's own schema ------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(LAUNCHER_CONFIGS))
def test_launcher_config_passes_rays_validation(name: str) -> None:
    prepared = prepare_config(load(name))
    validate_config(prepared)  # raises jsonschema.ValidationError / ValueError
    assert prepared["cluster_name"].startswith("ssvi")


def test_validation_rejects_a_broken_config() -> None:
    """The check above can fail: an unknown top-level field is a schema error."""
    import jsonschema

    cfg = load("gpu.yaml")
    cfg["head_node_typo"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(cfg))


# ---- head runs no trials, workers have GPUs ------------------------------------------------------
@pytest.mark.parametrize("name", CLOUD_CONFIGS)
def test_head_node_advertises_no_trial_resources(name: str) -> None:
    resources = head_type(load(name))["resources"]
    assert resources.get("CPU") == 0, "trials need CPU: a head with CPU 0 never runs one"
    assert resources.get("GPU", 0) == 0


def test_onprem_head_runs_no_trials() -> None:
    (head_start,) = [c for c in ray_start_commands(load("onprem.yaml")) if "--head" in c]
    assert "--num-cpus=0" in head_start.split() and "--num-gpus=0" in head_start.split()


@pytest.mark.parametrize("name", CLOUD_CONFIGS)
def test_worker_type_has_gpus_and_autoscales(name: str) -> None:
    cfg = load(name)
    workers = worker_types(cfg)
    assert len(workers) == 1
    (node_type,) = workers.values()
    assert node_type["resources"]["GPU"] >= 1
    assert node_type["resources"]["CPU"] >= 1
    assert node_type["min_workers"] == 0 < node_type["max_workers"] <= cfg["max_workers"]
    node_config = node_type["node_config"]
    if cfg["provider"]["type"] == "aws":
        assert re.match(r"(g|p)\d", node_config["InstanceType"]), "not a GPU instance type"
        assert node_config["InstanceMarketOptions"]["MarketType"] == "spot"
    else:
        (accelerator,) = node_config["guestAccelerators"]
        assert accelerator["acceleratorCount"] == node_type["resources"]["GPU"]
        assert node_config["scheduling"]["onHostMaintenance"] == "TERMINATE"
        assert node_config["scheduling"]["provisioningModel"] == "SPOT"


@pytest.mark.parametrize("name", CLOUD_CONFIGS)
def test_gpu_runtime_reaches_the_worker_container(name: str) -> None:
    docker = load(name)["docker"]
    assert "--gpus all" in docker["worker_run_options"]


# ---- versions --------------------------------------------------------------------------------
def image_tag_version(image: str) -> tuple[str, str]:
    """(Ray version, python tag) of a rayproject/ray:<version>-py3XX-gpu image."""
    m = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)-(py3\d+)-gpu", image)
    assert m, f"{image} is not a rayproject/ray:<version>-py3XX-gpu image"
    return m.group(1), m.group(2)


def python_tags() -> set[str]:
    tags = {image_tag_version(load(n)["docker"]["image"])[1] for n in CLOUD_CONFIGS}
    m = re.search(r"^ARG RAY_IMAGE=(\S+)$", (CLUSTER / "Dockerfile").read_text(), re.M)
    assert m
    tags.add(image_tag_version(m.group(1))[1])
    return tags


@pytest.mark.parametrize("name", CLOUD_CONFIGS)
def test_docker_image_is_rays_gpu_image_for_the_pinned_version(name: str) -> None:
    image = load(name)["docker"]["image"]
    assert "ray-ml" not in image  # no longer published after 2.49
    assert image_tag_version(image)[0] == RAY_VERSION


def test_one_python_version_everywhere_and_the_project_accepts_it() -> None:
    (tag,) = python_tags()
    with open(ROOT / "pyproject.toml", "rb") as f:
        requires = tomllib.load(f)["project"]["requires-python"]
    minimum = re.fullmatch(r">=3\.(\d+)", requires)
    assert minimum and int(tag[3:]) >= int(minimum.group(1))


@pytest.mark.parametrize("name", sorted(LAUNCHER_CONFIGS))
def test_setup_fails_on_any_other_ray_version(name: str) -> None:
    checks = [c for c in load(name)["setup_commands"] if "ray.__version__" in c]
    assert checks and all(f"'{RAY_VERSION}'" in c for c in checks)


def test_dockerfile_builds_on_the_pinned_ray_image_and_installs_the_project() -> None:
    text = (CLUSTER / "Dockerfile").read_text()
    m = re.search(r"^ARG RAY_IMAGE=(\S+)$", text, re.M)
    assert m and image_tag_version(m.group(1))[0] == RAY_VERSION
    assert re.search(r"^FROM \$\{RAY_IMAGE\}$", text, re.M)
    with open(ROOT / "pyproject.toml", "rb") as f:
        packages = tomllib.load(f)["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in packages:  # every package the wheel includes is copied in
        assert re.search(rf"^COPY .*\b{package.rstrip('*')} ", text, re.M), package
    assert "[study]" in text and f"== '{RAY_VERSION}'" in text


# ---- the project and the data reach every node ---------------------------------------------------
@pytest.mark.parametrize("name", sorted(LAUNCHER_CONFIGS))
def test_project_is_copied_and_installed_on_every_node(name: str) -> None:
    cfg = load(name)
    (source,) = [remote for remote, local in cfg["file_mounts"].items() if local == "."]
    # Not an importable name: `ray submit` runs the script from the home directory, where a
    # folder named like a package would shadow the installed one.
    assert not Path(source).name.isidentifier()
    installs = [c for c in cfg["setup_commands"] if "pip install" in c]
    assert len(installs) == 1
    source_in_command = source.replace("~", "$HOME")
    assert f'"{source_in_command}[study]"' in installs[0]
    assert "/.venv" in cfg["rsync_exclude"] and "/data" in cfg["rsync_exclude"]


# The study script (the driver, on the head) loads the data and hands them to every trial through
# Ray's object store (tune.with_parameters): the head needs the files, the workers never read them.
@pytest.mark.parametrize("name", CLOUD_CONFIGS)
def test_the_head_gets_the_data_dir_the_usage_notes_pass(name: str) -> None:
    cfg = load(name)
    setup = " ".join(cfg["head_setup_commands"])
    assert f"mkdir -p {DATA_DIR}" in setup
    assert all(ds in setup for ds in ("CIFAR10(", "CIFAR100(", "SVHN("))
    assert not cfg["worker_setup_commands"]  # no download that nobody reads
    assert f"--data-dir {DATA_DIR}" in header(name)


def test_onprem_data_dir_matches_its_usage_notes() -> None:
    cfg = load("onprem.yaml")
    assert "mkdir -p ~/ssvi-data" in " ".join(cfg["head_setup_commands"])
    assert not cfg["worker_setup_commands"]
    assert "--data-dir /home/YOUR-SSH-USER/ssvi-data" in header("onprem.yaml")


@pytest.mark.parametrize("name", sorted(LAUNCHER_CONFIGS))
def test_usage_notes_submit_the_study_with_shared_storage(name: str) -> None:
    notes = header(name)
    assert f"ray submit --tmux cluster/{name} studies/robustness.py --" in notes
    m = re.search(r"--storage (\S+)", notes)
    assert m
    if name in CLOUD_CONFIGS:  # multi-node Tune needs storage every node can write
        assert m.group(1).startswith({"gpu.yaml": "s3://", "gcp-gpu.yaml": "gs://"}[name])
    assert "--gpus-per-trial" in notes  # the study defaults to 0 GPUs per trial


def test_workers_get_a_cloud_identity_for_the_study_bucket() -> None:
    (aws_worker,) = worker_types(load("gpu.yaml")).values()
    assert aws_worker["node_config"]["IamInstanceProfile"]["Name"]
    (gcp_worker,) = worker_types(load("gcp-gpu.yaml")).values()
    (account,) = gcp_worker["node_config"]["serviceAccounts"]
    assert account["email"].endswith(".iam.gserviceaccount.com")


# ---- security --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(LAUNCHER_CONFIGS))
def test_token_auth_is_on_and_the_token_is_a_mounted_file(name: str) -> None:
    cfg = load(name)
    assert cfg["file_mounts"].get(TOKEN_FILE) == TOKEN_FILE
    starts = ray_start_commands(cfg)
    assert len(starts) == 2  # head and worker
    for command in starts:
        assert "RAY_AUTH_MODE=token" in shlex.split(command), command
    if LAUNCHER_CONFIGS[name]:  # in Docker: for every process, the driver and `ray status` too
        assert "--env RAY_AUTH_MODE=token" in cfg["docker"]["run_options"]
    else:
        assert any("export RAY_AUTH_MODE=token" in c for c in cfg["setup_commands"])


@pytest.mark.parametrize("name", sorted(LAUNCHER_CONFIGS))
def test_dashboard_listens_on_localhost_only(name: str) -> None:
    cfg = load(name)
    (head_start,) = [c for c in ray_start_commands(cfg) if "--head" in c]
    assert "--dashboard-host=127.0.0.1" in head_start.split()
    text = (CLUSTER / name).read_text()
    assert "0.0.0.0" not in text


def _open_to_world(rule: dict[str, Any]) -> bool:
    ranges = [r.get("CidrIp") for r in rule.get("IpRanges", [])]
    ranges += [r.get("CidrIpv6") for r in rule.get("Ipv6Ranges", [])]
    return "0.0.0.0/0" in ranges or "::/0" in ranges


def _covers(rule: dict[str, Any], port: int) -> bool:
    if rule.get("IpProtocol") in ("-1", -1):
        return True
    return int(rule.get("FromPort", -1)) <= port <= int(rule.get("ToPort", -1))


def test_no_security_group_or_firewall_opens_ray_ports() -> None:
    aws = load("gpu.yaml")["provider"]
    rules = aws.get("security_group", {}).get("IpPermissions", [])
    for rule in rules:
        if _open_to_world(rule):
            for port in (8265, 6379, 10001, 8076):
                assert not _covers(rule, port), f"port {port} open to the internet: {rule}"
    # Ray creates no firewall rules on GCP; nothing in the config may add one.
    assert "firewall" not in yaml.safe_dump(load("gcp-gpu.yaml")).lower()
    for node_type in load("gcp-gpu.yaml")["available_node_types"].values():
        assert "tags" not in node_type["node_config"]  # network tags select firewall rules


def test_the_rule_checker_catches_an_open_dashboard() -> None:
    rule = {
        "FromPort": 8000,
        "ToPort": 9000,
        "IpProtocol": "tcp",
        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
    }
    assert _open_to_world(rule) and _covers(rule, 8265)
    assert not _covers({"FromPort": 22, "ToPort": 22, "IpProtocol": "tcp"}, 8265)


SECRET_PATTERNS = {
    "AWS access key id": r"\b(AKIA|ASIA)[0-9A-Z]{16}\b",
    "AWS secret key assignment": r"(?i)aws_secret_access_key\s*[:=]\s*\S+",
    "private key block": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "GCP service-account key": r'"private_key(_id)?"\s*:',
    "literal Ray token": r"RAY_AUTH_TOKEN\s*[:=]\s*['\"]?[A-Za-z0-9+/=_-]{8,}",
    "GitHub token": r"\bgh[pousr]_[A-Za-z0-9]{20,}",
    "Slack token": r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    "long hex string": r"\b[A-Fa-f0-9]{32,}\b",
}


def _random_looking(run: str) -> bool:
    """A long run of base64 characters mixing digits, upper and lower case (not a path)."""
    return all(re.search(c, run) for c in ("[0-9]", "[A-Z]", "[a-z]"))


def find_secrets(text: str) -> list[str]:
    found = [what for what, pattern in SECRET_PATTERNS.items() if re.search(pattern, text)]
    if any(_random_looking(run) for run in re.findall(r"[A-Za-z0-9+/=]{40,}", text)):
        found.append("long random-looking string")
    return found


def scanned_files() -> list[Path]:
    files = sorted(p for p in CLUSTER.rglob("*") if p.is_file())
    return files + ([DOC] if DOC.exists() else [])


@pytest.mark.parametrize("path", scanned_files(), ids=lambda p: p.name)
def test_no_secrets_in_cluster_files(path: Path) -> None:
    assert find_secrets(path.read_text()) == []


def test_the_secret_scanner_finds_secrets() -> None:
    fake = {  # built at run time so this file holds no secret-looking strings
        "AWS access key id": "AKIA" + "Q" * 16,
        "private key block": "-----BEGIN " + "OPENSSH PRIVATE KEY-----",
        "literal Ray token": "RAY_AUTH_TOKEN" + "=" + "c2VjcmV0LXRva2Vu",
        "long hex string": "f" * 40,
        "long random-looking string": "Ab3" * 14,
    }
    for what, text in fake.items():
        assert what in find_secrets(text)


# ---- KubeRay ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rayjob() -> dict[str, Any]:
    return load(KUBERAY)


def containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod_spec.get("initContainers", [])) + list(pod_spec["containers"])


def test_kuberay_manifest_is_a_rayjob_running_the_study(rayjob: dict[str, Any]) -> None:
    assert rayjob["apiVersion"] == "ray.io/v1"
    assert rayjob["kind"] == "RayJob"
    assert rayjob["metadata"]["name"]
    entrypoint = shlex.split(rayjob["spec"]["entrypoint"])
    assert entrypoint[0] == "python" and entrypoint[1].endswith("studies/robustness.py")
    args = dict(zip(entrypoint[2::2], entrypoint[3::2], strict=True))
    assert args["--storage"].startswith(("s3://", "gs://"))
    assert args["--data-dir"] == DATA_DIR
    assert float(args["--gpus-per-trial"]) > 0
    assert rayjob["spec"]["shutdownAfterJobFinishes"] is True


def test_kuberay_cluster_has_a_head_and_an_autoscaling_gpu_group(rayjob: dict[str, Any]) -> None:
    spec = rayjob["spec"]["rayClusterSpec"]
    assert spec["rayVersion"] == RAY_VERSION
    assert spec["enableInTreeAutoscaling"] is True
    head = spec["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"  # no trials on the head
    assert "nvidia.com/gpu" not in str(head["template"]["spec"]["containers"])
    (group,) = spec["workerGroupSpecs"]
    assert group["minReplicas"] == 0 < group["maxReplicas"]
    (worker,) = group["template"]["spec"]["containers"]
    assert int(worker["resources"]["limits"]["nvidia.com/gpu"]) >= 1
    # the data on the head, where the driver loads them; the GPU pods never read files
    (head_container,) = head["template"]["spec"]["containers"]
    assert DATA_DIR in {m["mountPath"] for m in head_container["volumeMounts"]}
    (fetch,) = head["template"]["spec"]["initContainers"]
    assert "CIFAR10(" in " ".join(fetch["command"])
    assert "initContainers" not in group["template"]["spec"] and "volumeMounts" not in worker


def test_kuberay_cluster_as_rays_kuberay_autoscaler_reads_it(rayjob: dict[str, Any]) -> None:
    """Ray's own translation of a RayCluster spec into an autoscaling config (private, like
    prepare_config: fine with Ray pinned) gives a valid config with the intended node types."""
    from ray.autoscaler._private.kuberay.autoscaling_config import (
        _derive_autoscaling_config_from_ray_cr,
    )

    ray_cluster = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "ssvi", "namespace": "default"},
        "spec": rayjob["spec"]["rayClusterSpec"],
    }
    cfg = _derive_autoscaling_config_from_ray_cr(ray_cluster)
    validate_config(cfg)
    types = cfg["available_node_types"]
    head = types.pop("headgroup")
    assert head["resources"]["CPU"] == 0 and head["resources"]["GPU"] == 0
    (gpu,) = types.values()
    assert gpu["resources"]["GPU"] == 1 and gpu["min_workers"] == 0 < gpu["max_workers"]


def test_kuberay_images_carry_the_pinned_ray_version(rayjob: dict[str, Any]) -> None:
    spec = rayjob["spec"]["rayClusterSpec"]
    pods = [spec["headGroupSpec"]["template"]["spec"]]
    pods += [g["template"]["spec"] for g in spec["workerGroupSpecs"]]
    images = {c["image"] for pod in pods for c in containers(pod)}
    assert len(images) == 1
    (image,) = images
    m = re.search(r":[\w.-]*ray(\d+\.\d+\.\d+)-(py3\d+)-gpu$", image)
    assert m and m.group(1) == RAY_VERSION
    assert {m.group(2)} == python_tags()


def test_kuberay_token_auth_on_and_nothing_exposed(rayjob: dict[str, Any]) -> None:
    spec = rayjob["spec"]["rayClusterSpec"]
    assert spec["authOptions"]["mode"] == "token"
    head = spec["headGroupSpec"]
    assert head.get("serviceType", "ClusterIP") == "ClusterIP"
    assert not head.get("enableIngress", False)
    assert "0.0.0.0" not in (CLUSTER / KUBERAY).read_text()


# ---- the docs match the configs and Ray's CLI --------------------------------------------------
def test_docs_name_existing_configs_and_real_ray_cli_options() -> None:
    if not DOC.exists():
        pytest.skip("docs/cluster.md not written")
    from ray.scripts.scripts import cli

    text = DOC.read_text()
    for path in set(re.findall(r"(?<![\w./-])cluster/[\w.-]+", text)):
        assert (ROOT / path).exists(), path
    checked = set()
    for command, rest in re.findall(r"(?<![\w-])ray ([a-z][a-z-]+)([^\n`]*)", text):
        options = []
        for token in rest.split():
            if token == "--":  # the study script's own options follow
                break
            if token.startswith("--"):
                options.append(token.split("=")[0])
        if not options:
            continue
        assert command in cli.commands, f"ray {command}"
        known = {o for p in cli.commands[command].params for o in p.opts}
        for option in options:
            assert option in known, f"ray {command} {option}"
            checked.add((command, option))
    assert {("submit", "--tmux"), ("attach", "--tmux"), ("exec", "--port-forward")} <= checked
    for needed in ("--tmux", "--resume", "ray dashboard", "ray down", "analysis.report"):
        assert needed in text, needed


def test_onprem_starts_exactly_the_listed_workers() -> None:
    """Ray 2.60's default autoscaler (v2) counts nodes per type, and the local provider gives the
    head the workers' type: the head then counts as a worker and the last listed machine never
    starts. The head starts the v1 autoscaler, which starts exactly the listed workers (checked
    for real by tests/cluster/onprem_roundtrip.py, which .ci/run runs)."""
    cfg = load("onprem.yaml")
    (head_start,) = [c for c in ray_start_commands(cfg) if "--head" in c]
    assert "RAY_enable_autoscaler_v2=0" in head_start
    assert "available_node_types" not in cfg  # the local provider would skip setup_commands
    n = len(cfg["provider"]["worker_ips"])
    assert cfg["min_workers"] == cfg["max_workers"] == n
    prepared = prepare_config(cfg)
    assert prepared["available_node_types"]["local.cluster.node"]["min_workers"] == n
    assert any("pip install" in c for c in prepared["head_setup_commands"])
    assert any("pip install" in c for c in prepared["worker_setup_commands"])
    assert cfg["provider"]["head_ip"] not in cfg["provider"]["worker_ips"]
