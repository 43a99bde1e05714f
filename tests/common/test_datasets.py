"""--data resolution: local folders, the demo set, Kaggle inputs / downloads, safe extraction."""
import stat
import sys
import types
import zipfile
from pathlib import Path

import pytest

from common import datasets
from common.data import DataError
from common.datasets import extract_zip_safely, resolve_data

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
    return home


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
    assert resolve_data("images", task="watches") == (tmp_path / "images").resolve()
    assert resolve_data(tmp_path / "images", task="watches").is_absolute()


def test_a_missing_folder_or_a_file_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match="not found: .*nowhere"):
        resolve_data(str(tmp_path / "nowhere"), task="watches")
    (tmp_path / "photo.jpg").write_bytes(b"x")
    with pytest.raises(DataError, match="must be a folder.*photo.jpg"):
        resolve_data(str(tmp_path / "photo.jpg"), task="watches")
    with pytest.raises(DataError, match="empty"):
        resolve_data("  ", task="watches")


def test_demo_builds_the_tasks_demo_dataset(tmp_path, monkeypatch):
    asked = []

    def demo_dataset(task):
        asked.append(task)
        return str(tmp_path / f"demo-{task}")

    monkeypatch.setitem(sys.modules, "common.demo_data", types.SimpleNamespace(demo_dataset=demo_dataset))
    assert resolve_data("demo", task="inpainting") == tmp_path / "demo-inpainting"
    assert asked == ["inpainting"]


# --- Kaggle -------------------------------------------------------------------------------

def test_inside_kaggle_the_mounted_input_folder_is_used(tmp_path, offline_home, monkeypatch):
    mounted = tmp_path / "input" / "wrist-watch-128"
    mounted.mkdir(parents=True)
    monkeypatch.setenv("GANWORKS_KAGGLE_INPUT", str(tmp_path / "input"))
    got = resolve_data("kaggle:minhquntntht/wrist-watch-128", task="watches", download=never_download)
    assert got == mounted.resolve()


def test_without_credentials_the_error_says_where_to_put_them(offline_home, monkeypatch):
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-key-value")  # a key without a user name is not enough
    with pytest.raises(DataError) as err:
        resolve_data("kaggle:minhquntntht/wrist-watch-128", task="watches")
    message = str(err.value)
    assert "\n" not in message
    assert "~/.kaggle/kaggle.json" in message and "KAGGLE_USERNAME" in message and "KAGGLE_KEY" in message
    assert "minhquntntht/wrist-watch-128" in message
    assert "s3cr3t" not in message
    # nothing half-made is left in the cache
    assert not any(Path(offline_home.parent / "cache").rglob("*.zip"))


def test_inside_kaggle_without_the_input_the_error_says_to_add_it(tmp_path, offline_home, monkeypatch):
    (tmp_path / "input").mkdir()
    monkeypatch.setenv("GANWORKS_KAGGLE_INPUT", str(tmp_path / "input"))
    with pytest.raises(DataError, match="Add Input"):
        resolve_data("kaggle:minhquntntht/wrist-watch-128", task="watches")


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
    got = resolve_data("kaggle:minhquntntht/wrist-watch-128", task="watches", download=fake)
    cache = tmp_path / "cache" / "kaggle" / "minhquntntht" / "wrist-watch-128"
    assert got == (cache / "files").resolve()
    assert (got / "watches" / "a.png").read_bytes() == b"png-a"
    assert (got / "watches" / "sub" / "b.png").read_bytes() == b"png-b"
    assert (cache / datasets.COMPLETE_MARKER).is_file()
    assert not list(cache.rglob("*.zip"))  # the archive is removed after extraction
    again = resolve_data("kaggle:minhquntntht/wrist-watch-128", task="watches", download=fake)
    assert again == got and fake.calls == ["minhquntntht/wrist-watch-128"]


def test_an_explicit_cache_dir_is_used_and_an_interrupted_download_starts_over(tmp_path, offline_home):
    def interrupted(dataset, destination):
        (Path(destination) / "part.zip").write_bytes(b"PK\x03\x04 truncated")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        resolve_data("kaggle:o/d", task="watches", cache_dir=tmp_path / "mine", download=interrupted)
    assert not (tmp_path / "mine" / datasets.COMPLETE_MARKER).exists()
    fake = FakeDownloader({"x.png": b"x"})
    got = resolve_data("kaggle:o/d", task="watches", cache_dir=tmp_path / "mine", download=fake)
    assert got == (tmp_path / "mine" / "files").resolve() and (got / "x.png").read_bytes() == b"x"
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == [datasets.COMPLETE_MARKER, "files"]


@pytest.mark.parametrize("ref", ["minhquntntht", "a/b/c", "../x", "a/..", "o/", "/d"])
def test_malformed_kaggle_references_are_rejected(ref, offline_home):
    with pytest.raises(DataError, match="kaggle:<owner>/<dataset>"):
        resolve_data(f"kaggle:{ref}", task="watches", download=never_download)


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
        resolve_data("kaggle:o/evil", task="watches", download=fake)
    cache = tmp_path / "cache" / "kaggle" / "o" / "evil"
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not cache.exists() or not any(cache.iterdir())


# --- the default downloader, with a stand-in for the kaggle package ------------------------

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
    api = FakeKaggleApi()
    monkeypatch.setitem(sys.modules, "kaggle", types.SimpleNamespace(api=api))
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "abc")
    got = resolve_data("kaggle:o/watches", task="watches")
    assert (got / "img.png").read_bytes() == b"img"
    assert len(api.calls) == 1 and api.calls[0]["dataset"] == "o/watches" and api.calls[0]["unzip"] is False


def test_kaggle_api_failures_become_data_errors(offline_home, monkeypatch):
    monkeypatch.setitem(sys.modules, "kaggle", types.SimpleNamespace(api=FakeKaggleApi(fail=SystemExit(1))))
    monkeypatch.setenv("KAGGLE_API_TOKEN", "tok")
    with pytest.raises(DataError, match="Kaggle download of o/watches failed"):
        resolve_data("kaggle:o/watches", task="watches")
