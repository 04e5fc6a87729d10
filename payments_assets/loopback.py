"""The project's own local servers (the sandbox, the webhook receiver) as child processes on
loopback: a free port to bind, and a stop that never leaves a process behind."""

import os
import signal
import socket
import subprocess

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Terminate, then kill if it does not exit within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_group(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Stop a process started with `start_new_session=True` and everything it spawned (its
    process group: a webserver's code server, the demo's sandbox and receiver)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
