"""Requests the S3 SDKs would never send: signed by botocore, written to the
socket by hand (a body other than the one signed, a body shorter than its
Content-Length, one sent in two halves)."""

import datetime
import socket
import urllib.parse

import botocore.auth

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials


def signed(endpoint, key, secret, method, path, body, headers=None, skew_seconds=0):
    """A request signed with SigV4 by botocore: over `body`'s SHA-256, or
    UNSIGNED-PAYLOAD for `None`; dated `skew_seconds` from now."""
    request = AWSRequest(method=method, url=endpoint + path, data=body or b"", headers=dict(headers or {}))
    if body is None:
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    real = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: real() + datetime.timedelta(seconds=skew_seconds)
    try:
        S3SigV4Auth(Credentials(key, secret), "s3", "us-east-1").add_auth(request)
    finally:
        botocore.auth.get_current_datetime = real
    return request


def send_raw(request, body_on_wire, close_early=False):
    parsed = urllib.parse.urlsplit(request.url)
    target = parsed.path + (("?" + parsed.query) if parsed.query else "")
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {parsed.netloc}"]
    for name, value in request.headers.items():
        if name.lower() != "host":
            lines.append(f"{name}: {value}")
    lines.append("Connection: close")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body_on_wire
    with socket.create_connection((parsed.hostname, parsed.port)) as conn:
        conn.sendall(data)
        if close_early:
            conn.shutdown(socket.SHUT_WR)
        conn.settimeout(10)
        answer = b""
        try:
            while True:
                piece = conn.recv(65536)
                if not piece:
                    break
                answer += piece
        except (ConnectionResetError, socket.timeout):
            pass
    return answer.decode(errors="replace")


def send_in_halves(request, body, between):
    """Sends `request` with the first half of `body`, calls `between()`, then
    sends the rest; the status line of the answer."""
    parsed = urllib.parse.urlsplit(request.url)
    lines = [f"{request.method} {parsed.path} HTTP/1.1", f"Host: {parsed.netloc}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items() if name.lower() != "host"]
    lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    half = len(body) // 2
    with socket.create_connection((parsed.hostname, parsed.port)) as conn:
        conn.sendall(head + body[:half])
        between()
        conn.sendall(body[half:])
        conn.settimeout(30)
        answer = b""
        while b"\r\n" not in answer:
            piece = conn.recv(65536)
            if not piece:
                break
            answer += piece
    return answer.decode(errors="replace").split("\r\n")[0]
