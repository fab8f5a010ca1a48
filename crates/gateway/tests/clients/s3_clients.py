"""The gateway from the clients S3 users already run: boto3 and the aws CLI.

Run by tests/it/python_clients.rs against a gateway it started:
    python s3_clients.py ENDPOINT ACCESS_KEY SECRET CMK_ID CMK_ALIAS
Every check is an assert; the script prints one line per scenario and exits
non-zero at the first that fails.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import requests

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from raw_http import send_raw, signed  # noqa: E402

ENDPOINT, KEY, SECRET, CMK, ALIAS = sys.argv[1:6]
REGION = "us-east-1"
CONFIG = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
s3 = boto3.client(
    "s3",
    endpoint_url=ENDPOINT,
    aws_access_key_id=KEY,
    aws_secret_access_key=SECRET,
    region_name=REGION,
    config=CONFIG,
)


def error_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{call.__name__} {kwargs} succeeded")


def step(name):
    print("ok:", name, flush=True)


# --- boto3: bucket encryption, puts with and without SSE, what is reported.
s3.create_bucket(Bucket="reports")
code, status = error_code(s3.get_bucket_encryption, Bucket="reports")
assert (code, status) == ("ServerSideEncryptionConfigurationNotFoundError", 404), (code, status)
s3.put_bucket_encryption(
    Bucket="reports",
    ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": ALIAS}}]
    },
)
rule = s3.get_bucket_encryption(Bucket="reports")["ServerSideEncryptionConfiguration"]["Rules"][0]
assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": ALIAS}, rule
step("put-bucket-encryption and get-bucket-encryption")

put = s3.put_object(Bucket="reports", Key="by-default.txt", Body=b"the bucket default applies")
assert put["ServerSideEncryption"] == "aws:kms", put
assert put["SSEKMSKeyId"] == CMK, (put["SSEKMSKeyId"], CMK)
put = s3.put_object(Bucket="reports", Key="managed.txt", Body=b"store-managed keys", ServerSideEncryption="AES256")
assert put["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in put, put
put = s3.put_object(
    Bucket="reports", Key="named.txt", Body=b"named by alias", ServerSideEncryption="aws:kms", SSEKMSKeyId=ALIAS
)
assert put["SSEKMSKeyId"] == CMK, "the CMK id is reported, never the alias"
head = s3.head_object(Bucket="reports", Key="by-default.txt")
assert (head["ServerSideEncryption"], head["SSEKMSKeyId"], head["ContentLength"]) == ("aws:kms", CMK, 26), head
head = s3.head_object(Bucket="reports", Key="managed.txt")
assert head["ServerSideEncryption"] == "AES256", head
got = s3.get_object(Bucket="reports", Key="named.txt")
assert got["Body"].read() == b"named by alias" and got["SSEKMSKeyId"] == CMK, got
step("puts with and without x-amz-server-side-encryption, reported on put, head and get")

ranged = s3.get_object(Bucket="reports", Key="by-default.txt", Range="bytes=4-9")
assert ranged["Body"].read() == b"bucket", ranged
assert ranged["ContentRange"] == "bytes 4-9/26", ranged["ContentRange"]
assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
suffix = s3.get_object(Bucket="reports", Key="by-default.txt", Range="bytes=-7")
assert suffix["Body"].read() == b"applies"
code, status = error_code(s3.get_object, Bucket="reports", Key="by-default.txt", Range="bytes=100-200")
assert (code, status) == ("InvalidRange", 416), (code, status)
step("ranged gets")

listed = s3.list_objects_v2(Bucket="reports", MaxKeys=2)
assert [o["Key"] for o in listed["Contents"]] == ["by-default.txt", "managed.txt"] and listed["IsTruncated"]
rest = s3.list_objects_v2(Bucket="reports", ContinuationToken=listed["NextContinuationToken"])
assert [o["Key"] for o in rest["Contents"]] == ["named.txt"] and not rest["IsTruncated"]
v1 = s3.list_objects(Bucket="reports", Marker="managed.txt")
assert [o["Key"] for o in v1["Contents"]] == ["named.txt"]
versions = s3.list_object_versions(Bucket="reports")
assert all(v["VersionId"] == "null" and v["IsLatest"] for v in versions["Versions"]) and len(versions["Versions"]) == 3
step("ListObjectsV2 pages, ListObjects, ListObjectVersions")

copied = s3.copy_object(
    Bucket="reports", Key="managed.txt", CopySource={"Bucket": "reports", "Key": "managed.txt"},
    ServerSideEncryption="aws:kms", SSEKMSKeyId=CMK,
)
assert copied["ServerSideEncryption"] == "aws:kms" and copied["SSEKMSKeyId"] == CMK, copied
assert s3.get_object(Bucket="reports", Key="managed.txt")["Body"].read() == b"store-managed keys"
step("copy over itself re-encrypts under a new rule")

# An SSE header on a read is refused, as S3 refuses it.
def add_sse(request, **_):
    request.headers["x-amz-server-side-encryption"] = "AES256"


s3.meta.events.register("before-sign.s3.GetObject", add_sse)
code, status = error_code(s3.get_object, Bucket="reports", Key="managed.txt")
assert (code, status) == ("InvalidArgument", 400), (code, status)
s3.meta.events.unregister("before-sign.s3.GetObject", add_sse)
step("SSE headers on a GET are a 400")

# --- Bad requests: S3's codes, and nothing changes.
code, _ = error_code(s3.put_object, Bucket="reports", Key="bad", Body=b"x", ServerSideEncryption="SM4")
assert code == "InvalidArgument", code
code, status = error_code(
    s3.put_object, Bucket="reports", Key="bad", Body=b"x",
    SSECustomerAlgorithm="AES256", SSECustomerKey="k" * 32,
)
assert (code, status) == ("NotImplemented", 501), "SSE-C is refused, never ignored"
put = s3.put_object(Bucket="reports", Key="cond.txt", Body=b"v1")
code, status = error_code(s3.put_object, Bucket="reports", Key="cond.txt", Body=b"v2", IfNoneMatch=put["ETag"])
assert (code, status) == ("PreconditionFailed", 412), (code, status)
s3.put_object(Bucket="reports", Key="cond.txt", Body=b"v2", IfNoneMatch='"another"')
def if_match_any(request, **_):
    request.headers["If-Match"] = "*"
s3.meta.events.register("before-sign.s3.PutObject", if_match_any)
code, status = error_code(s3.put_object, Bucket="reports", Key="absent.txt", Body=b"x")
assert (code, status) == ("PreconditionFailed", 412), (code, status)
s3.put_object(Bucket="reports", Key="cond.txt", Body=b"v3")
s3.meta.events.unregister("before-sign.s3.PutObject", if_match_any)
assert s3.get_object(Bucket="reports", Key="cond.txt")["Body"].read() == b"v3"
s3.delete_object(Bucket="reports", Key="cond.txt")
code, _ = error_code(
    s3.put_bucket_encryption,
    Bucket="reports",
    ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": CMK}}]
    },
)
assert code == "InvalidArgument", code
code, _ = error_code(
    s3.put_bucket_encryption,
    Bucket="reports",
    ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "no-such-key"}}]
    },
)
assert code == "KMS.NotFoundException", code
rule = s3.get_bucket_encryption(Bucket="reports")["ServerSideEncryptionConfiguration"]["Rules"][0]
assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == ALIAS, "a refused rule changes nothing"

upload = s3.create_multipart_upload(Bucket="reports", Key="parts.bin")["UploadId"]
etags = []
for number in (1, 2):
    body = bytes([number]) * (5 << 20)
    etags.append(s3.upload_part(Bucket="reports", Key="parts.bin", UploadId=upload, PartNumber=number, Body=body)["ETag"])
code, _ = error_code(
    s3.complete_multipart_upload, Bucket="reports", Key="parts.bin", UploadId=upload,
    MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}]},
)
assert code == "InvalidPartOrder", code
code, _ = error_code(s3.head_object, Bucket="reports", Key="parts.bin")
assert code == "404", code
parts = s3.list_multipart_uploads(Bucket="reports")["Uploads"]
assert [u["UploadId"] for u in parts] == [upload], parts
listed = s3.list_parts(Bucket="reports", Key="parts.bin", UploadId=upload, MaxParts=1)
assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed["Parts"]] == [(1, etags[0], 5 << 20)], listed
assert listed["IsTruncated"] and listed["NextPartNumberMarker"] == 1, listed
rest = s3.list_parts(Bucket="reports", Key="parts.bin", UploadId=upload, PartNumberMarker=1)
assert [(p["PartNumber"], p["ETag"]) for p in rest["Parts"]] == [(2, etags[1])] and not rest["IsTruncated"], rest
done = s3.complete_multipart_upload(
    Bucket="reports", Key="parts.bin", UploadId=upload,
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 2, "ETag": etags[1]}]},
)
assert done["SSEKMSKeyId"] == CMK, done
assert s3.head_object(Bucket="reports", Key="parts.bin")["ContentLength"] == 10 << 20
step("ListParts pages; a part list out of order is InvalidPartOrder and leaves the upload to complete")


malformed = b"<ServerSideEncryptionConfiguration><Rule>"
request = signed(ENDPOINT, KEY, SECRET, "PUT", "/reports?encryption", malformed, {"Content-Length": str(len(malformed))})
answer = send_raw(request, malformed)
assert " 400 " in answer.split("\r\n")[0] and "MalformedXML" in answer, answer

body = b"the body that was signed"
other = b"another body, same size!"
assert len(body) == len(other)
request = signed(ENDPOINT, KEY, SECRET, "PUT", "/reports/swapped", body, {"Content-Length": str(len(body))})
answer = send_raw(request, other)
assert " 400 " in answer.split("\r\n")[0], answer
assert "XAmzContentSHA256Mismatch" in answer or "BadDigest" in answer or "SignatureDoesNotMatch" in answer, answer
code, _ = error_code(s3.head_object, Bucket="reports", Key="swapped")
assert code == "404", "a body that fails its signature stores nothing"

request = signed(ENDPOINT, KEY, SECRET, "PUT", "/reports/short", None, {"Content-Length": str(2 << 20)})
answer = send_raw(request, b"x" * 1000, close_early=True)
code, _ = error_code(s3.head_object, Bucket="reports", Key="short")
assert code == "404", "a body shorter than its Content-Length stores nothing"
request = signed(ENDPOINT, KEY, SECRET, "PUT", "/reports/skewed", b"late", {"Content-Length": "4"}, skew_seconds=-3600)
answer = send_raw(request, b"late")
assert " 403 " in answer.split("\r\n")[0] and "RequestTimeTooSkewed" in answer, answer
code, _ = error_code(s3.head_object, Bucket="reports", Key="skewed")
assert code == "404", "a request from an hour ago stores nothing"
url = s3.generate_presigned_url("get_object", Params={"Bucket": "reports", "Key": "managed.txt"}, ExpiresIn=1)
time.sleep(2)
answer = requests.get(url, timeout=10)
assert answer.status_code == 403 and b"store-managed" not in answer.content, (answer.status_code, answer.text)
url = s3.generate_presigned_url("get_object", Params={"Bucket": "reports", "Key": "managed.txt"}, ExpiresIn=60)
assert requests.get(url, timeout=10).content == b"store-managed keys"
step("malformed XML, a body for another signature, a short body, a skewed clock, an expired URL: refused, nothing stored")

# --- The aws CLI.
aws = os.environ["COFFER_AWS_BIN"]
env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION=REGION)
workdir = tempfile.mkdtemp()
with open(os.path.join(workdir, "config"), "w") as config:
    config.write("[default]\ns3 =\n    addressing_style = path\n")
env["AWS_CONFIG_FILE"] = os.path.join(workdir, "config")


def cli(*args):
    out = subprocess.run([aws, "--endpoint-url", ENDPOINT, *args], env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"aws {' '.join(args)}: {out.stdout}{out.stderr}"
    return out.stdout


cli("s3api", "create-bucket", "--bucket", "cli-bucket")
cli("s3api", "put-bucket-encryption", "--bucket", "cli-bucket", "--server-side-encryption-configuration",
    json.dumps({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}))
rule = json.loads(cli("s3api", "get-bucket-encryption", "--bucket", "cli-bucket"))
assert rule["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

big = os.path.join(workdir, "big.bin")
with open(big, "wb") as f:
    for i in range(20):
        f.write(bytes([i]) * (1 << 20))
cli("s3", "cp", big, "s3://cli-bucket/big.bin", "--sse", "aws:kms", "--sse-kms-key-id", CMK)
head = json.loads(cli("s3api", "head-object", "--bucket", "cli-bucket", "--key", "big.bin"))
assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == CMK, head
assert head["ContentLength"] == 20 << 20, head
cli("s3", "cp", big, "s3://cli-bucket/default.bin")
head = json.loads(cli("s3api", "head-object", "--bucket", "cli-bucket", "--key", "default.bin"))
assert head["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in head, head
back = os.path.join(workdir, "back.bin")
cli("s3", "cp", "s3://cli-bucket/big.bin", back)
assert open(back, "rb").read() == open(big, "rb").read(), "the multipart upload reads back whole"
part = os.path.join(workdir, "part.bin")
cli("s3api", "get-object", "--bucket", "cli-bucket", "--key", "big.bin", "--range", "bytes=3145720-3145735", part)
assert open(part, "rb").read() == bytes([2]) * 8 + bytes([3]) * 8
listing = cli("s3", "ls", "s3://cli-bucket/")
assert "big.bin" in listing and "default.bin" in listing, listing
cli("s3", "rm", "s3://cli-bucket/default.bin")
step("aws s3api put/get-bucket-encryption, aws s3 cp --sse aws:kms (multipart), head-object, ranged get, ls, rm")
