"""One Ray instance for the study tests that run in this process, in its own temp folder."""

import os
import sys
import tempfile

import pytest


@pytest.fixture(scope="session")
def ray_local():
    import ray

    tmp = tempfile.mkdtemp(prefix="ssvi-ray-")
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=tmp, log_to_driver=False)
    yield ray
    ray.shutdown()


def study_env(tmp_path) -> dict[str, str]:
    """Environment for a study run in a subprocess: its own Ray temp folder."""
    env = dict(os.environ)
    # a short path: Ray's socket paths must stay under 107 bytes
    env["SSVI_RAY_TMPDIR"] = tempfile.mkdtemp(prefix="ssvi-ray-", dir="/tmp")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env
