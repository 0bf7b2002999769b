"""The KubeRay CRDs for the tests that need them, through the lookup a user has, or a skip."""

from __future__ import annotations

import pytest

from raykit.kuberay import CRDsNotFound, KubeRayCRDs, crds

# Not the cluster: a test run must not read from whatever cluster the user's kubeconfig names.
TEST_SOURCES = ("env", "cache", "download")


def crds_or_skip() -> KubeRayCRDs:
    """``raykit.kuberay.crds()``; skip the test, saying why and how to fix it, when it finds none.

    Only "not found" skips. A wrong RAYKIT_KUBERAY_CRDS or a tampered file fails loudly.
    """
    try:
        return crds(sources=TEST_SOURCES)
    except CRDsNotFound as error:
        where = "; ".join(error.looked)
        pytest.skip(f"no KubeRay CRDs ({where}); `raykit kuberay crds` says how to get them")
