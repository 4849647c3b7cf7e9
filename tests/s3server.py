"""A real S3 server for tests: moto's server in a subprocess on a free loopback port.

Use it from any test package::

    from tests.s3server import running_s3_server, s3_client

    with running_s3_server() as endpoint_url:
        s3_client(endpoint_url).create_bucket(Bucket="my-bucket")
        storage = S3Storage("my-bucket", "", endpoint_url=endpoint_url)

The server is a separate process speaking HTTP, so the code under test runs its real
botocore stack (signing, retries, multipart) against it; nothing is patched in-process.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 20.0
DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def use_dummy_aws_env() -> None:
    """Give this process dummy AWS credentials and region unless some are already set.

    Also keep loopback off any HTTP proxy of the environment, which botocore would use.
    """
    for name, value in DUMMY_AWS_ENV.items():
        os.environ.setdefault(name, value)
    no_proxy = os.environ.get("NO_PROXY", "")
    if HOST not in no_proxy.split(","):
        os.environ["NO_PROXY"] = f"{no_proxy},{HOST}".strip(",")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        conn.request("GET", "/moto-api/")
        return conn.getresponse().status < 500
    except OSError:
        return False
    finally:
        conn.close()


def _start(log) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = {**os.environ, **DUMMY_AWS_ENV}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,  # a file, not a pipe: an undrained pipe would block the server
        env=env,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break  # e.g. the port was taken between _free_port() and bind
        if _answers(port):
            return proc, port
        time.sleep(0.05)
    _stop(proc)
    raise RuntimeError(f"moto server on port {port} did not start")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def running_s3_server(attempts: int = 3) -> Iterator[str]:
    """Start a moto S3 server, yield its endpoint URL (``http://127.0.0.1:PORT``), stop it.

    Sets dummy AWS credentials for this process (see :func:`use_dummy_aws_env`). Retries
    on another port if the server dies at start; its output is shown if it never starts.
    """
    use_dummy_aws_env()
    with tempfile.TemporaryFile() as log:
        for attempt in range(1, attempts + 1):
            try:
                proc, port = _start(log)
                break
            except RuntimeError:
                if attempt == attempts:
                    log.seek(0)
                    output = log.read().decode(errors="replace")[-4000:]
                    raise RuntimeError(f"moto server did not start:\n{output}") from None
        try:
            yield f"http://{HOST}:{port}"
        finally:
            _stop(proc)


def s3_client(endpoint_url: str):
    """A plain boto3 S3 client for the server, to arrange or inspect a test's bucket."""
    import boto3
    from botocore.config import Config

    use_dummy_aws_env()
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
