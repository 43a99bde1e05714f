"""Check and clean a folder of images for training (in the spirit of NVIDIA's dataset_tool.py).

    python -m watches.prepare --data kaggle:minhquntntht/wrist-watch-128 --out data/watches --size 128
    python -m watches.prepare --data photos.zip --out data/watches.zip --near-duplicates keep

--data is a folder (searched recursively; hidden files and __MACOSX skipped), a .zip file (read in place,
nothing extracted), kaggle:<owner>/<dataset> (resolved as `--data` of the training commands), or demo.
Every file with an image extension (.jpg .jpeg .png .bmp .gif .webp .tif .tiff) is decoded with Pillow
(EXIF orientation applied); other files are listed as ignored. It reports:

  unreadable      empty, not an image, truncated or corrupt, too large: skipped, each with its reason
  odd sizes       non-square (centre-cropped), smaller than --size (upscaled), an aspect ratio beyond
                  --max-aspect (the crop loses much of the image): reported, still written
  duplicates      the same decoded pixels as an earlier file (SHA-256 of the RGB pixels): dropped
  near-duplicates a perceptual hash (pHash: 64 bits, the signs of the 8x8 lowest DCT frequencies of
                  the 32x32 grey image against their median) within --near-threshold bits (Hamming
                  distance) of an earlier kept image: a re-encoded, brightened or resized copy.
                  Dropped by default (they over-weight one image in a GAN's data); keep with
                  --near-duplicates keep. The default 6 bits: such copies of the demo watches are
                  0-2 bits from their original, distinct demo watches at least 10 apart (median 28).

Of duplicates the first file in sorted order (its path, '/'-separated) is kept.

The images kept are converted to RGB (RGBA/LA/P with transparency on white; L, P, CMYK, I;16 converted),
centre-cropped to a square and resized (Pillow's LANCZOS) to --size x --size (a power of two), written as
PNG img000000.png, img000001.png, ... in sorted source order, into --out: a folder, or a zip when it ends
in .zip. Beside them summary.json holds the counts, every file's fate, what each duplicate duplicates,
and the settings. The output is built aside and moved into place at the end (nothing half-written).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
NEAR_THRESHOLD = 6  # bits of 64: recompressed/brightened/resized copies are 0-2, distinct demo watches 10+
MAX_ASPECT = 1.5  # long side / short side beyond which an image counts as an unusual aspect ratio
MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3  # as common.data.MAX_IMAGE_PIXELS (89.5 MP): larger is refused
PROGRESS_FROM = 200  # a progress line (stderr) when at least this many files are read
SHOWN = 5  # at most this many files of each kind are named on the terminal (summary.json lists them all)
_SKIPPED_FOLDERS = frozenset({"__MACOSX"})


class PrepareError(ValueError):
    """Bad input or settings (one line, exit 2)."""


# --------------------------------------------------------------------------- sources


class Source:
    """The candidate files of a folder or a zip: names (relative, '/'-separated, sorted), their bytes."""

    def __init__(self, where: Path, names: list[str], ignored: list[str], archive: zipfile.ZipFile | None = None):
        self.where, self.names, self.ignored, self.archive = where, names, ignored, archive

    def read(self, name: str) -> bytes:
        if self.archive is not None:
            return self.archive.read(name)
        return (self.where / name).read_bytes()

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()



def hamming_to_each(hashes, h) -> np.ndarray:
    """Bits in which each 64-bit hash of `hashes` (uint64) differs from `h` (np.bitwise_count is NumPy 2 only)."""
    differ = (np.asarray(hashes, np.uint64) ^ np.uint64(h)).reshape(-1, 1).view(np.uint8)
    return np.unpackbits(differ, axis=1).sum(axis=1)

def _candidate(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in EXTENSIONS


def folder_source(folder: Path) -> Source:
    names, ignored, seen = [], [], set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        try:
            key = (os.stat(dirpath).st_dev, os.stat(dirpath).st_ino)
        except OSError:
            dirnames[:] = []
            continue
        if key in seen:  # a folder symlink loop, or a folder reached twice
            dirnames[:] = []
            continue
        seen.add(key)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIPPED_FOLDERS)
        for f in filenames:
            if f.startswith("."):
                continue
            rel = Path(dirpath, f).relative_to(folder).as_posix()
            (names if _candidate(f) else ignored).append(rel)
    return Source(folder, sorted(names), sorted(ignored))


def zip_source(path: Path) -> Source:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PrepareError(f"--data {path} is not a readable zip file ({exc})") from None
    names, ignored = [], []
    for info in archive.infolist():
        parts = info.filename.replace("\\", "/").split("/")
        if info.is_dir() or any(p.startswith(".") or p in _SKIPPED_FOLDERS for p in parts):
            continue
        (names if _candidate(parts[-1]) else ignored).append(info.filename)
    return Source(path, sorted(names), sorted(ignored), archive)


def open_source(spec, *, download=None) -> Source:
    """--data -> Source. `download`: passed to common.data_source.resolve_data for kaggle: (tests)."""
    spec = str(spec).strip()
    if not spec:
        raise PrepareError("--data is empty: give a folder, a .zip file, kaggle:<owner>/<dataset> or demo")
    if spec == "demo":
        from watches.demo import demo_dataset

        return folder_source(Path(demo_dataset()))
    if spec.startswith("kaggle:"):
        from common.data_source import resolve_data  # imports common.data (TensorFlow): only for Kaggle

        try:
            return folder_source(resolve_data(spec, download=download))
        except ValueError as exc:  # common.data.DataError
            raise PrepareError(str(exc)) from None
    path = Path(spec).expanduser()
    if not path.exists():
        raise PrepareError(f"--data {path} not found (give a folder, a .zip file, kaggle:<owner>/<dataset> or demo)")
    if path.is_dir():
        return folder_source(path.resolve())
    if not zipfile.is_zipfile(path):
        raise PrepareError(f"--data {path} is a file but not a zip file (give a folder or a .zip file)")
    return zip_source(path)


# --------------------------------------------------------------------------- one image


def decode(data: bytes) -> tuple[np.ndarray, str]:
    """File bytes -> (uint8 RGB [H, W, 3], the original mode); ValueError saying why not (one line)."""
    if not data:
        raise ValueError("empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(f"too large ({image.width}x{image.height}, over {MAX_PIXELS / 1e6:.1f} MP)")
            image.load()
            mode = image.mode
            image = ImageOps.exif_transpose(image)
            return to_rgb(image), mode
    except UnidentifiedImageError:
        raise ValueError("not an image (Pillow cannot identify it)") from None
    except Image.DecompressionBombError:
        raise ValueError(f"too large (over {MAX_PIXELS / 1e6:.1f} MP)") from None
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - OSError, SyntaxError, struct.error ... from a broken file
        text = " ".join(str(exc).split()) or type(exc).__name__
        what = "truncated" if "truncated" in text.lower() else "corrupt"
        raise ValueError(f"{what} ({text[:200]})") from None


def to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode -> uint8 RGB; transparency is composited on white."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        scale = 1 / 257 if image.mode != "I" or np.asarray(image).max() > 255 else 1
        image = Image.fromarray(np.clip(np.asarray(image, np.float64) * scale, 0, 255).round().astype(np.uint8))
    return np.asarray(image.convert("RGB"))


def centre_square(pixels: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square and resize (LANCZOS) to size x size."""
    h, w = pixels.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    crop = Image.fromarray(pixels[y:y + side, x:x + side])
    return np.asarray(crop if side == size else crop.resize((size, size), Image.LANCZOS))


def phash(pixels: np.ndarray) -> int:
    """64-bit perceptual hash: grey 32x32 (LANCZOS), 2-D DCT-II, the 8x8 lowest frequencies against their
    median (the DC term excluded from the median) -> bits, row-major, as an int."""
    from scipy.fft import dctn

    grey = np.asarray(Image.fromarray(pixels).convert("L").resize((32, 32), Image.LANCZOS), np.float64)
    low = dctn(grey, type=2, norm="ortho")[:8, :8].ravel()
    bits = low > np.median(low[1:])
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@dataclass
class Checked:
    """What reading one file found."""
    name: str
    error: str | None = None
    mode: str | None = None
    size: tuple[int, int] | None = None  # (width, height) of the original
    digest: str | None = None
    hash: int | None = None
    out: np.ndarray | None = field(default=None, repr=False)


def check(source: Source, name: str, size: int) -> Checked:
    try:
        data = source.read(name)
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
        return Checked(name, error=f"cannot be read ({exc})")
    try:
        pixels, mode = decode(data)
    except ValueError as exc:
        return Checked(name, error=str(exc))
    digest = hashlib.sha256(np.asarray(pixels.shape).tobytes() + pixels.tobytes()).hexdigest()
    return Checked(name, mode=mode, size=(pixels.shape[1], pixels.shape[0]), digest=digest, hash=phash(pixels),
                   out=centre_square(pixels, size))


def odd_size(width: int, height: int, size: int, max_aspect: float) -> list[str]:
    """Why a width x height image is an odd size for a size x size dataset ([] if it is not)."""
    why = []
    if width != height:
        why.append("non-square")
    if min(width, height) < size:
        why.append(f"smaller than {size}")
    if max(width, height) / min(width, height) > max_aspect:
        why.append(f"aspect {max(width, height) / min(width, height):.2f}")
    return why


# --------------------------------------------------------------------------- the whole set


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def prepare(data, out, *, size: int = 128, near_duplicates: str = "drop", near_threshold: int = NEAR_THRESHOLD,
            max_aspect: float = MAX_ASPECT, max_images: int | None = None, overwrite: bool = False,
            workers: int | None = None, download=None, progress=None) -> dict:
    """Check `data` and write the clean set to `out` (folder or .zip) -> the summary (also OUT's summary.json)."""
    check_size(size)
    if near_duplicates not in ("drop", "keep"):
        raise PrepareError(f"--near-duplicates must be drop or keep, got {near_duplicates!r}")
    out = Path(out).expanduser()
    as_zip = out.suffix.lower() == ".zip"
    if out.exists():
        if not overwrite and (as_zip or out.is_file() or any(out.iterdir())):
            raise PrepareError(f"--out {out} already exists and is not empty; add --overwrite to replace it")
        if as_zip != out.is_file():
            raise PrepareError(f"--out {out} is a {'folder' if out.is_dir() else 'file'}: give "
                               f"{'a name ending in .zip' if as_zip else 'a folder'}")
    source = open_source(data, download=download)
    try:
        return _prepare(source, str(data), out, as_zip, size=size, near_duplicates=near_duplicates,
                        near_threshold=near_threshold, max_aspect=max_aspect, max_images=max_images,
                        workers=workers, progress=progress)
    finally:
        source.close()


def check_size(size) -> int:
    if not isinstance(size, int) or size < 4 or size & (size - 1):
        raise PrepareError(f"--size must be a power of two of at least 4 (e.g. 64, 128, 256), got {size}")
    return size


def _prepare(source: Source, data: str, out: Path, as_zip: bool, *, size, near_duplicates, near_threshold,
             max_aspect, max_images, workers, progress) -> dict:
    if not source.names:
        raise PrepareError(f"no images ({' '.join(EXTENSIONS)}) in --data {data}"
                           + (f" (it holds {len(source.ignored)} other files)" if source.ignored else ""))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        archive = zipfile.ZipFile(staging / "out.zip", "w", zipfile.ZIP_STORED) if as_zip else None
        files, unreadable, duplicates, near, odd, modes = [], {}, {}, {}, {}, {}
        by_digest: dict[str, str] = {}
        kept_hashes = np.zeros(len(source.names), np.uint64)
        kept_names: list[str] = []
        written = read = 0
        if progress is None:
            from common.report import Progress

            progress = Progress(len(source.names), "prepare", unit="img", enabled=len(source.names) >= PROGRESS_FROM)
        chunk = 256
        with ThreadPoolExecutor(workers or min(8, os.cpu_count() or 2)) as pool:  # Pillow releases the GIL
            for start in range(0, len(source.names), chunk):
                if max_images is not None and written >= max_images:
                    break
                batch = source.names[start:start + chunk]
                writes = []
                for item in pool.map(lambda n: check(source, n, size), batch):
                    if max_images is not None and written >= max_images:
                        break
                    read += 1
                    if item.error is not None:
                        unreadable[item.name] = item.error
                        continue
                    modes[item.mode] = modes.get(item.mode, 0) + 1
                    why = odd_size(*item.size, size, max_aspect)
                    if why:
                        odd[item.name] = {"size": f"{item.size[0]}x{item.size[1]}", "why": why}
                    if item.digest in by_digest:
                        duplicates[item.name] = by_digest[item.digest]
                        continue
                    by_digest[item.digest] = item.name
                    if kept_names:
                        distance = hamming_to_each(kept_hashes[:len(kept_names)], item.hash)
                        closest = int(np.argmin(distance))
                        if distance[closest] <= near_threshold:
                            near[item.name] = {"of": kept_names[closest], "distance": int(distance[closest]),
                                               "kept": near_duplicates == "keep"}
                            if near_duplicates == "drop":
                                continue
                    kept_hashes[len(kept_names)] = item.hash
                    kept_names.append(item.name)
                    target = f"img{written:06d}.png"
                    files.append({"out": target, "source": item.name})
                    writes.append((target, item.out))
                    written += 1
                for target, encoded in zip((t for t, _ in writes), pool.map(lambda w: _png(w[1]), writes)):
                    if archive is not None:
                        archive.writestr(target, encoded)
                    else:
                        (staging / target).write_bytes(encoded)
                progress.update(count=min(start + len(batch), len(source.names)))
        progress.close()
        summary = {
            "counts": {"files": len(source.names) + len(source.ignored), "images": len(source.names), "read": read,
                       "written": written, "unreadable": len(unreadable), "duplicates": len(duplicates),
                       "near_duplicates": len(near),
                       "near_duplicates_dropped": len(near) if near_duplicates == "drop" else 0,
                       "odd_sizes": len(odd), "ignored": len(source.ignored)},
            "modes": dict(sorted(modes.items())),
            "unreadable": unreadable, "duplicates": duplicates, "near_duplicates": near, "odd_sizes": odd,
            "ignored": source.ignored,
            "settings": {"data": data, "out": str(out), "size": size, "near_duplicates": near_duplicates,
                         "near_threshold": near_threshold, "max_aspect": max_aspect, "max_images": max_images,
                         "resample": "LANCZOS", "format": "png"},
            "files": files,
        }
        text = json.dumps(summary, indent=1) + "\n"
        if archive is not None:
            archive.writestr("summary.json", text)
            archive.close()
            built = staging / "out.zip"
        else:
            (staging / "summary.json").write_text(text)
            built = staging / "files"
            built.mkdir()
            for p in staging.iterdir():
                if p != built:
                    p.rename(built / p.name)
            built.chmod(0o755)
        if out.exists():
            old = staging / "old"
            os.replace(out, old)
        os.replace(built, out)
        return summary
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------- report


def _shown(text: str) -> str:
    """A file name that always prints: bytes that are not UTF-8 show as backslash escapes (bad\\xff.png)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def report(summary: dict, shown: int = SHOWN) -> list[str]:
    """The terminal report: one count line, then a few files of each kind."""
    c, s = summary["counts"], summary["settings"]
    lines = [f"read {c['read']} of {c['images']} images in {s['data']}: wrote {c['written']} at "
             f"{s['size']}x{s['size']} to {s['out']}",
             f"unreadable {c['unreadable']}, exact duplicates dropped {c['duplicates']}, near-duplicates "
             f"{c['near_duplicates']} ({'dropped' if s['near_duplicates'] == 'drop' else 'kept'}; pHash within "
             f"{s['near_threshold']} bits), odd sizes {c['odd_sizes']} (written), other files ignored {c['ignored']}",
             "modes: " + ", ".join(f"{m} {n}" for m, n in summary["modes"].items())]

    def listed(title, items, describe):
        if items:
            lines.append(f"{title}:")
            lines.extend(f"  {_shown(name)}: {_shown(describe(value))}" for name, value in list(items.items())[:shown])
            if len(items) > shown:
                lines.append(f"  and {len(items) - shown} more (all in summary.json)")

    listed("unreadable", summary["unreadable"], str)
    listed("exact duplicates", summary["duplicates"], lambda of: f"same pixels as {of}")
    listed("near-duplicates", summary["near_duplicates"], lambda v: f"{v['distance']} bits from {v['of']}")
    listed("odd sizes", summary["odd_sizes"], lambda v: f"{v['size']} ({', '.join(v['why'])})")
    where = Path(s["out"]) / "summary.json" if not s["out"].lower().endswith(".zip") else f"{s['out']}:summary.json"
    lines.append(f"wrote {where}")
    return lines


def power_of_two(text: str) -> int:
    try:
        return check_size(int(text))
    except (ValueError, PrepareError):
        raise argparse.ArgumentTypeError(f"must be a power of two of at least 4 (e.g. 64, 128, 256), got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    from common.report import one_line_errors

    p = argparse.ArgumentParser(prog="python -m watches.prepare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, metavar="SOURCE",
                   help="a folder (recursive), a .zip file, kaggle:<owner>/<dataset> or demo")
    p.add_argument("--out", required=True, metavar="PATH", help="output folder, or a zip when it ends in .zip")
    p.add_argument("--size", type=power_of_two, default=128, metavar="N", help="output side, a power of two")
    p.add_argument("--near-duplicates", choices=("drop", "keep"), default="drop",
                   help="what to do with near-duplicates (exact duplicates are always dropped)")
    p.add_argument("--near-threshold", type=int, default=NEAR_THRESHOLD, metavar="BITS",
                   help="largest pHash Hamming distance (of 64 bits) that counts as a near-duplicate")
    p.add_argument("--max-aspect", type=float, default=MAX_ASPECT, metavar="R",
                   help="long/short side above which an image is reported as an unusual aspect ratio")
    p.add_argument("--max-images", type=int, default=None, metavar="N", help="write at most N images (default: all)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    return one_line_errors(p)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)  # MAX_PIXELS is checked here
    if args.max_images is not None and args.max_images < 1:
        parser.error("--max-images must be at least 1")
    if not 0 <= args.near_threshold <= 64:
        parser.error("--near-threshold must be between 0 and 64")
    if args.max_aspect < 1:
        parser.error("--max-aspect must be at least 1")
    try:
        summary = prepare(args.data, args.out, size=args.size, near_duplicates=args.near_duplicates,
                          near_threshold=args.near_threshold, max_aspect=args.max_aspect,
                          max_images=args.max_images, overwrite=args.overwrite)
    except (PrepareError, OSError) as exc:
        message = (str(exc) if isinstance(exc, PrepareError) else
                   f"{exc.strerror or exc}" + (f": {exc.filename}" if getattr(exc, "filename", None) else ""))
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        return 2
    print("\n".join(report(summary)), flush=True)
    if summary["counts"]["written"] == 0:
        print(f"{parser.prog}: error: no image could be written", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
