"""raykit.kuberay.apply: nothing is sent without a kubeconfig; with one, dry run then apply."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from _http import send_json
from _kuberay_crds import crds_or_skip

from raykit.exceptions import ConfigError
from raykit.kuberay import ManifestError, RayCluster, apply, load_crd


@pytest.fixture
def no_cluster(monkeypatch, tmp_path):
    """No kubeconfig anywhere, not in a Pod, and importing kubernetes fails loudly."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    # None in sys.modules makes ``import kubernetes`` raise ImportError: proof nothing is tried.
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    return tmp_path


def test_apply_without_kubeconfig_attempts_nothing(no_cluster):
    result = apply(RayCluster("demo"))
    assert result.attempted is False
    assert result.applied is False
    assert "No kubeconfig found" in result.message
    assert "nothing was sent" in result.message
    assert str(no_cluster / "missing-kubeconfig") in result.message
    assert str(result) == result.message
    assert (result.kind, result.name) == ("RayCluster", "demo")


def test_apply_without_kubeconfig_env_looks_at_home(no_cluster, monkeypatch):
    monkeypatch.delenv("KUBECONFIG")
    result = apply(RayCluster("demo"))
    assert result.attempted is False
    assert str(no_cluster / ".kube" / "config") in result.message


def test_apply_validates_before_anything(no_cluster):
    manifest = RayCluster("demo").to_dict()
    manifest["spec"]["headGroupSpec"]["rayStartParams"] = {"num-cpus": 0}
    with pytest.raises(ManifestError, match=r"headGroupSpec\.rayStartParams\.num-cpus"):
        apply(manifest)


def test_load_crd_from_cluster_without_kubeconfig(no_cluster):
    with pytest.raises(ConfigError, match="No kubeconfig found"):
        load_crd(kind="RayCluster")


class _RecordingApiServer(BaseHTTPRequestHandler):
    """A stand-in API server: records each PATCH and answers with ``server.reply``."""

    def do_PATCH(self):  # the method name http.server dispatches to
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        url = urlsplit(self.path)
        self.server.requests.append(
            {
                "path": url.path,
                "query": parse_qs(url.query),
                "content_type": self.headers["Content-Type"],
                "body": body,
            }
        )
        status, payload = self.server.reply(body)
        send_json(self, status, payload)

    def log_message(self, *args):  # keep the test output quiet
        pass


def _write_kubeconfig(directory, server: str, namespace: str = "ns-b"):
    path = directory / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [
            {"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": namespace}}
        ],
        "current-context": "ctx",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def api_server(monkeypatch, tmp_path):
    """A local HTTP server the real kubernetes client talks to, via a kubeconfig in KUBECONFIG."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingApiServer)
    server.requests = []
    server.reply = lambda body: (200, body)
    # A short poll interval: shutdown() waits up to one interval.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("KUBECONFIG", str(_write_kubeconfig(tmp_path, url)))
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_apply_dry_runs_then_applies_server_side(api_server):
    result = apply(RayCluster("demo"))
    assert (result.attempted, result.applied) == (True, True), result.message
    assert result.message.startswith("Applied RayCluster ns-b/demo")
    dry, real = api_server.requests
    for request in (dry, real):
        assert request["path"] == "/apis/ray.io/v1/namespaces/ns-b/rayclusters/demo"
        assert request["content_type"] == "application/apply-patch+yaml"  # server-side apply
        assert request["query"]["fieldManager"] == ["raykit"]
        assert request["query"]["fieldValidation"] == ["Strict"]
        assert "force" not in request["query"]
        expected = RayCluster("demo").to_dict()
        expected["metadata"]["namespace"] = "ns-b"  # from the kubeconfig context
        assert request["body"] == expected
    assert dry["query"]["dryRun"] == ["All"]
    assert "dryRun" not in real["query"]
    assert result.response["metadata"]["name"] == "demo"


def test_apply_dry_run_only(api_server):
    result = apply(RayCluster("demo", namespace="ml"), dry_run=True)
    assert (result.attempted, result.applied) == (True, False)
    (request,) = api_server.requests
    assert request["query"]["dryRun"] == ["All"]
    assert request["path"] == "/apis/ray.io/v1/namespaces/ml/rayclusters/demo"
    assert result.message.startswith("Dry run passed for RayCluster ml/demo")


def test_rejected_dry_run_stops_before_apply(api_server):
    message = ".spec.workerGroupSpec: field not declared in schema"
    api_server.reply = lambda body: (422, {"kind": "Status", "message": message, "code": 422})
    result = apply(RayCluster("demo"))
    assert (result.attempted, result.applied) == (True, False)
    assert len(api_server.requests) == 1  # nothing applied after the failed dry run
    assert "rejected the dry run" in result.message
    assert "(HTTP 422)" in result.message
    assert message in result.message


def test_apply_checks_the_crd_schema_before_sending(api_server, monkeypatch):
    """With CRDs at hand (here RAYKIT_KUBERAY_CRDS), a typo never reaches the server."""
    monkeypatch.setenv("RAYKIT_KUBERAY_CRDS", str(crds_or_skip().folder))
    manifest = RayCluster("demo").to_dict()
    manifest["spec"]["headGroupSpec"]["rayStartParam"] = {}
    with pytest.raises(ManifestError, match=r"spec\.headGroupSpec\.rayStartParam\b"):
        apply(manifest)
    assert api_server.requests == []
    # crd=False: the kit's own checks only, and the server's strict validation has the last word.
    assert apply(manifest, crd=False).applied
    assert len(api_server.requests) == 2


def test_missing_crd_says_install_the_operator(api_server):
    api_server.reply = lambda body: (404, {"kind": "Status", "message": "not found", "code": 404})
    result = apply(RayCluster("demo"))
    assert "KubeRay operator" in result.message


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server(monkeypatch, tmp_path):
    kubeconfig = _write_kubeconfig(tmp_path, f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    result = apply(RayCluster("demo"), kubeconfig=kubeconfig)
    assert (result.attempted, result.applied) == (True, False)
    assert result.message.startswith("Could not reach the cluster for the dry run of RayCluster")


def test_importing_raykit_kuberay_does_not_import_kubernetes():
    code = "import sys, raykit.kuberay; print('kubernetes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
