"""Hostile input files, made on demand for tests/test_hostile.py: each function writes one
case into a folder and returns what the test needs. Nothing here is dangerous to the machine
(links point at files inside the test's own folder, or at /etc/passwd, which is readable by
anyone: the point is that smoothcli must not read it).

Run ``python -m tests.hostile DIR`` to write every case into DIR and look at them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import zlib
from pathlib import Path

import numpy as np

#: a secret's text: never to appear in smoothcli's output, whole
SECRET = "TOP-SECRET-TOKEN-0123456789-abcdefghijklmnopqrstuvwxyz"


def good_csv(folder: Path, name: str = "sub-01_task-rest_timeseries.csv") -> Path:
    """A table smoothcli scores: the good file beside each hostile one."""
    path = folder / name
    rng = np.random.default_rng(len(name))
    values = rng.normal(size=(50, 3)).cumsum(axis=0)
    lines = "".join(",".join(f"{v:.6f}" for v in row) + "\n" for row in values)
    path.write_text("a,b,c\n" + lines)
    return path


def secret(folder: Path) -> Path:
    """A file that stands for a secret outside what the user named."""
    path = folder / "secret.txt"
    path.write_text(f"{SECRET}\n" * 20)
    return path


def gifti(
    path: Path,
    encoding: str,
    dims: list[int],
    payload: str = "",
    *,
    external: str | None = None,
    datatype: str = "NIFTI_TYPE_FLOAT32",
) -> Path:
    """A GIFTI file of one data array, written as text, so that it can lie."""
    attrs = " ".join(f'Dim{i}="{d}"' for i, d in enumerate(dims))
    extra = f' ExternalFileName="{external}" ExternalFileOffset="0"' if external else ""
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<GIFTI Version="1.0" NumberOfDataArrays="1">\n'
        f'<DataArray Intent="NIFTI_INTENT_TIME_SERIES" DataType="{datatype}" '
        f'ArrayIndexingOrder="RowMajorOrder" Dimensionality="{len(dims)}" {attrs} '
        f'Encoding="{encoding}" Endian="LittleEndian"{extra}>\n'
        f"<Data>{payload}</Data>\n</DataArray>\n</GIFTI>\n"
    )
    return path


def gifti_values(path: Path, values: np.ndarray) -> Path:
    """An honest GIFTI file (gzip'd base64) of ``values`` (vertices x time, float32)."""
    data = np.ascontiguousarray(values, "<f4")
    payload = base64.b64encode(zlib.compress(data.tobytes())).decode()
    return gifti(path, "GZipBase64Binary", list(data.shape), payload)


def gifti_external(folder: Path, target: str) -> Path:
    """A GIFTI file whose data array is 'kept' in ``target`` (any path)."""
    return gifti(folder / "ext.func.gii", "ExternalFileBinary", [4, 8], external=target,
                 datatype="NIFTI_TYPE_UINT8")  # fmt: skip


def gifti_bomb(folder: Path, inflated: int = 1 << 30) -> Path:
    """A GIFTI file whose 4x8 float32 array (128 bytes) inflates to ``inflated`` bytes."""
    inflate = zlib.compressobj(9)
    zero = bytes(1 << 20)
    parts = [inflate.compress(zero) for _ in range(inflated >> 20)]
    parts.append(inflate.flush())
    payload = base64.b64encode(b"".join(parts)).decode()
    return gifti(folder / "bomb.func.gii", "GZipBase64Binary", [4, 8], payload)


def deep_folder(root: Path, depth: int) -> Path:
    """A folder ``depth`` folders deep (named ``d``), a table at the bottom; made with
    relative steps, as a path this deep is longer than the OS takes whole."""
    root.mkdir(parents=True, exist_ok=True)
    here = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=here)
            nxt = os.open("d", os.O_RDONLY, dir_fd=here)
            os.close(here)
            here = nxt
        fd = os.open("sub-09_deep.csv", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=here)
        os.write(fd, b"a\n1\n2\n4\n")
        os.close(fd)
    finally:
        os.close(here)
    return root


def remove_deep(root: Path) -> None:
    """Remove a :func:`deep_folder` bottom-up without recursion (``shutil.rmtree``
    recurses once per level, and pytest's clean-up would hit the recursion limit)."""
    depth = 0
    here = os.open(root, os.O_RDONLY)
    try:
        while "d" in os.listdir(here):
            nxt = os.open("d", os.O_RDONLY, dir_fd=here)
            os.close(here)
            here, depth = nxt, depth + 1
        for name in os.listdir(here):
            os.unlink(name, dir_fd=here)
        for _ in range(depth):
            up = os.open("..", os.O_RDONLY, dir_fd=here)
            os.close(here)
            here = up
            os.rmdir("d", dir_fd=here)
    finally:
        os.close(here)


def digest(path: Path) -> str:
    """A file's content, as a digest: to tell that it did not change."""
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: a file's digest, a link's target, a folder."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = digest(path)
        else:
            found[key] = "dir"
    return found


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    good_csv(out)
    secret(out)
    gifti_external(out, "/etc/passwd")
    gifti_bomb(out, 64 << 20)
    (out / "passwd.csv").symlink_to(out / "secret.txt")
    print(f"wrote the cases into {out}")


if __name__ == "__main__":
    main(sys.argv[1])
