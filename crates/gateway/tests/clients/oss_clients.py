"""The gateway from the OSS SDK for Python (oss2, PyPI), as the guide uses it.

Run by tests/it/oss_clients.rs against a gateway it started:
    python oss_clients.py ENDPOINT ACCESS_KEY SECRET CMK_ID
First the guide's own snippet for setting a bucket's encryption, with only the
endpoint, credentials and bucket replaced; then uploads with and without
x-oss-server-side-encryption, downloads, presigned URLs and refusals, each
checked against what the guide says the protection is.
"""

import sys
import time

import oss2
import requests

ENDPOINT, KEY, SECRET, CMK = sys.argv[1:5]


def step(name):
    print("ok:", name, flush=True)


# The guide's snippet (Python), endpoint, credentials and bucket replaced:
# ---------------------------------------------------------------------------
import oss2  # noqa: E402,F811
from oss2.models import ServerSideEncryptionRule  # noqa: E402
# 阿里云账号AccessKey拥有所有API的访问权限,风险很高。强烈建议您创建并使用RAM用户进行API访问或日常运维,请登录RAM控制台创建RAM用户。
auth = oss2.Auth(KEY, SECRET)
# yourEndpoint填写Bucket所在地域对应的Endpoint。以华东1(杭州)为例,Endpoint填写为https://oss-cn-hangzhou.aliyuncs.com。
# 填写Bucket名称,例如examplebucket。
bucket = oss2.Bucket(auth, ENDPOINT, 'examplebucket')

bucket.create_bucket()  # (not in the guide: its bucket exists already)

# 创建Bucket加密配置,以AES256加密为例。
rule = ServerSideEncryptionRule()
rule.sse_algorithm = oss2.SERVER_SIDE_ENCRYPTION_AES256
# 设置KMS密钥ID,加密方式为KMS可设置此项。如需使用指定的密钥加密,需输入指定的CMK ID;若使用OSS托管的CMK进行加密,此项为空。使用AES256进行加密时,此项必须为空。
rule.kms_master_keyid = ""

# 设置Bucket加密。
result = bucket.put_bucket_encryption(rule)

# 查看HTTP返回码。
print('http response code:', result.status)
# ---------------------------------------------------------------------------
assert result.status == 200
got = bucket.get_bucket_encryption()
assert got.sse_algorithm == "AES256" and not got.kms_master_keyid, vars(got)
step("the guide's snippet sets AES256 as the bucket default")

SSE = "x-oss-server-side-encryption"
KEY_ID = "x-oss-server-side-encryption-key-id"

put = bucket.put_object("by-default.txt", b"the bucket default: AES256")
assert put.headers[SSE] == "AES256" and KEY_ID not in put.headers, dict(put.headers)
got = bucket.get_object("by-default.txt")
assert got.read() == b"the bucket default: AES256" and got.headers[SSE] == "AES256"
put = bucket.put_object("managed-kms.txt", b"the default managed CMK", headers={SSE: "KMS"})
default_cmk = put.headers[KEY_ID]
assert put.headers[SSE] == "KMS" and default_cmk and not default_cmk.startswith("alias/"), dict(put.headers)
put = bucket.put_object("named-cmk.txt", b"a named CMK", headers={SSE: "KMS", KEY_ID: CMK})
assert put.headers[SSE] == "KMS" and put.headers[KEY_ID] == CMK, dict(put.headers)
head = bucket.head_object("named-cmk.txt")
assert head.headers[SSE] == "KMS" and head.headers[KEY_ID] == CMK and head.content_length == 11
got = bucket.get_object("managed-kms.txt")
assert got.read() == b"the default managed CMK" and got.headers[KEY_ID] == default_cmk
step("uploads with and without x-oss-server-side-encryption, reported on put, head and get")

rule = ServerSideEncryptionRule()
rule.sse_algorithm = oss2.SERVER_SIDE_ENCRYPTION_KMS
rule.kms_master_keyid = CMK
bucket.put_bucket_encryption(rule)
got = bucket.get_bucket_encryption()
assert got.sse_algorithm == "KMS" and got.kms_master_keyid == CMK, vars(got)
put = bucket.put_object("after-kms-default.txt", b"now KMS by default")
assert put.headers[SSE] == "KMS" and put.headers[KEY_ID] == CMK
assert bucket.head_object("by-default.txt").headers[SSE] == "AES256", "objects already stored are untouched"
bucket.put_object("meta.txt", b"m", headers={"x-oss-meta-owner": "alice"})
assert bucket.head_object("meta.txt").headers["x-oss-meta-owner"] == "alice"
step("a KMS default with a named CMK applies to new objects only")

upload = bucket.init_multipart_upload("parts.bin", headers={SSE: "KMS", KEY_ID: CMK}).upload_id
parts = []
for number in (1, 2):
    body = bytes([number]) * (5 << 20 if number == 1 else 1000)
    result = bucket.upload_part("parts.bin", upload, number, body)
    parts.append(oss2.models.PartInfo(number, result.etag))
bucket.complete_multipart_upload("parts.bin", upload, parts)
head = bucket.head_object("parts.bin")
assert head.content_length == (5 << 20) + 1000 and head.headers[KEY_ID] == CMK, dict(head.headers)
ranged = bucket.get_object("parts.bin", byte_range=((5 << 20) - 2, (5 << 20) + 1)).read()
assert ranged == b"\x01\x01\x02\x02", ranged
keys = [o.key for o in oss2.ObjectIterator(bucket)]
assert keys == sorted(["after-kms-default.txt", "by-default.txt", "managed-kms.txt", "meta.txt", "named-cmk.txt", "parts.bin"]), keys
step("a multipart upload under a named CMK, a ranged download, a listing")

url = bucket.sign_url("GET", "named-cmk.txt", 60)
answer = requests.get(url, timeout=10)
assert answer.status_code == 200 and answer.content == b"a named CMK", (answer.status_code, answer.text)
expired = bucket.sign_url("GET", "named-cmk.txt", -60)
answer = requests.get(expired, timeout=10)
assert answer.status_code == 403 and "AccessDenied" in answer.text, answer.text
tampered = url.replace("named-cmk.txt", "by-default.txt")
answer = requests.get(tampered, timeout=10)
assert answer.status_code == 403 and "SignatureDoesNotMatch" in answer.text, answer.text
step("presigned URLs: one that works, one expired, one pointed at another object")

v4 = oss2.Bucket(oss2.AuthV4(KEY, SECRET), ENDPOINT, "examplebucket", region="cn-hangzhou")
put = v4.put_object("v4 key+name.txt", b"signed with V4", headers={SSE: "KMS", KEY_ID: CMK, "x-oss-meta-via": "v4"})
assert put.headers[SSE] == "KMS" and put.headers[KEY_ID] == CMK, dict(put.headers)
got = v4.get_object("v4 key+name.txt")
assert got.read() == b"signed with V4" and got.headers["x-oss-meta-via"] == "v4"
listed = v4.list_objects(prefix="v4 ", max_keys=10)
assert [o.key for o in listed.object_list] == ["v4 key+name.txt"], [o.key for o in listed.object_list]
v4.delete_object("v4 key+name.txt")
wrong_v4 = oss2.Bucket(oss2.AuthV4(KEY, "not-the-secret"), ENDPOINT, "examplebucket", region="cn-hangzhou")
try:
    wrong_v4.get_object("named-cmk.txt")
    raise AssertionError("a wrong V4 secret reads nothing")
except oss2.exceptions.ServerError as error:
    assert error.status == 403 and error.code == "SignatureDoesNotMatch", (error.status, error.code)
step("V4 signatures (OSS4-HMAC-SHA256): put, get, list and delete; a wrong secret refused")

wrong = oss2.Bucket(oss2.Auth(KEY, "not-the-secret"), ENDPOINT, "examplebucket")
try:
    wrong.get_object("named-cmk.txt")
    raise AssertionError("a wrong secret reads nothing")
except oss2.exceptions.ServerError as error:
    assert error.status == 403 and error.code == "SignatureDoesNotMatch", (error.status, error.code)
try:
    bucket.put_object("bad.txt", b"x", headers={SSE: "SM4-BOGUS"})
    raise AssertionError("an unknown algorithm is refused")
except oss2.exceptions.ServerError as error:
    assert error.status == 400 and error.code == "InvalidArgument", (error.status, error.code)
rule = ServerSideEncryptionRule()
rule.sse_algorithm = oss2.SERVER_SIDE_ENCRYPTION_AES256
rule.kms_master_keyid = CMK
try:
    bucket.put_bucket_encryption(rule)
    raise AssertionError("AES256 with a key id is refused")
except oss2.exceptions.ServerError as error:
    assert error.status == 400 and error.code == "InvalidArgument", (error.status, error.code)
assert bucket.get_bucket_encryption().kms_master_keyid == CMK, "a refused rule changes nothing"
bucket.delete_bucket_encryption()
try:
    bucket.get_bucket_encryption()
    raise AssertionError("no rule after the delete")
except oss2.exceptions.ServerError as error:
    assert error.status == 404 and error.code == "NoSuchServerSideEncryptionRule", (error.status, error.code)
step("refusals: a wrong secret, an unknown algorithm, AES256 with a key id; the rule deleted")
