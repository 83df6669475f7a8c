//! `duikou.v1.AuditService`: the change record, its signed checkpoints and proofs, for
//! AUDITOR and ADMIN (see [`super::authz`]).

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use super::{page_of, service, timestamp};
use crate::{
    app::audit::SignCheckpoint,
    domain::{
        access::Role,
        audit::{AuditEvent as Event, AuditFilter, Call},
        checkpoint::{AuditKey, Checkpoint as Signed},
        merkle,
        page::Page,
    },
    error::Error,
    proto::v1::{
        AuditEvent, Checkpoint, ConsistencyProof, GetCheckpointRequest, GetConsistencyProofRequest,
        GetInclusionProofRequest, InclusionProof, ListAuditEventsRequest, ListAuditEventsResponse,
        VerifyAuditLogRequest, VerifyAuditLogResponse, audit_service_server::AuditService,
    },
    store::{Store, audit},
};

/// Serves the audit log from the store.
#[derive(Clone)]
pub struct Audit {
    store: Store,
    key: AuditKey,
    /// VerifyAuditLog reads the whole log: one verification runs at a time, and the
    /// callers that waited on it share its answer.
    verification: Arc<Shared<VerifyAuditLogResponse>>,
}

impl Audit {
    /// A service over `store`, signing checkpoints with `key`.
    pub fn new(store: Store, key: AuditKey) -> Self {
        Self {
            store,
            key,
            verification: Arc::default(),
        }
    }
}

/// One run at a time of an expensive read, its answer shared with every caller that waited
/// on it: a caller that comes while a run is under way gets that run's answer; one that
/// comes after it has finished starts a new run. A run that fails or is abandoned shares
/// nothing, and the next waiter runs again.
struct Shared<T> {
    /// Runs finished so far.
    finished: AtomicU64,
    /// The last run's answer, and the lock that lets one run at a time.
    last: tokio::sync::Mutex<Option<T>>,
}

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Self {
            finished: AtomicU64::new(0),
            last: tokio::sync::Mutex::new(None),
        }
    }
}

impl<T: Clone> Shared<T> {
    /// The answer of a run of `work` that finishes after this call began.
    async fn run<F: Future<Output = Result<T, Error>>>(
        &self,
        work: impl FnOnce() -> F,
    ) -> Result<T, Error> {
        let came = self.finished.load(Ordering::Acquire);
        let mut last = self.last.lock().await;
        if self.finished.load(Ordering::Acquire) > came {
            if let Some(answer) = last.as_ref() {
                return Ok(answer.clone());
            }
        }
        let answer = work().await?;
        *last = Some(answer.clone());
        self.finished.fetch_add(1, Ordering::Release);
        Ok(answer)
    }
}

fn event_to_proto(event: Event) -> AuditEvent {
    let leaf_hash = merkle::leaf_hash(&event.canonical_bytes()).to_vec();
    AuditEvent {
        sequence: event.seq,
        time: Some(timestamp(event.time)),
        actor_token_id: event.actor.token_id.unwrap_or_default(),
        actor_label: event.actor.label,
        actor_role: event.actor.role.map_or(0, Role::number),
        method: event.method,
        resource: event.resource,
        request_id: event.request_id,
        resource_sha256: event.resource_sha256,
        leaf_hash,
    }
}

fn checkpoint_to_proto(checkpoint: &Signed, signature: Vec<u8>, key: &AuditKey) -> Checkpoint {
    Checkpoint {
        tree_size: checkpoint.tree_size as i64,
        root_hash: checkpoint.root.to_vec(),
        time: Some(timestamp(checkpoint.time)),
        text: checkpoint.text(),
        signature,
        public_key: key.public_key(),
    }
}

/// Reads a requested tree size: 0 means the log's size now; larger than the log is an
/// error naming `field`.
fn tree_size(field: &str, requested: i64, now: u64) -> Result<u64, Error> {
    match requested {
        0 => Ok(now),
        n => one_to(field, n, now, "the log's size"),
    }
}

/// Reads a count sent in `field` that must lie between 1 and `max`, which an error calls
/// `max_name`.
fn one_to(field: &str, n: i64, max: u64, max_name: &str) -> Result<u64, Error> {
    if n < 1 || n as u64 > max {
        return Err(Error::invalid(
            field,
            format!("must be between 1 and {max_name}, {max}"),
        ));
    }
    Ok(n as u64)
}

service! {
    AuditService for Audit {
        list_audit_events(ListAuditEventsRequest) -> ListAuditEventsResponse;
        get_checkpoint(GetCheckpointRequest) -> Checkpoint;
        get_inclusion_proof(GetInclusionProofRequest) -> InclusionProof;
        get_consistency_proof(GetConsistencyProofRequest) -> ConsistencyProof;
        verify_audit_log(VerifyAuditLogRequest) -> VerifyAuditLogResponse;
    }
}

async fn verify_audit_log(
    service: &Audit,
    _: Call,
    _: VerifyAuditLogRequest,
) -> Result<VerifyAuditLogResponse, Error> {
    service
        .verification
        .run(|| verify(&service.store, &service.key))
        .await
}

/// Verifies the whole log and its kept checkpoints.
async fn verify(store: &Store, key: &AuditKey) -> Result<VerifyAuditLogResponse, Error> {
    let db = store.db();
    let size = audit::size(db).await? as i64;
    let (first_bad_sequence, problem) = match audit::verify(db).await? {
        Some(mismatch) => (mismatch.seq, mismatch.problem),
        None => match audit::verify_checkpoints(db, &key.public_key()).await? {
            Some((claimed, why)) => (claimed as i64, format!("checkpoint {claimed}: {why}")),
            None => (0, String::new()),
        },
    };
    Ok(VerifyAuditLogResponse {
        intact: first_bad_sequence == 0,
        tree_size: size,
        first_bad_sequence,
        problem,
    })
}

async fn list_audit_events(
    service: &Audit,
    _: Call,
    req: ListAuditEventsRequest,
) -> Result<ListAuditEventsResponse, Error> {
    let filter = AuditFilter::parse(&req.filter);
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["auditEvents", &req.filter],
    );
    let (filter, page) = Error::all((filter, page))?;
    let rows = audit::list(service.store.db(), &filter, page.after_id()?, page.fetch()).await?;
    Ok(page_of(
        &page,
        rows,
        |r| r.seq.to_string(),
        |r| event_to_proto(audit::event_of(r)),
    ))
}

async fn get_checkpoint(
    service: &Audit,
    call: Call,
    _: GetCheckpointRequest,
) -> Result<Checkpoint, Error> {
    let (checkpoint, signature) = service
        .store
        .write(call, SignCheckpoint(service.key.clone()))
        .await?;
    Ok(checkpoint_to_proto(&checkpoint, signature, &service.key))
}

async fn get_inclusion_proof(
    service: &Audit,
    _: Call,
    req: GetInclusionProofRequest,
) -> Result<InclusionProof, Error> {
    let now = audit::size(service.store.db()).await?;
    let size = tree_size("tree_size", req.tree_size, now)?;
    let sequence = one_to("sequence", req.sequence, size, "the tree size")?;
    let (leaf, proof, root) = audit::inclusion(service.store.db(), sequence, size).await?;
    Ok(InclusionProof {
        sequence: req.sequence,
        tree_size: size as i64,
        leaf_hash: leaf.to_vec(),
        hashes: proof.iter().map(|h| h.to_vec()).collect(),
        root_hash: root.to_vec(),
    })
}

async fn get_consistency_proof(
    service: &Audit,
    _: Call,
    req: GetConsistencyProofRequest,
) -> Result<ConsistencyProof, Error> {
    let now = audit::size(service.store.db()).await?;
    let second = tree_size("second_size", req.second_size, now)?;
    let first = one_to("first_size", req.first_size, second, "second_size")?;
    let (proof, first_root, second_root) =
        audit::consistency(service.store.db(), first, second).await?;
    Ok(ConsistencyProof {
        first_size: first as i64,
        second_size: second as i64,
        hashes: proof.iter().map(|h| h.to_vec()).collect(),
        first_root_hash: first_root.to_vec(),
        second_root_hash: second_root.to_vec(),
    })
}

/// Signs a checkpoint of the log every `every` while it grows, until `stop` turns true, so
/// that overseers holding the database have recent signed checkpoints to check it against.
/// A checkpoint of a size already signed is not signed again.
pub async fn sign_checkpoints(
    store: Store,
    key: AuditKey,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        let signed = store
            .write(
                Call::internal("sign an audit checkpoint"),
                SignCheckpoint(key.clone()),
            )
            .await;
        match signed {
            Ok((checkpoint, _)) => {
                tracing::debug!(tree_size = checkpoint.tree_size, "audit checkpoint signed");
            }
            Err(e) => tracing::warn!(error = %e, "signing an audit checkpoint failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::{
            Arc,
            atomic::{AtomicU64, Ordering},
        },
        time::Duration,
    };

    use super::Shared;

    /// The probe's 32 concurrent VerifyAuditLog calls each read the whole log.
    #[tokio::test]
    async fn callers_that_wait_on_a_run_share_its_answer_and_later_ones_run_again()
    -> anyhow::Result<()> {
        let shared: Arc<Shared<u64>> = Arc::default();
        let runs = Arc::new(AtomicU64::new(0));
        // Holds the one run open until every caller has come.
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut callers = Vec::new();
        for _ in 0..16 {
            let (shared, runs, gate) = (shared.clone(), runs.clone(), gate.clone());
            callers.push(tokio::spawn(async move {
                shared
                    .run(|| async move {
                        let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                        gate.notified().await;
                        Ok(n)
                    })
                    .await
            }));
        }
        // Every caller is waiting: the first inside its run, the others for it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.notify_one();
        let mut answers = Vec::new();
        for caller in callers {
            answers.push(caller.await??);
        }
        let later = shared
            .run(|| async { Ok(runs.fetch_add(1, Ordering::SeqCst) + 1) })
            .await?;

        assert_eq!(answers, vec![1; 16], "one run, its answer for all");
        assert_eq!(later, 2, "a caller after the run gets a fresh one");
        Ok(())
    }

    #[tokio::test]
    async fn a_failed_run_shares_nothing() {
        let shared: Shared<u64> = Shared::default();
        let failed = shared
            .run(|| async { Err(crate::error::Error::Contention) })
            .await;
        let next = shared.run(|| async { Ok(5) }).await;
        assert!(failed.is_err());
        assert!(matches!(next, Ok(5)), "{next:?}");
    }
}
