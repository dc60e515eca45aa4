"""Shared fixtures for the posthorn integration tests.

`posthorn` is the path of the client binary under test (POSTHORN_BIN, else
build/posthorn); `run` runs it and returns a CompletedProcess with bytes
stdout/stderr, so tests can check exact output and exit status.
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="session")
def posthorn():
    path = os.environ.get("POSTHORN_BIN", str(ROOT / "build" / "posthorn"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"posthorn binary not found at {path}: run make, or set POSTHORN_BIN")
    return path


@pytest.fixture(scope="session")
def data():
    return DATA


def run_posthorn(binary, *args, input=None, env=None, timeout=60):
    """Runs `binary args...`; input is bytes for stdin (None: /dev/null)."""
    full_env = dict(os.environ)
    full_env.setdefault("TZ", "UTC")
    if env:
        full_env.update(env)
    return subprocess.run(
        [binary, *[str(a) for a in args]],
        input=input if input is not None else b"",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full_env,
        timeout=timeout,
    )


@pytest.fixture
def run(posthorn):
    def _run(*args, **kw):
        return run_posthorn(posthorn, *args, **kw)
    return _run
