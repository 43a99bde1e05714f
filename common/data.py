"""Image-folder pipelines whose batches are a pure function of (seed, step).

A killed run resumes bit-for-bit: `image_dataset(..., start_step=N)` yields exactly the
batches an uninterrupted run yields from step N on. Nothing here keeps random state:
file order, random sampling, crop offsets and flips all come from stateless ops keyed
by (seed, epoch / step / element index), and `start_step` skips ahead on the index
stream, before any file is read. Images stream from disk (no cache of decoded images),
so memory does not grow with the size of the folder.

One decoding path (`decode_image`) turns every supported format into uint8 RGB, and
one pair of functions (`to_range` / `from_range`) maps pixels to and from a model's
value range:

    "tanh"     float32 in [-1, 1]   x / 127.5 - 1
    "sigmoid"  float32 in [0, 1]    x / 255

Formats: JPEG, PNG (grayscale, gray+alpha, RGBA, palette, 16-bit), GIF (first frame),
BMP, and still WebP, which this TensorFlow decodes natively (checked on TF 2.21: RGB
and RGBA, lossy and lossless, through `tf.io.decode_image`). Animated WebP is refused:
TF 2.21's decoder writes its 4-channel frames into a 3-channel buffer, corrupting
memory (garbage pixels, then a crash), so `scan_images` skips such files and
`decode_image` raises an error before reaching the decoder.

Broken files are handled twice. Before training, `scan_images` drops files that are
empty, not images, or visibly truncated (a few bytes read at each end). A file that
passes the scan but still fails to decode (a PNG with a bad checksum, a corrupt JPEG)
is replaced, in the training orders, by a substitute image drawn from (seed, element
index), so the run goes on and later batches do not shift: exact resume still holds.
Only if the file and all its substitutes fail is the element dropped, which shifts
every later batch by one image (exact resume then holds only from a checkpoint taken
after that point). Runtime decode failures are logged once per file and listed by
`undecodable_files()`.

Hostile files. The scan also reads each image's size from its header (Pillow, lazily:
no pixels are decoded) and skips files above MAX_IMAGE_PIXELS, so a header claiming
100000x100000 is reported like any other unusable file instead of reaching a decoder.
Training datasets (repeat=True) and `summary` decode files in order until one decodes
(one decode for good data) and raise DataError if none does, so a folder of files that
pass the scan but never decode is one clear error before training. As a last guard,
a repeating pipeline raises (InvalidArgumentError naming the problem) after
MAX_CONSECUTIVE_DROPS elements in a row were dropped, instead of searching an
infinite stream for a decodable image forever. `list_images` follows folder symlinks
but lists each folder once (by device and inode), skipping with one warning a link
that loops back or repeats a folder already listed. File names need not be UTF-8:
paths go to TensorFlow as bytes (`os.fsencode`), and messages show them through
`display_path`, which never fails to print.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tensorflow as tf
from PIL import Image

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
VALUE_RANGES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
ORDERS = ("shuffle", "random", "sequential")

# Substitutes tried, in order, when a training image fails to decode at runtime.
SUBSTITUTES = 3
# A repeating pipeline gives up (raises) after this many elements in a row for which the
# file and all its substitutes failed: with even 90% of the files undecodable, 100 drops
# in a row happen with probability (0.9 ** 4) ** 100 ~ 1e-18, so only a folder of (nearly)
# nothing decodable reaches it, which would otherwise never yield a batch.
MAX_CONSECUTIVE_DROPS = 100
# Largest image (width * height) the scan lets through to a decoder: Pillow's default
# Image.MAX_IMAGE_PIXELS (~89.5 MP, 256 MiB of RGB at 3 bytes a pixel), our own copy so a
# change to Pillow's global does not change which files train.
MAX_IMAGE_PIXELS = 1024 * 1024 * 1024 // 4 // 3
# Bytes read from the end of a file to find the JPEG EOI marker / PNG IEND chunk; a
# little slack for encoders that pad after the end marker.
_TAIL_BYTES = 1024

# Independent random streams per purpose, so e.g. crop offsets never correlate with
# file order.
_ORDER, _AUGMENT, _SUBSTITUTE = 1, 2, 3

# channels of the decoded image (1-4) -> which of them make RGB
_TO_RGB = [[0, 0, 0], [0, 0, 0], [0, 1, 2], [0, 1, 2]]


# tf.io.decode_image reads WebP from TensorFlow 2.20 on; older versions report it unknown
TF_DECODES_WEBP = tuple(int(p) for p in tf.__version__.split(".")[:2]) >= (2, 20)


class DataError(ValueError):
    """A user-facing data problem (missing folder, no images, ...); the message is one
    line and names the path."""


# --------------------------------------------------------------------------- files


def display_path(path) -> str:
    """`path` (str, bytes or PathLike) as text that always prints: bytes that are not UTF-8
    (a file name from another system) show as backslash escapes, e.g. `bad\\xff.png`."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _folder_key(path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def list_images(folder, recursive: bool = True) -> list[str]:
    """Sorted paths of the image files (IMAGE_EXTENSIONS, any case) under `folder`.

    Hidden files and folders (names starting with ".", e.g. `.ipynb_checkpoints`,
    macOS `._x.jpg` resource forks) are ignored. Folder symlinks are followed, but each
    folder is listed once (known by device and inode): a link back to a folder already
    being listed (a loop such as `loop -> .`) or to one listed before is skipped with one
    warning naming it. Raises DataError naming the folder if it is missing, not a
    folder, or holds no images.
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise DataError(f"image folder not found: {display_path(root)}")
    if not root.is_dir():
        raise DataError(f"not a folder: {display_path(root)}")
    paths = []
    seen = {_folder_key(root): str(root)}  # (st_dev, st_ino) -> the path it was first listed under
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        keep = []
        for name in sorted(d for d in dirnames if not d.startswith(".")) if recursive else []:
            sub = os.path.join(dirpath, name)
            try:
                key = _folder_key(sub)
            except OSError:  # vanished since the walk listed it
                continue
            if key in seen:
                first = seen[key]
                if _reported.first_time(("folder", sub)):
                    how = ("it leads back to {} (a folder symlink loop)" if os.path.commonpath([first, sub]) == first
                           else "it is the folder {}, already listed")
                    logger.warning("skipping %s: %s", display_path(sub), how.format(display_path(first)))
                continue
            seen[key] = sub
            keep.append(name)
        dirnames[:] = keep
        paths.extend(os.path.join(dirpath, f) for f in filenames
                     if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS)
    if not paths:
        where = "under" if recursive else "in"
        raise DataError(f"no images ({' '.join(IMAGE_EXTENSIONS)}) {where} {display_path(root)}")
    return sorted(paths)


def _image_kind(head: bytes) -> str | None:
    """Format named by a file's first bytes (magic numbers), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM"):
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _animated_webp_header(head: bytes) -> bool:
    """RIFF/WEBP with an extended (VP8X) header whose animation flag is set."""
    return head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and len(head) > 20 and bool(head[20] & 0x02)


def _header_size(path, kind: str, head: bytes) -> tuple[int, int] | None:
    """(width, height) from the file's header, or None if Pillow cannot tell.

    Pillow's Image.open reads headers only (decoding is lazy). A size beyond twice
    Pillow's own limit makes it raise DecompressionBombError before saying the size:
    then a PNG's size comes from its IHDR, any other format's from the pixel count in
    the error, as (pixels, 1).
    """
    try:
        with Image.open(path) as image:
            return image.size
    except Image.DecompressionBombError as exc:
        if kind == "png" and len(head) >= 24:
            return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        count = re.search(r"\((\d+) pixels\)", str(exc))
        return (int(count.group(1)), 1) if count else (MAX_IMAGE_PIXELS + 1, 1)
    except Exception:  # noqa: BLE001 - Pillow cannot parse it: TensorFlow may still decode it, or the run will say
        return None


def _inspect(path) -> tuple[str | None, tuple[int, int] | None]:
    """(why `path` is not a usable image or None, its (width, height) from the header or None)."""
    try:
        size = os.path.getsize(path)
        if size == 0:
            return "empty file (0 bytes)", None
        with open(path, "rb") as f:
            head = f.read(32)
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read()
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})", None
    kind = _image_kind(head)
    if kind is None:
        return "not an image (unrecognised file header)", None
    if kind == "jpeg" and b"\xff\xd9" not in tail:
        return "truncated JPEG (no end-of-image marker FFD9)", None
    if kind == "png" and b"IEND" not in tail:
        return "truncated PNG (no IEND chunk)", None
    if kind == "bmp" and len(head) >= 6 and int.from_bytes(head[2:6], "little") > size:
        return f"truncated BMP ({size} of {int.from_bytes(head[2:6], 'little')} bytes)", None
    if kind == "webp" and int.from_bytes(head[4:8], "little") + 8 > size:
        return f"truncated WebP ({size} of {int.from_bytes(head[4:8], 'little') + 8} bytes)", None
    if kind == "webp" and _animated_webp_header(head):
        return "animated WebP (not supported: TensorFlow's decoder corrupts memory on it)", None
    if kind == "webp" and not TF_DECODES_WEBP:
        return (f"WebP needs TensorFlow 2.20 or newer to decode (this is {tf.__version__}); "
                "convert it to PNG or JPEG"), None
    dims = _header_size(path, kind, head)
    if dims is not None and dims[0] * dims[1] > MAX_IMAGE_PIXELS:
        shape = f"{dims[0]}x{dims[1]} = " if dims[1] > 1 else ""
        return (f"too large to decode ({shape}{dims[0] * dims[1] / 1e6:.0f} megapixels; the limit is "
                f"common.data.MAX_IMAGE_PIXELS = {MAX_IMAGE_PIXELS / 1e6:.1f} MP)"), dims
    return None, dims


def _inspect_quietly(paths) -> list[tuple[str | None, tuple[int, int] | None]]:
    """`_inspect` over paths (in threads when there are many), Pillow's size warnings silenced:
    the pixel limit here is MAX_IMAGE_PIXELS."""
    with warnings.catch_warnings():  # process-wide, so it covers the pool's threads too
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if len(paths) > 256:  # overlap the small reads on slow (network) disks
            with ThreadPoolExecutor(16) as pool:
                return list(pool.map(_inspect, paths, chunksize=64))
        return [_inspect(p) for p in paths]


def check_image_file(path) -> str | None:
    """Why `path` is not a usable image, or None if it looks fine.

    Reads at most 32 bytes from the start and 1 KiB from the end, and the header through
    Pillow (no pixels decoded): catches empty files, non-images (unknown magic bytes),
    truncated JPEG (no EOI marker FFD9 near the end), truncated PNG (no IEND chunk), BMP /
    WebP shorter than their declared size, animated WebP (which TensorFlow cannot decode
    safely), and images larger than MAX_IMAGE_PIXELS (width * height).
    """
    return _inspect_quietly([path])[0][0]


class _Seen:
    """A bounded record of which files were already reported (so each is warned about once).

    Bounded so a long-lived notebook process that scans many folders does not grow it
    without end: past `limit` entries it is cleared (a file may then be reported again).
    """

    def __init__(self, limit: int = 100_000):
        self.limit = limit
        self.counts: dict = {}

    def first_time(self, key) -> bool:
        """Count `key`; True the first time it is seen."""
        if len(self.counts) >= self.limit and key not in self.counts:
            self.counts.clear()
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key] == 1


_reported = _Seen()  # (path, reason) already warned about by scan_images in this process


def _scan(paths, *, decode=False, stop_after=None, report=True) -> tuple[list[str], list[dict], list]:
    """scan_images, plus the header size of each good path (None where Pillow cannot tell)."""
    paths = [os.fspath(p) for p in paths]
    if not paths and report:
        raise DataError("no image files given")
    # all at once (threads over many files) unless only the first few good ones are wanted
    results = _inspect_quietly(paths) if stop_after is None else None
    good, bad, sizes = [], [], []
    for i, path in enumerate(paths):
        if stop_after is not None and len(good) >= stop_after:
            break
        reason, dims = results[i] if results is not None else _inspect_quietly([path])[0]
        if reason is None and decode:
            reason = decode_error(path)
        if reason is None:
            good.append(path)
            sizes.append(dims)
        else:
            bad.append({"path": path, "reason": reason})
    if not report:
        return good, bad, sizes
    for item in bad:
        if _reported.first_time((item["path"], item["reason"])):
            logger.warning("skipping %s: %s", display_path(item["path"]), item["reason"])
    checked = len(good) + len(bad)
    if bad and _reported.first_time(("skipped", checked, tuple((b["path"], b["reason"]) for b in bad))):
        logger.warning("skipped %d of %d image files that cannot be read", len(bad), checked)  # once per (same) scan
    if not good:
        raise DataError(f"none of the {len(paths)} image files under {display_path(_common_folder(paths))} can be "
                        f"read (first: {display_path(bad[0]['path'])}: {bad[0]['reason']})")
    return good, bad, sizes


def _common_folder(paths) -> str:
    """The folder holding all of `paths` (for messages)."""
    return os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0]) or paths[0]


def scan_images(paths, *, decode: bool = False, stop_after: int | None = None,
                report: bool = True) -> tuple[list[str], list[dict]]:
    """Split image `paths` into (good, bad), order kept: good = [path], bad = [{"path", "reason"}]
    with a one-line reason each (the shape of every "skipped_files" list).

    Every file gets `check_image_file`'s cheap check (a few bytes and the header; no pixels).
    decode=True also decodes the files that pass, which finds what only decoding shows (a bad
    PNG checksum, corrupt JPEG data). stop_after: stop once that many good files are found
    ("the first N readable images"); the rest are neither checked nor returned.
    report=True (what pipelines want): each bad file is logged once (a warning with path and
    reason) plus one summary line, and no paths or no good file left is a DataError.
    report=False: neither, for callers that list the bad files themselves (the evaluations'
    "skipped_files").
    """
    good, bad, _ = _scan(paths, decode=decode, stop_after=stop_after, report=report)
    return good, bad


def decode_error(path) -> str | None:
    """Why TensorFlow cannot decode `path` (one line), or None if it decodes."""
    from common.report import one_line_error

    try:
        load_image(path)
    except Exception as exc:  # noqa: BLE001 - any decode failure makes the file unusable
        return f"cannot be decoded ({one_line_error(exc)})"
    return None


def require_decodable(paths, where=None) -> str:
    """The first of `paths` (already scanned) that decodes; DataError naming `where` (default:
    the paths' common folder) and the first failure if none does.

    Decodes in order and stops at the first success: one decode for good data. Files
    before it that fail are logged once each (training replaces them by substitutes).
    """
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise DataError("no image files given")
    first_failure = None
    for path in paths:
        reason = decode_error(path)
        if reason is None:
            return path
        first_failure = first_failure or (path, reason)
        if _reported.first_time((path, reason)):
            logger.warning("%s %s", display_path(path), reason)
    where = _common_folder(paths) if where is None else where
    raise DataError(f"none of the {len(paths)} images under {display_path(where)} can be decoded "
                    f"(first: {display_path(first_failure[0])}: {first_failure[1]})")


def summary(source) -> dict:
    """What a training folder (searched recursively) or list of image paths holds, from the
    scan (headers only) plus decoding files in order until one decodes (`require_decodable`):

        {"folder": str, "images": int (usable), "skipped": [{"path", "reason"}],
         "sizes": {"WxH": count}, most common first}

    Sizes come from the headers of all usable files (files Pillow cannot parse are not
    counted). Raises DataError (one line, naming the folder) if nothing is usable.
    """
    folder = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    paths = list_images(source) if folder is not None else [os.fspath(p) for p in source]
    good, bad, dims = _scan(paths)
    folder = folder if folder is not None else _common_folder(paths)
    require_decodable(good, folder)
    sizes = Counter(f"{d[0]}x{d[1]}" for d in dims if d is not None)
    return {"folder": folder, "images": len(good), "skipped": bad, "sizes": dict(sizes.most_common())}


def describe(info) -> str:
    """`summary`'s dict as one line: "data: N images in F; sizes seen: WxH (n), ...[; skipped K unreadable]"."""
    sizes = ", ".join(f"{k} ({v})" for k, v in list(info["sizes"].items())[:4])
    more = len(info["sizes"]) - 4
    line = (f"data: {info['images']} images in {display_path(info['folder'])}; sizes seen: {sizes or 'unknown'}"
            + (f" and {more} more" if more > 0 else ""))
    return line + (f"; skipped {len(info['skipped'])} unreadable" if info["skipped"] else "")


def batch_size_note(info, batch_size: int) -> str | None:
    """A warning line when batch_size exceeds the usable images of `summary`'s info, else None."""
    n = info["images"]
    if int(batch_size) <= n:
        return None
    return (f"warning: --batch-size {batch_size} is more than the {n} training images in "
            f"{display_path(info['folder'])}: each batch repeats images (about {int(batch_size) / n:.1f} times each)")


def print_summary(source, batch_size: int) -> dict:
    """`summary` of a training folder, printed: `describe`'s line, and `batch_size_note`'s
    warning when the batch is larger than the folder. Returns the info; DataError (one
    line) when the folder has nothing usable. Each task's `prepare` calls it, so all three
    announce their data the same way before anything is built."""
    info = summary(source)
    print(describe(info), flush=True)
    note = batch_size_note(info, batch_size)
    if note:
        print(note, flush=True)
    return info


# --------------------------------------------------------------------------- pixels


def _is_animated_webp(contents) -> tf.Tensor:
    head = tf.strings.substr(contents, 0, 21) + b"\0" * 21  # padded: short inputs are not WebP
    flags = tf.io.decode_raw(tf.strings.substr(head, 20, 1), tf.uint8)[0]
    return ((tf.strings.substr(head, 0, 4) == b"RIFF") & (tf.strings.substr(head, 8, 8) == b"WEBPVP8X")
            & (tf.bitwise.bitwise_and(flags, 2) > 0))


def decode_image(contents) -> tf.Tensor:
    """Encoded bytes (tf.string scalar) -> uint8 [H, W, 3] RGB, whatever the source.

    Grayscale is replicated to 3 channels, alpha is dropped (not composited), palette
    images are expanded, 16-bit PNG keeps the high byte (65535 -> 255), GIF gives its
    first frame. JPEG / PNG / GIF / BMP / WebP are recognised by content, not name.
    Raises InvalidArgumentError for undecodable data and for animated WebP.
    """
    refuse = tf.debugging.Assert(tf.logical_not(_is_animated_webp(contents)),
                                 ["animated WebP is not supported (TensorFlow's decoder corrupts memory on it)"])
    with tf.control_dependencies([refuse]):
        # channels=0 decodes natively; asking TF for 3 channels fails on RGBA WebP
        image = tf.io.decode_image(contents, channels=0, dtype=tf.uint8, expand_animations=False)
    rgb = tf.gather(tf.constant(_TO_RGB), tf.shape(image)[-1] - 1)
    image = tf.gather(image, rgb, axis=-1)
    image.set_shape([None, None, 3])
    return image


def load_image(path) -> tf.Tensor:
    """Read and decode one image file -> uint8 [H, W, 3]. A str / PathLike path goes to
    TensorFlow as bytes (`os.fsencode`), so file names that are not UTF-8 work."""
    if isinstance(path, (str, os.PathLike)):
        path = os.fsencode(path)
    return decode_image(tf.io.read_file(path))


def _check_value_range(value_range: str) -> None:
    if value_range not in VALUE_RANGES:
        raise ValueError(f"value_range must be one of {sorted(VALUE_RANGES)}, got {value_range!r}")


def to_range(images, value_range: str) -> tf.Tensor:
    """Pixels (uint8, or float in [0, 255]), any shape -> float32 in the model's range:
    "tanh" [-1, 1] (x / 127.5 - 1) or "sigmoid" [0, 1] (x / 255)."""
    _check_value_range(value_range)
    x = tf.cast(images, tf.float32)
    return x / 127.5 - 1.0 if value_range == "tanh" else x / 255.0


def from_range(images, value_range: str) -> tf.Tensor:
    """Model outputs in the model's range ("tanh" [-1, 1] or "sigmoid" [0, 1]), any shape
    -> uint8 pixels, rounded and clipped. Inverse of `to_range` on uint8 input."""
    _check_value_range(value_range)
    x = tf.cast(images, tf.float32)
    x = (x + 1.0) * 127.5 if value_range == "tanh" else x * 255.0
    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)


def _size_pair(size, name: str) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{name} must be a positive int or (height, width), got {size!r}")
    return pair


def resize(images, size) -> tf.Tensor:
    """The toolkit's one resize: antialiased bilinear (plain bilinear aliases when shrinking).

    images: [H, W, C] or [B, H, W, C], any numeric dtype -> float32, same rank.
    size: an int (square) or (height, width).
    """
    size = (size, size) if isinstance(size, int) else size  # (h, w) may hold tensors inside a pipeline
    return tf.image.resize(tf.cast(images, tf.float32), size, method="bilinear", antialias=True)


def preprocess(image, *, image_size, resize_to=None, random_crop: bool = False, random_flip: bool = False,
               seed=None) -> tf.Tensor:
    """One decoded image -> float32 [h, w, 3] in [0, 255], (h, w) = image_size.

    image: uint8 (or float in [0, 255]) [H, W, 3]. Resizes (bilinear, antialiased) to
    `resize_to` (int for a square, or (h, w)) if given; then takes a random crop of
    `image_size` (upscaling first if the image is smaller than the crop) or resizes to
    `image_size`; then flips left-right at random. The randomness is stateless:
    `seed` is an int [2] tensor and the same seed gives the same crop and flip.
    """
    height, width = _size_pair(image_size, "image_size")
    if (random_crop or random_flip) and seed is None:
        raise ValueError("preprocess: random_crop / random_flip need a seed (int [2] tensor)")
    image = tf.cast(image, tf.float32)
    if resize_to is not None:
        resize_h, resize_w = _size_pair(resize_to, "resize_to")
        if random_crop and (resize_h < height or resize_w < width):
            raise ValueError(f"resize_to {resize_to} is smaller than the crop size {image_size}")
        image = resize(image, (resize_h, resize_w))
    if random_crop or random_flip:
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    if random_crop:
        hw = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = tf.reduce_max(tf.stack([1.0, height / hw[0], width / hw[1]]))
        cover = tf.maximum(tf.cast(tf.math.ceil(hw * scale), tf.int32), [height, width])  # keeps the aspect ratio
        image = tf.cond(scale > 1.0, lambda: resize(image, cover), lambda: image)
        image = tf.image.stateless_random_crop(image, [height, width, 3], seed=crop_seed)
    else:
        image = resize(image, (height, width))
    if random_flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return tf.clip_by_value(image, 0.0, 255.0)


# --------------------------------------------------------------------------- pipelines

_undecodable = _Seen()  # path -> runtime decode failures seen by pipelines in this process


def undecodable_files() -> dict[str, int]:
    """Files that passed `scan_images` but failed to decode while a pipeline ran in this
    process, with how many times each was replaced or skipped."""
    return dict(_undecodable.counts)


def _note_undecodable(path, dropped) -> bool:
    path = os.fsdecode(path.numpy())  # the str list_images gave, surrogate escapes and all
    if _undecodable.first_time(path):
        logger.warning("could not decode %s; %s", display_path(path),
                       "it was left out" if dropped.numpy() else "a substitute image was used in its place")
    return True


def _resolve(source) -> list[str]:
    """A folder (scanned recursively) or a list of image paths -> the readable paths."""
    if isinstance(source, (str, os.PathLike)):
        paths = list_images(source)
    else:
        paths = [os.fspath(p) for p in source]
        if not paths:
            raise DataError("no image paths given")
    good, _ = scan_images(paths)
    return good


def _training_paths(source) -> list[str]:
    """`_resolve`, and DataError if none of the files decodes (a repeating pipeline would
    otherwise search for a decodable image forever)."""
    paths = _resolve(source)
    require_decodable(paths, os.fspath(source) if isinstance(source, (str, os.PathLike)) else None)
    return paths


def _key(seed, stream: int, purpose: int, index) -> tf.Tensor:
    """Stateless RNG key (int64 [2]) for one (seed, stream, purpose, index)."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.constant(stream, tf.int64)])
    key = tf.random.experimental.stateless_fold_in(key, purpose, alg="philox")
    return tf.random.experimental.stateless_fold_in(key, tf.cast(index, tf.int64), alg="philox")


def _check_args(image_size, batch_size, value_range, order, start_step, resize_to=None, random_crop=False):
    height, width = _size_pair(image_size, "image_size")
    if resize_to is not None and random_crop and min(_size_pair(resize_to, "resize_to")[i] - (height, width)[i]
                                                     for i in (0, 1)) < 0:
        raise ValueError(f"resize_to {resize_to} is smaller than the crop size {image_size}")
    _check_value_range(value_range)
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if int(start_step) < 0:
        raise ValueError(f"start_step must be >= 0, got {start_step}")


def _pipeline(paths: list[str], *, stream: int, image_size, batch_size, value_range, order, seed, start_step,
              resize_to, random_crop, random_flip, repeat, drop_remainder) -> tf.data.Dataset:
    """The dataset behind image_dataset / unpaired_dataset over already scanned paths.

    Each element e is its file, or if that fails to decode the first of SUBSTITUTES
    random files that does ("sequential": no substitutes, the file is left out). An
    element whose every candidate fails is dropped. A repeating pipeline raises
    InvalidArgumentError after MAX_CONSECUTIVE_DROPS drops in a row: then (nearly)
    nothing decodes and the infinite stream would otherwise never yield a batch.
    """
    n = len(paths)
    files = tf.constant([os.fsencode(p) for p in paths], tf.string)  # bytes: names need not be UTF-8
    height, width = _size_pair(image_size, "image_size")
    batch_size = int(batch_size)
    first = int(start_step) * batch_size  # element index of the first image to yield
    augment = random_crop or random_flip
    spares = 0 if order == "sequential" else SUBSTITUTES

    def file_index(e):
        """Element index e (int64) -> index of its file in `paths`."""
        if order == "shuffle":  # epoch e // n is a fresh permutation keyed by (seed, epoch)
            return tf.random.experimental.index_shuffle(e % n, _key(seed, stream, _ORDER, e // n), n - 1)
        if order == "random":  # step e // B draws its B files with replacement, keyed by (seed, step)
            draws = tf.random.stateless_uniform([batch_size], _key(seed, stream, _ORDER, e // batch_size),
                                                minval=0, maxval=n, dtype=tf.int64)
            return draws[e % batch_size]
        return e % n

    def prepare(path, e):
        seed_e = _key(seed, stream, _AUGMENT, e) if augment else None
        image = preprocess(load_image(path), image_size=image_size, resize_to=resize_to,
                           random_crop=random_crop, random_flip=random_flip, seed=seed_e)
        return to_range(image, value_range)

    if repeat:
        elements = tf.data.Dataset.counter(start=first, dtype=tf.int64)
    else:  # one pass (for "random": as many draws as there are files)
        elements = tf.data.Dataset.range(first, max(first, n), dtype=tf.int64)

    def first_decodable(e):
        """The element's file, or if it fails to decode, the first of `spares` random files
        that does: a one-element dataset of (image, failures, path); failures = spares + 1
        (and a blank image) when every candidate failed."""
        index = tf.reshape(file_index(e), [1])
        if spares:
            index = tf.concat([index, tf.random.stateless_uniform([spares], _key(seed, stream, _SUBSTITUTE, e),
                                                                  minval=0, maxval=n, dtype=tf.int64)], 0)
        candidates = tf.gather(files, index)
        tries = tf.data.Dataset.from_tensor_slices((candidates, tf.range(spares + 1)))
        tries = tries.map(lambda path, k: (prepare(path, e), k, candidates[0]))
        none = tf.data.Dataset.from_tensors((tf.zeros([height, width, 3]), tf.constant(spares + 1), candidates[0]))
        return tries.ignore_errors(log_warning=True).concatenate(none).take(1)

    hopeless = (f"no training image could be decoded for {MAX_CONSECUTIVE_DROPS} elements in a row (each file "
                f"and its {spares} substitutes failed): (nearly) none of the {n} files under "
                f"{display_path(_common_folder(paths))} decodes")

    def count_drops(dropped_in_a_row, element):
        image, failures, path = element
        dropped_in_a_row = tf.where(failures > spares, dropped_in_a_row + 1, 0)
        check = tf.debugging.assert_less(dropped_in_a_row, MAX_CONSECUTIVE_DROPS, message=hopeless)
        with tf.control_dependencies([check]):
            return dropped_in_a_row, (tf.identity(image), failures, path)

    def report(image, failures, path):
        # a Python callback, only when a file failed; it keeps the dataset from being
        # serialised (tf.data service, snapshot), which nothing here needs
        noted = tf.cond(failures > 0,
                        lambda: tf.py_function(_note_undecodable, [path, failures > spares], tf.bool),
                        lambda: tf.constant(True))
        with tf.control_dependencies([noted]):
            return tf.identity(image), failures

    ds = elements.interleave(first_decodable, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if repeat:
        ds = ds.scan(tf.constant(0), count_drops)
    ds = ds.map(report)
    ds = ds.filter(lambda _, failures: failures <= spares)
    ds = ds.map(lambda image, _: image)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def image_dataset(source, *, image_size, batch_size: int, value_range: str = "tanh", order: str = "shuffle",
                  seed: int = 0, start_step: int = 0, resize_to=None, random_crop: bool = False,
                  random_flip: bool = False, repeat: bool = True, drop_remainder: bool = True) -> tf.data.Dataset:
    """Batches of float32 [B, S, S, 3] in `value_range` ("tanh" [-1, 1], "sigmoid" [0, 1])
    from a folder (recursive) or a list of image paths, S = image_size.

    order:
      "shuffle"     epochs over all files; epoch k is a permutation keyed by (seed, k);
                    element e = step * batch_size + i belongs to epoch e // n_files
      "random"      every step draws batch_size files uniformly with replacement,
                    keyed by (seed, step)
      "sequential"  file order (for evaluation: repeat=False, drop_remainder=False);
                    an undecodable file is left out
    Augmentation (see `preprocess`) is keyed by (seed, element index). Batch k of
    `start_step=s` equals batch s + k of `start_step=0`; skipping costs nothing. With
    repeat=False the dataset makes one pass (n_files elements). The files are scanned
    (`scan_images`) when the dataset is built; DataError if there are none, or (with
    repeat=True) if none of them decodes (`require_decodable`).
    """
    _check_args(image_size, batch_size, value_range, order, start_step, resize_to, random_crop)
    paths = _training_paths(source) if repeat else _resolve(source)
    return _pipeline(paths, stream=0, image_size=image_size, batch_size=batch_size, value_range=value_range,
                     order=order, seed=seed, start_step=start_step, resize_to=resize_to, random_crop=random_crop,
                     random_flip=random_flip, repeat=repeat, drop_remainder=drop_remainder)


def unpaired_dataset(source_a, source_b, *, image_size, batch_size: int, value_range: str = "tanh",
                     order: str = "shuffle", seed: int = 0, start_step: int = 0, resize_to=None,
                     random_crop: bool = False, random_flip: bool = False) -> tf.data.Dataset:
    """Infinite dataset of (a_batch, b_batch), each float32 [B, S, S, 3] in `value_range`.

    The two domains are independent `image_dataset`s ("shuffle" or "random" order) with
    their own derived seeds, zipped step by step; the smaller domain simply wraps
    around more often. A pure function of (seed, step), like `image_dataset`.
    """
    _check_args(image_size, batch_size, value_range, order, start_step, resize_to, random_crop)
    if order not in ("shuffle", "random"):
        raise ValueError(f"unpaired_dataset order must be 'shuffle' or 'random', got {order!r}")
    paths_a, paths_b = _training_paths(source_a), _training_paths(source_b)
    common = dict(image_size=image_size, batch_size=batch_size, value_range=value_range, order=order, seed=seed,
                  start_step=start_step, resize_to=resize_to, random_crop=random_crop, random_flip=random_flip,
                  repeat=True, drop_remainder=True)
    return tf.data.Dataset.zip(_pipeline(paths_a, stream=1, **common), _pipeline(paths_b, stream=2, **common))


def steps_per_epoch(n_a: int, n_b: int, batch_size: int) -> int:
    """Steps in one unpaired epoch: a pass over the larger domain, max(n_a, n_b) // batch_size
    (the reference CycleGAN's epoch length)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return max(n_a, n_b) // batch_size
