"""raykit.kuberay.crds(): env var, then cache, then cluster, then a digest-checked download."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import threading
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from _http import send_json
from _kuberay_crds import crds_or_skip

from raykit.cli import main
from raykit.exceptions import ConfigError, RaykitError
from raykit.kuberay import CRDDigestMismatch, CRDsNotFound, RayCluster, cache_dir, crds, validate
from raykit.kuberay import _crds as crds_module

KINDS = {
    "RayCluster": "ray.io_rayclusters.yaml",
    "RayJob": "ray.io_rayjobs.yaml",
    "RayService": "ray.io_rayservices.yaml",
}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    """No env var, an empty cache, no kubeconfig, and a download URL nothing listens on."""
    monkeypatch.delenv("RAYKIT_KUBERAY_CRDS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("RAYKIT_KUBERAY_CRDS_URL", f"http://127.0.0.1:{_closed_port()}/crds")
    return tmp_path


def _write_crds(folder: Path, note: str = "") -> Path:
    """Three small but real CRD documents, one a kind, as the release names its files."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind, name in KINDS.items():
        doc = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": name.removeprefix("ray.io_").removesuffix(".yaml") + ".ray.io"},
            "spec": {"group": "ray.io", "names": {"kind": kind}, "versions": []},
        }
        (folder / name).write_text(f"# {note}\n" + yaml.safe_dump(doc))
    return folder


@pytest.fixture
def release(monkeypatch, tmp_path):
    """A stand-in release: three files, and the kit's recorded digests replaced by theirs."""
    folder = _write_crds(tmp_path / "release", note="the release")
    digests = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in KINDS.values()
    }
    monkeypatch.setattr(crds_module, "RELEASE_SHA256", digests)
    return folder


class _Recording(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output quiet
        pass

    def do_GET(self):  # the method name http.server dispatches to
        self.server.paths.append(self.path)
        super().do_GET()


@contextmanager
def _serve(folder: Path):
    """A real HTTP server on 127.0.0.1 serving ``folder``; gives (server, the folder's URL)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Recording, directory=folder.parent))
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}/{folder.name}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def served(release, nowhere, monkeypatch):
    """The stand-in release served over HTTP, and RAYKIT_KUBERAY_CRDS_URL pointing at it."""
    with _serve(release) as (server, url):
        monkeypatch.setenv("RAYKIT_KUBERAY_CRDS_URL", url)
        yield server


def _cached_files() -> list[str]:
    folder = cache_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_env_var_wins_over_the_cache(release, nowhere, monkeypatch, caplog):
    shutil.copytree(release, cache_dir())
    own = _write_crds(nowhere / "mine", note="a user's own CRDs")
    monkeypatch.setenv("RAYKIT_KUBERAY_CRDS", str(own))
    with caplog.at_level(logging.WARNING, logger="raykit.kuberay._crds"):
        found = crds()
    assert (found.source, found.folder) == ("env", own.resolve())
    assert found.matches_release is False  # used, and said: another version perhaps
    assert "differ from the KubeRay v1.7.0 release" in caplog.text
    assert found.load("RayJob")["spec"]["names"]["kind"] == "RayJob"
    assert found.path("RayService") == own.resolve() / "ray.io_rayservices.yaml"


def test_env_var_naming_a_missing_folder_is_an_error_not_a_fall_through(
    release, nowhere, monkeypatch
):
    shutil.copytree(release, cache_dir())  # the cache could answer, but the user named a folder
    monkeypatch.setenv("RAYKIT_KUBERAY_CRDS", str(nowhere / "typo"))
    with pytest.raises(ConfigError, match=r"RAYKIT_KUBERAY_CRDS='.*typo': no such folder"):
        crds()
    partial_folder = _write_crds(nowhere / "partial")
    (partial_folder / "ray.io_rayjobs.yaml").unlink()
    monkeypatch.setenv("RAYKIT_KUBERAY_CRDS", str(partial_folder))
    with pytest.raises(ConfigError, match="the folder has no ray.io_rayjobs.yaml"):
        crds()


def test_cache_is_used_without_the_network(release, served):
    shutil.copytree(release, cache_dir())
    found = crds()
    assert (found.source, found.folder, found.matches_release) == ("cache", cache_dir(), True)
    assert served.paths == []  # nothing was downloaded


def test_download_checks_digests_then_fills_the_cache(release, served):
    found = crds()
    assert (found.source, found.folder, found.matches_release) == ("download", cache_dir(), True)
    assert sorted(served.paths) == sorted(f"/release/{name}" for name in KINDS.values())
    for name in KINDS.values():
        assert (cache_dir() / name).read_bytes() == (release / name).read_bytes()
    assert _cached_files() == sorted(KINDS.values())  # no temporary file left behind
    again = crds()
    assert again.source == "cache"
    assert len(served.paths) == 3  # the second lookup downloaded nothing
    assert again.load("RayCluster")["spec"]["names"]["kind"] == "RayCluster"


def test_tampered_download_is_refused_and_nothing_is_cached(release, served):
    with (release / "ray.io_rayjobs.yaml").open("a") as f:
        f.write("# one changed line\n")
    with pytest.raises(CRDDigestMismatch) as raised:
        crds()
    message = str(raised.value)
    assert "ray.io_rayjobs.yaml" in message
    assert "nothing was cached" in message
    assert "RAYKIT_KUBERAY_CRDS_URL" in message
    assert _cached_files() == []  # not even the two good files


def test_tampered_cache_is_an_error(release, nowhere):
    shutil.copytree(release, cache_dir())
    (cache_dir() / "ray.io_rayclusters.yaml").write_text("kind: Something else\n")
    with pytest.raises(
        CRDDigestMismatch, match=r"ray\.io_rayclusters\.yaml in the cache.*--download"
    ):
        crds()


def test_nothing_found_says_what_to_run(nowhere):
    with pytest.raises(CRDsNotFound) as raised:
        crds()
    assert isinstance(raised.value, RaykitError)
    assert [note.split(" (")[0] for note in raised.value.looked] == [
        "RAYKIT_KUBERAY_CRDS",
        f"the cache {cache_dir()}",
        "a cluster",
        f"the download of {os.environ['RAYKIT_KUBERAY_CRDS_URL']}/ray.io_rayclusters.yaml",
    ]
    message = str(raised.value)
    for looked in ("RAYKIT_KUBERAY_CRDS (not set)", f"the cache {cache_dir()}", "no kubeconfig",
                   "the download of http://127.0.0.1:"):  # fmt: skip
        assert looked in message
    for fix in ("set RAYKIT_KUBERAY_CRDS to a folder", "raykit kuberay crds --download",
                f"into {cache_dir()}"):  # fmt: skip
        assert fix in message


@pytest.fixture(scope="module")
def real():
    """The real v1.7.0 CRDs, looked up before any test's ``nowhere`` hides them; else a skip."""
    return crds_or_skip()


def test_the_recorded_digests_are_those_of_the_real_release(real, nowhere, monkeypatch):
    """The real v1.7.0 files, served over HTTP, pass the kit's own digests and land in the cache."""
    with _serve(real.folder) as (server, url):
        monkeypatch.setenv("RAYKIT_KUBERAY_CRDS_URL", url)
        found = crds(sources=("download",))
    assert (found.source, found.matches_release) == ("download", True)
    assert len(server.paths) == 3
    assert validate(RayCluster("demo"), crd=found) == []
    assert crds(sources=("cache",)).folder == cache_dir()


class _CrdApiServer(BaseHTTPRequestHandler):
    """A stand-in API server answering GET of a CRD with ``server.crds`` (404 when missing)."""

    def do_GET(self):  # the method name http.server dispatches to
        name = self.path.rsplit("/", 1)[-1].split("?")[0]
        doc = self.server.crds.get(name)
        status, payload = (200, doc) if doc else (404, {"kind": "Status", "code": 404})
        send_json(self, status, payload)

    def log_message(self, *args):
        pass


def test_crds_from_the_cluster(nowhere, monkeypatch, release):
    docs = {
        f"{name.removeprefix('ray.io_').removesuffix('.yaml')}.ray.io": yaml.safe_load(
            (release / name).read_text()
        )
        for name in KINDS.values()
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CrdApiServer)
    server.crds = docs
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        kubeconfig = nowhere / "kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "c",
                            "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"},
                        }
                    ],
                    "users": [{"name": "u", "user": {"token": "t"}}],
                    "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
                    "current-context": "ctx",
                }
            )
        )
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        found = crds()
        assert (found.source, found.folder, found.matches_release) == ("cluster", None, None)
        assert found.load("RayService") == docs["rayservices.ray.io"]
        with pytest.raises(ConfigError, match="read from a cluster"):
            found.path("RayService")
        # A cluster without the operator: the lookup goes on, and says what it found there.
        del server.crds["rayjobs.ray.io"]
        with pytest.raises(
            CRDsNotFound, match=r"the cluster via KUBECONFIG \(reading RayJob: Not Found\)"
        ):
            crds()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_bad_arguments_name_themselves(nowhere, monkeypatch):
    with pytest.raises(ConfigError, match="sources="):
        crds(sources=("internet",))
    with pytest.raises(CRDsNotFound) as raised:
        crds(sources="cache")  # one name, not its letters
    assert raised.value.looked == [f"the cache {cache_dir()} (nothing there)"]
    monkeypatch.setenv("RAYKIT_KUBERAY_CRDS_URL", "ftp://example.org/crds")
    with pytest.raises(ConfigError, match="RAYKIT_KUBERAY_CRDS_URL='ftp://"):
        crds()
    with pytest.raises(ConfigError, match="kind='RayCronJob'"):
        crds_module.KubeRayCRDs("cache", cache_dir(), "", True).load("RayCronJob")


def test_cli_prints_where_the_crds_are(release, served, capsys):
    assert main(["kuberay", "crds", "--offline"]) == 1  # env var unset, cache empty
    err = capsys.readouterr().err
    assert err.startswith("raykit kuberay crds: No KubeRay 1.7.0 CRDs found")
    assert served.paths == []
    assert main(["kuberay", "crds"]) == 0
    out = capsys.readouterr().out
    assert "  source: download\n" in out
    assert f"  folder: {cache_dir()}\n" in out
    assert "  the v1.7.0 release files: yes" in out
    assert main(["kuberay", "crds"]) == 0
    assert "  source: cache\n" in capsys.readouterr().out
    assert main(["kuberay", "crds", "--download"]) == 0  # afresh, though the cache has them
    assert "  source: download\n" in capsys.readouterr().out
    assert len(served.paths) == 6


def test_cli_fails_with_the_lookup_message(nowhere, capsys):
    assert main(["kuberay", "crds"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "raykit kuberay crds --download" in captured.err
