"""--data resolution: local folders, the demo set, Kaggle inputs / downloads (kagglehub, or the
kaggle API with safe extraction), and finding the expected layout nested inside a dataset."""
import logging
import stat
import sys
import types
import zipfile
from pathlib import Path

import kagglehub
import pytest
import requests

from common import data_source as datasets
from common.data import DataError
from common.data_source import extract_zip_safely, find_layout, resolve_data
from night2day.data import LAYOUTS as NIGHT2DAY

KAGGLE_ENV = ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KAGGLE_CONFIG_DIR", "XDG_CONFIG_HOME")


@pytest.fixture
def offline_home(tmp_path, monkeypatch):
    """An empty HOME, no Kaggle credentials, not inside Kaggle, cache under tmp."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in KAGGLE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GANWORKS_KAGGLE_INPUT", str(tmp_path / "no-kaggle-input"))
    monkeypatch.setenv("GANWORKS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub-cache"))
    monkeypatch.setattr(kagglehub, "dataset_download", FakeKagglehub(fail=offline_error()))
    return home


def offline_error():
    return requests.ConnectionError("HTTPSConnectionPool(host='api.kaggle.com', port=443): Max retries "
                                    "exceeded (Caused by NameResolutionError(...))")


class FakeKagglehub:
    """Stands in for kagglehub.dataset_download: returns a folder (made if missing) or raises."""

    def __init__(self, folder=None, fail=None, cached=None):
        self.folder, self.fail, self.cached, self.calls = folder, fail, cached or {}, []

    def __call__(self, handle, path=None, *, force_download=False, output_dir=None):
        self.calls.append({"handle": handle, "output_dir": output_dir})
        if handle in self.cached:
            return str(self.cached[handle])
        if self.fail is not None:
            raise self.fail
        folder = Path(output_dir or self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder)


def no_kagglehub(monkeypatch):
    """As if kagglehub were not installed: `import kagglehub` raises ImportError."""
    monkeypatch.setitem(sys.modules, "kagglehub", None)


def make_dirs(root, *paths):
    for path in paths:
        (Path(root) / path).mkdir(parents=True, exist_ok=True)
    return Path(root)


def write_zip(path, members):
    """members: {name: bytes}, or (ZipInfo, bytes) pairs for special entries."""
    with zipfile.ZipFile(path, "w") as zf:
        for entry in members:
            if isinstance(entry, tuple):
                zf.writestr(*entry)
            else:
                zf.writestr(entry, members[entry])
    return path


class FakeDownloader:
    """Stands in for the kaggle API: writes `<name>.zip` into the destination folder."""

    def __init__(self, members):
        self.members, self.calls = members, []

    def __call__(self, dataset, destination):
        self.calls.append(dataset)
        write_zip(Path(destination) / (dataset.split("/")[1] + ".zip"), self.members)


def never_download(dataset, destination):
    raise AssertionError("must not download")


# --- local folders and demo ------------------------------------------------------------------

def test_an_existing_folder_is_returned_as_an_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "images").mkdir()
    monkeypatch.chdir(tmp_path)
    assert resolve_data("images") == (tmp_path / "images").resolve()
    assert resolve_data(tmp_path / "images").is_absolute()


def test_a_missing_folder_or_a_file_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match="not found: .*nowhere"):
        resolve_data(str(tmp_path / "nowhere"))
    (tmp_path / "photo.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match="must be a folder.*photo.jpg"):
        resolve_data(str(tmp_path / "photo.jpg"))
    with pytest.raises(DataError, match="empty"):
        resolve_data("  ")


def test_demo_builds_the_demo_set_the_task_gives(tmp_path):
    assert resolve_data("demo", build_demo=lambda: tmp_path / "demo-inpainting") == tmp_path / "demo-inpainting"
    with pytest.raises(DataError, match="^--data demo: there is no built-in demo set for this"):
        resolve_data("demo")

def test_inside_kaggle_the_mounted_input_folder_is_used(tmp_path, offline_home, monkeypatch):
    mounted = tmp_path / "input" / "wrist-watch-128"
    mounted.mkdir(parents=True)
    monkeypatch.setenv("GANWORKS_KAGGLE_INPUT", str(tmp_path / "input"))
    got = resolve_data("kaggle:minhquntntht/wrist-watch-128", download=never_download)
    assert got == mounted.resolve()
    assert resolve_data("kaggle:minhquntntht/wrist-watch-128") == mounted.resolve()
    assert kagglehub.dataset_download.calls == []  # a mounted input is never downloaded


def test_without_credentials_or_network_the_error_says_where_to_put_them(offline_home, monkeypatch):
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-key-value")  # a key without a user name is not enough
    with pytest.raises(DataError) as err:
        resolve_data("kaggle:minhquntntht/wrist-watch-128")
    message = str(err.value)
    assert "\n" not in message
    assert "~/.kaggle/kaggle.json" in message and "KAGGLE_USERNAME" in message and "KAGGLE_KEY" in message
    assert "minhquntntht/wrist-watch-128" in message and "cannot reach Kaggle" in message
    assert "s3cr3t" not in message
    assert kagglehub.dataset_download.calls[0]["handle"] == "minhquntntht/wrist-watch-128"


def test_without_kagglehub_or_credentials_the_error_says_where_to_put_them(offline_home, monkeypatch):
    no_kagglehub(monkeypatch)
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-key-value")
    with pytest.raises(DataError) as err:
        resolve_data("kaggle:minhquntntht/wrist-watch-128")
    message = str(err.value)
    assert "\n" not in message and "s3cr3t" not in message
    assert "no Kaggle credentials" in message and "~/.kaggle/kaggle.json" in message
    assert "minhquntntht/wrist-watch-128" in message
    # nothing half-made is left in the cache
    assert not any(Path(offline_home.parent / "cache").rglob("*.zip"))


def test_inside_kaggle_without_the_input_the_error_says_to_add_it(tmp_path, offline_home, monkeypatch):
    (tmp_path / "input").mkdir()
    monkeypatch.setenv("GANWORKS_KAGGLE_INPUT", str(tmp_path / "input"))
    with pytest.raises(DataError, match="Add Input"):
        resolve_data("kaggle:minhquntntht/wrist-watch-128")


def test_credentials_are_found_in_kaggle_json_or_the_environment(offline_home, monkeypatch):
    assert datasets.kaggle_credentials_source() is None
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    assert datasets.kaggle_credentials_source() is None
    monkeypatch.setenv("KAGGLE_KEY", "abc")
    assert "KAGGLE_KEY" in datasets.kaggle_credentials_source()
    assert "abc" not in datasets.kaggle_credentials_source()
    monkeypatch.delenv("KAGGLE_KEY")
    (offline_home / ".kaggle").mkdir()
    (offline_home / ".kaggle" / "kaggle.json").write_text('{"username": "someone", "key": "abc"}')
    assert datasets.kaggle_credentials_source() == str(offline_home / ".kaggle" / "kaggle.json")


def test_a_download_is_extracted_into_the_cache_once(tmp_path, offline_home):
    fake = FakeDownloader({"watches/a.png": b"png-a", "watches/sub/b.png": b"png-b"})
    got = resolve_data("kaggle:minhquntntht/wrist-watch-128", download=fake)
    cache = tmp_path / "cache" / "kaggle" / "minhquntntht" / "wrist-watch-128"
    assert got == (cache / "files").resolve()
    assert (got / "watches" / "a.png").read_bytes() == b"png-a"
    assert (got / "watches" / "sub" / "b.png").read_bytes() == b"png-b"
    assert (cache / datasets.COMPLETE_MARKER).is_file()
    assert not list(cache.rglob("*.zip"))  # the archive is removed after extraction
    again = resolve_data("kaggle:minhquntntht/wrist-watch-128", download=fake)
    assert again == got and fake.calls == ["minhquntntht/wrist-watch-128"]


def test_an_explicit_cache_dir_is_used_and_an_interrupted_download_starts_over(tmp_path, offline_home):
    def interrupted(dataset, destination):
        (Path(destination) / "part.zip").write_bytes(b"PK\x03\x04 truncated")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        resolve_data("kaggle:o/d", cache_dir=tmp_path / "mine", download=interrupted)
    assert not (tmp_path / "mine" / datasets.COMPLETE_MARKER).exists()
    fake = FakeDownloader({"x.png": b"x"})
    got = resolve_data("kaggle:o/d", cache_dir=tmp_path / "mine", download=fake)
    assert got == (tmp_path / "mine" / "files").resolve() and (got / "x.png").read_bytes() == b"x"
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == [datasets.COMPLETE_MARKER, "files"]


@pytest.mark.parametrize("ref", ["minhquntntht", "a/b/c", "../x", "a/..", "o/", "/d"])
def test_malformed_kaggle_references_are_rejected(ref, offline_home):
    with pytest.raises(DataError, match="kaggle:<owner>/<dataset>"):
        resolve_data(f"kaggle:{ref}", download=never_download)


# --- safe extraction ----------------------------------------------------------------------

def symlink_member(name, points_to):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, points_to


@pytest.mark.parametrize("bad, reason", [
    ("../evil.txt", "outside"),
    ("ok/../../evil.txt", "outside"),
    ("/tmp/ganworks-abs-evil.txt", "absolute"),
    ("..\\evil.txt", "outside"),
])
def test_extraction_refuses_members_escaping_the_target_and_writes_nothing(tmp_path, bad, reason):
    archive = write_zip(tmp_path / "evil.zip", [("good.txt", b"fine"), (bad, b"evil")])
    target = tmp_path / "out" / "target"
    with pytest.raises(DataError, match=reason):
        extract_zip_safely(archive, target)
    assert list(target.iterdir()) == []  # the archive is refused as a whole
    assert not (tmp_path / "out" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/ganworks-abs-evil.txt").exists()


def test_extraction_refuses_symbolic_links(tmp_path):
    archive = write_zip(tmp_path / "link.zip", [symlink_member("link", b"/etc/passwd")])
    with pytest.raises(DataError, match="symbolic link"):
        extract_zip_safely(archive, tmp_path / "target")
    assert list((tmp_path / "target").iterdir()) == []


def test_a_malicious_download_is_refused_and_leaves_no_dataset_behind(tmp_path, offline_home):
    fake = FakeDownloader({"a.png": b"a", "../../../escaped.txt": b"evil"})
    with pytest.raises(DataError, match="outside"):
        resolve_data("kaggle:o/evil", download=fake)
    cache = tmp_path / "cache" / "kaggle" / "o" / "evil"
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not cache.exists() or not any(cache.iterdir())


# --- without kagglehub: the kaggle package's downloader, with a stand-in for it ------------

class FakeKaggleApi:
    def __init__(self, fail=None):
        self.fail, self.calls = fail, []

    def authenticate(self):
        if self.fail:
            raise self.fail

    def dataset_download_files(self, dataset, path=None, unzip=True, **kwargs):
        self.calls.append({"dataset": dataset, "path": path, "unzip": unzip})
        write_zip(Path(path) / (dataset.split("/")[1] + ".zip"), {"img.png": b"img"})


def test_the_default_downloader_calls_the_kaggle_api_without_unzipping(tmp_path, offline_home, monkeypatch):
    no_kagglehub(monkeypatch)
    api = FakeKaggleApi()
    monkeypatch.setitem(sys.modules, "kaggle", types.SimpleNamespace(api=api))
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "abc")
    got = resolve_data("kaggle:o/watches")
    assert (got / "img.png").read_bytes() == b"img"
    assert len(api.calls) == 1 and api.calls[0]["dataset"] == "o/watches" and api.calls[0]["unzip"] is False


def test_kaggle_api_failures_become_data_errors(offline_home, monkeypatch):
    no_kagglehub(monkeypatch)
    monkeypatch.setitem(sys.modules, "kaggle", types.SimpleNamespace(api=FakeKaggleApi(fail=SystemExit(1))))
    monkeypatch.setenv("KAGGLE_API_TOKEN", "tok")
    with pytest.raises(DataError, match="Kaggle download of o/watches failed"):
        resolve_data("kaggle:o/watches")


# --- kagglehub (the default downloader), with kagglehub.dataset_download faked ---------------

def test_kagglehub_downloads_the_dataset_and_its_folder_is_returned(tmp_path, offline_home, monkeypatch):
    fake = FakeKagglehub(folder=tmp_path / "kh" / "datasets" / "o" / "watches" / "versions" / "3")
    monkeypatch.setattr(kagglehub, "dataset_download", fake)
    got = resolve_data("kaggle:o/watches", download=None)
    assert got == (tmp_path / "kh" / "datasets" / "o" / "watches" / "versions" / "3").resolve()
    assert fake.calls == [{"handle": "o/watches", "output_dir": None}]
    assert not (tmp_path / "cache").exists()  # kagglehub's cache, not the hand-written one


def test_an_explicit_cache_dir_is_kagglehubs_output_dir(tmp_path, offline_home, monkeypatch):
    fake = FakeKagglehub()
    monkeypatch.setattr(kagglehub, "dataset_download", fake)
    got = resolve_data("kaggle:o/watches", cache_dir=tmp_path / "mine")
    assert got == (tmp_path / "mine").resolve() and fake.calls[0]["output_dir"] == str(tmp_path / "mine")


def test_a_kagglehub_without_output_dir_says_to_upgrade_for_cache_dir(tmp_path, offline_home, monkeypatch):
    monkeypatch.setattr(kagglehub, "dataset_download", lambda handle, path=None, *, force_download=False: handle)
    with pytest.raises(DataError, match="pip install -U kagglehub"):
        resolve_data("kaggle:o/watches", cache_dir=tmp_path / "mine")


def test_kagglehub_http_errors_become_one_line_data_errors(tmp_path, offline_home, monkeypatch):
    response = requests.Response()
    response.status_code = 403
    denied = kagglehub.exceptions.KaggleApiHTTPError(
        "403 Client Error.\n\nYou don't have permission to access resource at URL: "
        "https://www.kaggle.com/datasets/o/secret.\nPlease make sure you are authenticated.", response=response)
    monkeypatch.setattr(kagglehub, "dataset_download", FakeKagglehub(fail=denied))
    with pytest.raises(DataError) as err:  # no credentials: say how to provide them
        resolve_data("kaggle:o/secret")
    message = str(err.value)
    assert "\n" not in message and "o/secret" in message and "403 Client Error" in message
    assert "~/.kaggle/kaggle.json" in message and "KAGGLE_USERNAME" in message and "KAGGLE_KEY" in message

    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t")
    with pytest.raises(DataError) as err:  # with credentials: say which ones were used, never the key
        resolve_data("kaggle:o/secret")
    message = str(err.value)
    assert "\n" not in message and message.startswith("Kaggle download of o/secret failed (KaggleApiHTTPError: 403")
    assert "KAGGLE_USERNAME and KAGGLE_KEY" in message and "s3cr3t" not in message


def test_inside_kaggle_a_failed_kagglehub_attach_says_to_add_the_input(tmp_path, offline_home, monkeypatch):
    (tmp_path / "input").mkdir()
    monkeypatch.setenv("GANWORKS_KAGGLE_INPUT", str(tmp_path / "input"))
    with pytest.raises(DataError, match="not attached to this notebook and could not be fetched .*Add Input"):
        resolve_data("kaggle:o/watches")


def test_offline_the_newest_completely_cached_kagglehub_version_is_used(tmp_path, offline_home, monkeypatch, caplog):
    versions = make_dirs(tmp_path / "kagglehub-cache" / "datasets" / "o" / "watches" / "versions", "2", "5", "11")
    fake = FakeKagglehub(fail=offline_error(), cached={"o/watches/versions/5": versions / "5"})
    monkeypatch.setattr(kagglehub, "dataset_download", fake)
    with caplog.at_level(logging.WARNING, logger="common.data_source"):
        got = resolve_data("kaggle:o/watches")
    assert got == (versions / "5").resolve()  # version 11 was never completed, so kagglehub refused it
    assert [c["handle"] for c in fake.calls] == ["o/watches", "o/watches/versions/11", "o/watches/versions/5"]
    assert "using the cached copy of o/watches" in caplog.text


def test_a_refused_download_does_not_fall_back_to_the_cache(tmp_path, offline_home, monkeypatch):
    versions = make_dirs(tmp_path / "kagglehub-cache" / "datasets" / "o" / "watches" / "versions", "5")
    fake = FakeKagglehub(fail=kagglehub.exceptions.UnauthenticatedError(),
                         cached={"o/watches/versions/5": versions / "5"})
    monkeypatch.setattr(kagglehub, "dataset_download", fake)
    with pytest.raises(DataError, match="UnauthenticatedError"):
        resolve_data("kaggle:o/watches")


def test_kagglehub_returning_a_file_is_a_data_error(tmp_path, offline_home, monkeypatch):
    (tmp_path / "one.csv").write_text("a,b\n")
    monkeypatch.setattr(kagglehub, "dataset_download", lambda handle, **kw: str(tmp_path / "one.csv"))
    with pytest.raises(DataError, match="not a folder"):
        resolve_data("kaggle:o/table")


# --- the expected layout, nested one or two levels inside the dataset --------------------------

def test_find_layout_returns_the_shallowest_folder_holding_the_required_ones(tmp_path):
    assert find_layout(make_dirs(tmp_path / "flat", "trainA", "trainB"), ("trainA", "trainB")) == tmp_path / "flat"
    one = make_dirs(tmp_path / "one", "night2day/trainA", "night2day/trainB", "notes")
    assert find_layout(one, ("trainA", "trainB")) == one / "night2day"
    two = make_dirs(tmp_path / "two", "data/v2/trainA", "data/v2/trainB", "data/v1/trainA")
    assert find_layout(two, ("trainA", "trainB")) == two / "data" / "v2"
    # a copy nested deeper (or in macOS archive debris) loses to the shallower one
    both = make_dirs(tmp_path / "both", "z/trainA", "z/trainB", "a/b/trainA", "a/b/trainB",
                     "__MACOSX/trainA", "__MACOSX/trainB")
    assert find_layout(both, ["trainA", "trainB"]) == both / "z"
    assert find_layout(make_dirs(tmp_path / "single", "x/train"), "train") == tmp_path / "single" / "x"


def test_find_layout_searches_at_most_two_levels_down_and_says_where_it_looked(tmp_path):
    deep = make_dirs(tmp_path / "deep", "a/b/c/trainA", "a/b/c/trainB")
    (deep / "readme.txt").write_text("x")
    with pytest.raises(DataError) as err:
        find_layout(deep, ("trainA", "trainB"))
    message = str(err.value)
    assert "\n" not in message
    assert f"found no folder holding trainA/ and trainB/ in {deep} or up to 2 levels below it" in message
    assert "it holds: a/, readme.txt" in message
    assert find_layout(deep, ("trainA", "trainB"), max_depth=3) == deep / "a" / "b" / "c"
    assert find_layout(deep, ("trainA", "trainB"), missing_ok=True) is None
    with pytest.raises(DataError, match="not found"):
        find_layout(tmp_path / "nowhere", ("trainA",))


def test_find_layout_picks_the_first_of_equally_deep_candidates_and_warns(tmp_path, caplog):
    root = make_dirs(tmp_path / "ds", "v2/trainA", "v2/trainB", "v1/trainA", "v1/trainB")
    with caplog.at_level(logging.WARNING, logger="common.data_source"):
        assert find_layout(root, ("trainA", "trainB")) == root / "v1"
    assert "2 folders" in caplog.text and str(root / "v1") in caplog.text and str(root / "v2") in caplog.text


def test_find_layout_takes_any_test_of_a_folder(tmp_path):
    root = make_dirs(tmp_path / "ds", "meta", "watches/images")
    (root / "watches" / "images" / "w1.png").write_bytes(b"png")

    def holds_images(folder):
        return any(p.suffix == ".png" for p in folder.iterdir())

    assert find_layout(root, accept=holds_images, what="images") == root / "watches" / "images"
    with pytest.raises(DataError, match="found no folder holding images in"):
        find_layout(root, accept=holds_images, what="images", max_depth=1)


def test_a_local_folder_wrapping_the_tasks_layout_resolves_to_the_layout(tmp_path):
    wrapped = make_dirs(tmp_path / "download", "night2day/trainA", "night2day/trainB", "night2day/testA")
    assert resolve_data(str(wrapped), layouts=NIGHT2DAY) == (wrapped / "night2day").resolve()
    tests_only = make_dirs(tmp_path / "eval", "x/y/testA", "x/y/testB")
    assert resolve_data(str(tests_only), layouts=NIGHT2DAY) == (tests_only / "x" / "y").resolve()
    # no layout to look for (watches), or none found: the folder itself (the task reports what is missing)
    assert resolve_data(str(wrapped)) == wrapped.resolve()
    assert resolve_data(str(tmp_path / "eval" / "x" / "y" / "testA"), layouts=NIGHT2DAY) == \
        (tests_only / "x" / "y" / "testA").resolve()


def test_expect_requires_the_layout(tmp_path):
    root = make_dirs(tmp_path / "ds", "wrist-watch-128/train")
    assert resolve_data(str(root), expect=("train",)) == (root / "wrist-watch-128").resolve()
    with pytest.raises(DataError, match="found no folder holding valid/ in"):
        resolve_data(str(root), expect=("valid",))


def test_a_kaggle_input_with_a_version_folder_resolves_to_the_layout(tmp_path, offline_home, monkeypatch):
    make_dirs(tmp_path / "input" / "night2day", "versions/1/trainA", "versions/1/trainB")
    monkeypatch.setenv("GANWORKS_KAGGLE_INPUT", str(tmp_path / "input"))
    got = resolve_data("kaggle:someone/night2day", layouts=NIGHT2DAY)
    assert got == (tmp_path / "input" / "night2day" / "versions" / "1").resolve()


def test_a_kagglehub_download_with_a_top_folder_resolves_to_the_layout(tmp_path, offline_home, monkeypatch):
    download = make_dirs(tmp_path / "kh" / "1", "night2day/trainA", "night2day/trainB")
    monkeypatch.setattr(kagglehub, "dataset_download", FakeKagglehub(folder=download))
    assert resolve_data("kaggle:someone/night2day", layouts=NIGHT2DAY) == (download / "night2day").resolve()


def test_night2day_domain_folders_finds_a_nested_layout(tmp_path):
    from night2day.data import domain_folders

    root = make_dirs(tmp_path / "slug", "night2day/night2day/trainA", "night2day/night2day/trainB",
                     "night2day/night2day/testA", "night2day/night2day/testB")
    base = root / "night2day" / "night2day"
    assert domain_folders(root) == {"trainA": base / "trainA", "trainB": base / "trainB"}
    assert domain_folders(root, splits=("testA", "testB")) == {"testA": base / "testA", "testB": base / "testB"}
    flat = make_dirs(tmp_path / "flat", "trainA", "trainB")
    assert domain_folders(flat) == {"trainA": flat / "trainA", "trainB": flat / "trainB"}


def test_night2day_domain_folders_error_names_what_it_expected_and_where_it_looked(tmp_path):
    from night2day.data import domain_folders

    root = make_dirs(tmp_path / "slug", "images/trainA")
    with pytest.raises(DataError) as err:
        domain_folders(root)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{root} has no trainA/ folder (night (train) images), nor does any folder up to "
                              f"2 levels below it hold trainA/ and trainB/ (it holds: images/)")
    assert "night2day.prepare --help" in message
