"""The workspace under faults, made for real: read-only media, a full disk, a file size limit, a damaged file,
a PostgreSQL server stopped mid-write.

We run as root, so file permissions stop nothing: a read-only medium is a read-only bind mount
(``mount --bind`` + ``mount -o remount,ro,bind``) or a read-only SQLite URI, a full disk a tiny tmpfs,
a file size limit ``RLIMIT_FSIZE`` set in the child process running ``python -m gis``. Tests that need
``mount`` skip with the reason when the kernel does not allow it. Every failure must be a bilingual
message with exit status 2 (never a traceback), the workspace byte-for-byte unchanged and no partial
file left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.edits import ChangeSet, Update
from layers.errors import StorageError
from layers.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
PARTIAL = ("*.writing", "*.importing", "*.restoring", "*.part", "*-journal")


# ---- helpers -------------------------------------------------------------------------------------------
def _shelters(n: int = 6, start: int = 0) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"shelter_id": [f"S{i + 1}" for i in range(start, start + n)],
                             "name": [f"云岭{i + 1}号避灾点" for i in range(start, start + n)],
                             "capacity": [100 + i for i in range(start, start + n)]},
                            geometry=[shapely.Point(119.9 + 0.01 * i, 28.1) for i in range(start, start + n)],
                            crs="EPSG:4490")


def _rivers(n: int = 400) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(3)
    lines = [shapely.LineString(np.column_stack([119.5 + np.cumsum(rng.uniform(0, 1e-3, 40)) + i * 1e-3,
                                                 28.0 + np.cumsum(rng.uniform(-5e-4, 5e-4, 40))])) for i in range(n)]
    return gpd.GeoDataFrame({"name": [f"河{i}" for i in range(n)]}, geometry=lines, crs="EPSG:4490")


def _dem(path: Path, *, noise: bool = False) -> None:
    """A 60 x 80 DEM; with ``noise`` random heights (a file compression cannot shrink)."""
    import rasterio
    from rasterio.transform import from_origin

    z = (np.add.outer(np.arange(60), np.arange(80)) * 2.0 + 100).astype("float32")
    if noise:
        z += np.random.default_rng(5).uniform(0, 50, z.shape).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=80, height=60, count=1, dtype="float32", crs="EPSG:4490",
                       transform=from_origin(119.5, 28.3, 0.001, 0.001), nodata=-9999) as dst:
        dst.write(z, 1)


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """A small workspace folder: shelters, rivers, a DEM, one edit in the history."""
    folder = tmp_path / "ws"
    w = Workspace(folder)
    w.replace("shelters", _shelters(), note="seed", user="t")
    w.replace("rivers", _rivers(), note="seed", user="t")
    _dem(folder / "dem.tif")
    return w


def _digest(folder: Path) -> dict[str, str]:
    """Every file in ``folder`` (not the snapshots) -> its sha256: 'unchanged' means byte for byte."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".snapshots" not in p.parts}


def _partials(folder: Path) -> list[Path]:
    return [p for pat in PARTIAL for p in folder.rglob(pat)]


def _cli(*args: str, fsize: int | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``python -m gis ARGS``: in a child process with ``RLIMIT_FSIZE`` when ``fsize`` is given (the limit
    applies to a whole process), else in this one (``gis.cli.main``: the same code and exit status, without
    seconds of start-up per call)."""
    if fsize is None:
        import io

        from gis.cli import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as e:        # argparse's own errors
                code = e.code if isinstance(e.code, int) else 1
        return subprocess.CompletedProcess(["python", "-m", "gis", *args], code, out.getvalue(), err.getvalue())

    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, resource.RLIM_INFINITY))

    env = dict(os.environ, PYTHONPATH=str(ROOT), GIS_SNAPSHOT_KEEP=os.environ.get("GIS_SNAPSHOT_KEEP", "5"))
    return subprocess.run([sys.executable, "-m", "gis", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, preexec_fn=limit)


def _assert_storage_message(r: subprocess.CompletedProcess, zh: str, en: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    assert zh in r.stderr and en in r.stderr, r.stderr
    assert "nothing was imported" not in r.stderr and "未导入任何内容" not in r.stderr, r.stderr


@contextlib.contextmanager
def _read_only(folder: Path):
    """``folder`` seen through a read-only bind mount (skips when the kernel does not allow mounting)."""
    mnt = folder.parent / (folder.name + "-ro")
    mnt.mkdir()
    r = subprocess.run(["mount", "--bind", str(folder), str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        mnt.rmdir()
        pytest.skip(f"cannot bind-mount here (needs CAP_SYS_ADMIN): {r.stderr.strip()}")
    try:
        r = subprocess.run(["mount", "-o", "remount,ro,bind", str(mnt)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {r.stderr.strip()}")
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        with contextlib.suppress(OSError):
            mnt.rmdir()


@contextlib.contextmanager
def _tiny_fs(where: Path, size: str):
    """A tmpfs of ``size`` mounted at ``where`` (skips when the kernel does not allow mounting)."""
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs CAP_SYS_ADMIN): {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(folder: Path) -> None:
    """Fill the filesystem of ``folder`` to the last byte."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for block in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * block) == block:
                    pass
    finally:
        os.close(fd)


def _damage_table(gpkg: Path, table: str, nbytes: int = 4096, seed: int = 0) -> None:
    """Random bytes over the root page of ``table`` (its data is then unreadable; other tables are intact)."""
    con = sqlite3.connect(gpkg)
    page = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    con.close()
    with open(gpkg, "r+b") as f:
        f.seek((root - 1) * page)
        f.write(random.Random(seed).randbytes(nbytes))


def _csv(path: Path, n: int = 3, start: int = 10) -> Path:
    rows = [f"S{i},新点{i},{119.9 + 0.01 * i:.3f},28.2,{50 + i}" for i in range(start, start + n)]
    path.write_text("编号,名称,经度,纬度,可容纳人数\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


# ---- the cause of a failure, told from what the medium says --------------------------------------------
def test_read_only_sqlite_uri_is_told_as_no_permission(ws):
    from layers.storage import classify, guard

    con = sqlite3.connect(f"file:{ws.gpkg}?mode=ro", uri=True)
    with pytest.raises(StorageError) as e, guard(ws.gpkg):
        con.execute("CREATE TABLE probe (a)")
    assert e.value.cause == "no_permission"
    assert "工作空间无法写入：没有写入权限" in str(e.value) and "the workspace could not be written: no permission" \
        in str(e.value)
    assert classify(OSError(28, "No space left on device")) == "disk_full"
    assert classify(OSError(30, "Read-only file system")) == "read_only"
    assert classify(sqlite3.DatabaseError("database disk image is malformed")) == "damaged"


# ---- read-only medium (a read-only bind mount) -----------------------------------------------------------
def test_read_only_medium_import_undo_raster_scenario_and_snapshot_refused(ws, tmp_path):
    before = _digest(ws.folder)
    with _read_only(ws.folder) as ro:
        gpkg = str(ro / "workspace.gpkg")
        for args in (("import", "--workspace", gpkg, "--layer", "shelters", str(_csv(tmp_path / "s.csv"))),
                     ("import", "--workspace", gpkg, "--layer", "shelters", "--append", str(tmp_path / "s.csv")),
                     ("undo", "--workspace", gpkg),
                     ("import", "--workspace", gpkg, "--layer", "dem", str(ws.folder / "dem.tif")),
                     ("snapshot", "--workspace", gpkg)):
            r = _cli(*args)
            _assert_storage_message(r, "存储介质为只读", "the medium is read-only")
        # the library too: a scenario save, an edit, a new workspace in a read-only data folder
        from layers.folders import create_workspace
        from layers.scenarios import save_scenario

        with pytest.raises(StorageError, match="存储介质为只读") as e:
            save_scenario(ro / "workspace.gpkg", "flood", "水位 4 米", {"stage": 4}, {"people": 1})
        assert e.value.cause == "read_only"
        w = Workspace(ro)
        sh = w.read("shelters")
        with pytest.raises(StorageError, match="the medium is read-only"):
            w.apply(ChangeSet("shelters", updated=[Update(int(sh.fid[0]), int(sh._rev[0]), {"capacity": 1})]),
                    note="", user="")
        with pytest.raises(StorageError, match="无法新建工作空间：存储介质为只读"):
            create_workspace("新的", ro)
        # reading still works on a read-only medium
        assert len(w.vector("rivers")) == 400
        assert _cli("export", "--workspace", gpkg, "--layer", "shelters", "--out",
                    str(tmp_path / "out.geojson")).returncode == 0
    assert _digest(ws.folder) == before
    assert not _partials(ws.folder) and not (ws.folder / "新的").exists()


# ---- disk full: a file size limit (RLIMIT_FSIZE) and a tiny filesystem ----------------------------------------
def test_file_size_limit_import_and_export_leave_nothing_behind(ws, tmp_path):
    big = _rivers(3000)
    src = tmp_path / "rivers.gpkg"
    big.to_file(src, layer="rivers", driver="GPKG")
    before = _digest(ws.folder)
    limit = ws.gpkg.stat().st_size + 64 * 1024        # the import needs more than that
    r = _cli("import", "--workspace", str(ws.gpkg), "--layer", "rivers", "--allow-outside", str(src), fsize=limit)
    _assert_storage_message(r, "磁盘空间已满", "the disk is full")
    assert "工作空间无法写入" in r.stderr
    assert _digest(ws.folder) == before and not _partials(ws.folder)
    # an export larger than the limit: no *.writing file, the message says the export failed
    out = tmp_path / "exports"
    for name in ("rivers.csv", "rivers.gpkg"):
        r = _cli("export", "--workspace", str(ws.gpkg), "--layer", "rivers", "--out", str(out / name),
                 fsize=20 * 1024)
        _assert_storage_message(r, "导出失败，工作空间未改动", "The export failed; the workspace is unchanged")
        assert "disk is full" in r.stderr
        assert not (out / name).exists()
        assert not list(out.glob("*.writing")) if out.exists() else True
    assert _digest(ws.folder) == before


def test_full_disk_import_raster_new_workspace_and_snapshot(ws, tmp_path):
    more = tmp_path / "r.gpkg"
    _rivers(2000).to_file(more, layer="rivers", driver="GPKG")
    other = tmp_path / "dem2.tif"
    _dem(other, noise=True)         # the import writes it compressed: noise keeps it as big as it is
    with _tiny_fs(tmp_path / "tiny", "2m") as tiny:
        folder = tiny / "ws"
        shutil.copytree(ws.folder, folder, ignore=shutil.ignore_patterns(".snapshots"))
        w = Workspace(folder)
        _fill(tiny)
        before = _digest(folder)
        r = _cli("import", "--workspace", str(w.gpkg), "--layer", "rivers", "--append", "--allow-outside", str(more))
        _assert_storage_message(r, "磁盘空间已满", "the disk is full")
        (tiny / "filler").unlink()
        room = os.statvfs(tiny).f_bavail * os.statvfs(tiny).f_frsize
        with open(tiny / "filler", "wb", buffering=0) as f:        # room for less than the raster
            f.write(b"\0" * max(0, room - other.stat().st_size // 2))
        r = _cli("import", "--workspace", str(w.gpkg), "--layer", "dem", str(other))
        _assert_storage_message(r, "磁盘空间已满", "the disk is full")
        from layers.folders import create_workspace

        _fill(tiny)
        with pytest.raises(StorageError, match="无法新建工作空间：磁盘空间已满"):
            create_workspace("新的", tiny)
        with pytest.raises(StorageError, match="快照无法保存：磁盘空间已满"):
            w.snapshot()
        assert _digest(folder) == before
        assert not _partials(tiny) and not (tiny / "新的").exists()
        assert not list(tiny.rglob("*.writing"))


# ---- a damaged file ---------------------------------------------------------------------------------------
def test_damaged_layer_is_detected_named_and_refused(ws, tmp_path):
    _damage_table(ws.gpkg, "rivers")
    w = Workspace(ws.folder)
    h = w.health()
    assert not h.ok and "rivers" in h.tables and h.damaged_kinds() == {"rivers"}
    assert "图层“河流”" in h.banner()("zh") and "layer 'Rivers'" in h.banner()("en")
    with pytest.raises(StorageError, match="工作空间无法读取：工作空间文件已损坏（图层“河流”）"):
        w.vector("rivers")
    assert len(w.vector("shelters")) == 6             # the intact layer still reads (to salvage it)
    before = _digest(ws.folder)
    r = _cli("export", "--workspace", str(w.gpkg), "--layer", "rivers", "--out", str(tmp_path / "r.geojson"))
    _assert_storage_message(r, "工作空间无法读取", "the workspace could not be read")
    assert "layer 'Rivers'" in r.stderr and not (tmp_path / "r.geojson").exists()
    r = _cli("export", "--workspace", str(w.gpkg), "--layer", "shelters", "--out", str(tmp_path / "s.geojson"))
    assert r.returncode == 0 and "damaged" in r.stdout and "已损坏" in r.stdout   # exported, with a warning
    for args in (("import", "--workspace", str(w.gpkg), "--layer", "shelters", "--append",
                  str(_csv(tmp_path / "s.csv"))), ("undo", "--workspace", str(w.gpkg))):
        r = _cli(*args)
        _assert_storage_message(r, "工作空间无法写入：工作空间文件已损坏", "writes are refused until it is restored")
    r = _cli("history", "--workspace", str(w.gpkg))
    assert r.returncode == 0 and "replace" in r.stdout and "damaged" in r.stderr    # history intact, damage said
    r = _cli("check", "--workspace", str(w.gpkg))
    _assert_storage_message(r, "图层“河流”", "layer 'Rivers'")
    assert _digest(ws.folder) == before


def test_random_bytes_in_the_middle_are_caught_before_any_read(tmp_path, demo_workspace):
    """The issue's probe: 4-64 KiB of random bytes in the middle of the demo workspace; no layer reads short."""
    for seed in range(3):
        folder = tmp_path / f"w{seed}"
        folder.mkdir()
        shutil.copy(demo_workspace / "workspace.gpkg", folder / "workspace.gpkg")
        rng = random.Random(seed)
        size = (folder / "workspace.gpkg").stat().st_size
        with open(folder / "workspace.gpkg", "r+b") as f:
            f.seek(rng.randrange(size // 4, 3 * size // 4))
            f.write(rng.randbytes(rng.choice([4096, 16384, 65536])))
        w = Workspace(folder)
        h = w.health()
        assert not h.ok, seed
        if h.whole:
            with pytest.raises(StorageError):
                w.vector_kinds()
            continue
        full = Workspace(demo_workspace)
        for kind in w.vector_kinds():
            if kind in h.damaged_kinds():
                with pytest.raises(StorageError):
                    w.vector(kind)
            else:
                assert len(w.vector(kind)) == len(full.vector(kind)), (seed, kind)


def test_truncated_workspace_history_and_export_say_what_failed(ws, tmp_path):
    size = ws.gpkg.stat().st_size
    with open(ws.gpkg, "r+b") as f:
        f.truncate(size // 2)
    for args in (("history", "--workspace", str(ws.gpkg)),
                 ("export", "--workspace", str(ws.gpkg), "--layer", "rivers", "--out", str(tmp_path / "r.csv"))):
        r = _cli(*args)
        _assert_storage_message(r, "工作空间无法读取", "the workspace could not be read")
        assert "工作空间文件已损坏" in r.stderr
    with open(ws.gpkg, "r+b") as f:
        f.truncate(0)
    r = _cli("history", "--workspace", str(ws.gpkg))
    _assert_storage_message(r, "整个工作空间文件", "the whole workspace file")


def test_a_failed_read_makes_the_next_write_run_the_full_check(ws, monkeypatch):
    """An index that no longer matches its table: quick_check passes, integrity_check does not."""
    from layers import integrity

    con = sqlite3.connect(ws.gpkg)
    con.execute("PRAGMA writable_schema = ON")
    con.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX gis_history_rows_fid ON gis_history_rows(entry_id)' "
                "WHERE name = 'gis_history_rows_fid'")
    con.commit()
    con.close()
    w = Workspace(ws.folder)
    assert w.health().ok and not w.health(full=True, fresh=True).ok
    integrity.forget(w.gpkg)
    assert w.health().ok
    sh = w.read("shelters")
    change = ChangeSet("shelters", updated=[Update(int(sh.fid[0]), int(sh._rev[0]), {"capacity": 1})])
    calls = []
    real = integrity.check
    monkeypatch.setattr(integrity, "check", lambda p, full=False: calls.append(full) or real(p, full=full))
    integrity.mark_suspect(w.gpkg)              # what a read that failed or came back short does
    with pytest.raises(StorageError, match="修改历史"):
        w.apply(change, note="", user="")
    assert True in calls
    assert integrity.is_suspect(w.gpkg)


# ---- snapshots and restore ------------------------------------------------------------------------------------
def test_snapshots_after_writes_damage_then_restore_loses_no_edit(ws, tmp_path, monkeypatch):
    from layers import settings, snapshots

    monkeypatch.setattr(settings, "SNAPSHOT_EVERY_WRITES", 3)
    monkeypatch.setattr(settings, "SNAPSHOT_KEEP", 3)
    w = Workspace(ws.folder)
    w.store_raster("dem", ws.folder / "dem.tif", user="t")
    capacities = []
    for i in range(7):
        sh = w.read("shelters")
        cap = 200 + i
        w.apply(ChangeSet("shelters", updated=[Update(int(sh.fid[0]), int(sh._rev[0]), {"capacity": cap})]),
                note=f"edit {i}", user="t")
        capacities.append(cap)
    snaps = w.snapshots()
    assert 1 <= len(snaps) <= 3 and all(s.rasters == ("dem",) for s in snaps)
    newest = snaps[0]
    expected = capacities[-1 - (snapshots.revision(w.gpkg)[0] - newest.revision)]
    # an unchanged DEM is stored once (hard links), and the space is what the files take
    inodes = {(s.path / "dem.tif").stat().st_ino for s in snaps}
    assert len(inodes) == 1
    space = snapshots.space(w.gpkg)
    assert space.count == len(snaps) and space.bytes < sum(s.bytes for s in snaps) + 1
    _damage_table(w.gpkg, "shelters")
    assert not Workspace(ws.folder).health().ok
    r = _cli("restore", "--workspace", str(w.gpkg), "--list", "--json")
    assert r.returncode == 0 and newest.id in r.stdout
    r = _cli("restore", "--workspace", str(w.gpkg), "--user", "王五")
    assert r.returncode == 0, r.stderr
    assert newest.id in r.stdout
    back = Workspace(ws.folder)
    assert back.health(full=True, fresh=True).ok
    assert int(back.read("shelters").capacity.iloc[0]) == expected
    top = back.history(limit=1)[0]
    assert top.action == "restore" and top.user == "王五" and newest.id in top.note
    assert len(back.vector("rivers")) == 400
    assert list((ws.folder / ".snapshots" / "workspace").glob("damaged-*.gpkg"))   # kept for an expert
    # editing goes on after the restore, and undo skips the restore entry
    sh = back.read("shelters")
    back.apply(ChangeSet("shelters", updated=[Update(int(sh.fid[0]), int(sh._rev[0]), {"capacity": 999})]),
               note="after", user="t")
    back.undo(user="t")
    assert int(back.read("shelters").capacity.iloc[0]) == expected
    assert not _partials(ws.folder)


def test_restore_of_a_sound_workspace_keeps_the_state_it_replaces(ws):
    w = Workspace(ws.folder)
    first = w.snapshot()
    sh = w.read("shelters")
    w.apply(ChangeSet("shelters", updated=[Update(int(sh.fid[0]), int(sh._rev[0]), {"capacity": 555})]),
            note="later", user="t")
    snap, entry = w.restore(first.id, user="t")
    assert snap.id == first.id and entry.action == "restore"
    assert int(w.read("shelters").capacity.iloc[0]) == 100
    before = [s for s in w.snapshots() if s.reason == "before_restore"]
    assert len(before) == 1
    w.restore(before[0].id, user="t")                  # the restore undone by restoring what it replaced
    assert int(w.read("shelters").capacity.iloc[0]) == 555


def test_no_snapshot_of_a_damaged_state_and_a_bad_snapshot_is_refused(ws, tmp_path):
    w = Workspace(ws.folder)
    good = w.snapshot()
    _damage_table(w.gpkg, "rivers")
    with pytest.raises(StorageError, match="工作空间文件已损坏"):
        w.snapshot()
    _damage_table(good.path / "workspace.gpkg", "shelters")
    r = _cli("restore", "--workspace", str(w.gpkg), "--snapshot", good.id)
    _assert_storage_message(r, f"快照 {good.id} 本身已损坏", "is damaged itself")
    r = _cli("restore", "--workspace", str(w.gpkg), "--snapshot", "nope")
    _assert_storage_message(r, "没有编号为 nope 的快照", "there is no snapshot nope")
    assert not w.health().ok


def test_snapshots_are_bounded_by_count_and_space(ws, monkeypatch):
    from layers import settings, snapshots

    monkeypatch.setattr(settings, "SNAPSHOT_KEEP", 2)
    w = Workspace(ws.folder)
    for _ in range(4):
        w.snapshot()
    assert len(w.snapshots()) == 2
    monkeypatch.setattr(settings, "SNAPSHOT_KEEP", 10)
    one = w.snapshots()[0].bytes
    monkeypatch.setattr(settings, "SNAPSHOT_MAX_MB", 1.5 * one / 1e6)
    for _ in range(3):
        w.snapshot()
    assert len(w.snapshots()) == 1                     # the newest always stays
    assert snapshots.space(w.gpkg).bytes <= 1.5 * one


# ---- a PostgreSQL server stopped mid-write (a private instance: the shared server is never touched) -------------
def _pg_bin() -> Path | None:
    for control in sorted(Path("/usr/share/postgresql").glob("*/extension/postgis.control"), reverse=True):
        bindir = Path("/usr/lib/postgresql") / control.parent.parent.name / "bin"
        if (bindir / "initdb").exists():
            return bindir
    return None


@pytest.fixture(scope="module")
def private_pg():
    """A PostgreSQL + PostGIS instance of this test alone: initdb into a temporary folder as the ``postgres``
    user, on a free port; stopped and removed at the end. Yields (dsn, ctl) where ``ctl(action, *args)``
    runs ``pg_ctl`` on it."""
    import pwd
    import socket
    import tempfile

    bindir = _pg_bin()
    if bindir is None or not shutil.which("runuser"):
        pytest.skip("no PostgreSQL server binaries with PostGIS (tests/pg_setup.sh installs them) or no runuser")
    try:
        pg = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres system user to run a private server as")
    base = Path(tempfile.mkdtemp(prefix="gis-faults-pg-"))
    os.chown(base, pg.pw_uid, pg.pw_gid)
    data = base / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def as_postgres(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True,
                              timeout=120, check=check, cwd=base)

    def ctl(action: str, *args: str) -> None:
        opts = ["-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"] if action == "start" else []
        as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", *opts, action, *args)

    try:
        as_postgres(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync",
                    "-E", "UTF8")
        ctl("start")
    except subprocess.CalledProcessError as e:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"cannot start a private PostgreSQL server here: {e.stderr.strip()[:300]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", ctl
    finally:
        as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_postgis_server_stopped_mid_write_is_a_storage_error_and_changes_nothing(private_pg, tmp_path):
    import pandas as pd

    from layers.postgis import PostGISStore

    dsn, ctl = private_pg
    store = PostGISStore(dsn, schema="faults", connect_timeout=3)
    store.replace("shelters", _shelters(), note="seed", user="t")
    before, hist = store.read("shelters"), store.history()
    store._before_commit = lambda: ctl("stop", "-m", "immediate")     # the server goes down inside the write
    with pytest.raises(StorageError) as e:
        store.replace("shelters", _shelters(3, start=10), note="lost", user="t", append=True)
    store._before_commit = None
    assert e.value.cause == "lost_connection"
    assert "连接中断，本次操作未生效" in str(e.value) and "was lost; the operation did not take effect" in str(e.value)
    with pytest.raises(StorageError, match="无法连接 PostGIS 数据库"):        # still down: reads say so too
        store.history()
    r = _cli("import", "--workspace", dsn, "--layer", "shelters", "--append", str(_csv(tmp_path / "s.csv")))
    _assert_storage_message(r, "无法连接 PostGIS 数据库", "cannot connect to the PostGIS database")
    ctl("start")
    pd.testing.assert_frame_equal(store.read("shelters"), before)
    assert store.history() == hist
    sh = store.read("shelters")        # an edit stopped mid-write likewise
    store._before_commit = lambda: ctl("stop", "-m", "immediate")
    with pytest.raises(StorageError, match="the connection to the PostGIS database"):
        store.apply(ChangeSet("shelters", updated=[Update(int(sh.fid[0]), int(sh._rev[0]), {"capacity": 1})]),
                    note="", user="")
    store._before_commit = None
    ctl("start")
    pd.testing.assert_frame_equal(store.read("shelters"), before)


def test_app_takes_a_due_snapshot_in_the_background_once_a_minute(ws, monkeypatch):
    """Writes another program made (here: without the snapshot step) are snapshotted by the app's schedule."""
    from layers import settings, snapshots
    from ui.state import scheduled_snapshot

    w = Workspace(ws.folder)
    for s in w.snapshots():
        shutil.rmtree(s.path)
    monkeypatch.setattr(settings, "SNAPSHOT_EVERY_MINUTES", 0.0)
    assert snapshots.due(w.gpkg) == "first"
    th = scheduled_snapshot(w)
    assert th is not None
    th.join(60)
    assert len(w.snapshots()) == 1 and w.snapshots()[0].rasters == ("dem",)
    assert scheduled_snapshot(w) is None                      # not again within the minute
    g = Workspace(ws.folder.parent / "generated")
    g.write_vector("shelters", _shelters())                   # data the program made: no history, no snapshot due
    assert g.version("shelters") == 1 and snapshots.due(g.gpkg) is None
