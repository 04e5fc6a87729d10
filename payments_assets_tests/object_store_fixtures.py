"""An S3-compatible object store on loopback for the export tests: moto's server
(`moto[server]`, `ThreadedMotoServer`, from the package index), one per session.

Clients find it the way they would find a real S3-compatible store: `AWS_ENDPOINT_URL` and the
`AWS_*` credentials in the environment (s3fs and boto3 both read them). Moto keeps objects in
memory; nothing it stores touches the disk.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from payments_assets.loopback import free_port

HOST = "127.0.0.1"


@dataclass(frozen=True)
class S3Server:
    """Where the loopback S3 listens and the variables a client (or a worker) needs for it."""

    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "payments-test",
            "AWS_SECRET_ACCESS_KEY": "payments-test-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def create_bucket(self, prefix: str) -> str:
        """A new, empty bucket `<prefix>-<random>`; returns its name."""
        import boto3

        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_DEFAULT_REGION"],
        )
        client.create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 on a free loopback port, with its environment set for the whole session."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    handle = S3Server(f"http://{HOST}:{port}")
    saved = {name: os.environ.get(name) for name in handle.env}
    os.environ.update(handle.env)
    try:
        yield handle
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()
