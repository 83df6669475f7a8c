//! The `duikou` binary: `migrate`, `token`, and the layering of settings (file < environment
//! < flags).

use std::{path::Path, process::Command};

use rusqlite::Connection;

fn duikou() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_duikou"));
    command
        .env_remove("DUIKOU_DATABASE__URL")
        .env_remove("DUIKOU_SERVER__LISTEN")
        .env("RUST_LOG", "warn");
    command
}

fn url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

fn applied_migrations(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT count(*) FROM seaql_migrations", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn migrate_applies_the_schema_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");

    let status = duikou()
        .args(["migrate", "--database-url", &url(&db)])
        .status()
        .unwrap();

    assert!(status.success());
    assert!(applied_migrations(&db) >= 1);
    let regions: i64 = Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM regions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(regions, 0, "migrate alone loads no data");
}

#[test]
fn the_environment_overrides_the_file_and_flags_override_both() {
    let dir = tempfile::tempdir().unwrap();
    let (from_file, from_env, from_flag) = (
        dir.path().join("file.db"),
        dir.path().join("env.db"),
        dir.path().join("flag.db"),
    );
    let config = dir.path().join("duikou.toml");
    std::fs::write(
        &config,
        format!("[database]\nurl = \"{}\"\n", url(&from_file)),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    let file_only = duikou()
        .args(["--config", config, "migrate"])
        .status()
        .unwrap();
    let with_env = duikou()
        .args(["--config", config, "migrate"])
        .env("DUIKOU_DATABASE__URL", url(&from_env))
        .status()
        .unwrap();
    let with_flag = duikou()
        .args([
            "--config",
            config,
            "migrate",
            "--database-url",
            &url(&from_flag),
        ])
        .env("DUIKOU_DATABASE__URL", url(&from_env))
        .status()
        .unwrap();

    assert!(file_only.success() && with_env.success() && with_flag.success());
    for db in [&from_file, &from_env, &from_flag] {
        assert!(applied_migrations(db) >= 2, "{}", db.display());
    }
}

#[test]
fn a_missing_config_file_is_an_error() {
    let output = duikou()
        .args(["--config", "/nonexistent/duikou.toml", "migrate"])
        .output()
        .unwrap();

    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("settings"));
}

/// The lines of a JSON log that say a write changed something.
fn changed_lines(log: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(log)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["message"] == "changed")
        .collect()
}

#[test]
fn a_committed_write_logs_each_change_once_and_a_refused_one_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(&dir.path().join("log.db"));

    let created = duikou()
        .env("RUST_LOG", "info")
        .args(["token", "create", "--role", "admin", "--database-url", &db])
        .output()
        .unwrap();
    let refused = duikou()
        .env("RUST_LOG", "info")
        .args(["token", "revoke", "7", "--database-url", &db])
        .output()
        .unwrap();

    assert!(created.status.success());
    let changed = changed_lines(&created.stderr);
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0]["method"], "duikou token create");
    assert_eq!(changed[0]["resource"], "accessTokens/1");
    assert!(!refused.status.success());
    assert_eq!(
        changed_lines(&refused.stderr),
        Vec::<serde_json::Value>::new()
    );
}

#[test]
fn token_commands_print_the_secret_alone_list_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let db = url(&dir.path().join("t.db"));

    let created = duikou()
        .args([
            "token",
            "create",
            "--role",
            "coordinator",
            "--scope",
            "regions/420300",
        ])
        .args([
            "--label",
            "十堰协作办",
            "--expires-in-days",
            "30",
            "--database-url",
            &db,
        ])
        .output()
        .unwrap();
    let bad_role = duikou()
        .args(["token", "create", "--role", "root", "--database-url", &db])
        .output()
        .unwrap();
    let listed = duikou()
        .args(["token", "list", "--database-url", &db])
        .output()
        .unwrap();
    let revoked = duikou()
        .args(["token", "revoke", "1", "--database-url", &db])
        .status()
        .unwrap();
    let relisted = duikou()
        .args(["token", "list", "--database-url", &db])
        .output()
        .unwrap();

    let secret = String::from_utf8(created.stdout).unwrap();
    assert!(created.status.success());
    assert_eq!(secret.lines().count(), 1, "{secret:?}");
    assert!(secret.starts_with("dk_1_"), "{secret:?}");
    assert!(!bad_role.status.success());
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("COORDINATOR")
            && listed.contains("十堰协作办")
            && listed.contains("expires")
    );
    assert!(!listed.contains(secret.trim()));
    assert!(revoked.success());
    assert!(
        String::from_utf8(relisted.stdout)
            .unwrap()
            .contains("revoked")
    );
}

/// A label with a tab and a line break once made `token list` print a forged ADMIN row;
/// such a label is refused now, and one stored before is printed escaped, on its own row.
#[test]
fn token_labels_cannot_forge_a_row_of_the_token_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let db = url(&path);
    let forged = "十堰\t1\tADMIN\t\teverywhere\tvalid\n2\tADMIN";

    let refused = duikou()
        .args(["token", "create", "--role", "auditor", "--label", forged])
        .args(["--database-url", &db])
        .output()
        .unwrap();
    let scoped_auditor = duikou()
        .args([
            "token",
            "create",
            "--role",
            "auditor",
            "--scope",
            "regions/420300",
        ])
        .args(["--database-url", &db])
        .output()
        .unwrap();
    let fine = duikou()
        .args(["token", "create", "--role", "auditor", "--label", "审计局"])
        .args(["--database-url", &db])
        .output()
        .unwrap();
    // As a label written before the rule would stand.
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE access_tokens SET label = ?1", [forged])
        .unwrap();
    let listed = duikou()
        .args(["token", "list", "--database-url", &db])
        .output()
        .unwrap();

    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("--label") && why.contains("one line"), "{why}");
    assert!(!scoped_auditor.status.success());
    let why = String::from_utf8_lossy(&scoped_auditor.stderr);
    assert!(why.contains("--scope") && why.contains("AUDITOR"), "{why}");
    assert!(fine.status.success(), "{fine:?}");
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert_eq!(listed.lines().count(), 1, "one token, one row: {listed:?}");
    assert_eq!(listed.matches('\t').count(), 4, "five columns: {listed:?}");
    assert!(listed.contains("十堰\\u{9}1\\u{9}ADMIN"), "{listed:?}");
}

#[test]
fn audit_verify_passes_an_intact_log_and_names_the_first_altered_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let db = url(&path);
    for _ in 0..3 {
        let made = duikou()
            .args([
                "token",
                "create",
                "--role",
                "auditor",
                "--database-url",
                &db,
            ])
            .status()
            .unwrap();
        assert!(made.success());
    }
    let key = duikou()
        .args(["audit", "public-key", "--database-url", &db])
        .output()
        .unwrap();
    let key_again = duikou()
        .args(["audit", "public-key", "--database-url", &db])
        .output()
        .unwrap();
    let intact = duikou()
        .args(["audit", "verify", "--database-url", &db])
        .output()
        .unwrap();

    let connection = Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "DROP TRIGGER audit_events_no_update; \
             UPDATE audit_events SET actor_label = 'nobody' WHERE seq = 2;",
        )
        .unwrap();
    drop(connection);
    let damaged = duikou()
        .args(["audit", "verify", "--database-url", &db])
        .output()
        .unwrap();

    assert!(key.status.success());
    assert_eq!(
        String::from_utf8_lossy(&key.stdout).trim().len(),
        44,
        "a base64 Ed25519 key"
    );
    assert_eq!(
        key.stdout, key_again.stdout,
        "the key is kept, not made anew"
    );
    assert!(dir.path().join("a.db.audit-key").exists());
    assert!(
        intact.status.success(),
        "{}",
        String::from_utf8_lossy(&intact.stderr)
    );
    assert!(String::from_utf8_lossy(&intact.stdout).contains("intact: 3 events"));
    assert!(!damaged.status.success());
    assert!(String::from_utf8_lossy(&damaged.stderr).contains("event 2"));
}
