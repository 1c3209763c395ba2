"""The study's console (progress line, summary) and its checks of the cluster, without Ray."""

import pickle
import types

import pytest

import studies.cluster as cluster
from studies.console import Progress
from studies.presets import PRESETS
from studies.robustness import parse_args, trial_gpus


def trial(tid: str, status: str, method: str = "ssvi", val: float | None = None, final=True):
    result = {"final": final, **({"val_accuracy": val} if val is not None else {})}
    config = {"trial": {"method": method}}
    return types.SimpleNamespace(trial_id=tid, status=status, last_result=result, config=config)


def test_progress_line_counts_eta_and_best(capsys) -> None:
    progress = Progress("grid", total=6, every=0.0)
    trials = [
        trial("a", "TERMINATED", "ssvi", 0.91),
        trial("b", "TERMINATED", "dense_vi", 0.95),
        trial("c", "ERROR"),
        trial("d", "RUNNING", final=False),
        trial("e", "TERMINATED", final=False),  # never ran: Tune marks it so on Ctrl-C
        trial("f", "PENDING", final=False),
    ]
    for t in trials[:2]:
        progress.on_trial_complete(0, trials, t)
    progress.on_trial_error(0, trials, trials[2])
    progress.on_step_end(0, trials)
    line = capsys.readouterr().out.strip()
    assert line.startswith("grid: 2/6 done, 1 running, 2 pending, 1 errored | elapsed ")
    assert line.endswith("| best val accuracy SSVI 0.910, dense VI 0.950") or (
        line.endswith("| best val accuracy dense VI 0.950, SSVI 0.910")
    )
    assert "ETA " in line and "ETA ?" not in line  # 3 trials ended: a pace to extrapolate
    progress.on_experiment_end(trials)
    assert capsys.readouterr().out.count("\n") == 1
    # it travels with Tune's pickled experiment state, and restarts its clock on restore
    restored = pickle.loads(pickle.dumps(progress))
    restored.setup()
    assert restored.finished_here == 0 and restored.best == {}


def test_a_local_instance_that_cannot_run_a_trial_fails_at_once() -> None:
    info = cluster.ClusterInfo(False, "127.0.0.1:6379", [{"CPU": 2.0, "GPU": 0.0}])
    with pytest.raises(cluster.ResourceError) as err:
        cluster.ensure_resources(info, cpus=1, gpus=0.5, wait_s=600)
    text = str(err.value)
    assert "asked 1 CPUs and 0.5 GPUs per trial" in text and "0 GPUs in all" in text
    assert "--gpus-per-trial 0" in text
    cluster.ensure_resources(info, cpus=2, gpus=0, wait_s=600)  # fits: returns
    assert info.describe() == "ray: started a local Ray: 1 node, 2 CPUs, 0 GPUs"


def test_a_cluster_waits_for_the_autoscaler_then_gives_up(monkeypatch) -> None:
    import ray.autoscaler.sdk

    asked = []
    monkeypatch.setattr(ray.autoscaler.sdk, "request_resources", lambda **kw: asked.append(kw))
    clock = [0.0]
    monkeypatch.setattr(cluster.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(cluster.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    head = [{"CPU": 0.0, "GPU": 0.0}]
    info = cluster.ClusterInfo(True, "10.0.0.5:6379", head)
    polls = iter([head, head, [*head, {"CPU": 4.0, "GPU": 1.0}]])
    monkeypatch.setattr(cluster, "_nodes", lambda: next(polls))
    said = []
    cluster.ensure_resources(info, 1, 0.25, wait_s=600, say=said.append)
    assert asked == [{"bundles": [{"CPU": 1, "GPU": 0.25}]}]
    assert "waiting up to 600 s" in said[0] and "joined after 30 s" in said[-1]
    monkeypatch.setattr(cluster, "_nodes", lambda: head)
    with pytest.raises(cluster.ResourceError, match="no node with .* joined within 60 s"):
        cluster.ensure_resources(info, 1, 0.25, wait_s=60, say=said.append)


def test_gpu_presets_use_gpus_when_the_cluster_has_them(capsys) -> None:
    cifar = PRESETS["cifar10"]
    with_gpus = cluster.ClusterInfo(True, "a", [{"CPU": 8.0, "GPU": 2.0}])
    without = cluster.ClusterInfo(False, "a", [{"CPU": 8.0, "GPU": 0.0}])
    assert trial_gpus(parse_args([]), cifar, "resnet18", with_gpus) == 0.25
    assert trial_gpus(parse_args([]), cifar, "resnet18", without) == 0.0
    assert "no GPU" in capsys.readouterr().out
    forced = parse_args(["--gpus-per-trial", "0"])
    assert trial_gpus(forced, cifar, "resnet18", with_gpus) == 0.0
    assert "ResNet-18 trials train on CPUs" in capsys.readouterr().out
    assert trial_gpus(parse_args([]), PRESETS["local"], "mlp", with_gpus) == 0.0
