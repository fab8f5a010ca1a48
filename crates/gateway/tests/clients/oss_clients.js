// The gateway from the OSS SDK for Node.js (ali-oss, npm), as the guide uses it.
//
// Run by tests/it/oss_clients.rs against a gateway it started:
//     node oss_clients.js ENDPOINT ACCESS_KEY SECRET CMK_ID
// (with NODE_PATH naming the node_modules that holds ali-oss). First the
// guide's snippet for setting a bucket's encryption, with only the endpoint,
// credentials and bucket replaced; then uploads with and without
// x-oss-server-side-encryption and downloads, checked against the guide.
const assert = require("assert");

const [endpoint, accessKeyId, accessKeySecret, cmk] = process.argv.slice(2);

// The guide's snippet (Node.js), endpoint, credentials and bucket replaced:
// ---------------------------------------------------------------------------
const OSS = require("ali-oss");

const store = new OSS({
  // yourregion填写Bucket所在地域。以华东1(杭州)为例,Region填写为oss-cn-hangzhou。
  endpoint: endpoint,
  // 阿里云账号AccessKey拥有所有API的访问权限,风险很高。强烈建议您创建并使用RAM用户进行API访问或日常运维,请登录RAM控制台创建RAM用户。
  accessKeyId: accessKeyId,
  accessKeySecret: accessKeySecret,
  // yourbucketname填写存储空间名称。
  bucket: "node-bucket",
});

async function putBucketEncryption() {
  try {
    // 配置Bucket加密方式。

    const result = await store.putBucketEncryption("node-bucket", {
      SSEAlgorithm: "AES256", // 此处以设置AES256加密为例。若使用KMS加密,需添加KMSMasterKeyID属性。
      // KMSMasterKeyID:“yourKMSMasterKeyId”,设置KMS密钥ID,加密方式为KMS可设置此项。当SSEAlgorithm值为KMS,且使用指定的密钥加密时,需输入密钥ID。其他情况下,必须为空。
    });
    console.log(result);
  } catch (e) {
    console.log(e);
    throw e;
  }
}
// ---------------------------------------------------------------------------

function step(name) {
  console.log("ok:", name);
}

async function main() {
  await store.putBucket("node-bucket"); // (not in the guide: its bucket exists already)
  await putBucketEncryption();
  const rule = await store.getBucketEncryption("node-bucket");
  assert.strictEqual(rule.encryption.SSEAlgorithm, "AES256", JSON.stringify(rule.encryption));
  step("the guide's snippet sets AES256 as the bucket default");

  let put = await store.put("by-default.txt", Buffer.from("the bucket default"));
  assert.strictEqual(put.res.headers["x-oss-server-side-encryption"], "AES256");
  put = await store.put("named.txt", Buffer.from("a named CMK"), {
    headers: { "x-oss-server-side-encryption": "KMS", "x-oss-server-side-encryption-key-id": cmk },
  });
  assert.strictEqual(put.res.headers["x-oss-server-side-encryption"], "KMS");
  assert.strictEqual(put.res.headers["x-oss-server-side-encryption-key-id"], cmk);
  const got = await store.get("named.txt");
  assert.strictEqual(got.content.toString(), "a named CMK");
  assert.strictEqual(got.res.headers["x-oss-server-side-encryption-key-id"], cmk);
  const head = await store.head("by-default.txt");
  assert.strictEqual(head.res.headers["x-oss-server-side-encryption"], "AES256");
  step("uploads with and without x-oss-server-side-encryption, downloads, heads");

  await store.putBucketEncryption("node-bucket", { SSEAlgorithm: "KMS", KMSMasterKeyID: cmk });
  const kms = await store.getBucketEncryption("node-bucket");
  assert.strictEqual(kms.encryption.SSEAlgorithm, "KMS");
  assert.strictEqual(kms.encryption.KMSMasterKeyID, cmk);
  put = await store.put("after.txt", Buffer.from("KMS by default now"));
  assert.strictEqual(put.res.headers["x-oss-server-side-encryption-key-id"], cmk);
  const listed = await store.list();
  assert.deepStrictEqual(listed.objects.map((o) => o.name), ["after.txt", "by-default.txt", "named.txt"]);
  step("a KMS default with a named CMK, and a listing");

  const v4 = new OSS({
    endpoint, accessKeyId, accessKeySecret, bucket: "node-bucket", region: "oss-cn-hangzhou", authorizationV4: true,
  });
  await v4.put("v4.txt", Buffer.from("signed with V4"), {
    headers: { "x-oss-server-side-encryption": "KMS", "x-oss-server-side-encryption-key-id": cmk },
  });
  const back = await v4.get("v4.txt");
  assert.strictEqual(back.content.toString(), "signed with V4");
  assert.strictEqual(back.res.headers["x-oss-server-side-encryption-key-id"], cmk);
  await v4.delete("v4.txt");
  step("V4 signatures (authorizationV4): put, get, delete");

  const wrong = new OSS({ endpoint, accessKeyId, accessKeySecret: "not-the-secret", bucket: "node-bucket" });
  await assert.rejects(wrong.get("named.txt"), (e) => e.status === 403 && e.code === "SignatureDoesNotMatch");
  step("a wrong secret is refused");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
