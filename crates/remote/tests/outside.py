"""coffer-remote's stored objects as someone outside coffer sees them, with
boto3 and the aws CLI (PyPI `boto3`, `awscli`), against an S3 endpoint that
the Rust tests start (moto, SeaweedFS).

    outside.py inspect --endpoint E --bucket B --expect FILE
        Every object in the S3 bucket (coffer's records under .coffer/ too)
        is read: no object holds the plaintext marker or the root key's
        bytes, except the unencrypted ones FILE names; each coffer object's
        length, as GetObject and `aws s3api list-objects-v2` report it, is
        the function of its plaintext size that docs/format.md gives.
        Prints a JSON summary.

    outside.py tamper --endpoint E --bucket B --op OP --key K [--other K2] [--size S]
        Changes the S3 bucket behind coffer's back:
          flip       one byte of K's payload flipped
          cut-chunk  K's last chunk taken out (K holds S plaintext bytes in one part)
          cut-tail   K's last 16 KiB cut off
          swap       K's and K2's bodies exchanged
          copy       K copied over K2 with S3's own CopyObject

Only the standard library, boto3 and the aws CLI; credentials are dummies
(neither server checks them here).
"""

import argparse
import json
import os
import subprocess
import sys

import boto3
from botocore.config import Config

CHUNK = 16 * 1024
MIB = 1024 * 1024


def stored_len(size):
    """docs/format.md: S + 16 x floor(S / 16 KiB) + 96 x (floor(S / 1 MiB) + 1) + 4096."""
    return size + 16 * (size // CHUNK) + 96 * (size // MIB + 1) + 4096


def client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def every_key(s3, bucket):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend((o["Key"], o["Size"]) for o in page.get("Contents", []))
    return keys


def cli_sizes(endpoint, bucket):
    aws = os.environ.get("COFFER_AWS_BIN", "aws")
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    out = subprocess.run(
        [aws, "s3api", "list-objects-v2", "--bucket", bucket, "--endpoint-url", endpoint,
         "--output", "json"],
        check=True, capture_output=True, text=True, env=env,
    ).stdout
    return {o["Key"]: o["Size"] for o in json.loads(out or "{}").get("Contents", [])}


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def inspect(args):
    with open(args.expect) as f:
        expect = json.load(f)
    marker = expect["marker"].encode()
    root_key = bytes.fromhex(expect["root_key_hex"])
    plain = set(expect["plain"])
    sizes = expect["objects"]
    s3 = client(args.endpoint)
    listed = every_key(s3, args.bucket)
    by_cli = cli_sizes(args.endpoint, args.bucket)
    seen, records = set(), 0
    for key, listed_size in listed:
        body = s3.get_object(Bucket=args.bucket, Key=key)["Body"].read()
        if len(body) != listed_size:
            fail(f"{key}: GetObject gave {len(body)} bytes, the listing {listed_size}")
        if root_key in body:
            fail(f"{key}: holds the root key's bytes")
        if key in plain:
            if marker not in body:
                fail(f"{key}: unencrypted, yet the marker is not in it (the check is broken)")
        elif marker in body:
            fail(f"{key}: holds plaintext")
        if key.startswith(".coffer/"):
            records += 1
            continue
        if key not in sizes:
            fail(f"{key}: an object the test did not write")
        seen.add(key)
        want = stored_len(sizes[key])
        if listed_size != want or by_cli.get(key) != want:
            fail(f"{key}: {sizes[key]} plaintext bytes stored in {listed_size} "
                 f"(aws s3api: {by_cli.get(key)}); the format gives {want}")
    missing = set(sizes) - seen
    if missing:
        fail(f"not in the bucket: {sorted(missing)}")
    if records == 0:
        fail("no coffer record under .coffer/")
    print(json.dumps({"objects": len(seen), "records": records, "cli_listed": len(by_cli)}))


def tamper(args):
    s3 = client(args.endpoint)
    get = lambda key: s3.get_object(Bucket=args.bucket, Key=key)["Body"].read()
    put = lambda key, body: s3.put_object(Bucket=args.bucket, Key=key, Body=body)
    if args.op == "flip":
        body = bytearray(get(args.key))
        body[len(body) // 3] ^= 0x01
        put(args.key, bytes(body))
    elif args.op == "cut-chunk":
        body = get(args.key)
        size = args.size
        parts_end = size + 16 * (size // CHUNK + 1)
        last = size % CHUNK + 16
        put(args.key, body[: parts_end - last] + body[parts_end:])
    elif args.op == "cut-tail":
        put(args.key, get(args.key)[:-CHUNK])
    elif args.op == "swap":
        one, two = get(args.key), get(args.other)
        put(args.key, two)
        put(args.other, one)
    elif args.op == "copy":
        s3.copy_object(
            Bucket=args.bucket, Key=args.other,
            CopySource={"Bucket": args.bucket, "Key": args.key},
        )
    else:
        fail(f"unknown op {args.op}")
    print(json.dumps({"op": args.op, "key": args.key}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["inspect", "tamper"])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--expect")
    parser.add_argument("--op")
    parser.add_argument("--key")
    parser.add_argument("--other")
    parser.add_argument("--size", type=int)
    args = parser.parse_args()
    inspect(args) if args.command == "inspect" else tamper(args)


if __name__ == "__main__":
    main()
