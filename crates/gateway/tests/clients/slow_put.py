"""A PUT in two halves, for the gateway's drain test:
    python slow_put.py ENDPOINT ACCESS_KEY SECRET BUCKET KEY SIZE
sends the headers and half the body, prints `half-sent`, waits for a line on
standard input, sends the rest and prints the status line it got."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raw_http import send_in_halves, signed  # noqa: E402

endpoint, key, secret, bucket, name, size = sys.argv[1:7]
body = bytes(range(256)) * (int(size) // 256)
request = signed(endpoint, key, secret, "PUT", f"/{bucket}/{name}", body, {"Content-Length": str(len(body))})


def wait():
    print("half-sent", flush=True)
    sys.stdin.readline()


print(send_in_halves(request, body, wait), flush=True)
