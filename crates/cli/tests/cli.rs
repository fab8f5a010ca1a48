//! The `coffer` binary as a user runs it: a session from `init` to `verify`,
//! every error path with its message and exit code, `verify` and `audit
//! verify` against a store damaged from outside, the root key kept out of the
//! store's directory, `get` that writes only a fresh owner-only file, and a
//! store a service made over a real OpenBao's Transit operated with `--kms
//! transit` (and refused with the local KMS).

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

struct Session {
    dir: tempfile::TempDir,
}

impl Session {
    fn new() -> Self {
        let session = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        session.ok(&["init", session.store().to_str().expect("utf-8")]);
        session
    }

    fn store(&self) -> std::path::PathBuf {
        self.dir.path().join("store")
    }

    /// Where `coffer init` puts the root key: beside the store's directory.
    fn root_key(&self) -> std::path::PathBuf {
        self.dir.path().join("store.root.key")
    }

    fn file(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::cargo_bin("coffer")
            .expect("binary")
            .env("COFFER_DIR", self.store())
            .env_remove("COFFER_ROOT_KEY_FILE")
            .args(args)
            .output()
            .expect("runs")
    }

    /// Runs a command that must succeed; its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).expect("json")
    }

    /// Creates a CMK with `coffer kms create`; its id.
    fn create_cmk(&self) -> String {
        self.json(&["kms", "create"])["key_id"]
            .as_str()
            .expect("key id")
            .to_owned()
    }

    /// Runs a command that must print a JSON list; the list.
    fn list(&self, args: &[&str]) -> Vec<Value> {
        match self.json(args) {
            Value::Array(items) => items,
            other => panic!("{args:?}: not a list: {other}"),
        }
    }

    /// Runs a command that must fail with `code`, its message containing
    /// `message`.
    fn fails(&self, args: &[&str], code: i32, message: &str) {
        let output = self.run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            stderr.contains(message),
            "{args:?}: {stderr:?} lacks {message:?}"
        );
    }
}

fn write(path: &Path, len: usize, seed: u8) -> Vec<u8> {
    let bytes: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(13) ^ seed)
        .collect();
    std::fs::write(path, &bytes).expect("writes");
    bytes
}

#[test]
fn a_session_from_init_to_verify() {
    let s = Session::new();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.root_key())
        .expect("root key")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    s.ok(&["bucket", "create", "photos"]);
    s.ok(&["bucket", "encryption", "put", "photos", "--sse", "KMS"]);
    let rule = s.json(&["bucket", "encryption", "get", "photos"]);
    assert_eq!(rule["encryption"]["sse"], "KMS");
    let cmk = s.json(&["kms", "create", "--description", "photos"]);
    let cmk = cmk["key_id"].as_str().expect("key id").to_owned();

    let body = write(&s.file("big.bin"), 3 << 20, 1);
    let put = s.json(&[
        "put",
        s.file("big.bin").to_str().expect("utf-8"),
        "photos/2026/big.bin",
        "--content-type",
        "image/jpeg",
        "--meta",
        "owner=alice",
    ]);
    assert_eq!(put["protection"]["mode"], "KMS");
    let head = s.json(&["head", "photos/2026/big.bin"]);
    assert_eq!(head["bucket"], "photos");
    assert_eq!(head["key"], "2026/big.bin");
    assert_eq!(head["size"], 3 << 20);
    assert_eq!(head["etag"], put["etag"]);
    assert_eq!(head["content_type"], "image/jpeg");
    assert_eq!(head["metadata"]["owner"], "alice");
    assert_eq!(head["protection"]["mode"], "KMS");
    assert_eq!(head["protection"]["key_version"], 1);

    s.ok(&[
        "get",
        "photos/2026/big.bin",
        s.file("out.bin").to_str().expect("utf-8"),
    ]);
    assert_eq!(std::fs::read(s.file("out.bin")).expect("reads"), body);
    let stdout = s.run(&["get", "photos/2026/big.bin"]).stdout;
    assert_eq!(stdout, body, "to standard output");

    // Re-encrypt over itself under a named CMK; then list.
    let copied = s.json(&[
        "cp",
        "photos/2026/big.bin",
        "photos/2026/big.bin",
        "--sse",
        "KMS",
        "--sse-kms-key-id",
        &cmk,
    ]);
    assert_eq!(copied["protection"]["key_id"], cmk.as_str());
    let listed = s.json(&["ls", "photos/2026/"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["key"], "2026/big.bin");

    // Key usage after a rotation, then a re-encryption moves it.
    s.ok(&["kms", "rotate", &cmk]);
    let usage = s.json(&["keys", "usage", "--bucket", "photos"]);
    assert_eq!(usage["usage"][0]["key_id"], cmk.as_str());
    assert_eq!(usage["usage"][0]["key_version"], 1);
    s.ok(&["cp", "photos/2026/big.bin", "photos/2026/big.bin"]);

    let report = s.json(&["verify"]);
    assert_eq!(report["objects"], 1);
    assert_eq!(report["problems"].as_array().map(Vec::len), Some(0));
    s.ok(&["rm", "photos/2026/big.bin"]);
    s.ok(&["bucket", "rm", "photos"]);
    assert_eq!(s.json(&["bucket", "ls"]), serde_json::json!([]));
}

#[test]
fn errors_have_their_exit_codes_and_messages() {
    let s = Session::new();
    s.ok(&["bucket", "create", "bkt"]);
    write(&s.file("f"), 10, 1);
    let f = s.file("f");
    let f = f.to_str().expect("utf-8");
    // Not found: 3.
    s.fails(&["get", "bkt/missing"], 3, "no such key");
    s.fails(&["head", "nobucket/k"], 3, "no such bucket");
    s.fails(&["rm", "bkt/missing"], 3, "no such key");
    s.fails(&["put", "/no/such/file", "bkt/k"], 3, "/no/such/file");
    s.fails(&["kms", "describe", "no-such-key"], 3, "no-such-key");
    // Usage: 2.
    s.fails(&["put", f, "no-slash"], 2, "BUCKET/KEY");
    s.fails(&["put", f, "bkt/k", "--sse", "ROT13"], 2, "ROT13");
    s.fails(
        &[
            "put",
            f,
            "bkt/k",
            "--sse",
            "AES256",
            "--sse-kms-key-id",
            "x",
        ],
        2,
        "--sse KMS",
    );
    s.fails(&["put", f, "bkt/k", "--meta", "novalue"], 2, "NAME=VALUE");
    s.fails(&["frobnicate"], 2, "unrecognized subcommand");
    // Already exists: 6.
    s.fails(&["bucket", "create", "bkt"], 6, "bkt");
    s.fails(
        &["init", s.store().to_str().expect("utf-8")],
        6,
        "already holds a store",
    );
    // Access denied: 4 (a disabled CMK; a root key file others can read).
    let cmk = s.create_cmk();
    s.ok(&["put", f, "bkt/k", "--sse", "KMS", "--sse-kms-key-id", &cmk]);
    s.ok(&["kms", "disable", &cmk]);
    s.fails(
        &["get", "bkt/k", s.file("o").to_str().expect("utf-8")],
        4,
        "disabled",
    );
    assert!(!s.file("o").exists(), "no partial file is left");
    s.ok(&["kms", "enable", &cmk]);
    use std::os::unix::fs::PermissionsExt;
    let key = s.root_key();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    s.fails(&["bucket", "ls"], 4, "chmod 600");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // No store given: 2; a directory with no store: 3.
    let output = Command::cargo_bin("coffer")
        .expect("binary")
        .env_remove("COFFER_DIR")
        .args(["bucket", "ls"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("COFFER_DIR"));
}

#[test]
fn verify_names_each_damaged_object_and_exits_5() {
    let s = Session::new();
    s.ok(&["bucket", "create", "bkt"]);
    s.ok(&["bucket", "encryption", "put", "bkt", "--sse", "AES256"]);
    for (name, len) in [
        ("healthy-small", 100),
        ("healthy-big", 2 << 20),
        ("victim", 100),
    ] {
        write(&s.file(name), len, 7);
        s.ok(&[
            "put",
            s.file(name).to_str().expect("utf-8"),
            &format!("bkt/{name}"),
        ]);
    }
    // Edit the victim's record from outside, as an attacker with the
    // directory would.
    {
        let path = s.store();
        let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).expect("families");
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &path, names).expect("opens");
        let objects = db.cf_handle("objects").expect("objects");
        let mut value = db
            .get_cf(objects, b"bkt\0victim")
            .expect("reads")
            .expect("present");
        let at = value.len() - 5;
        value[at] ^= 1;
        db.put_cf(objects, b"bkt\0victim", value).expect("writes");
    }
    let output = s.run(&["verify"]);
    assert_eq!(output.status.code(), Some(5));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("bkt/victim: damaged-record"), "{stdout}");
    assert!(!stdout.contains("healthy"), "{stdout}");
    assert!(stdout.contains("checked 3 objects"), "{stdout}");
    s.fails(&["get", "bkt/victim"], 5, "bkt/victim");
    // A damaged object can still be removed; then the store verifies clean.
    s.ok(&["rm", "bkt/victim"]);
    s.ok(&["verify", "bkt"]);
}

#[test]
fn a_rewrap_job_killed_twice_resumes_and_the_report_proves_it() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let s = Session::new();
    const OBJECTS: usize = 1500;
    {
        let root = coffer_store::RootKey::from_file(s.root_key()).expect("root");
        let store = coffer_store::Store::open(s.store(), coffer_store::StoreOptions::new(root))
            .expect("opens");
        store.create_bucket("bkt").expect("bucket");
        for i in 0..OBJECTS {
            store
                .put_object(
                    "bkt",
                    &format!("k{i:05}"),
                    bytes::Bytes::from(vec![i as u8; 64]),
                    coffer_store::PutOptions::managed(),
                )
                .expect("put");
        }
        store.rotate_master_key().expect("rotate");
        store.close().expect("close");
    }
    // Starts a job command, waits for its id line, lets it work, kills it.
    let start_and_kill = |args: &[&str]| -> String {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("coffer"))
            .env("COFFER_DIR", s.store())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        let mut line = String::new();
        BufReader::new(child.stderr.take().expect("stderr"))
            .read_line(&mut line)
            .expect("reads");
        std::thread::sleep(std::time::Duration::from_millis(900));
        child.kill().expect("SIGKILL");
        child.wait().expect("waits");
        line.split_whitespace().nth(1).expect("job id").to_owned()
    };
    let id = start_and_kill(&["job", "rewrap", "bkt", "--objects-per-second", "400"]);
    let first = s.json(&["job", "status", &id]);
    assert_eq!(first["state"], "running", "killed, not finished: {first}");
    let after_first = first["done"].as_u64().expect("done");
    assert!(after_first > 0 && after_first < OBJECTS as u64, "{first}");
    assert_eq!(
        start_and_kill(&["job", "resume", &id, "--objects-per-second", "400"]),
        id
    );
    let second = s.json(&["job", "status", &id]);
    let after_second = second["done"].as_u64().expect("done");
    assert!(
        after_second > after_first && after_second < OBJECTS as u64,
        "{second}"
    );
    // Before it is done, the report shows objects left under version 1.
    let usage = s.json(&["keys", "usage", "--bucket", "bkt"]);
    assert!(
        usage["usage"]
            .as_array()
            .expect("usage")
            .iter()
            .any(|u| u["key_version"] == 1)
    );

    let done = s.json(&["job", "resume", &id]);
    assert_eq!(done["state"], "done");
    // Objects done after a run's last checkpoint are looked at again on
    // resume and found current (a no-op, counted as skipped): at most one
    // checkpoint interval per kill; every object is covered.
    let (changed, skipped) = (
        done["done"].as_u64().expect("done"),
        done["skipped"].as_u64().expect("skipped"),
    );
    assert!(changed <= OBJECTS as u64, "{done}");
    assert!(
        changed + skipped >= OBJECTS as u64,
        "every object looked at: {done}"
    );
    assert!(changed + skipped <= OBJECTS as u64 + 2 * 256, "{done}");
    assert_eq!(done["failed"], 0);
    let usage = s.json(&["keys", "usage", "--bucket", "bkt"]);
    let versions: Vec<&Value> = usage["usage"]
        .as_array()
        .expect("usage")
        .iter()
        .map(|u| &u["key_version"])
        .collect();
    assert_eq!(versions, [&Value::from(2)], "{usage}");
    assert_eq!(s.json(&["keys", "retire"])["oldest_master_key_version"], 2);
    s.ok(&["verify"]);
    s.fails(&["job", "status", "0123"], 3, "no such job");
    s.fails(&["job", "resume", &id], 2, "cannot be changed");
}

/// The DER inside a PEM public key.
fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64")
}

#[test]
fn byok_import_and_the_audit_log_from_the_command_line() {
    let s = Session::new();
    let created = s.json(&["kms", "create", "--external", "--description", "byok"]);
    let key = created["key_id"].as_str().expect("key id").to_owned();
    assert_eq!(created["state"], "pendingimport", "{created}");
    let pem_path = s.file("wrapping.pem");
    let params = s.json(&[
        "kms",
        "import-params",
        &key,
        "--public-key-out",
        pem_path.to_str().expect("utf-8"),
    ]);
    let token = params["import_token"].as_str().expect("token").to_owned();
    let pem = std::fs::read_to_string(&pem_path).expect("pem written");
    assert_eq!(params["public_key_pem"], pem.as_str());
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    // The key owner's side, as `openssl pkeyutl` would do it.
    let parameters = coffer_keyring::ImportParameters {
        key_id: key.clone(),
        wrapping_key_spec: coffer_keyring::WrappingKeySpec::Rsa2048,
        public_key_der: pem_to_der(&pem),
        public_key_pem: pem.clone(),
        import_token: token.clone(),
        expires_at: std::time::SystemTime::now(),
    };
    let wrapped =
        coffer_keyring::wrap_key_material_for_import(&parameters, &[0x5A; 32]).expect("wraps");
    let wrapped_path = s.file("wrapped.bin");
    std::fs::write(&wrapped_path, wrapped).expect("writes");
    let material = wrapped_path.to_str().expect("utf-8");
    s.ok(&[
        "kms",
        "import",
        &key,
        "--token",
        &token,
        "--material",
        material,
    ]);
    assert_eq!(s.json(&["kms", "describe", &key])["state"], "enabled");
    // The token is single-use; a missing file is not found.
    s.fails(
        &[
            "kms",
            "import",
            &key,
            "--token",
            &token,
            "--material",
            material,
        ],
        2,
        "invalid import token",
    );
    s.fails(
        &[
            "kms",
            "import",
            &key,
            "--token",
            &token,
            "--material",
            "/nonexistent",
        ],
        3,
        "/nonexistent",
    );
    // Objects under the imported key, then what the log says.
    s.ok(&["bucket", "create", "vault"]);
    let file = s.file("doc");
    write(&file, 1000, 3);
    s.ok(&[
        "put",
        file.to_str().expect("utf-8"),
        "vault/doc",
        "--sse",
        "KMS",
        "--sse-kms-key-id",
        &key,
    ]);
    s.ok(&["get", "vault/doc", s.file("back").to_str().expect("utf-8")]);

    let events = s.list(&["audit", "query", "--key-id", &key]);
    let actions: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().expect("action"),
                e["outcome"].as_str().expect("outcome"),
            )
        })
        .collect();
    for expected in [
        ("kms:CreateKey", "allowed"),
        ("kms:GetParametersForImport", "allowed"),
        ("kms:ImportKeyMaterial", "allowed"),
        ("kms:ImportKeyMaterial", "failed"),
        ("kms:GenerateDataKey", "allowed"),
        ("kms:Decrypt", "allowed"),
    ] {
        assert!(
            actions.contains(&expected),
            "{expected:?} not in {actions:?}"
        );
    }
    assert!(events.iter().all(|e| e["key_id"] == key.as_str()));
    let decrypt = events
        .iter()
        .find(|e| e["action"] == "kms:Decrypt")
        .expect("decrypt");
    assert_eq!(decrypt["bucket"], "vault");
    assert_eq!(decrypt["object_key"], "doc");
    assert_eq!(decrypt["key_version"], 1);
    assert_eq!(decrypt["caller"], "trusted");

    let failed = s.list(&["audit", "query", "--outcome", "failed"]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["error"], "invalid import token");
    assert!(
        s.list(&["audit", "query", "--outcome", "denied"])
            .is_empty()
    );
    assert!(
        s.list(&["audit", "query", "--since", "2099-01-01T00:00:00Z"])
            .is_empty()
    );
    assert!(
        !s.list(&["audit", "query", "--since", "1h", "--caller", "trusted"])
            .is_empty()
    );
    assert_eq!(s.list(&["audit", "query", "--limit", "2"]).len(), 2);
    let text = s.ok(&["audit", "query", "--key-id", &key]);
    assert!(
        text.contains("kms:Decrypt") && text.contains("vault/doc"),
        "{text}"
    );
    s.fails(
        &["audit", "query", "--since", "yesterday-ish"],
        2,
        "neither an RFC 3339 time",
    );
    s.fails(&["audit", "query", "--outcome", "maybe"], 2, "maybe");
    s.fails(&["audit", "prune"], 2, "--older-than");
    let before = s.list(&["audit", "query"]).len() as u64;
    let pruned = s.json(&["audit", "prune", "--older-than", "0s"]);
    assert_eq!(
        pruned["removed"],
        before - 1,
        "all but the newest: {pruned}"
    );
    // What is left: the newest event, and the prune's record of itself,
    // saying what it removed.
    let left = s.list(&["audit", "query"]);
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[1]["action"], "coffer:PruneAuditLog");
    let detail = left[1]["detail"].as_str().expect("a detail");
    assert!(
        detail.starts_with(&format!("removing {} events", before - 1)),
        "{detail}"
    );
    assert!(s.ok(&["audit", "verify"]).contains("the log is whole"));
}

#[test]
fn keys_retire_raises_a_cmks_minimum_version_once_nothing_uses_the_old_one() {
    let s = Session::new();
    let key = s.create_cmk();
    s.ok(&["bucket", "create", "bkt"]);
    s.ok(&[
        "bucket",
        "encryption",
        "put",
        "bkt",
        "--sse",
        "KMS",
        "--sse-kms-key-id",
        &key,
    ]);
    let file = s.file("f");
    for name in ["bkt/one", "bkt/two"] {
        write(&file, 3000, 1);
        s.ok(&["put", file.to_str().expect("utf-8"), name]);
    }
    s.ok(&["kms", "rotate", &key]);
    let retired = s.json(&["keys", "retire", "--kms-key-id", &key]);
    assert_eq!(
        retired["min_decryption_version"], 1,
        "objects still under v1"
    );
    s.ok(&["job", "rewrap", "bkt"]);
    let retired = s.json(&["keys", "retire", "--kms-key-id", &key]);
    assert_eq!(retired["min_decryption_version"], 2);
    assert!(
        s.ok(&["keys", "retire", "--kms-key-id", &key])
            .contains("versions below 2 are retired")
    );
    s.ok(&["get", "bkt/one", s.file("back").to_str().expect("utf-8")]);
    s.fails(
        &["keys", "retire", "--kms-key-id", "no-such-key"],
        3,
        "no-such-key",
    );
}

#[test]
fn audit_query_reads_around_a_planted_entry_and_exits_5() {
    let s = Session::new();
    let key = s.create_cmk();
    {
        let options = rocksdb::Options::default();
        let families = rocksdb::DB::list_cf(&options, s.store()).expect("families");
        let db = rocksdb::DB::open_cf(&options, s.store(), &families).expect("raw open");
        let audit = db.cf_handle("audit").expect("audit family");
        db.put_cf(audit, [0xEE; 16], b"{\"forged\":true}")
            .expect("plant");
    }
    let output = s.run(&["--json", "audit", "query"]);
    assert_eq!(output.status.code(), Some(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("audit event {}", "ee".repeat(16))),
        "{stderr}"
    );
    let events: Value = serde_json::from_slice(&output.stdout).expect("json");
    let events = events.as_array().expect("a list");
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "kms:CreateKey" && e["key_id"] == key.as_str()),
        "the real events still print: {events:?}"
    );
}

#[test]
fn audit_verify_says_the_log_is_whole_and_names_an_edit() {
    let s = Session::new();
    s.create_cmk();
    s.create_cmk();
    let report = s.json(&["audit", "verify"]);
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    assert!(report["events"].as_u64().expect("a count") >= 2);
    assert!(s.ok(&["audit", "verify"]).contains("the log is whole"));
    {
        let options = rocksdb::Options::default();
        let families = rocksdb::DB::list_cf(&options, s.store()).expect("families");
        let db = rocksdb::DB::open_cf(&options, s.store(), &families).expect("raw open");
        let audit = db.cf_handle("audit").expect("audit family");
        let (first, _) = db
            .iterator_cf(audit, rocksdb::IteratorMode::Start)
            .next()
            .expect("an event")
            .expect("reads");
        db.delete_cf(audit, &first)
            .expect("removes the oldest event");
    }
    let output = s.run(&["audit", "verify"]);
    assert_eq!(output.status.code(), Some(5));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("missing: removed"), "{stdout}");
    assert!(stdout.contains("1 problem(s)"), "{stdout}");
}

#[test]
fn the_root_key_stays_out_of_the_store_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("inside");
    let store_arg = store.to_str().expect("utf-8");
    let inside = store.join("root.key");
    let run = |args: &[&str]| {
        Command::cargo_bin("coffer")
            .expect("binary")
            .env_remove("COFFER_DIR")
            .env_remove("COFFER_ROOT_KEY_FILE")
            .args(args)
            .output()
            .expect("runs")
    };
    let refused = run(&[
        "init",
        store_arg,
        "--root-key-file",
        inside.to_str().expect("utf-8"),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("inside the store's directory"), "{stderr}");
    assert!(!store.exists() && !inside.exists(), "nothing was created");
    // Asked for by name, it is allowed (a throwaway store).
    let allowed = run(&[
        "init",
        store_arg,
        "--root-key-file",
        inside.to_str().expect("utf-8"),
        "--unsafe-root-key-in-store-dir",
    ]);
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    // Without the flag the store will not open with it (the layout earlier
    // versions made): the message says where to move the key.
    let refused = run(&[
        "--dir",
        store_arg,
        "--root-key-file",
        inside.to_str().expect("utf-8"),
        "bucket",
        "ls",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("inside.root.key"));
    // A copy of a directory made with the default layout holds no key: it
    // does not open.
    let s = Session::new();
    s.ok(&["bucket", "create", "bkt"]);
    assert!(s.root_key().exists() && !s.store().join("root.key").exists());
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).expect("mkdir");
    for entry in std::fs::read_dir(s.store()).expect("lists") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), copy.join(entry.file_name())).expect("copies");
    }
    let copied = run(&["--dir", copy.to_str().expect("utf-8"), "bucket", "ls"]);
    assert_eq!(
        copied.status.code(),
        Some(3),
        "the copy has no root key beside it"
    );
}

#[test]
fn get_writes_a_fresh_owner_only_file_and_follows_no_link() {
    use std::os::unix::fs::PermissionsExt;
    let s = Session::new();
    s.ok(&["bucket", "create", "bkt"]);
    let body = write(&s.file("in"), 200_000, 3);
    s.ok(&[
        "put",
        s.file("in").to_str().expect("utf-8"),
        "bkt/k",
        "--sse",
        "AES256",
    ]);
    // Where an earlier version wrote its partial file, a link an attacker
    // left: it must not be followed.
    let victim = s.file("victim");
    std::fs::write(&victim, b"untouched").expect("writes");
    std::os::unix::fs::symlink(&victim, s.file("a.coffer-partial")).expect("links");
    s.ok(&["get", "bkt/k", s.file("a.txt").to_str().expect("utf-8")]);
    s.ok(&["get", "bkt/k", s.file("a.pdf").to_str().expect("utf-8")]);
    assert_eq!(std::fs::read(&victim).expect("reads"), b"untouched");
    for name in ["a.txt", "a.pdf"] {
        let path = s.file(name);
        assert_eq!(std::fs::read(&path).expect("reads"), body);
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path())
        .expect("lists")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".coffer-get-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_store_a_transit_service_made_is_operated_with_kms_transit() {
    use coffer_kms_vault::TransitKms;
    use coffer_kms_vault::dev_server::{BaoServer, key_name};
    use coffer_store::{PutOptions, Store, StoreOptions};

    let Some(server) = BaoServer::start() else {
        return;
    };
    let name = key_name("svc");
    server.client().create_key(&name).expect("a Transit key");
    let dir = tempfile::tempdir().expect("tempdir");
    let store_dir = dir.path().join("store");
    let root_file = dir.path().join("store.root.key");
    let root = coffer_store::RootKey::create_key_file(&root_file).expect("root key");
    // The service: the library over Transit.
    {
        let store = Store::create(
            &store_dir,
            StoreOptions::new(root).with_kms(std::sync::Arc::new(TransitKms::from_client(
                server.client(),
            ))),
        )
        .expect("creates");
        store.create_bucket("svc").expect("bucket");
        store
            .put_object(
                "svc",
                "from-service",
                bytes::Bytes::from_static(b"written by the service"),
                PutOptions::kms(Some(&name)),
            )
            .expect("put");
        store.close().expect("closes");
    }
    let coffer = |kms: &str, args: &[&str]| {
        Command::cargo_bin("coffer")
            .expect("binary")
            .env("COFFER_DIR", &store_dir)
            .env_remove("COFFER_ROOT_KEY_FILE")
            .env("COFFER_KMS", kms)
            .env("BAO_ADDR", server.address())
            .env("BAO_TOKEN", server.root_token())
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .env_remove("BAO_NAMESPACE")
            .args(args)
            .output()
            .expect("runs")
    };
    // With the local KMS the store is refused, naming both backends.
    let refused = coffer("local", &["put", "/dev/null", "svc/x", "--sse", "KMS"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("transit") && stderr.contains("local"),
        "{stderr}"
    );
    // With Transit, end to end.
    let ok = |args: &[&str]| {
        let output = coffer("transit", args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let file = dir.path().join("in");
    std::fs::write(&file, b"written by the operator").expect("writes");
    let file = file.to_str().expect("utf-8");
    ok(&[
        "put",
        file,
        "svc/from-cli",
        "--sse",
        "KMS",
        "--sse-kms-key-id",
        &name,
    ]);
    assert_eq!(ok(&["get", "svc/from-service"]), "written by the service");
    let head: Value = serde_json::from_str(&ok(&["--json", "head", "svc/from-cli"])).expect("json");
    assert_eq!(head["protection"]["key_id"], name.as_str());
    ok(&["put", file, "svc/managed", "--sse", "AES256"]);
    let job: Value = serde_json::from_str(&ok(&[
        "--json",
        "job",
        "reencrypt",
        "svc",
        "--sse",
        "KMS",
        "--sse-kms-key-id",
        &name,
    ]))
    .expect("json");
    assert_eq!(job["state"], "done", "{job}");
    let report: Value = serde_json::from_str(&ok(&["--json", "verify"])).expect("json");
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    assert_eq!(report["objects"], 3);
    assert!(ok(&["audit", "verify"]).contains("the log is whole"));
    // The service reads what the operator wrote.
    let store = Store::open(
        &store_dir,
        StoreOptions::new(coffer_store::RootKey::from_file(&root_file).expect("root")).with_kms(
            std::sync::Arc::new(TransitKms::from_client(server.client())),
        ),
    )
    .expect("the service opens it again");
    assert_eq!(
        store.get_object("svc", "from-cli").expect("reads").body,
        bytes::Bytes::from_static(b"written by the operator")
    );
    let managed = store.head_object("svc", "managed").expect("head");
    assert_eq!(
        managed.protection.kms_key_id.as_deref(),
        Some(name.as_str())
    );
}

#[test]
fn serve_answers_s3_clients_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};

    let session = Session::new();
    session.ok(&["bucket", "create", "served"]);
    let config = session.file("gateway.toml");
    std::fs::write(
        &config,
        "[[access_keys]]\nid = \"AKIDSERVE\"\nsecret = \"serve-secret\"\ntrusted = true\n",
    )
    .expect("config");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("coffer"))
        .env("COFFER_DIR", session.store())
        .args(["--json", "serve", "--config"])
        .arg(&config)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("serves");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first: Value =
        serde_json::from_str(&lines.next().expect("a line").expect("reads")).expect("json");
    let address = first["listening"].as_str().expect("an address").to_owned();

    // An unsigned request is refused with S3's error document.
    let mut socket = std::net::TcpStream::connect(&address).expect("connects");
    write!(
        socket,
        "GET /served HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("writes");
    let mut answer = String::new();
    socket.read_to_string(&mut answer).expect("reads");
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("<Code>AccessDenied</Code>"), "{answer}");

    // The aws CLI signs for real.
    let uploaded = session.file("uploaded.bin");
    let bytes = write(&uploaded, 3 << 20, 9);
    if let Some((_, aws)) = coffer_test_servers::python_and_aws_cli(&["botocore"]) {
        let out = std::process::Command::new(aws)
            .env("AWS_ACCESS_KEY_ID", "AKIDSERVE")
            .env("AWS_SECRET_ACCESS_KEY", "serve-secret")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .args(["--endpoint-url", &format!("http://{address}")])
            .args(["s3", "cp", "--sse", "AES256"])
            .arg(&uploaded)
            .arg("s3://served/uploaded.bin")
            .output()
            .expect("aws runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("exits");
    assert!(status.success(), "{status}");
    let last: Value =
        serde_json::from_str(&lines.next().expect("a line").expect("reads")).expect("json");
    assert_eq!(last["stopped"], true);
    assert!(std::net::TcpStream::connect(&address).is_err());

    if coffer_test_servers::python_and_aws_cli(&["botocore"]).is_some() {
        let back = session.file("back.bin");
        session.ok(&["get", "served/uploaded.bin", back.to_str().expect("utf-8")]);
        assert_eq!(std::fs::read(&back).expect("reads"), bytes);
        let head = session.json(&["head", "served/uploaded.bin"]);
        assert_eq!(head["protection"]["mode"], "AES256", "{head}");
    }
}

#[test]
fn serve_keeps_a_store_in_an_s3_bucket_across_restarts() {
    use std::io::{BufRead, BufReader};

    let Some((_, aws)) = coffer_test_servers::python_and_aws_cli(&["botocore"]) else {
        return;
    };
    let Some(moto) = coffer_kms_aws::dev_server::MotoServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let aws_at = |endpoint: &str, id: &str, secret: &str, args: &[&str]| {
        let out = std::process::Command::new(&aws)
            .env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .args(["--endpoint-url", endpoint])
            .args(args)
            .output()
            .expect("aws runs");
        assert!(
            out.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    aws_at(
        moto.endpoint(),
        "testing",
        "testing",
        &["s3api", "create-bucket", "--bucket", "coffer-data"],
    );
    std::fs::write(dir.path().join("s3.secret"), "testing\n").expect("secret");
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[engine]\nkind = \"s3\"\nendpoint = \"{}\"\nbucket = \"coffer-data\"\naccess_key_id = \"testing\"\n\
             secret_access_key_file = \"s3.secret\"\nallow_http = true\nroot_key_file = \"remote.root.key\"\ncreate = true\n\n\
             [[access_keys]]\nid = \"AKIDSERVE\"\nsecret = \"serve-secret\"\ntrusted = true\n",
            moto.endpoint()
        ),
    )
    .expect("config");
    let serve = || {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("coffer"))
            .env_remove("COFFER_DIR")
            .args(["--json", "serve", "--config"])
            .arg(&config)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("serves");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first: Value =
            serde_json::from_str(&lines.next().expect("a line").expect("reads")).expect("json");
        let address = first["listening"].as_str().expect("an address").to_owned();
        // The reader stays with the child: it prints once more when it stops.
        ((child, lines), format!("http://{address}"))
    };
    let stop = |(mut child, _lines): (
        std::process::Child,
        std::io::Lines<BufReader<std::process::ChildStdout>>,
    )| {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        assert!(child.wait().expect("exits").success());
    };
    let uploaded = dir.path().join("report.bin");
    let bytes = write(&uploaded, 7 << 20, 3);

    let (first, endpoint) = serve();
    let gateway = |args: &[&str]| aws_at(&endpoint, "AKIDSERVE", "serve-secret", args);
    gateway(&["s3api", "create-bucket", "--bucket", "reports"]);
    gateway(&[
        "s3",
        "cp",
        "--sse",
        "aws:kms",
        uploaded.to_str().expect("utf-8"),
        "s3://reports/report.bin",
    ]);
    let head: Value = serde_json::from_str(&gateway(&[
        "s3api",
        "head-object",
        "--bucket",
        "reports",
        "--key",
        "report.bin",
    ]))
    .expect("json");
    assert_eq!(head["ServerSideEncryption"], "aws:kms", "{head}");
    assert_eq!(head["ContentLength"], 7 << 20, "{head}");
    stop(first);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("remote.root.key"))
            .expect("the root key file was made")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // Opened again from the bucket: the object is there and reads whole.
    let (second, endpoint) = serve();
    let back = dir.path().join("back.bin");
    aws_at(
        &endpoint,
        "AKIDSERVE",
        "serve-secret",
        &[
            "s3",
            "cp",
            "s3://reports/report.bin",
            back.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(std::fs::read(&back).expect("reads"), bytes);
    stop(second);
    // Nothing of the plaintext is in the S3 bucket under its name.
    let listed = aws_at(
        moto.endpoint(),
        "testing",
        "testing",
        &["s3api", "list-objects-v2", "--bucket", "coffer-data"],
    );
    assert!(listed.contains("report.bin"), "{listed}");
}
