"""Resolve the `--data` argument of every entry point to a local folder.

    --data path/to/folder              an existing local folder, used as is
    --data demo                        the small built-in demo set for the task (common.demo_data)
    --data kaggle:<owner>/<dataset>    a Kaggle dataset, e.g. kaggle:minhquntntht/wrist-watch-128

Kaggle datasets come from the notebook's mounted inputs when running inside Kaggle
(`/kaggle/input/<dataset>`), otherwise they are downloaded once with the `kaggle` API into a
cache folder and extracted there (refusing archive members that would land outside it).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from pathlib import Path

from common.data import DataError

KAGGLE_INPUT = "/kaggle/input"  # where Kaggle mounts a notebook's inputs; env GANWORKS_KAGGLE_INPUT overrides
COMPLETE_MARKER = ".ganworks-complete"  # written last, so a half-finished download is never used

_KAGGLE_REF = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)/([A-Za-z0-9][A-Za-z0-9_.-]*)$")


def resolve_data(spec, *, task: str, cache_dir=None, download=None) -> Path:
    """Turn a `--data` value into the folder holding the data.

    spec: a folder path, "demo", or "kaggle:<owner>/<dataset>" (a folder literally named
      "demo" can be given as "./demo").
    task: "night2day", "inpainting" or "watches": which demo set to build for "demo".
    cache_dir: for Kaggle downloads, the folder this dataset is stored in (default
      $GANWORKS_CACHE/kaggle/<owner>/<dataset>, GANWORKS_CACHE defaulting to ~/.cache/ganworks).
    download: for Kaggle, a function (dataset "owner/name", destination folder) that puts the
      dataset's zip archive(s) into the folder; default download_with_kaggle_api.
    -> absolute Path of an existing folder. Raises DataError (one-line message) otherwise.
    """
    spec = str(spec).strip()
    if not spec:
        raise DataError("--data is empty: give a folder, 'demo' or 'kaggle:<owner>/<dataset>'")
    if spec == "demo":
        from common.demo_data import demo_dataset  # builds images on demand; only needed here

        return Path(demo_dataset(task))
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


# --- Kaggle --------------------------------------------------------------------------------

def kaggle_dataset(ref: str, *, cache_dir=None, download=None) -> Path:
    """The folder of Kaggle dataset "owner/name": mounted input, cache, or a fresh download.

    Inside a Kaggle notebook with the dataset added as an input, that input folder
    (/kaggle/input/<name>). Otherwise <cache_dir>/files, downloaded and extracted the first
    time (see resolve_data for cache_dir and download); a marker file records a completed
    extraction, so later calls do not download again and an interrupted one starts over.
    """
    owner, name = _parse_kaggle_ref(ref)
    mounted = mounted_kaggle_input(owner, name)
    if mounted is not None:
        return mounted
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir(owner, name)
    files, marker = cache / "files", cache / COMPLETE_MARKER
    if marker.is_file() and files.is_dir():
        return files.resolve()

    staging, partial = cache / "download", cache / "files.partial"
    for leftover in (staging, partial, files):
        shutil.rmtree(leftover, ignore_errors=True)
    marker.unlink(missing_ok=True)
    try:
        staging.mkdir(parents=True)
        (download or download_with_kaggle_api)(f"{owner}/{name}", staging)
        downloaded = sorted(staging.iterdir())
        if not downloaded:
            raise DataError(f"the Kaggle download of {owner}/{name} produced no files")
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
    marker.write_text(f"{owner}/{name}\n")
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


def _missing_credentials_message(dataset: str) -> str:
    owner, name = dataset.split("/")
    if kaggle_input_root().is_dir():
        return (f"Kaggle dataset {dataset} is not attached to this notebook: add it with 'Add Input' "
                f"(it then appears at {kaggle_input_root() / name}), or set KAGGLE_USERNAME and KAGGLE_KEY "
                f"to download it")
    return (f"cannot download Kaggle dataset {dataset}: no Kaggle credentials; create a token at "
            f"kaggle.com > Settings > API and save kaggle.json as ~/.kaggle/kaggle.json (chmod 600), "
            f"or set KAGGLE_USERNAME and KAGGLE_KEY; or download it yourself and pass --data <folder>")


def download_with_kaggle_api(dataset: str, destination: Path) -> None:
    """Download dataset "owner/name" as a zip into destination with the `kaggle` package.

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
        raise DataError(f"Kaggle download of {dataset} failed ({type(exc).__name__}: {exc}); "
                        f"check the dataset name, your network and your Kaggle credentials") from exc


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
