"""Finds (or generates) the Python modules for proto/ponder/v1/reward.proto."""

import hashlib
import importlib
import os
import subprocess
import sys

_PROTO_ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "proto"))
_PROTO_FILE = os.path.join("ponder", "v1", "reward.proto")


def _try_import():
    try:
        pb2 = importlib.import_module("ponder.v1.reward_pb2")
        grpc_pb2 = importlib.import_module("ponder.v1.reward_pb2_grpc")
        return pb2, grpc_pb2
    except ImportError:
        return None


def _generate(out_dir):
    """Runs protoc with Debian's grpc_python_plugin into out_dir."""
    os.makedirs(os.path.join(out_dir, "ponder", "v1"), exist_ok=True)
    for package in ("ponder", os.path.join("ponder", "v1")):
        open(os.path.join(out_dir, package, "__init__.py"), "a").close()
    command = [
        "protoc", f"--proto_path={_PROTO_ROOT}", f"--python_out={out_dir}",
        f"--grpc_out={out_dir}", "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
        os.path.join(_PROTO_ROOT, _PROTO_FILE),
    ]
    subprocess.run(command, check=True, capture_output=True)


def load():
    """Returns (reward_pb2, reward_pb2_grpc)."""
    found = _try_import()
    if found:
        return found
    candidates = []
    if os.environ.get("PONDER_PYTHON_STUBS"):
        candidates.append(os.environ["PONDER_PYTHON_STUBS"])
    proto_path = os.path.join(_PROTO_ROOT, _PROTO_FILE)
    if os.path.exists(proto_path):
        digest = hashlib.sha256(open(proto_path, "rb").read()).hexdigest()[:16]
        cache = os.path.join(os.path.expanduser("~"), ".cache", "ponder", "python-stubs", digest)
        candidates.append(cache)
    for directory in candidates:
        if directory not in sys.path:
            sys.path.insert(0, directory)
        found = _try_import()
        if found:
            return found
    if os.path.exists(proto_path):
        try:
            _generate(candidates[-1])
        except (OSError, subprocess.CalledProcessError) as error:
            raise ImportError(
                "cannot generate the RewardService stubs with protoc and "
                f"/usr/bin/grpc_python_plugin ({error}); build them with "
                "`cmake --build build --target ponder_python_stubs` and put build/python on "
                "PYTHONPATH") from error
        importlib.invalidate_caches()
        found = _try_import()
        if found:
            return found
    raise ImportError(
        "the RewardService stubs (ponder.v1.reward_pb2) were not found: build them with "
        "`cmake --build build --target ponder_python_stubs` and put build/python on PYTHONPATH "
        "(or set PONDER_PYTHON_STUBS to that directory)")
