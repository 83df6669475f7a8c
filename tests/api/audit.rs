//! The audit trail: one event per change in the change's own transaction, nothing for a
//! failed request, and a log that cannot be altered unnoticed.

use duikou::{
    config::Settings,
    domain::audit::{Audited, Call},
    error::Error,
    proto::v1::{CreatePairingRequest, SuspendPairingRequest},
    store::{
        audit::{self, Mismatch},
        entities::{audit_checkpoint, audit_event},
        tx::{Change, Tx},
    },
};
use sea_orm::{EntityTrait, QueryOrder};

use crate::helpers::{Fresh, TEST_AUDIT_KEY, TestApp, pairing, spawn, spawn_with};

pub(crate) async fn events(app: &TestApp) -> Vec<audit_event::Model> {
    let store = app.store().await;
    let rows = audit_event::Entity::find()
        .order_by_asc(audit_event::Column::Seq)
        .all(store.db())
        .await
        .unwrap();
    store.close().await.unwrap();
    rows
}

async fn verify(app: &TestApp) -> Option<Mismatch> {
    let store = app.store().await;
    let outcome = audit::verify(store.db()).await.unwrap();
    store.close().await.unwrap();
    outcome
}

/// Three changes: a program, a pairing (with a request id), and its suspension.
async fn three_changes(app: &mut TestApp) {
    let program = app.program().await;
    let created = app
        .pairings
        .create_pairing(CreatePairingRequest {
            pairing: Some(pairing(&program, "110101", "420381")),
            request_id: "audit-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    app.pairings
        .suspend_pairing(SuspendPairingRequest {
            name: created.name,
            etag: String::new(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn every_change_appends_one_event_and_a_failed_request_none() {
    let mut app = spawn().await;
    let before = events(&app).await.len();

    three_changes(&mut app).await;
    let program = duikou::proto::v1::Program {
        name: "programs/1".into(),
        ..Default::default()
    };
    let mut bad = pairing(&program, "110101", "420381");
    bad.period_end = "2099-12-31".into();
    let rejected = app.create_pairing(bad).await;
    let retried = app
        .pairings
        .create_pairing(CreatePairingRequest {
            pairing: Some(pairing(&program, "110101", "420381")),
            request_id: "audit-1".into(),
        })
        .await;
    let log = events(&app).await;

    assert!(rejected.is_err());
    assert!(retried.is_ok(), "{retried:?}");
    let new: Vec<_> = log[before..]
        .iter()
        .map(|e| (e.method.as_str(), e.resource.as_str()))
        .collect();
    assert_eq!(
        new,
        [
            ("/duikou.v1.PairingService/CreateProgram", "programs/1"),
            ("/duikou.v1.PairingService/CreatePairing", "pairings/1"),
            ("/duikou.v1.PairingService/SuspendPairing", "pairings/1"),
        ]
    );
    let created = &log[before + 1];
    assert_eq!(created.request_id, "audit-1");
    assert_eq!(created.actor_label, "test ADMIN");
    assert_eq!(created.resource_sha256.len(), 64);
    assert!(
        log.iter().enumerate().all(|(i, e)| e.seq == i as i64 + 1),
        "no gaps"
    );
    assert_eq!(verify(&app).await, None);
}

#[tokio::test]
async fn writes_that_fail_after_recording_leave_no_event_even_when_they_share_a_commit() {
    let app = spawn().await;
    let before = events(&app).await.len();
    let store = app.store().await;

    // Forty writes at once: on SQLite they share group commits, on PostgreSQL each has its
    // own transaction. Every one records an event; every third then fails.
    struct Thing(u32);
    impl Audited for Thing {
        fn audit_name(&self) -> String {
            format!("things/{}", self.0)
        }
        fn audit_digest(&self) -> String {
            String::new()
        }
    }
    struct RecordThenFail(u32);
    impl Change for RecordThenFail {
        type Output = u32;
        async fn apply(&self, tx: &mut Tx<'_>) -> Result<u32, Error> {
            tx.record(None, &Thing(self.0));
            if self.0 % 3 == 0 {
                return Err(Error::precondition("TEST_FAILURE", "fails on purpose"));
            }
            Ok(self.0)
        }
    }
    let mut writes = tokio::task::JoinSet::new();
    for n in 0..40u32 {
        let store = store.clone();
        writes.spawn(async move {
            store
                .write(Call::command_line("test"), RecordThenFail(n))
                .await
        });
    }
    let mut succeeded: Vec<u32> = writes.join_all().await.into_iter().flatten().collect();
    store.close().await.unwrap();
    let log = events(&app).await;

    succeeded.sort_unstable();
    let mut recorded: Vec<u32> = log[before..]
        .iter()
        .map(|e| e.resource["things/".len()..].parse().unwrap())
        .collect();
    recorded.sort_unstable();
    assert_eq!(succeeded.len(), 26);
    assert_eq!(recorded, succeeded);
    assert!(
        log.iter().enumerate().all(|(i, e)| e.seq == i as i64 + 1),
        "no gaps"
    );
    assert_eq!(verify(&app).await, None);
}

#[tokio::test]
async fn the_server_signs_checkpoints_of_a_growing_log_on_its_own() {
    let mut app = spawn_with(Fresh::Prepared, |s| s.audit.checkpoint_interval_secs = 1).await;
    three_changes(&mut app).await;
    let size = events(&app).await.len() as i64;

    let store = app.store().await;
    let mut signed = Vec::new();
    for _ in 0..50 {
        signed = audit_checkpoint::Entity::find()
            .all(store.db())
            .await
            .unwrap();
        if signed.iter().any(|c| c.tree_size == size) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let public_key = Settings::load(None, &Default::default())
        .map(|mut s| {
            s.audit.signing_key = Some(TEST_AUDIT_KEY.to_owned());
            s.audit_key().unwrap().public_key()
        })
        .unwrap();
    let checked = audit::verify_checkpoints(store.db(), &public_key)
        .await
        .unwrap();
    store.close().await.unwrap();

    assert!(
        signed.iter().any(|c| c.tree_size == size),
        "no checkpoint of size {size} after 5 s: {signed:?}"
    );
    assert_eq!(checked, None);
}

#[tokio::test]
async fn the_database_refuses_to_change_or_delete_events() {
    let mut app = spawn().await;
    three_changes(&mut app).await;

    let update = app
        .sql("UPDATE audit_events SET resource = 'programs/9' WHERE seq = 1")
        .await;
    let delete = app.sql("DELETE FROM audit_events WHERE seq = 1").await;
    let nodes = app.sql("DELETE FROM audit_nodes").await;

    assert!(update.is_err() && delete.is_err() && nodes.is_err());
    assert_eq!(verify(&app).await, None);
}

async fn drop_triggers(app: &TestApp) {
    let statements: &[&str] = if app.on_postgres() {
        &["DROP TRIGGER audit_events_append_only ON audit_events"]
    } else {
        &[
            "DROP TRIGGER audit_events_no_update",
            "DROP TRIGGER audit_events_no_delete",
        ]
    };
    for statement in statements {
        app.sql(statement).await.unwrap();
    }
}

#[tokio::test]
async fn an_altered_event_is_found_even_with_the_triggers_dropped() {
    let mut app = spawn().await;
    three_changes(&mut app).await;
    let target = events(&app).await[1].seq;
    drop_triggers(&app).await;

    app.sql(&format!(
        "UPDATE audit_events SET actor_label = 'someone else' WHERE seq = {target}"
    ))
    .await
    .unwrap();

    let mismatch = verify(&app).await.expect("the change is detected");
    assert_eq!(mismatch.seq, target);
}

#[tokio::test]
async fn a_deleted_event_is_found() {
    let mut app = spawn().await;
    three_changes(&mut app).await;
    let log = events(&app).await;
    drop_triggers(&app).await;

    app.sql(&format!(
        "DELETE FROM audit_events WHERE seq = {}",
        log[1].seq
    ))
    .await
    .unwrap();
    let middle = verify(&app).await.expect("the gap is detected");
    app.sql(&format!(
        "DELETE FROM audit_events WHERE seq >= {}",
        log[1].seq
    ))
    .await
    .unwrap();
    let tail = verify(&app).await.expect("the missing tail is detected");

    assert_eq!(middle.seq, log[1].seq);
    assert_eq!(tail.seq, log[1].seq);
}

mod service {
    use duikou::{
        domain::{checkpoint, merkle},
        proto::v1::{
            GetCheckpointRequest, GetConsistencyProofRequest, GetInclusionProofRequest,
            ListAuditEventsRequest, VerifyAuditLogRequest,
            audit_service_client::AuditServiceClient,
        },
    };
    use tonic::Code;

    use super::{drop_triggers, events, three_changes};
    use crate::helpers::{assert_error, spawn};

    fn hash(bytes: &[u8]) -> merkle::Hash {
        bytes.try_into().expect("a 32-byte hash")
    }

    fn hashes(list: &[Vec<u8>]) -> Vec<merkle::Hash> {
        list.iter().map(|h| hash(h)).collect()
    }

    #[tokio::test]
    async fn a_signed_checkpoint_and_its_proofs_verify_with_the_public_key_alone() {
        let mut app = spawn().await;
        three_changes(&mut app).await;
        let first = app
            .audit
            .get_checkpoint(GetCheckpointRequest {})
            .await
            .unwrap()
            .into_inner();
        three_changes_more(&mut app).await;
        let second = app
            .audit
            .get_checkpoint(GetCheckpointRequest {})
            .await
            .unwrap()
            .into_inner();

        let inclusion = app
            .audit
            .get_inclusion_proof(GetInclusionProofRequest {
                sequence: 2,
                tree_size: second.tree_size,
            })
            .await
            .unwrap()
            .into_inner();
        let consistency = app
            .audit
            .get_consistency_proof(GetConsistencyProofRequest {
                first_size: first.tree_size,
                second_size: second.tree_size,
            })
            .await
            .unwrap()
            .into_inner();
        let listed = app
            .audit
            .list_audit_events(ListAuditEventsRequest {
                filter: r#"resource = "pairings/1" AND time >= "2000-01-01T00:00:00Z""#.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();

        let signed_first =
            checkpoint::verify_signed(&first.public_key, &first.text, &first.signature)
                .expect("the first checkpoint's signature holds");
        let signed_second =
            checkpoint::verify_signed(&second.public_key, &second.text, &second.signature)
                .expect("the second checkpoint's signature holds");
        assert_eq!(signed_second.tree_size, second.tree_size as u64);
        let event = listed
            .audit_events
            .iter()
            .find(|e| e.sequence == 2)
            .unwrap();
        assert_eq!(event.leaf_hash, inclusion.leaf_hash);
        assert!(merkle::verify_inclusion(
            1,
            signed_second.tree_size,
            &hash(&inclusion.leaf_hash),
            &hashes(&inclusion.hashes),
            &signed_second.root
        ));
        assert!(merkle::verify_consistency(
            signed_first.tree_size,
            signed_second.tree_size,
            &signed_first.root,
            &signed_second.root,
            &hashes(&consistency.hashes)
        ));

        let mut tampered = inclusion.leaf_hash.clone();
        tampered[0] ^= 1;
        assert!(!merkle::verify_inclusion(
            1,
            signed_second.tree_size,
            &hash(&tampered),
            &hashes(&inclusion.hashes),
            &signed_second.root
        ));
        let mut forked_root = signed_first.root;
        forked_root[31] ^= 1;
        assert!(!merkle::verify_consistency(
            signed_first.tree_size,
            signed_second.tree_size,
            &forked_root,
            &signed_second.root,
            &hashes(&consistency.hashes)
        ));
        assert!(
            listed
                .audit_events
                .iter()
                .all(|e| e.resource == "pairings/1")
        );
    }

    async fn three_changes_more(app: &mut crate::helpers::TestApp) {
        let program = app.program().await;
        app.pairing(crate::helpers::pairing(&program, "110102", "420302"))
            .await;
    }

    /// The probe's 32 concurrent calls each read the whole log and all timed out; now one
    /// verification runs at a time and the callers waiting on it share its answer.
    #[tokio::test]
    async fn concurrent_verifications_from_separate_clients_all_answer_alike() {
        let mut app = spawn().await;
        three_changes(&mut app).await;
        let auditor = app.token(duikou::domain::access::Role::Auditor, &[]).await;
        let mut calls = Vec::new();
        for _ in 0..16 {
            let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.address))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut client = AuditServiceClient::with_interceptor(
                channel,
                crate::helpers::Bearer::new(Some(&auditor)),
            );
            calls.push(tokio::spawn(async move {
                client.verify_audit_log(VerifyAuditLogRequest {}).await
            }));
        }
        let mut answers = Vec::new();
        for call in calls {
            answers.push(call.await.unwrap().unwrap().into_inner());
        }

        assert!(answers.iter().all(|a| a.intact && a.problem.is_empty()));
        assert!(answers.iter().all(|a| a.tree_size == answers[0].tree_size));
        assert!(answers[0].tree_size >= 3);
    }

    #[tokio::test]
    async fn verify_audit_log_reports_the_first_altered_event() {
        let mut app = spawn().await;
        three_changes(&mut app).await;
        app.audit
            .get_checkpoint(GetCheckpointRequest {})
            .await
            .unwrap();
        let intact = app
            .audit
            .verify_audit_log(VerifyAuditLogRequest {})
            .await
            .unwrap()
            .into_inner();
        let target = events(&app).await[2].seq;
        drop_triggers(&app).await;
        app.sql(&format!(
            "UPDATE audit_events SET method = 'nothing happened' WHERE seq = {target}"
        ))
        .await
        .unwrap();

        let broken = app
            .audit
            .verify_audit_log(VerifyAuditLogRequest {})
            .await
            .unwrap()
            .into_inner();

        assert!(intact.intact, "{intact:?}");
        assert!(!broken.intact);
        assert_eq!(broken.first_bad_sequence, target);
    }

    #[tokio::test]
    async fn proofs_refuse_sizes_beyond_the_log() {
        let mut app = spawn().await;
        three_changes(&mut app).await;

        let inclusion = app
            .audit
            .get_inclusion_proof(GetInclusionProofRequest {
                sequence: 4,
                tree_size: 0,
            })
            .await
            .unwrap_err();
        let consistency = app
            .audit
            .get_consistency_proof(GetConsistencyProofRequest {
                first_size: 2,
                second_size: 99,
            })
            .await
            .unwrap_err();

        assert_error(
            &inclusion,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some("sequence"),
        );
        assert_error(
            &consistency,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some("second_size"),
        );
    }
}

mod offline {
    use std::process::Command;

    use base64::{Engine, engine::general_purpose::STANDARD};
    use duikou::proto::v1::{
        Checkpoint, GetCheckpointRequest, GetConsistencyProofRequest, GetInclusionProofRequest,
    };

    use super::three_changes;
    use crate::helpers::{pairing, spawn};

    /// The checkpoint as grpcurl prints it: camelCase names, int64 as strings, bytes as
    /// base64.
    fn checkpoint_json(c: &Checkpoint) -> String {
        format!(
            r#"{{"treeSize": "{}", "rootHash": "{}", "text": {:?}, "signature": "{}", "publicKey": "{}"}}"#,
            c.tree_size,
            STANDARD.encode(&c.root_hash),
            c.text,
            STANDARD.encode(&c.signature),
            c.public_key
        )
    }

    fn list(hashes: &[Vec<u8>]) -> String {
        hashes
            .iter()
            .map(|h| format!("\"{}\"", STANDARD.encode(h)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn verify_proof(dir: &std::path::Path, checkpoint: &str, proof: &str, key: &str) -> bool {
        std::fs::write(dir.join("checkpoint.json"), checkpoint).unwrap();
        std::fs::write(dir.join("proof.json"), proof).unwrap();
        Command::new(env!("CARGO_BIN_EXE_duikou"))
            .args(["audit", "verify-proof", "--public-key", key])
            .arg("--checkpoint")
            .arg(dir.join("checkpoint.json"))
            .arg("--proof")
            .arg(dir.join("proof.json"))
            .env("RUST_LOG", "error")
            .status()
            .unwrap()
            .success()
    }

    #[tokio::test]
    async fn an_overseer_checks_saved_proofs_with_the_public_key_alone() {
        let mut app = spawn().await;
        let dir = tempfile::tempdir().unwrap();
        three_changes(&mut app).await;
        let first = app
            .audit
            .get_checkpoint(GetCheckpointRequest {})
            .await
            .unwrap()
            .into_inner();
        let program = app.program().await;
        app.pairing(pairing(&program, "110102", "420302")).await;
        let second = app
            .audit
            .get_checkpoint(GetCheckpointRequest {})
            .await
            .unwrap()
            .into_inner();
        let inclusion = app
            .audit
            .get_inclusion_proof(GetInclusionProofRequest {
                sequence: 2,
                tree_size: 0,
            })
            .await
            .unwrap()
            .into_inner();
        let consistency = app
            .audit
            .get_consistency_proof(GetConsistencyProofRequest {
                first_size: first.tree_size,
                second_size: 0,
            })
            .await
            .unwrap()
            .into_inner();
        let inclusion_json = |leaf: &[u8]| {
            format!(
                r#"{{"sequence": "2", "treeSize": "{}", "leafHash": "{}", "hashes": [{}]}}"#,
                inclusion.tree_size,
                STANDARD.encode(leaf),
                list(&inclusion.hashes)
            )
        };
        let consistency_json = |first_root: &[u8]| {
            format!(
                r#"{{"firstSize": "{}", "secondSize": "{}", "hashes": [{}], "firstRootHash": "{}"}}"#,
                consistency.first_size,
                consistency.second_size,
                list(&consistency.hashes),
                STANDARD.encode(first_root)
            )
        };
        let key = second.public_key.clone();
        let signed = checkpoint_json(&second);
        let mut tampered_leaf = inclusion.leaf_hash.clone();
        tampered_leaf[5] ^= 1;
        let mut forked_root = first.root_hash.clone();
        forked_root[0] ^= 1;
        let mut forged = second.clone();
        forged.text = forged
            .text
            .replacen(&format!("\n{}\n", second.tree_size), "\n99\n", 1);
        let other_key = STANDARD.encode([3u8; 32]);

        assert!(verify_proof(
            dir.path(),
            &signed,
            &inclusion_json(&inclusion.leaf_hash),
            &key
        ));
        assert!(verify_proof(
            dir.path(),
            &signed,
            &consistency_json(&first.root_hash),
            &key
        ));
        assert!(!verify_proof(
            dir.path(),
            &signed,
            &inclusion_json(&tampered_leaf),
            &key
        ));
        assert!(!verify_proof(
            dir.path(),
            &signed,
            &consistency_json(&forked_root),
            &key
        ));
        assert!(!verify_proof(
            dir.path(),
            &checkpoint_json(&forged),
            &inclusion_json(&inclusion.leaf_hash),
            &key
        ));
        assert!(!verify_proof(
            dir.path(),
            &signed,
            &inclusion_json(&inclusion.leaf_hash),
            &other_key
        ));
    }
}
