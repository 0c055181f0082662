"""Card assignment of profiles/local-gpu: concurrent jobs never share a GPU card."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from widespectrum import gpu_cards

REPO = Path(__file__).resolve().parents[1]

# One job: claim cards as a rule's script would, log the interval it held them, exit.
JOB = textwrap.dedent("""
    import json, os, sys, time
    from widespectrum import gpu_cards
    n, hold, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    cards = gpu_cards.assign(n)
    start = time.time()
    time.sleep(hold)
    with open(out, "w") as f:
        json.dump({"cards": cards, "visible": os.environ["CUDA_VISIBLE_DEVICES"], "start": start,
                   "end": time.time()}, f)
""")


def _jobs(tmp_path, gpus_per_job, count, cards="0,1,2", hold=0.6):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO / "src"), gpu_cards.CARDS_VARIABLE: cards,
           gpu_cards.LOCK_DIR_VARIABLE: str(tmp_path / "locks")}
    running = [subprocess.Popen([sys.executable, "-c", JOB, str(n), str(hold), str(tmp_path / f"job{i}.json")],
                                env=env) for i, n in enumerate([gpus_per_job] * count)]
    for process in running:
        assert process.wait(timeout=60) == 0
    return [json.loads((tmp_path / f"job{i}.json").read_text()) for i in range(count)]


def _overlap(a, b):
    return a["start"] < b["end"] and b["start"] < a["end"]


def test_concurrent_jobs_never_share_a_card(tmp_path):
    jobs = _jobs(tmp_path, gpus_per_job=1, count=7)
    for job in jobs:
        assert len(job["cards"]) == 1 and job["visible"] == job["cards"][0] and job["cards"][0] in {"0", "1", "2"}
    for i, a in enumerate(jobs):
        for b in jobs[i + 1:]:
            if _overlap(a, b):
                assert a["cards"] != b["cards"], (a, b)
    # seven jobs on three cards: some had to wait for a card, so the run took >= 3 holds
    assert max(j["end"] for j in jobs) - min(j["start"] for j in jobs) >= 3 * 0.6 - 0.05


def test_multi_card_jobs_hold_disjoint_sets(tmp_path):
    jobs = _jobs(tmp_path, gpus_per_job=2, count=4, cards="0,1,2,3")
    for i, a in enumerate(jobs):
        assert len(set(a["cards"])) == 2 and a["visible"] == ",".join(a["cards"])
        for b in jobs[i + 1:]:
            if _overlap(a, b):
                assert not set(a["cards"]) & set(b["cards"]), (a, b)


def test_card_freed_when_holder_exits(tmp_path):
    lock_dir = tmp_path / "locks"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from widespectrum import gpu_cards
        print(gpu_cards.claim(1, ["0"], {str(lock_dir)!r}), flush=True)
        time.sleep(60)
    """)], env={"PYTHONPATH": str(REPO / "src")}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "['0']"
        with pytest.raises(gpu_cards.NoFreeCard):
            gpu_cards.claim(1, ["0"], lock_dir, timeout=0.5)
    finally:
        holder.kill()  # a crash, not a clean release
        holder.wait(timeout=10)
    assert gpu_cards.claim(1, ["0"], lock_dir, timeout=5) == ["0"]
    gpu_cards.release()


def test_no_cards_configured_is_a_no_op():
    environ = {}
    assert gpu_cards.assign(1, environ) == [] and "CUDA_VISIBLE_DEVICES" not in environ
    environ = {gpu_cards.CARDS_VARIABLE: "0,1"}
    assert gpu_cards.assign(0, environ) == [] and "CUDA_VISIBLE_DEVICES" not in environ
    with pytest.raises(ValueError, match="asks for 3 GPUs but the machine has 2"):
        gpu_cards.assign(3, environ)


def test_a_gpu_job_claims_its_card_before_its_work(tmp_path, monkeypatch):
    from widespectrum import gpu_cards, pipeline

    monkeypatch.setenv("WIDESPECTRUM_GPUS", "5")
    monkeypatch.setenv("WIDESPECTRUM_GPU_LOCK_DIR", str(tmp_path / "locks"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    try:
        with pipeline.job(tmp_path / "job.log", gpus=1):
            assert os.environ["CUDA_VISIBLE_DEVICES"] == "5"
    finally:
        for handle in gpu_cards._held:
            handle.close()
        gpu_cards._held.clear()
    assert "GPU card(s) 5 claimed" in (tmp_path / "job.log").read_text()
