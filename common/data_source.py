"""Resolve the `--data` argument of every entry point to a local folder.

    --data path/to/folder              an existing local folder
    --data demo                        the task's small built-in demo set (<task>/demo.py)
    --data kaggle:<owner>/<dataset>    a Kaggle dataset, e.g. kaggle:minhquntntht/wrist-watch-128

Kaggle datasets come from the notebook's mounted inputs when running inside Kaggle
(`/kaggle/input/<dataset>`); otherwise from `kagglehub.dataset_download` (Kaggle's client:
its own cache under ~/.cache/kagglehub or $KAGGLEHUB_CACHE, dataset versions, credentials
optional for public datasets; when Kaggle cannot be reached, the newest cached version is
used). Without kagglehub installed, the `kaggle` API downloads the archive once into a
cache folder, extracted there refusing members that would land outside it.

Datasets often wrap their layout in a folder or two (`<dataset>/<version>/trainA/`):
`find_layout` looks for the expected sub-folders in the folder itself and up to two levels
below it, and `resolve_data` uses it for the layouts the task gives (<task>/data.py's LAYOUTS) or `expect=`.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Callable, Iterable

from common.data import DataError

logger = logging.getLogger(__name__)

KAGGLE_INPUT = "/kaggle/input"  # where Kaggle mounts a notebook's inputs; env GANWORKS_KAGGLE_INPUT overrides
COMPLETE_MARKER = ".ganworks-complete"  # written last, so a half-finished download is never used

LAYOUT_SEARCH_DEPTH = 2
# never descended into: archive debris (macOS resource forks mirror the whole tree)
_SKIPPED_FOLDERS = frozenset({"__MACOSX"})

_KAGGLE_REF = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)/([A-Za-z0-9][A-Za-z0-9_.-]*)$")


def resolve_data(spec, *, layouts: Iterable[Iterable[str]] = (), build_demo: Callable[[], Path] | None = None,
                 expect: Iterable[str] | None = None, cache_dir=None, download=None) -> Path:
    """Turn a `--data` value into the folder holding the data.

    spec: a folder path, "demo", or "kaggle:<owner>/<dataset>" (a folder literally named
      "demo" can be given as "./demo").
    layouts: the sub-folders a task's data folder holds, as alternatives in order of preference
      (e.g. (("trainA", "trainB"), ("testA", "testB"))): when the folder does not hold one itself
      but a folder up to 2 levels below does (e.g. a Kaggle dataset's <dataset>/<version>/trainA),
      that folder is returned; when none does, the folder itself (the task reports what is missing).
    build_demo: for "demo", a function () -> the folder of the task's demo set (built on first
      use); without it "demo" is a DataError.
    expect: names of sub-folders the data folder must hold, e.g. ("train",); the shallowest
      folder holding all of them is returned, and finding none is a DataError (find_layout).
      Replaces the task's layout.
    cache_dir: for Kaggle downloads, the folder this dataset is stored in (default: kagglehub's
      cache; without kagglehub $GANWORKS_CACHE/kaggle/<owner>/<dataset>, GANWORKS_CACHE
      defaulting to ~/.cache/ganworks).
    download: for Kaggle, a function (dataset "owner/name", destination folder) that puts the
      dataset's zip archive(s) into the folder, which are then extracted safely into the cache
      (instead of kagglehub; download_with_kaggle_api is the default without kagglehub).
    -> absolute Path of an existing folder. Raises DataError (one-line message) otherwise.
    """
    root = _source_folder(spec, build_demo=build_demo, cache_dir=cache_dir, download=download)
    if expect is not None:
        return find_layout(root, expect)
    for layout in layouts:
        found = find_layout(root, layout, missing_ok=True)
        if found is not None:
            return found
    return root


def _source_folder(spec, *, build_demo, cache_dir, download) -> Path:
    spec = str(spec).strip()
    if not spec:
        raise DataError("--data is empty: give a folder, 'demo' or 'kaggle:<owner>/<dataset>'")
    if spec == "demo":
        if build_demo is None:
            raise DataError("--data demo: there is no built-in demo set for this; give a folder or "
                            "'kaggle:<owner>/<dataset>'")
        return Path(build_demo())
    if spec.startswith("kaggle:"):
        return kaggle_dataset(spec[len("kaggle:"):], cache_dir=cache_dir, download=download)
    return local_folder(spec)


def local_folder(path) -> Path:
    """An existing folder as an absolute Path; DataError naming it if missing or a file."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise DataError(f"data folder not found: {folder}")
    if not folder.is_dir():
        raise DataError(f"--data must be a folder, but {folder} is a file")
    return folder.resolve()


# --- finding the layout inside a dataset -----------------------------------------------------

def find_layout(root, required: Iterable[str] = (), *, accept: Callable[[Path], bool] | None = None,
                max_depth: int = LAYOUT_SEARCH_DEPTH, what: str | None = None,
                missing_ok: bool = False) -> Path | None:
    """The shallowest folder, root itself or at most max_depth levels below it, that holds a
    sub-folder for every name in required (and for which accept(folder) is true, if given).

    E.g. find_layout(root, ("trainA", "trainB")) finds root/trainA, root/<v>/trainA or
    root/<a>/<b>/trainA. Folders are visited in sorted order; when several at the same depth
    fit, the first is returned and a warning names the others. Hidden folders and __MACOSX
    are not searched. what: how to describe the expectation in the error (default: the
    required names). Finding none: DataError (one line naming what was expected, where it
    looked and what root holds), or None with missing_ok=True.
    """
    root = Path(root)
    required = (required,) if isinstance(required, str) else tuple(required)
    if not required and accept is None:
        raise ValueError("find_layout needs required sub-folder names or an accept function")
    what = what or " and ".join(f"{name}/" for name in required)
    if not root.is_dir():
        if missing_ok:
            return None
        raise DataError(f"data folder not found: {root}")

    def fits(folder: Path) -> bool:
        return all((folder / name).is_dir() for name in required) and (accept is None or bool(accept(folder)))

    level = [root]
    for depth in range(max_depth + 1):
        found = [folder for folder in level if fits(folder)]
        if found:
            if len(found) > 1:
                logger.warning("%d folders at the same depth under %s hold %s; using %s (others: %s)",
                               len(found), root, what, found[0], ", ".join(str(f) for f in found[1:]))
            return found[0]
        if depth < max_depth:
            level = [sub for folder in level for sub in _subfolders(folder)]
            if not level:
                break
    if missing_ok:
        return None
    levels = "1 level" if max_depth == 1 else f"{max_depth} levels"
    raise DataError(f"found no folder holding {what} in {root} or up to {levels} below it "
                    f"({describe_folder(root)})")


def _subfolders(folder: Path) -> list[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:  # unreadable: nothing to search there
        return []
    return [Path(e.path) for e in entries
            if not e.name.startswith(".") and e.name not in _SKIPPED_FOLDERS and _is_dir(e)]


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows symbolic links
    except OSError:
        return False


def describe_folder(folder, limit: int = 8) -> str:
    """A short one-line account of what a folder holds, for error messages:
    "it holds: a/, b/, notes.txt" (folders first, at most `limit` names) or "it is empty"."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: (not _is_dir(e), e.name))
    except OSError as exc:
        return f"it cannot be listed: {exc.strerror or exc}"
    names = [e.name + ("/" if _is_dir(e) else "") for e in entries if not e.name.startswith(".")]
    if not names:
        return "it is empty"
    more = f", ... ({len(names)} entries)" if len(names) > limit else ""
    return "it holds: " + ", ".join(names[:limit]) + more


# --- Kaggle --------------------------------------------------------------------------------

def kaggle_dataset(ref: str, *, cache_dir=None, download=None) -> Path:
    """The folder of Kaggle dataset "owner/name": the mounted input or a download.

    Inside a Kaggle notebook with the dataset added as an input, that input folder
    (/kaggle/input/<name>). Otherwise, with no `download` function given and kagglehub
    installed, download_with_kagglehub (its cache, or cache_dir). Otherwise <cache_dir>/files
    (see resolve_data for cache_dir and download), downloaded with `download` (default
    download_with_kaggle_api) and extracted the first time; a marker file records a completed
    extraction, so later calls do not download again and an interrupted one starts over.
    """
    owner, name = _parse_kaggle_ref(ref)
    mounted = mounted_kaggle_input(owner, name)
    if mounted is not None:
        return mounted
    if download is None:
        kagglehub = _import_kagglehub()
        if kagglehub is not None:
            return download_with_kagglehub(f"{owner}/{name}", output_dir=cache_dir, kagglehub=kagglehub)
        download = download_with_kaggle_api
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir(owner, name)
    return _download_and_extract(f"{owner}/{name}", cache, download)


def _import_kagglehub():
    """The kagglehub module, or None when it is not installed."""
    try:
        import kagglehub
    except ImportError:
        return None
    return kagglehub


def download_with_kagglehub(dataset: str, *, output_dir=None, kagglehub=None) -> Path:
    """The local folder of Kaggle dataset "owner/name" from kagglehub.dataset_download.

    kagglehub keeps it in its cache (~/.cache/kagglehub, env KAGGLEHUB_CACHE) and fetches
    only what is new; inside a Kaggle notebook it attaches the dataset. Credentials are
    optional for public datasets (KAGGLE_USERNAME/KAGGLE_KEY, KAGGLE_API_TOKEN or
    ~/.kaggle/kaggle.json otherwise). output_dir: download straight into this folder instead
    (needs a kagglehub whose dataset_download takes output_dir). When Kaggle cannot be
    reached, the newest completely downloaded version in kagglehub's cache is used, with a
    warning. Every failure becomes a one-line DataError naming the dataset and how to
    provide credentials.
    """
    kagglehub = kagglehub or _import_kagglehub()
    if kagglehub is None:
        raise DataError(f"cannot download Kaggle dataset {dataset}: kagglehub is not installed "
                        f"(pip install kagglehub)")
    kwargs = {}
    if output_dir is not None:
        if "output_dir" not in inspect.signature(kagglehub.dataset_download).parameters:
            raise DataError(f"cannot download Kaggle dataset {dataset} into {output_dir}: this kagglehub "
                            f"has no output_dir; upgrade it (pip install -U kagglehub) or use its cache")
        kwargs["output_dir"] = str(Path(output_dir).expanduser())
    try:
        path = kagglehub.dataset_download(dataset, **kwargs)
    except Exception as exc:  # kagglehub raises requests, kagglehub and OS errors alike
        cached = _cached_kagglehub_version(kagglehub, dataset) if not kwargs and _is_network_error(exc) else None
        if cached is None:
            raise _download_error(dataset, exc) from exc
        logger.warning("cannot reach Kaggle (%s); using the cached copy of %s at %s",
                       type(exc).__name__, dataset, cached)
        path = cached
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"kagglehub returned {folder} for Kaggle dataset {dataset}, which is not a folder")
    return folder.resolve()


def _is_network_error(exc: BaseException) -> bool:
    try:
        import requests
    except ImportError:
        return isinstance(exc, (ConnectionError, TimeoutError))
    return isinstance(exc, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError))


def _cached_kagglehub_version(kagglehub, dataset: str) -> Path | None:
    """The newest version of dataset that kagglehub's cache holds completely, or None.

    Versions are listed from the cache folder (<cache>/datasets/<owner>/<name>/versions/<n>);
    kagglehub itself confirms each one (a versioned handle is answered from the cache
    without the network when its download completed)."""
    try:
        from kagglehub.config import get_cache_folder

        versions = Path(get_cache_folder()) / "datasets" / dataset / "versions"
        numbers = sorted((int(p.name) for p in versions.iterdir() if p.name.isdigit()), reverse=True)
    except Exception:  # no cache yet, or a kagglehub with another layout
        return None
    for number in numbers:
        try:
            return Path(kagglehub.dataset_download(f"{dataset}/versions/{number}"))
        except Exception:
            continue
    return None


def _download_error(dataset: str, exc: BaseException) -> DataError:
    """A one-line DataError for a failed Kaggle download: what failed and what to do."""
    if _is_network_error(exc):
        reason = f"cannot reach Kaggle: {type(exc).__name__}"
    else:
        text = " ".join(str(exc).split())  # kagglehub's messages span several lines
        reason = f"{type(exc).__name__}: {text[:300]}{'...' if len(text) > 300 else ''}" if text else type(exc).__name__
    source = kaggle_credentials_source()
    if source is None:
        return DataError(_missing_credentials_message(dataset, reason))
    return DataError(f"Kaggle download of {dataset} failed ({reason}); check the dataset name, your network "
                     f"and your Kaggle credentials (from {source}); or download it yourself and pass --data <folder>")


def _download_and_extract(dataset: str, cache: Path, download) -> Path:
    """<cache>/files: the archive(s) `download` puts in a staging folder, extracted safely."""
    files, marker = cache / "files", cache / COMPLETE_MARKER
    if marker.is_file() and files.is_dir():
        return files.resolve()

    staging, partial = cache / "download", cache / "files.partial"
    for leftover in (staging, partial, files):
        shutil.rmtree(leftover, ignore_errors=True)
    marker.unlink(missing_ok=True)
    try:
        staging.mkdir(parents=True)
        download(dataset, staging)
        downloaded = sorted(staging.iterdir())
        if not downloaded:
            raise DataError(f"the Kaggle download of {dataset} produced no files")
        partial.mkdir()
        for item in downloaded:
            if item.is_file() and zipfile.is_zipfile(item):
                extract_zip_safely(item, partial)
            else:  # a dataset of one plain file may arrive unzipped
                shutil.move(str(item), str(partial / item.name))
        partial.rename(files)
    finally:  # the archive is not needed once extracted; a failed attempt leaves nothing behind
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(partial, ignore_errors=True)
    marker.write_text(f"{dataset}\n")
    return files.resolve()


def _parse_kaggle_ref(ref: str) -> tuple[str, str]:
    match = _KAGGLE_REF.match(ref.strip())
    if not match or ".." in ref:
        raise DataError(f"not a Kaggle dataset reference: {ref!r} (expected kaggle:<owner>/<dataset>, "
                        f"e.g. kaggle:minhquntntht/wrist-watch-128)")
    return match.group(1), match.group(2)


def kaggle_input_root() -> Path:
    """Where a Kaggle notebook's inputs are mounted (env GANWORKS_KAGGLE_INPUT overrides)."""
    return Path(os.environ.get("GANWORKS_KAGGLE_INPUT") or KAGGLE_INPUT)


def mounted_kaggle_input(owner: str, name: str) -> Path | None:
    """/kaggle/input/<name> (or .../datasets/<owner>/<name>) if that folder exists, else None."""
    root = kaggle_input_root()
    for candidate in (root / name, root / "datasets" / owner / name):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def default_cache_dir(owner: str, name: str) -> Path:
    """$GANWORKS_CACHE/kaggle/<owner>/<name>, GANWORKS_CACHE defaulting to ~/.cache/ganworks."""
    base = Path(os.environ.get("GANWORKS_CACHE") or Path.home() / ".cache" / "ganworks").expanduser()
    return base / "kaggle" / owner / name


def kaggle_credentials_source() -> str | None:
    """Where the kaggle API will find credentials (a description, never the key), or None.

    Looked for as the kaggle package does: env KAGGLE_USERNAME + KAGGLE_KEY, env
    KAGGLE_API_TOKEN, kaggle.json in $KAGGLE_CONFIG_DIR, ~/.kaggle or ~/.config/kaggle,
    or an access token in ~/.kaggle/access_token.
    """
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "environment variables KAGGLE_USERNAME and KAGGLE_KEY"
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "environment variable KAGGLE_API_TOKEN"
    home = Path.home()
    config_dirs = ([Path(os.environ["KAGGLE_CONFIG_DIR"])] if os.environ.get("KAGGLE_CONFIG_DIR") else
                   [home / ".kaggle", Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"])
    candidates = [d / "kaggle.json" for d in config_dirs]
    candidates += [home / ".kaggle" / "access_token", home / ".kaggle" / "access_token.txt"]
    for path in candidates:
        if path.is_file():
            return str(path)
    return None


def _missing_credentials_message(dataset: str, reason: str | None = None) -> str:
    """What to do when dataset cannot be had and no credentials are set. reason: why the
    download failed (e.g. no network), when one was tried (kagglehub downloads public
    datasets without credentials)."""
    owner, name = dataset.split("/")
    if kaggle_input_root().is_dir():
        fetched = f" and could not be fetched ({reason})" if reason else ""
        return (f"Kaggle dataset {dataset} is not attached to this notebook{fetched}: add it with 'Add Input' "
                f"(it then appears at {kaggle_input_root() / name}), or set KAGGLE_USERNAME and KAGGLE_KEY "
                f"to download it")
    token = ("create a token at kaggle.com > Settings > API and save kaggle.json as ~/.kaggle/kaggle.json "
             "(chmod 600), or set KAGGLE_USERNAME and KAGGLE_KEY; or download it yourself and pass --data <folder>")
    if reason:
        return (f"cannot download Kaggle dataset {dataset} ({reason}); check your network and the dataset name; "
                f"no Kaggle credentials are set, which private datasets and those needing consent require: {token}")
    return f"cannot download Kaggle dataset {dataset}: no Kaggle credentials; {token}"


def download_with_kaggle_api(dataset: str, destination: Path) -> None:
    """Download dataset "owner/name" as a zip into destination with the `kaggle` package
    (the download path when kagglehub is not installed).

    Checks for credentials first (the kaggle package reads them at import time and exits
    without them), and turns every failure into a DataError.
    """
    if kaggle_credentials_source() is None:
        raise DataError(_missing_credentials_message(dataset))
    try:
        from kaggle import api

        api.authenticate()
        api.dataset_download_files(dataset, path=str(destination), unzip=False, quiet=False)
    except (Exception, SystemExit) as exc:  # kaggle calls exit(1) on auth problems
        raise _download_error(dataset, exc) from exc


def extract_zip_safely(archive, target) -> None:
    """Extract a zip into target, refusing the whole archive before writing anything if a
    member has an absolute path, is a symbolic link, or would resolve outside target
    (zip-slip, e.g. "../evil.txt"). Raises DataError naming the member."""
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for info in members:
            name = info.filename.replace("\\", "/")
            if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
                raise DataError(f"refusing to extract {archive.name}: member {info.filename!r} has an absolute path")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise DataError(f"refusing to extract {archive.name}: member {info.filename!r} is a symbolic link")
            if not (root / name).resolve().is_relative_to(root):
                raise DataError(f"refusing to extract {archive.name}: member {info.filename!r} "
                                f"would be written outside {target}")
        for info in members:
            destination = root / info.filename.replace("\\", "/")
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(destination, "wb") as dst:
                shutil.copyfileobj(src, dst)
