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


LOGS = Path(tempfile.gettempdir()) / "ssvi-onprem-logs"


def run(cmd: list[str], timeout: float, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run ``cmd`` in a session of its own: on a timeout its whole group is killed (``ray``
    leaves ssh children that would keep the pipes open)."""
    say("$ " + " ".join(cmd))
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        **kw,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n(killed after {timeout:g} s)"
        proc.returncode = proc.returncode or -9
    LOGS.mkdir(exist_ok=True)
    log = LOGS / f"{int(time.time())}-{Path(cmd[0]).name}-{cmd[1] if len(cmd) > 1 else ''}.log"
    log.write_text(out + "\n" + err)
    result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if check and proc.returncode:
        raise RuntimeError(
            f"{cmd[0]} failed ({proc.returncode}), full output in {log}:\n"
            f"{out[-3000:]}\n{err[-3000:]}"
        )
    return result


def prepare_machine(tmp: Path) -> tuple[Path, list[subprocess.Popen]]:
    """The packages, the user, a key, and an sshd per address; returns (key, the sshds)."""
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
    # useradd locks the password ('!'), and sshd refuses locked accounts even for keys: '*' is
    # "no password" without the lock
    run(["usermod", "--password", "*", USER], timeout=60)
    home = Path(pwd.getpwnam(USER).pw_dir)
    key = tmp / "id_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], timeout=60)
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    (ssh / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
    # the head connects to the workers too, and Ray does not hand it ssh_proxy_command: the
    # machines' own SSH client configuration names the port (as onprem.yaml says to do)
    (ssh / "config").write_text(f"Host {HEAD} {WORKER}\n    Port {PORT}\n")
    # the machine's pip configuration (where this host finds its wheels), as a lab machine has
    pip_conf = Path.home() / ".config" / "pip" / "pip.conf"
    if pip_conf.is_file():
        (home / ".config" / "pip").mkdir(parents=True, exist_ok=True)
        shutil.copy(pip_conf, home / ".config" / "pip" / "pip.conf")
    run(["chown", "-R", f"{USER}:{USER}", str(home)], timeout=60)
    (ssh / "authorized_keys").chmod(0o600)
    run(["ssh-keygen", "-A"], timeout=60)
    Path("/run/sshd").mkdir(exist_ok=True)
    # One sshd per "machine". The worker's runs in a PID namespace of its own: the config's
    # `ray stop` on a worker stops every Ray process of the SSH user that it can see, which on
    # one host would include the head's; in its own namespace it sees the worker's only, as on
    # a machine of its own.
    daemons = []
    for name, address, prefix in (
        ("head", HEAD, []),
        ("worker", WORKER, ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]),
    ):
        config = tmp / f"sshd_{name}_config"
        config.write_text(
            f"Port {PORT}\nListenAddress {address}\nPidFile {tmp}/sshd_{name}.pid\n"
            f"AllowUsers {USER}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nUsePAM no\nX11Forwarding no\nMaxStartups 50\n"
            "MaxSessions 50\nSubsystem sftp internal-sftp\n"
        )
        log = tmp / f"sshd_{name}.log"
        daemons.append(
            subprocess.Popen([*prefix, "/usr/sbin/sshd", "-D", "-f", str(config), "-E", str(log)])
        )
    for _ in range(50):
        try:
            socket.create_connection((HEAD, PORT), timeout=1).close()
            socket.create_connection((WORKER, PORT), timeout=1).close()
            return key, daemons
        except OSError:
            time.sleep(0.2)
    for daemon in daemons:
        daemon.terminate()
    logs = " ".join(p.read_text()[-300:] for p in tmp.glob("sshd_*.log"))
    skip(f"sshd did not start on {HEAD}/{WORKER}:{PORT}: {logs}")
    raise AssertionError("unreachable")


def cluster_config(tmp: Path, key: Path) -> Path:
    """cluster/onprem.yaml with only the edits its comments document."""
    text = (ROOT / "cluster" / "onprem.yaml").read_text()
    edits = [
        (r"head_ip: \S+", f"head_ip: {HEAD}"),
        (r"worker_ips: \[[^\]]*\]", f"worker_ips: [{WORKER}]"),
        (r"ssh_user: \S+", f"ssh_user: {USER}"),
        (r"ssh_private_key: \S+", f"ssh_private_key: {key}"),
        (r"min_workers: 2 ", "min_workers: 1 "),
        (r"max_workers: 2 ", "max_workers: 1 "),
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


def launcher_pids(tmp: Path) -> list[int]:
    """The launcher's background ssh masters and their nc proxies: they name this run's key."""
    out = subprocess.run(["pgrep", "-f", f"{tmp}|nc {HEAD} {PORT}|nc {WORKER} {PORT}"],
                         capture_output=True, text=True).stdout  # fmt: skip
    return [int(p) for p in out.split() if int(p) != os.getpid()]


def main() -> int:
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="ssvi-onprem-"))
    os.chmod(tmp, 0o755)  # the key's folder: the launcher reads it as root
    key, daemons = prepare_machine(tmp)
    cfg = cluster_config(tmp, key)
    home = Path(pwd.getpwnam(USER).pw_dir)
    # The launcher keeps its cluster lock and state in $TMPDIR/ray, and so does the head's
    # autoscaler: on two machines these are two folders; here they must be too.
    launcher_tmp = tmp / "launcher"
    launcher_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(launcher_tmp)}
    for stale in Path("/tmp/ray").glob("cluster-ssvi-onprem.*"):
        if stale.stat().st_uid != pwd.getpwnam(USER).pw_uid:  # an earlier launcher's
            stale.unlink()
    if not (Path.home() / ".ray" / "auth_token").is_file():
        run(["ray", "get-auth-token", "--generate"], timeout=120)  # the config's first step
    up = False
    try:
        run(["ray", "up", "-y", "--no-config-cache", str(cfg)], timeout=1500, cwd=ROOT, env=env)
        up = True
        storage = home / "studies"
        shutil.rmtree(storage, ignore_errors=True)  # an earlier run's (this test user's) study
        run(["ray", "submit", str(cfg), "studies/robustness.py", "--",
             *STUDY, "--storage", str(storage)], timeout=900, cwd=ROOT, env=env)  # fmt: skip
        table = storage / "roundtrip" / "results.csv"
        check_table(table)
        run(["ray", "down", "-y", str(cfg)], timeout=600, cwd=ROOT, env=env)
        up = False
        for _ in range(30):  # ssh sessions and Ray processes take a moment to go
            left = user_pids()
            if not left:
                break
            time.sleep(1)
        names = [Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")[:120]
                 for pid in left if Path(f"/proc/{pid}").exists()]  # fmt: skip
        assert not names, f"ray down left processes of {USER}: {names}"
    finally:
        if up:
            run(["ray", "down", "-y", str(cfg)], timeout=600, cwd=ROOT, env=env, check=False)
        # only what this script started: the test user's processes and this run's ssh masters
        for pid in user_pids() + launcher_pids(tmp):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for daemon in daemons:
            daemon.terminate()
            daemon.wait(timeout=30)
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
