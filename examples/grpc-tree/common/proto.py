"""Generate the Python stubs for proto/tree.proto at run time and import them.

The stubs go to ``_gen/`` (git-ignored) next to ``proto/``. They are
regenerated when the .proto file or the installed grpcio-tools / protobuf
versions change, under a file lock so six servers starting at once do not
race each other.
"""

import fcntl
import hashlib
import importlib
import importlib.metadata
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
PROTO_FILE = PROTO_DIR / "tree.proto"
GEN_DIR = ROOT / "_gen"
OUTPUTS = ("tree_pb2.py", "tree_pb2_grpc.py")


def _stamp() -> str:
    digest = hashlib.sha256(PROTO_FILE.read_bytes()).hexdigest()
    versions = []
    for dist in ("grpcio-tools", "protobuf"):
        try:
            versions.append(f"{dist}={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{dist}=?")
    return f"{digest} {' '.join(versions)}\n"


def _up_to_date(stamp: str) -> bool:
    stamp_file = GEN_DIR / "STAMP"
    return (
        stamp_file.exists()
        and stamp_file.read_text() == stamp
        and all((GEN_DIR / name).exists() for name in OUTPUTS)
    )


def ensure_generated() -> Path:
    """Run ``python -m grpc_tools.protoc`` into _gen/ unless it is current."""
    stamp = _stamp()
    if _up_to_date(stamp):
        return GEN_DIR
    GEN_DIR.mkdir(exist_ok=True)
    with open(GEN_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _up_to_date(stamp):  # another process did it while we waited
            return GEN_DIR
        with tempfile.TemporaryDirectory(dir=GEN_DIR) as tmp:
            cmd = [
                sys.executable, "-m", "grpc_tools.protoc",
                f"-I{PROTO_DIR}",
                f"--python_out={tmp}",
                f"--grpc_python_out={tmp}",
                str(PROTO_FILE),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(
                    "protoc failed for proto/tree.proto "
                    f"(is grpcio-tools installed?):\n{proc.stderr.strip()}"
                )
            for name in OUTPUTS:
                os.replace(Path(tmp) / name, GEN_DIR / name)
        (GEN_DIR / "STAMP").write_text(stamp)
    return GEN_DIR


def load():
    """Return the generated modules ``(tree_pb2, tree_pb2_grpc)``."""
    gen = str(ensure_generated())
    if gen not in sys.path:
        # tree_pb2_grpc.py does a top-level `import tree_pb2`.
        sys.path.insert(0, gen)
    return importlib.import_module("tree_pb2"), importlib.import_module("tree_pb2_grpc")
