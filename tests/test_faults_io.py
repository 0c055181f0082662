"""Write and read faults: a full disk, a folder that refuses writes, SIGKILL mid-write, damaged tables.

The disk-full and read-only cases run in a child process with a private mount
namespace (``unshare``) holding a 64 KiB tmpfs, so the file system is real and
nothing is left mounted when the child ends.
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from widespectrum import contracts
from widespectrum.contracts import SCORES, ContractError
from widespectrum.errors import OutputWriteError, SetupError

from .conftest import REPO_ROOT

CHILD_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


def _scores(n: int, score=1.5) -> pd.DataFrame:
    return pd.DataFrame({"generator": "g", "prompt_id": [f"{i:05d}" for i in range(n)], "image_kind": "a",
                         "prompt_kind": "o", "reward": "r", "score": score, "score_sigma": None, "status": "ok"})


# ---------------------------------------------------------------- a real full disk, a real read-only folder

def _unshare_command() -> list[str]:
    # Real root may unshare the mount namespace directly; anyone else needs a user namespace too.
    return ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--mount"]


@pytest.fixture(scope="module")
def no_tmpfs_reason(tmp_path_factory):
    if shutil.which("unshare") is None:
        return "no unshare command"
    target = tmp_path_factory.mktemp("probe")
    done = subprocess.run([*_unshare_command(), "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$1"', "sh",
                           str(target)], capture_output=True, text=True, timeout=60)
    return None if done.returncode == 0 else f"cannot mount a tmpfs in a private namespace: {done.stderr.strip()}"


def _in_tmpfs(no_tmpfs_reason, mount_point, script: str) -> dict:
    """Run ``CHILD_HELPERS`` and ``script`` in a child whose ``MOUNT`` is a fresh 64 KiB tmpfs.

    Returns the JSON the script prints last.
    """
    if no_tmpfs_reason is not None:
        print(f"skipped: {no_tmpfs_reason}")
        pytest.skip(no_tmpfs_reason)
    mount_point.mkdir()
    code = "import json, os, sys\nMOUNT = sys.argv[1]\n" + CHILD_HELPERS + textwrap.dedent(script)
    done = subprocess.run(
        [*_unshare_command(), "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" -c "$3" "$1"', "sh",
         str(mount_point), sys.executable, code],
        capture_output=True, text=True, timeout=120, env=CHILD_ENV,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


CHILD_HELPERS = """
import numpy as np, pandas as pd
from widespectrum import contracts
from widespectrum.errors import OutputWriteError, SetupError

def scores(n):
    return pd.DataFrame({"generator": "g", "prompt_id": [f"{i:05d}" for i in range(n)], "image_kind": "a",
                         "prompt_kind": "o", "reward": "r", "score": 1.5, "score_sigma": None, "status": "ok"})

def failure(write):
    try:
        write()
    except OutputWriteError as err:
        return {"message": str(err), "errno": err.errno, "setup_error": isinstance(err, SetupError)}
    return None
"""


def test_disk_full_names_the_path_and_keeps_the_good_file(no_tmpfs_reason, tmp_path):
    report = _in_tmpfs(no_tmpfs_reason, tmp_path / "disk", """
    table = os.path.join(MOUNT, "scores.parquet")
    contracts.write_table(scores(3), table, contracts.SCORES)           # fits in 64 KiB
    good = open(table, "rb").read()
    overwrite = failure(lambda: contracts.write_table(scores(20000), table, contracts.SCORES))
    fresh = failure(lambda: contracts.write_png(os.path.join(MOUNT, "noise.png"), __import__("PIL.Image").Image
                    .fromarray(np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8))))
    print(json.dumps({"overwrite": overwrite, "fresh": fresh, "files": sorted(os.listdir(MOUNT)),
                      "good_kept": open(table, "rb").read() == good,
                      "rows": len(contracts.read_table(table, contracts.SCORES))}))
    """)
    mount = tmp_path / "disk"
    for what, name in (("overwrite", "scores.parquet"), ("fresh", "noise.png")):
        failure = report[what]
        assert failure is not None, f"{what}: the write did not fail on a full disk"
        assert failure["errno"] == errno.ENOSPC and failure["setup_error"]
        assert f"cannot write {mount / name}" in failure["message"]
        assert "No space left on device" in failure["message"]
    assert report["files"] == ["scores.parquet"]  # no temporary file, no partial noise.png
    assert report["good_kept"] and report["rows"] == 3


def test_read_only_file_system_names_the_path(no_tmpfs_reason, tmp_path):
    report = _in_tmpfs(no_tmpfs_reason, tmp_path / "disk", """
    import subprocess
    folder = os.path.join(MOUNT, "scores")
    table = os.path.join(folder, "r.parquet")
    contracts.write_table(scores(2), table, contracts.SCORES)
    for args in (["--bind", folder, folder], ["-o", "remount,bind,ro", folder]):
        subprocess.run(["mount", *args], check=True)
    result = failure(lambda: contracts.write_table(scores(5), table, contracts.SCORES))
    print(json.dumps({"result": result, "files": sorted(os.listdir(folder)),
                      "rows": len(contracts.read_table(table, contracts.SCORES))}))
    """)
    assert report["result"]["errno"] == errno.EROFS
    assert f"cannot write {tmp_path / 'disk' / 'scores' / 'r.parquet'}" in report["result"]["message"]
    assert "Read-only file system" in report["result"]["message"]
    assert report["files"] == ["r.parquet"] and report["rows"] == 2


def test_folder_without_write_permission_names_the_path(no_tmpfs_reason, tmp_path):
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        table = folder / "r.parquet"
        contracts.write_table(_scores(2), table, SCORES)
        folder.chmod(0o555)
        try:
            with pytest.raises(OutputWriteError) as caught:
                contracts.write_table(_scores(5), table, SCORES)
        finally:
            folder.chmod(0o755)
        failure = {"errno": caught.value.errno, "message": str(caught.value)}
        files, rows = sorted(p.name for p in folder.iterdir()), len(contracts.read_table(table, SCORES))
    else:
        # Root ignores file modes: the child drops to the unprivileged uid 65534 before writing, in a
        # folder that uid can reach (pytest's tmp_path sits below a folder only root may enter).
        reachable = Path(tempfile.mkdtemp(prefix="widespectrum-faults-"))
        reachable.chmod(0o755)
        try:
            report = _in_tmpfs(no_tmpfs_reason, reachable / "disk", """
            folder = os.path.join(MOUNT, "locked")
            table = os.path.join(folder, "r.parquet")
            contracts.write_table(scores(2), table, contracts.SCORES)
            contracts.read_table(table, contracts.SCORES)  # imports the Parquet reader while still allowed to
            os.chmod(folder, 0o555)
            os.setgid(65534)
            os.setuid(65534)
            result = failure(lambda: contracts.write_table(scores(5), table, contracts.SCORES))
            print(json.dumps({"result": result, "files": sorted(os.listdir(folder)),
                              "rows": len(contracts.read_table(table, contracts.SCORES))}))
            """)
        finally:
            shutil.rmtree(reachable)
        failure, files, rows = report["result"], report["files"], report["rows"]
        table = reachable / "disk" / "locked" / "r.parquet"
    assert failure["errno"] == errno.EACCES
    assert f"cannot write {table}" in failure["message"] and "Permission denied" in failure["message"]
    assert files == ["r.parquet"] and rows == 2


def test_full_disk_stops_a_generation_job_instead_of_filling_the_manifest_with_errors(no_tmpfs_reason, tmp_path):
    report = _in_tmpfs(no_tmpfs_reason, tmp_path / "disk", """
    from PIL import Image
    from widespectrum.generation.base import GenerationRequest, Generator
    from widespectrum.generation.runner import run_generation
    from widespectrum.runtime import Runtime

    class Noise(Generator):
        def generate(self, request):
            return Image.fromarray(np.random.default_rng(request.seed).integers(0, 256, (96, 96, 3), dtype=np.uint8))

    requests = [GenerationRequest(f"{i:04d}", "o", "p", seed=i, settings={}) for i in range(10)]
    try:
        run_generation(Noise("noise", Runtime(device="cpu")), requests, MOUNT, "images/noise")
        stopped = None
    except OutputWriteError as err:
        stopped = str(err)
    # A crashed job's images wait in the chunk's journal, beside the image folder.
    folder = os.path.join(MOUNT, "images/noise.journal/images/noise")
    written = sorted(os.listdir(folder))
    from widespectrum.images import open_rgb
    intact = [np.array_equal(np.asarray(open_rgb(os.path.join(folder, name))),
                             np.asarray(Noise("noise", None).generate(requests[int(name[:4])]))) for name in written]
    print(json.dumps({"stopped": stopped, "written": written, "intact": intact}))
    """)
    assert report["stopped"] is not None, "ten 27 kB images fitted in 64 KiB?"
    written = report["written"]
    assert 0 < len(written) < 10 and all(name.endswith("_o.png") for name in written)
    assert all(report["intact"])  # every image on disk is complete; no temporary file is left
    journal = tmp_path / "disk" / "images" / "noise.journal"
    # the write that did not fit: the next image, or the journal's row file after the last one
    assert (f"cannot write {journal / 'images' / 'noise' / f'{len(written):04d}_o.png'}" in report["stopped"]
            or f"cannot write {journal / 'rows.json'}" in report["stopped"])


def test_failed_write_removes_its_temp_file_and_keeps_the_old_output(tmp_path):
    path = tmp_path / "out.bin"
    contracts.write_bytes(path, b"complete old version")

    def half_then_full_disk(tmp):
        tmp.write_bytes(b"partial new")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OutputWriteError, match=f"cannot write {path}: .*No space left on device") as caught:
        contracts._atomic_write(path, half_then_full_disk)
    assert isinstance(caught.value, SetupError) and isinstance(caught.value, OSError)
    assert path.read_bytes() == b"complete old version" and sorted(os.listdir(tmp_path)) == ["out.bin"]


# ---------------------------------------------------------------- SIGKILL in the middle of a write

N_ROWS = 2_000_000  # 16 MB of incompressible floats: a write long enough to be caught in the middle


def _version_table(version: int) -> pd.DataFrame:
    return pd.DataFrame({"version": np.full(N_ROWS, version, dtype=np.int64),
                         "value": np.random.default_rng(version).random(N_ROWS)})


def _version_pixels(version: int) -> np.ndarray:
    pixels = np.random.default_rng(version).integers(0, 256, (1536, 1536, 3), dtype=np.uint8)
    pixels[0, 0, :2] = version % 256, version // 256  # the version, readable from the picture
    return pixels


WRITER = """
import sys
import numpy as np, pandas as pd
from PIL import Image
from widespectrum import contracts

N_ROWS = {n_rows}
def table(version):
    return pd.DataFrame({{"version": np.full(N_ROWS, version, dtype=np.int64),
                         "value": np.random.default_rng(version).random(N_ROWS)}})
def image(version):
    pixels = np.random.default_rng(version).integers(0, 256, (1536, 1536, 3), dtype=np.uint8)
    pixels[0, 0, :2] = version % 256, version // 256
    return Image.fromarray(pixels)

dest, kind = sys.argv[1], sys.argv[2]
write = (lambda v: contracts.write_table(table(v), dest)) if kind == "table" else \\
        (lambda v: contracts.write_png(dest, image(v)))
write(0)
print("ready", flush=True)
version = 1
while True:
    write(version)
    version += 1
"""


def _kill_mid_write(folder, dest, kind) -> list[str]:
    """Start a writer, SIGKILL it while a temporary file exists; return the temporary files left."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER.format(n_rows=N_ROWS), str(dest), kind],
                              stdout=subprocess.PIPE, env=CHILD_ENV, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(name.endswith(".tmp") for name in os.listdir(folder)):
                os.kill(writer.pid, signal.SIGKILL)
                break
            time.sleep(0.0005)
    finally:
        writer.kill()
        writer.wait()  # reaped: its pid no longer belongs to a live process
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


@pytest.mark.parametrize("kind", ["table", "png"])
def test_sigkill_mid_write_leaves_a_complete_file_and_cleanable_temps(tmp_path, kind):
    name = "scores.parquet" if kind == "table" else "image.png"
    for attempt in range(5):
        folder = tmp_path / f"attempt{attempt}"
        folder.mkdir()
        dest = folder / name
        leftovers = _kill_mid_write(folder, dest, kind)
        if leftovers:
            break
    else:
        pytest.fail("the writer was never killed while a temporary file existed")

    # The destination is one complete version, never a mixture or a prefix.
    if kind == "table":
        back = pd.read_parquet(dest)
        version = int(back["version"].iloc[0])
        pd.testing.assert_frame_equal(back, _version_table(version))
    else:
        from PIL import Image

        with Image.open(dest) as opened:
            pixels = np.asarray(opened.convert("RGB"))
        version = int(pixels[0, 0, 0]) + 256 * int(pixels[0, 0, 1])
        np.testing.assert_array_equal(pixels, _version_pixels(version))

    # The leftover is named so no output pattern takes it, and the next write here removes it.
    assert all(n.startswith(f".{name}.") for n in leftovers)
    assert [p.name for p in folder.glob("*.parquet" if kind == "table" else "*.png")] == [name]
    contracts.write_bytes(folder / "next.bin", b"x")
    assert sorted(os.listdir(folder)) == sorted([name, "next.bin"])


def test_stale_temp_rule_keeps_live_and_recent_foreign_writers(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    dead_pid = int(finished.stdout)
    host = contracts._HOST
    dead = tmp_path / f".a.parquet.{host}-{dead_pid}.abc12345.tmp"
    live = tmp_path / f".a.parquet.{host}-{os.getpid()}.def67890.tmp"
    foreign_recent = tmp_path / f".a.parquet.other-node.example-{dead_pid}.ghi11111.tmp"
    foreign_old = tmp_path / f".b.png.other-node.example-{dead_pid}.jkl22222.tmp"
    unrelated = [tmp_path / ".gitkeep", tmp_path / ".notes.tmp", tmp_path / "a.parquet.tmp"]
    for path in (dead, live, foreign_recent, foreign_old, *unrelated):
        path.write_bytes(b"partial")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(foreign_old, (two_days_ago, two_days_ago))

    contracts.write_bytes(tmp_path / "c.bin", b"x")
    left = {p.name for p in tmp_path.iterdir()}
    assert dead.name not in left and foreign_old.name not in left
    assert {live.name, foreign_recent.name, "c.bin", *(p.name for p in unrelated)} <= left


# ---------------------------------------------------------------- reading damaged tables

def _written(tmp_path, frame=None):
    path = tmp_path / "scores.parquet"
    contracts.write_table(_scores(50) if frame is None else frame, path, SCORES)
    return path


@pytest.mark.parametrize("damage", ["truncated", "empty", "not_parquet"])
def test_damaged_table_raises_contract_error_naming_it(tmp_path, damage):
    path = _written(tmp_path)
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "not_parquet": b"generator,score\n"}[damage])
    with pytest.raises(ContractError, match="is not a readable Parquet table") as caught:
        contracts.read_table(path, SCORES)
    assert str(path) in str(caught.value)


def test_flipped_bit_in_a_value_is_caught_by_the_page_checksum(tmp_path):
    scores = np.random.default_rng(3).random(500)
    path = _written(tmp_path, _scores(500).assign(score=scores))
    data = bytearray(path.read_bytes())
    at = bytes(data).index(np.float64(scores[123]).tobytes())  # random floats are stored verbatim
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    # Without the checksum the damage would pass unseen: the file reads, one score silently changed.
    unchecked = pd.read_parquet(path, page_checksum_verification=False)["score"].to_numpy()
    assert unchecked[123] != scores[123] and np.array_equal(np.delete(unchecked, 123), np.delete(scores, 123))
    with pytest.raises(ContractError, match="is not a readable Parquet table") as caught:
        contracts.read_table(path, SCORES)
    assert str(path) in str(caught.value)


def test_missing_table_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "absent.parquet")):
        contracts.read_table(tmp_path / "absent.parquet", SCORES)


# ---------------------------------------------------------------- non-finite scores are data, not dropped rows

def test_non_finite_scores_round_trip_as_data(tmp_path):
    values = [1.5, float("inf"), float("-inf"), float("nan"), None]
    frame = _scores(5).assign(score=values, status=["ok", "ok", "ok", "ok", "error: non-finite score"])
    back = contracts.read_table(_written(tmp_path, frame), SCORES)
    assert len(back) == 5 and list(back["status"]) == list(frame["status"])
    got = back["score"].to_numpy()
    assert got[0] == 1.5 and np.isposinf(got[1]) and np.isneginf(got[2]) and np.isnan(got[3]) and np.isnan(got[4])
