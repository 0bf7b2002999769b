"""Finding the KubeRay CRDs the kit targets: env var, the user's cache, a cluster, or the release.

The kit ships no copy of the CRDs (3.3 MB of generated YAML under KubeRay's licence). ``crds()``
finds them where a user has them, in this order:

1. ``RAYKIT_KUBERAY_CRDS``: a folder holding the three CRD files. Set but missing is an error,
   never a silent fall-through: the user meant that folder.
2. The cache, ``$XDG_CACHE_HOME/raykit/kuberay/<version>/`` (``~/.cache/...`` by default), checked
   against the release's SHA-256 digests recorded below.
3. The cluster the kubeconfig points at, which is what the API server will validate against.
4. A download of the pinned release's files from GitHub (``RAYKIT_KUBERAY_CRDS_URL`` overrides the
   base URL, for a mirror), checked against the same digests, then written to the cache.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import ConfigError, RaykitError
from ._facts import KUBERAY_VERSION, PLURALS
from ._schema import load_crd

logger = logging.getLogger(__name__)

ENV_DIR = "RAYKIT_KUBERAY_CRDS"
ENV_URL = "RAYKIT_KUBERAY_CRDS_URL"
RELEASE_TAG = f"v{KUBERAY_VERSION}"
RELEASE_URL = (
    f"https://raw.githubusercontent.com/ray-project/kuberay/{RELEASE_TAG}"
    "/ray-operator/config/crd/bases"
)
CRD_FILES = {kind: f"ray.io_{plural}.yaml" for kind, plural in PLURALS.items()}

# SHA-256 of the files of tag v1.7.0 (commit 59d663aeec13760646da3db9c1cf8cfe883e30b7), path
# ray-operator/config/crd/bases/. A new KUBERAY_VERSION needs new digests.
RELEASE_SHA256 = {
    "ray.io_rayclusters.yaml": "c44704442eef0c6721ad40c1d66782c8bd3fdab9d3344306a5820910a679baa1",
    "ray.io_rayjobs.yaml": "01a5cf3b17c1769fda44af7e82debcd98722f0c27b9ab84d084681c6649121f5",
    "ray.io_rayservices.yaml": "0a8fc325e6e22b9231c1f282b309555e2ecf94227ca20a03df3d1d9a403907ab",
}

SOURCES = ("env", "cache", "cluster", "download")
DOWNLOAD_TIMEOUT_S = 60.0
CLUSTER_TIMEOUT_S = 10.0


class CRDsNotFound(RaykitError, FileNotFoundError):
    """No KubeRay CRDs anywhere the lookup looked; the message says where, and how to get them.

    ``looked`` holds one note per place looked at, such as ``"RAYKIT_KUBERAY_CRDS (not set)"``.
    """

    def __init__(self, message: str, looked: Iterable[str] = ()):
        super().__init__(message)
        self.looked = list(looked)


class CRDDigestMismatch(RaykitError, ValueError):
    """A downloaded or cached CRD file is not the release's; the message names it and the fix."""


@dataclass(frozen=True)
class KubeRayCRDs:
    """The three KubeRay CRDs, and where they were found.

    Pass it to ``validate(manifest, crd=...)``, which picks the CRD of the manifest's kind.

    Attributes
    ----------
    source : str
        ``"env"`` (``RAYKIT_KUBERAY_CRDS``), ``"cache"``, ``"cluster"`` or ``"download"``.
    folder : Path or None
        The folder holding ``ray.io_rayclusters.yaml`` and the others; ``None`` when the CRDs
        were read from a cluster (they are kept in memory then).
    where : str
        Where exactly, in words: the folder, the kubeconfig used, or the URL and the folder.
    matches_release : bool or None
        Whether the files are byte for byte those of the KubeRay release the kit targets
        (``None`` for CRDs read from a cluster, which come back re-serialised).
    version : str
        The KubeRay version the kit targets.
    """

    source: str
    folder: Path | None
    where: str
    matches_release: bool | None
    version: str = KUBERAY_VERSION
    documents: Mapping[str, dict] = field(default_factory=dict, repr=False, compare=False)

    def path(self, kind: str) -> Path:
        """The CRD file of ``kind`` (``"RayCluster"``, ``"RayJob"`` or ``"RayService"``)."""
        _check_kind(kind)
        if self.folder is None:
            raise ConfigError(
                f"path({kind!r}): these CRDs were read from a cluster and have no file; "
                "use load(kind) for the CRD itself."
            )
        return self.folder / CRD_FILES[kind]

    def load(self, kind: str) -> dict:
        """The parsed CRD of ``kind``; parsed once per file and shared: treat it as read-only."""
        _check_kind(kind)
        if self.folder is None:
            return self.documents[kind]
        return load_crd(self.path(kind), kind=kind)

    def __str__(self) -> str:
        label = {
            "env": f"from {ENV_DIR}",
            "cache": "from the cache",
            "cluster": "from the cluster",
            "download": "downloaded",
        }[self.source]
        text = f"KubeRay CRDs {label}: {self.where}"
        if self.matches_release is False:
            text += f" (not the v{self.version} release files; validation follows these)"
        return text


def _check_kind(kind: str) -> None:
    if kind not in CRD_FILES:
        raise ConfigError(f"kind={kind!r}: use one of {sorted(CRD_FILES)}.")


def cache_dir(version: str = KUBERAY_VERSION) -> Path:
    """Where downloaded CRDs are kept: ``$XDG_CACHE_HOME/raykit/kuberay/<version>``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec ignores a relative XDG_CACHE_HOME.
    root = Path(base) if base and os.path.isabs(base) else Path("~/.cache").expanduser()
    return root / "raykit" / "kuberay" / version


def crds(
    *,
    sources: Iterable[str] = SOURCES,
    kubeconfig: str | os.PathLike | None = None,
    context: str | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_S,
) -> KubeRayCRDs:
    """Find the CRDs of the KubeRay version the kit targets (v1.7.0).

    Looks, in order, at ``RAYKIT_KUBERAY_CRDS`` (a folder holding ``ray.io_rayclusters.yaml``,
    ``ray.io_rayjobs.yaml`` and ``ray.io_rayservices.yaml``), the cache
    (``$XDG_CACHE_HOME/raykit/kuberay/1.7.0``, by default under ``~/.cache``), the cluster the
    kubeconfig points at, and last the release's files on GitHub (``RAYKIT_KUBERAY_CRDS_URL``
    replaces the base URL, for a mirror). Cached and downloaded files must have the SHA-256
    digests of the release; a download is written to the cache only when all three match.
    ``raykit kuberay crds`` on the command line runs the same lookup.

    Parameters
    ----------
    sources : iterable of str
        Which places to look at, in the order above: any of ``"env"``, ``"cache"``,
        ``"cluster"``, ``"download"``. ``("download",)`` fetches the release afresh and
        rewrites the cache.
    kubeconfig, context : optional
        The cluster to read from; as for ``apply``.
    timeout : float
        Seconds each download may take.

    Returns
    -------
    KubeRayCRDs
        The folder (or the documents, from a cluster) and which source they came from; pass it
        to ``validate(manifest, crd=...)``.

    Raises
    ------
    CRDsNotFound
        None of the sources had them (offline, no cluster): the message says what to do.
    CRDDigestMismatch
        A cached or downloaded file is not the release's; nothing is cached then.
    ConfigError
        ``RAYKIT_KUBERAY_CRDS`` names a folder that does not hold the three files,
        ``RAYKIT_KUBERAY_CRDS_URL`` is not an http(s):// or file:// URL, or ``sources`` names an
        unknown source.
    """
    wanted = (sources,) if isinstance(sources, str) else tuple(sources)
    unknown = [s for s in wanted if s not in SOURCES]
    if unknown or not wanted:
        raise ConfigError(f"sources={wanted!r}: use some of {SOURCES}, in that order.")
    looked = []
    steps = {
        "env": _from_env,
        "cache": _from_cache,
        "cluster": lambda: _from_cluster(kubeconfig, context),
        "download": lambda: _download(timeout),
    }
    for source in SOURCES:
        if source not in wanted:
            continue
        found, note = steps[source]()
        if found is not None:
            return found
        looked.append(note)
    raise CRDsNotFound(_not_found_message(looked), looked)


def local_crds() -> KubeRayCRDs | None:
    """The CRDs from ``RAYKIT_KUBERAY_CRDS`` or the cache, without any network; else ``None``."""
    try:
        return crds(sources=("env", "cache"))
    except CRDsNotFound:
        return None


def _not_found_message(looked: list[str]) -> str:
    names = ", ".join(CRD_FILES.values())
    folder = cache_dir()
    return "\n".join(
        [
            f"No KubeRay {KUBERAY_VERSION} CRDs found. Looked at:",
            *(f"  - {note}" for note in looked),
            "Any one of these fixes it:",
            f"  - set {ENV_DIR} to a folder holding {names} (KubeRay's "
            "ray-operator/config/crd/bases);",
            "  - run `raykit kuberay crds --download` on a machine with internet, then copy the "
            f"folder it prints to {folder} here;",
            f"  - copy those three files of the KubeRay {RELEASE_TAG} release into {folder}.",
        ]
    )


def _from_env() -> tuple[KubeRayCRDs | None, str]:
    value = os.environ.get(ENV_DIR, "")
    if not value:
        return None, f"{ENV_DIR} (not set)"
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"{ENV_DIR}={value!r}: no such folder. Point it at a folder holding the KubeRay CRD "
            f"files ({', '.join(CRD_FILES.values())}), or unset it to let the kit find them "
            "(cache, cluster, download)."
        )
    missing = [name for name in CRD_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise ConfigError(
            f"{ENV_DIR}={value!r}: the folder has no {', '.join(missing)}. Copy the CRD files of "
            f"KubeRay {RELEASE_TAG} (ray-operator/config/crd/bases) there, or unset {ENV_DIR}."
        )
    folder = folder.resolve()
    differ = [
        name for name in CRD_FILES.values() if _file_sha256(folder / name) != RELEASE_SHA256[name]
    ]
    if differ:
        # The user's own choice, perhaps another KubeRay version: used, but said.
        logger.warning(
            "%s: %s differ from the KubeRay %s release files; validating against them anyway.",
            ENV_DIR,
            ", ".join(differ),
            RELEASE_TAG,
        )
    return KubeRayCRDs("env", folder, str(folder), not differ), ""


def _from_cache() -> tuple[KubeRayCRDs | None, str]:
    folder = cache_dir()
    present = [name for name in CRD_FILES.values() if (folder / name).is_file()]
    if len(present) < len(CRD_FILES):
        state = "nothing there" if not present else f"incomplete: only {', '.join(present)}"
        return None, f"the cache {folder} ({state})"
    for name in CRD_FILES.values():
        digest = _file_sha256(folder / name)
        if digest != RELEASE_SHA256[name]:
            raise CRDDigestMismatch(
                f"{folder / name} in the cache has SHA-256 {digest}, not that of the KubeRay "
                f"{RELEASE_TAG} release file ({RELEASE_SHA256[name]}). Delete it and run "
                f"`raykit kuberay crds --download`, or copy the {RELEASE_TAG} release file there."
            )
    return KubeRayCRDs("cache", folder, str(folder), True), ""


def _from_cluster(kubeconfig, context) -> tuple[KubeRayCRDs | None, str]:
    from ._apply import find_kubeconfig, read_crd_from_cluster

    found, looked = find_kubeconfig(kubeconfig)
    if found is None:
        return None, f"a cluster (no kubeconfig: looked at {looked})"
    documents = {}
    for kind in CRD_FILES:
        try:
            documents[kind] = read_crd_from_cluster(
                kind, kubeconfig=kubeconfig, context=context, timeout=CLUSTER_TIMEOUT_S
            )
        except Exception as error:  # ApiException (404: no operator), or an unreachable server
            reason = getattr(error, "reason", None) or error
            return None, f"the cluster via {found.description} (reading {kind}: {reason})"
    return KubeRayCRDs("cluster", None, f"via {found.description}", None, documents=documents), ""


def _download_base() -> str:
    base = os.environ.get(ENV_URL, "") or RELEASE_URL
    if urllib.parse.urlsplit(base).scheme not in ("http", "https", "file"):
        raise ConfigError(
            f"{ENV_URL}={base!r}: use an http(s):// or file:// URL of a folder holding the CRD "
            f"files, or unset it to download from {RELEASE_URL}."
        )
    return base.rstrip("/")


def _download(timeout: float) -> tuple[KubeRayCRDs | None, str]:
    base = _download_base()
    fetched = {}
    for name in CRD_FILES.values():
        url = f"{base}/{name}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # scheme checked above
                fetched[name] = response.read()
        except (urllib.error.URLError, OSError) as error:
            # An HTTPError says its status; a URLError keeps the cause (no DNS, refused) in reason.
            http = isinstance(error, urllib.error.HTTPError)
            reason = error if http else getattr(error, "reason", error)
            return None, f"the download of {url} (failed: {reason})"
    # All three are checked before anything is written: a bad mirror leaves the cache alone.
    for name, data in fetched.items():
        digest = hashlib.sha256(data).hexdigest()
        if digest != RELEASE_SHA256[name]:
            raise CRDDigestMismatch(
                f"{name} downloaded from {base}/{name} has SHA-256 {digest}, not that of the "
                f"KubeRay {RELEASE_TAG} release file ({RELEASE_SHA256[name]}); nothing was cached. "
                f"Point {ENV_URL} at the {RELEASE_TAG} release files (or unset it to use "
                f"{RELEASE_URL}), or set {ENV_DIR} to a folder holding them."
            )
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in fetched.items():
        _write_atomically(folder / name, data)
    return KubeRayCRDs("download", folder, f"{folder} (from {base}/)", True), ""


def _write_atomically(path: Path, data: bytes) -> None:
    # A reader (another notebook) never sees half a file: write beside it, then rename.
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256_of(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _sha256_of(path: str, mtime_ns: int, size: int) -> str:
    # mtime and size are part of the key: validate() looks the CRDs up on every call.
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def crds_command(*, download: bool = False, offline: bool = False) -> int:
    """``raykit kuberay crds``: print where the CRDs were found, or why not; the exit status."""
    import sys

    if download:
        sources: tuple[str, ...] = ("download",)  # fetch afresh and rewrite the cache
    elif offline:
        sources = ("env", "cache")
    else:
        sources = SOURCES
    try:
        found = crds(sources=sources)
    except RaykitError as error:
        print(f"raykit kuberay crds: {error}", file=sys.stderr)
        return 1
    release = {True: "yes", False: "NO", None: "unknown (read from a cluster)"}
    print(f"KubeRay {found.version} CRDs found")
    print(f"  source: {found.source}")
    print(f"  folder: {found.folder or 'none, kept in memory'}")
    if found.where != str(found.folder):
        print(f"  where:  {found.where}")
    print(f"  the {RELEASE_TAG} release files: {release[found.matches_release]}")
    return 0
