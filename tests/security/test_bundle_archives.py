"""Bundle archives: forged tar files are refused with a BundleError, nothing lands outside,
and no temporary folder is left behind."""

from __future__ import annotations

import gc
import gzip
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest

import mlops_lab as ml
from mlops_lab.errors import BundleError


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """The folder ``tempfile`` uses, so a test can see what was left there."""
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


@pytest.fixture
def archive(iris_run, tmp_path) -> Path:
    ml.package(iris_run, tmp_path / "b", onnx=False, archive=True)
    return tmp_path / "b.tar.gz"


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def test_loading_an_archive_leaves_no_temporary_folder(archive, private_tmp) -> None:
    for _ in range(5):
        bundle = ml.load_bundle(archive)
        assert bundle.path.is_relative_to(private_tmp)
        assert bundle.predict(bundle.input_example) is not None
        del bundle
    gc.collect()
    assert list(private_tmp.iterdir()) == []
    with ml.load_bundle(archive, lazy=True) as bundle:
        assert bundle.model is not None
    assert list(private_tmp.iterdir()) == []


def test_a_failed_load_leaves_no_temporary_folder(tmp_path, private_tmp) -> None:
    bad = _tar(tmp_path / "bad.tar.gz", [(_info("b/metadata.json"), b"[1, 2]")])
    with pytest.raises(BundleError, match="expected a JSON object"):
        ml.load_bundle(bad)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (_info("b/evil", tarfile.SYMTYPE, "/etc/passwd"), "is a symbolic link"),
        (_info("b/evil", tarfile.LNKTYPE, "/etc/passwd"), "is a hard link"),
        (_info("b/dev", tarfile.CHRTYPE), "is a device file"),
        (_info("b/fifo", tarfile.FIFOTYPE), "is a FIFO"),
    ],
)
def test_links_and_special_files_are_refused(tmp_path, private_tmp, member, message) -> None:
    forged = _tar(tmp_path / "evil.tar.gz", [(member, None)])
    with pytest.raises(BundleError, match=message):
        ml.load_bundle(forged)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["../outside.txt", "b/../../outside.txt", "/tmp/outside.txt", "C:\\outside.txt"]
)
def test_escaping_names_are_refused_and_nothing_lands_outside(tmp_path, private_tmp, name) -> None:
    forged = _tar(tmp_path / "evil.tar.gz", [(_info(name), b"owned")])
    with pytest.raises(BundleError, match="absolute or escaping name"):
        ml.load_bundle(forged)
    assert not (tmp_path / "outside.txt").exists()
    assert not (private_tmp.parent / "outside.txt").exists()
    assert list(private_tmp.iterdir()) == []


def test_a_duplicate_member_is_refused(tmp_path) -> None:
    forged = _tar(
        tmp_path / "dup.tar.gz", [(_info("b/model.skops"), b"one"), (_info("b/model.skops"), b"2")]
    )
    with pytest.raises(BundleError, match="appears twice"):
        ml.load_bundle(forged)


def test_a_tar_bomb_is_stopped_at_the_cap(tmp_path, private_tmp) -> None:
    """20 MB of zeros in a 20 kB archive: refused past max_bytes, having written at most that."""
    bomb = tmp_path / "bomb.tar.gz"
    _tar(bomb, [(_info("b/zeros"), bytes(20_000_000))])
    assert bomb.stat().st_size < 100_000
    with pytest.raises(BundleError, match="unpacks to more than 1000000 bytes"):
        ml.load_bundle(bomb, max_bytes=1_000_000)
    assert list(private_tmp.iterdir()) == []


def test_a_member_declaring_more_than_the_default_cap_is_refused_before_writing(
    tmp_path, private_tmp
) -> None:
    """A header claiming 2 GiB (no data follows): refused by the default cap, nothing written."""
    info = _info("b/huge")
    info.size = 2 << 30
    raw = info.tobuf(format=tarfile.GNU_FORMAT)
    forged = tmp_path / "huge.tar.gz"
    forged.write_bytes(gzip.compress(raw))
    with pytest.raises(BundleError, match="unpacks to more than 1073741824 bytes"):
        ml.load_bundle(forged)
    assert list(private_tmp.iterdir()) == []


def test_too_many_members_are_refused(tmp_path) -> None:
    many = [(_info(f"b/f{i}"), b"x") for i in range(1001)]
    forged = _tar(tmp_path / "many.tar.gz", many)
    with pytest.raises(BundleError, match="more than 1000 members"):
        ml.load_bundle(forged)
    with pytest.raises(BundleError, match="not a model bundle"):
        ml.load_bundle(forged, max_members=2000)


@pytest.mark.parametrize(
    "content",
    [b"not a tar at all", gzip.compress(b"\x00" * 10, mtime=0), b""],
    ids=["not-a-tar", "gzip-of-zeros", "empty"],
)
def test_an_unreadable_archive_is_a_bundle_error(tmp_path, content) -> None:
    path = tmp_path / "x.tar.gz"
    path.write_bytes(content)
    with pytest.raises(BundleError):
        ml.load_bundle(path)


def test_cli_serve_refuses_a_forged_archive_in_one_line(tmp_path) -> None:
    forged = _tar(tmp_path / "evil.tar.gz", [(_info("b/x", tarfile.SYMTYPE, "/etc/passwd"), None)])
    out = subprocess.run(
        [sys.executable, "-m", "mlops_lab.cli", "serve", str(forged)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert "is a symbolic link" in out.stderr and "Traceback" not in out.stderr
