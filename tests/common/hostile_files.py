"""Files that break naive image code, as plain functions for the tests to import.

Each makes one hostile thing on disk and returns its path (str, as `common.data.list_images`
gives it): a copy under a file name that is not valid UTF-8, a PNG whose header claims a
huge size, a folder symlink loop, and PNG / JPEG files that pass a cheap header/trailer
check but do not decode.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, payload: bytes, crc: int | None = None) -> bytes:
    """One PNG chunk: length, type, payload, CRC-32 of type + payload (or the `crc` given)."""
    crc = zlib.crc32(kind + payload) if crc is None else crc
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc & 0xFFFFFFFF)


def non_utf8_copy(source, folder, name: bytes = b"bad\xff.png") -> str:
    """Copy `source` into `folder` under a file name that is not valid UTF-8 (bytes, as a POSIX
    file system allows); returns the path as Python sees it (str with a surrogate escape)."""
    target = os.path.join(os.fsencode(os.fspath(folder)), name)
    shutil.copyfile(os.fsencode(os.fspath(source)), target)
    return os.fsdecode(target)


def huge_header_png(path, width: int = 100_000, height: int = 100_000) -> str:
    """A PNG whose IHDR (correct CRC) claims width x height RGB pixels, with a tiny IDAT and an
    IEND: every check that reads only headers and trailers passes, only the size is hostile."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    idat = zlib.compress(b"\0" * (1 + 3 * min(width, 64)))  # one (short) row: nothing like enough
    Path(path).write_bytes(PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
                           + png_chunk(b"IEND", b""))
    return os.fspath(path)


def undecodable_png(path, width: int = 8, height: int = 8) -> str:
    """A PNG with a valid signature, a valid IHDR (width x height, so its size reads from the
    header) and IEND, but an IDAT of garbage with a wrong CRC: no decoder can produce pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    garbage = bytes(range(7, 250, 3)) * 4
    Path(path).write_bytes(PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", garbage, crc=0x12345678)
                           + png_chunk(b"IEND", b""))
    return os.fspath(path)


def undecodable_jpeg(path) -> str:
    """A JPEG's start (FFD8FF, an APP0 marker) and end-of-image marker FFD9 with garbage
    between: it passes a magic-number and trailer check but does not decode."""
    garbage = bytes(range(1, 200, 7)) * 8  # no 0xFF bytes: no markers at all, hence no frame
    Path(path).write_bytes(b"\xff\xd8\xff\xe0" + garbage + b"\xff\xd9")
    return os.fspath(path)


def undecodable_folder(folder, count: int = 4) -> Path:
    """A folder holding only plausible-but-undecodable images (PNG and JPEG alternately)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (undecodable_png if i % 2 == 0 else undecodable_jpeg)(folder / f"broken{i}.{'png' if i % 2 == 0 else 'jpg'}")
    return folder


def symlink_loop(folder, name: str = "loop") -> str:
    """A symlink `folder/name -> .`: a walk that follows links descends into it forever (or
    until the OS refuses, ~40 levels down)."""
    link = os.path.join(os.fspath(folder), name)
    os.symlink(".", link, target_is_directory=True)
    return link
