"""One Ray instance for the study tests that run in this process, in its own temp folder."""

import os
import shutil
import sys
import tempfile

import pytest

_RAY_DIRS: list[str] = []  # Ray temp folders the tests made (about 20 MB of logs each)


@pytest.fixture(scope="session", autouse=True)
def _remove_ray_dirs():
    """Remove the tests' Ray temp folders at the end of the session (the Ray instances that
    used them have ended by then)."""
    yield
    for folder in _RAY_DIRS:
        shutil.rmtree(folder, ignore_errors=True)


def _ray_dir() -> str:
    # a short path: Ray's socket paths must stay under 107 bytes
    folder = tempfile.mkdtemp(prefix="ssvi-ray-", dir="/tmp")
    _RAY_DIRS.append(folder)
    return folder


@pytest.fixture(scope="session")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=_ray_dir(), log_to_driver=False)
    yield ray
    ray.shutdown()


def study_env(tmp_path) -> dict[str, str]:
    """Environment for a study run in a subprocess: its own Ray temp folder."""
    env = dict(os.environ)
    env["SSVI_RAY_TMPDIR"] = _ray_dir()
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env
