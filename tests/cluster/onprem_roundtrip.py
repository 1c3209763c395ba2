"""cluster/onprem.yaml for real: ray up -> ray submit -> ray down, over SSH, on this machine.

    python tests/cluster/onprem_roundtrip.py        # run by .ci/run after the test suite

Two "machines" are two loopback addresses of this host, 127.0.0.2 (head) and 127.0.0.3 (worker),
reached through an sshd this script starts on port 2222 for a user of its own (``ssvi-onprem``):
the config's ``ray stop`` and ``ray down`` then stop that user's Ray processes only, never anyone
else's. The config is cluster/onprem.yaml with only its documented edits (addresses, user, key,
number of workers, the SSH port through ``ssh_proxy_command``). A tiny study (the local preset's
grid, 1 seed, 2 epochs: 18 trials) is submitted with ``ray submit`` and its results table checked:
every trial completed, on the worker (the head runs none). It takes several minutes (the first
``ray up`` installs the project and torch into the user's ``~/ssvi-venv``).

Needs root (to create the user and start sshd) and apt-get (openssh-server, python3.11-venv,
rsync, netcat); where it cannot have them it prints ``SKIPPED`` and why, and exits 0.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
USER, HEAD, WORKER, PORT = "ssvi-onprem", "127.0.0.2", "127.0.0.3", 2222
PACKAGES = ["openssh-server", "python3.11-venv", "rsync", "netcat-openbsd"]
STUDY = ["--preset", "local", "--design", "grid", "--seeds", "1", "--set", "epochs=2",
         "--name", "roundtrip", "--ray-address", "auto"]  # fmt: skip


def say(text: str) -> None:
    print(f"onprem round trip: {text}", flush=True)


def skip(reason: str) -> None:
    say(f"SKIPPED: {reason}")
    sys.exit(0)


def run(cmd: list[str], timeout: float, check: bool = True, **kw) -> subprocess.CompletedProcess:
    say("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode:
        raise RuntimeError(
            f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def prepare_machine(tmp: Path) -> tuple[Path, subprocess.Popen]:
    """The packages, the user, a key, and an sshd on the two addresses; returns (key, sshd)."""
    if os.geteuid() != 0:
        skip("needs root, to create a user and start sshd")
    if not shutil.which("apt-get"):
        skip("no apt-get to install openssh-server")
    missing = [p for p in PACKAGES if subprocess.run(
        ["dpkg", "-s", p], capture_output=True).returncode]  # fmt: skip
    if missing:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            run(["apt-get", "install", "-y", "-q", *missing], timeout=600, env=env)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            skip(f"apt-get could not install {missing}: {str(err)[:300]}")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        run(["useradd", "--create-home", "--shell", "/bin/bash", USER], timeout=60)
    home = Path(pwd.getpwnam(USER).pw_dir)
    key = tmp / "id_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], timeout=60)
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    (ssh / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
    # the machine's pip configuration (where this host finds its wheels), as a lab machine has
    pip_conf = Path.home() / ".config" / "pip" / "pip.conf"
    if pip_conf.is_file():
        (home / ".config" / "pip").mkdir(parents=True, exist_ok=True)
        shutil.copy(pip_conf, home / ".config" / "pip" / "pip.conf")
    run(["chown", "-R", f"{USER}:{USER}", str(home)], timeout=60)
    (ssh / "authorized_keys").chmod(0o600)
    run(["ssh-keygen", "-A"], timeout=60)
    Path("/run/sshd").mkdir(exist_ok=True)
    config = tmp / "sshd_config"
    config.write_text(
        f"Port {PORT}\nListenAddress {HEAD}\nListenAddress {WORKER}\nPidFile {tmp}/sshd.pid\n"
        f"AllowUsers {USER}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nUsePAM no\nX11Forwarding no\nMaxStartups 50\n"
        "MaxSessions 50\nSubsystem sftp internal-sftp\n"
    )
    sshd = subprocess.Popen(
        ["/usr/sbin/sshd", "-D", "-f", str(config), "-E", str(tmp / "sshd.log")]
    )
    for _ in range(50):
        try:
            socket.create_connection((HEAD, PORT), timeout=1).close()
            socket.create_connection((WORKER, PORT), timeout=1).close()
            return key, sshd
        except OSError:
            time.sleep(0.2)
    sshd.terminate()
    skip(f"sshd did not start on {HEAD}:{PORT}: {(tmp / 'sshd.log').read_text()[-500:]}")
    raise AssertionError("unreachable")


def cluster_config(tmp: Path, key: Path) -> Path:
    """cluster/onprem.yaml with only the edits its comments document."""
    text = (ROOT / "cluster" / "onprem.yaml").read_text()
    edits = [
        (r"head_ip: \S+", f"head_ip: {HEAD}"),
        (r"worker_ips: \[[^\]]*\]", f"worker_ips: [{WORKER}]"),
        (r"ssh_user: \S+", f"ssh_user: {USER}"),
        (r"ssh_private_key: \S+", f"ssh_private_key: {key}"),
        (r"min_workers: 2 ", "min_workers: 1 "),  # the workers' type
        (r"max_workers: 2 ", "max_workers: 1 "),  # the workers' type and the cluster's
        (r"(?m)^auth:\n", f'auth:\n    ssh_proxy_command: "nc %h {PORT}"\n'),
    ]
    for pattern, new in edits:
        text, n = re.subn(pattern, new, text)
        assert n >= 1, f"cluster/onprem.yaml no longer has {pattern!r}: update this script"
    path = tmp / "onprem.yaml"
    path.write_text(text)
    return path


def user_pids() -> list[int]:
    out = subprocess.run(["pgrep", "-u", USER], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def main() -> int:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="ssvi-onprem-"))
    os.chmod(tmp, 0o755)  # the key's folder: the launcher reads it as root
    key, sshd = prepare_machine(tmp)
    cfg = cluster_config(tmp, key)
    home = Path(pwd.getpwnam(USER).pw_dir)
    if not (Path.home() / ".ray" / "auth_token").is_file():
        run(["ray", "get-auth-token", "--generate"], timeout=120)  # the config's first step
    up = False
    try:
        run(["ray", "up", "-y", "--no-config-cache", str(cfg)], timeout=1500, cwd=ROOT)
        up = True
        storage = home / "studies"
        run(["ray", "submit", str(cfg), "studies/robustness.py", "--",
             *STUDY, "--storage", str(storage)], timeout=900, cwd=ROOT)  # fmt: skip
        table = storage / "roundtrip" / "results.csv"
        check_table(table)
        run(["ray", "down", "-y", str(cfg)], timeout=600, cwd=ROOT)
        up = False
        time.sleep(3)
        left = user_pids()
        assert not left, f"ray down left {len(left)} processes of {USER}: {left}"
    finally:
        if up:
            run(["ray", "down", "-y", str(cfg)], timeout=600, cwd=ROOT, check=False)
        for pid in user_pids():  # only the test user's processes: this script started them
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        sshd.terminate()
        sshd.wait(timeout=30)
    say(f"passed in {time.monotonic() - started:.0f} s: ray up, ray submit (18 trials), ray down")
    return 0


def check_table(table: Path) -> None:
    import pandas as pd

    rows = pd.read_csv(table)
    assert len(rows) == 18 and set(rows["status"]) == {"completed"}, rows["status"].value_counts()
    assert rows["trial_id"].is_unique
    # the head starts with --num-cpus=0: every trial ran on the worker, one Ray node
    nodes = set(rows["node"].astype(str).str.split("/").str[1])
    assert len(nodes) == 1, nodes
    say(f"results table: {len(rows)} completed trials, all on the worker node {nodes.pop()}")


if __name__ == "__main__":
    sys.exit(main())
