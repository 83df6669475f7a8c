//! The audit trail: one event per change in the change's own transaction, nothing for a
//! failed request, and a log that cannot be altered unnoticed.

use duikou::{
    proto::v1::{CreatePairingRequest, SuspendPairingRequest},
    store::{
        audit::{self, Mismatch},
        entities::audit_event,
    },
};
use sea_orm::{EntityTrait, QueryOrder};

use crate::helpers::{TestApp, pairing, spawn};

async fn events(app: &TestApp) -> Vec<audit_event::Model> {
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
