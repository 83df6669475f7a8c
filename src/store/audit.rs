//! The audit log: appends in the writing transaction, and checks the stored log against
//! itself.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

use base64::{Engine, engine::general_purpose::STANDARD};

use super::{
    entities::{audit_checkpoint, audit_event, audit_head, audit_node},
    rows,
    sqlite::script,
};
use crate::{
    domain::{
        access::Role,
        audit::{Actor, AuditEvent},
        checkpoint::{AuditKey, Checkpoint, verify_signed},
        merkle::{self, Hash, NodeId},
    },
    error::Error,
};

/// A change waiting, in the current write transaction, for its place in the log.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    /// Who made the change.
    pub actor: Actor,
    /// The RPC or command.
    pub method: String,
    /// The changed resource's name.
    pub resource: String,
    /// The request id, or empty.
    pub request_id: String,
    /// Hex SHA-256 of the resource as it stands after the change.
    pub resource_sha256: String,
}

/// Writes `events` into the log at its end and grows the tree over them, inside the
/// transaction `db`, which must then commit. Every event gets the same time, the time of
/// sealing. Taking the numbers locks the head row until the transaction ends, which orders
/// appends across transactions and servers, so sequence numbers have no gaps.
///
/// # Errors
/// INTERNAL when the stored tree lags the log or lacks its right edge; the database's
/// failures.
pub async fn seal(db: &impl ConnectionTrait, events: Vec<PendingEvent>) -> Result<(), Error> {
    if events.is_empty() {
        return Ok(());
    }
    let count = events.len() as i64;
    let backend = db.get_database_backend();
    // The update returns a row only if the head moved; the select then returns one more.
    let rows = script::run_all(db, take_numbers(backend, count)).await?;
    let [_, head] = <[_; 2]>::try_from(rows)
        .map_err(|_| anyhow::anyhow!("the audit head is missing or its tree lags the log"))?;
    let covered = (head.try_get_by_index::<i64>(0)? - count) as u64;
    let time = AuditEvent::stored_time(Utc::now());
    // The complete subtrees of the tree so far are its right edge: all a new leaf can join.
    let mut edge = edge_nodes(&head.try_get_by_index::<String>(1)?)?;
    let mut rows = Vec::with_capacity(events.len());
    let mut nodes = Vec::with_capacity(2 * events.len());
    for (offset, pending) in events.into_iter().enumerate() {
        let index = covered + offset as u64;
        let event = AuditEvent {
            seq: index as i64 + 1,
            time,
            actor: pending.actor,
            method: pending.method,
            resource: pending.resource,
            request_id: pending.request_id,
            resource_sha256: pending.resource_sha256,
        };
        let mut hash = merkle::leaf_hash(&event.canonical_bytes());
        let leaf = NodeId { level: 0, index };
        edge.insert(leaf, hash);
        nodes.push(node(leaf, &hash));
        for complete in merkle::completed_by_append(index) {
            let left = NodeId {
                level: complete.level - 1,
                index: complete.index * 2,
            };
            let right = NodeId {
                level: complete.level - 1,
                index: complete.index * 2 + 1,
            };
            let left_hash = edge
                .remove(&left)
                .ok_or_else(|| anyhow::anyhow!("audit node {left:?} is missing"))?;
            edge.remove(&right);
            hash = merkle::node_hash(&left_hash, &hash);
            edge.insert(complete, hash);
            nodes.push(node(complete, &hash));
        }
        rows.push(row(event));
    }
    script::run_all(db, insert_events(backend, time, rows, nodes)).await?;
    Ok(())
}

/// The statements that take the numbers of `count` new events: the head moves past them,
/// which locks it until the transaction ends, and returns its new size, unless the tree
/// lags the log; then a select of the new size and of the stored right edge of the tree
/// before the new events, as JSON: at each level whose bit is set in the old size, the
/// node just left of it, which are the nodes of `merkle::range_nodes(0, old size)`.
fn take_numbers(backend: DatabaseBackend, count: i64) -> Vec<Statement> {
    let (param, nodes_json) = match backend {
        DatabaseBackend::Sqlite => ("?", "json_group_array(json_array(n.level, n.idx, n.hash))"),
        _ => (
            "$1",
            "COALESCE(json_agg(json_build_array(n.level, n.idx, n.hash)), '[]')::text",
        ),
    };
    // SQLite's parameters are positional: it is given the count once for each use.
    let uses = match backend {
        DatabaseBackend::Sqlite => 2,
        _ => 1,
    };
    let update = Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE audit_head SET size = size + {param}, tree_size = size + {param} \
             WHERE id = 1 AND tree_size = size RETURNING size"
        ),
        vec![count.into(); uses],
    );
    let select = Statement::from_sql_and_values(
        backend,
        format!(
            "WITH RECURSIVE levels(l) AS (SELECT 0 UNION ALL SELECT l + 1 FROM levels \
             WHERE l < 62), \
             head AS (SELECT size, size - {param} AS covered FROM audit_head WHERE id = 1) \
             SELECT head.size, \
             (SELECT {nodes_json} FROM levels JOIN audit_nodes n ON n.level = levels.l \
             AND n.idx = (head.covered >> levels.l) - 1 \
             WHERE ((head.covered >> levels.l) & 1) = 1) FROM head"
        ),
        [count.into()],
    );
    vec![update, select]
}

/// The nodes of [`take_numbers`]'s JSON: `[[level, index, hash], ...]`.
fn edge_nodes(text: &str) -> Result<std::collections::HashMap<NodeId, Hash>, Error> {
    let bad = || {
        Error::from(anyhow::anyhow!(
            "the audit tree's right edge does not read back"
        ))
    };
    let nodes: Vec<(u32, u64, String)> = serde_json::from_str(text).map_err(|_| bad())?;
    nodes
        .into_iter()
        .map(|(level, index, hash)| Ok((NodeId { level, index }, from_hex(&hash).ok_or_else(bad)?)))
        .collect()
}

/// The inserts of the events and of the tree nodes they complete, each as one JSON value.
fn insert_events(
    backend: DatabaseBackend,
    time: chrono::DateTime<Utc>,
    events: Vec<serde_json::Value>,
    nodes: Vec<serde_json::Value>,
) -> Vec<Statement> {
    // The time is bound as itself, so that it is stored as every other is.
    let events_select = script::json_table(
        backend,
        &[
            "bigint", "bigint", "text", "smallint", "text", "text", "text", "text",
        ],
        true,
    );
    let nodes_select = script::json_table(backend, &["int", "bigint", "text"], false);
    vec![
        Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO audit_events (seq, actor_token_id, actor_label, actor_role, method, \
                 resource, request_id, resource_sha256, time) {events_select}"
            ),
            [time.into(), script::json_array(events).into()],
        ),
        Statement::from_sql_and_values(
            backend,
            format!("INSERT INTO audit_nodes (level, idx, hash) {nodes_select}"),
            [script::json_array(nodes).into()],
        ),
    ]
}

/// An event as [`insert_events`] sends it; its time goes apart.
fn row(event: AuditEvent) -> serde_json::Value {
    serde_json::json!([
        event.seq,
        event.actor.token_id,
        event.actor.label,
        event.actor.role.map(Role::number),
        event.method,
        event.resource,
        event.request_id,
        event.resource_sha256,
    ])
}

/// A tree node as [`insert_events`] sends it.
fn node(id: NodeId, hash: &Hash) -> serde_json::Value {
    serde_json::json!([id.level, id.index, to_hex(hash)])
}

/// The number of events in the log (all covered by the stored tree once committed).
pub async fn size(db: &impl ConnectionTrait) -> Result<u64, Error> {
    let head = audit_head::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the audit head row is missing"))?;
    Ok(head.size as u64)
}

/// Where the stored log stops agreeing with itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The first event that does not check out.
    pub seq: i64,
    /// What is wrong there.
    pub problem: String,
}

/// Recomputes the whole tree from the stored events and compares every leaf and every
/// stored complete subtree; returns the first mismatch, if any. Detects an altered event
/// (its leaf no longer matches), a deleted or inserted event (a gap, or a count that
/// differs from the head) and altered tree nodes.
pub async fn verify(db: &impl ConnectionTrait) -> Result<Option<Mismatch>, Error> {
    const CHUNK: u64 = 10_000;
    let size = size(db).await? as i64;
    let mut expected_seq = 1i64;
    // The stack of complete subtrees on the right edge, as in an append.
    let mut hashes_by_node: std::collections::HashMap<NodeId, Hash> = Default::default();
    loop {
        let events = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gte(expected_seq))
            .order_by_asc(audit_event::Column::Seq)
            .limit(CHUNK)
            .all(db)
            .await?;
        if events.is_empty() {
            break;
        }
        let first = events[0].seq;
        let last = events[events.len() - 1].seq;
        // Every stored node a leaf of this chunk can finish, in one query: at each level,
        // the nodes over the chunk's leaves.
        let mut levels = sea_orm::Condition::any();
        let mut level = 0;
        while level < 63 && (1i64 << level) <= last {
            levels = levels.add(
                sea_orm::Condition::all()
                    .add(audit_node::Column::Level.eq(level))
                    .add(
                        audit_node::Column::Idx.between((first - 1) >> level, (last - 1) >> level),
                    ),
            );
            level += 1;
        }
        let stored: std::collections::HashMap<(i32, i64), String> = audit_node::Entity::find()
            .filter(levels)
            .all(db)
            .await?
            .into_iter()
            .map(|n| ((n.level, n.idx), n.hash))
            .collect();
        for row in events {
            if row.seq != expected_seq {
                return Ok(Some(Mismatch {
                    seq: expected_seq,
                    problem: format!("event {expected_seq} is missing"),
                }));
            }
            let seq = row.seq;
            let event = event_of(row);
            let index = (seq - 1) as u64;
            let leaf = merkle::leaf_hash(&event.canonical_bytes());
            if stored.get(&(0, index as i64)).and_then(|h| from_hex(h)) != Some(leaf) {
                return Ok(Some(Mismatch {
                    seq,
                    problem: "the event does not match its leaf in the tree".to_owned(),
                }));
            }
            hashes_by_node.insert(NodeId { level: 0, index }, leaf);
            let mut hash = leaf;
            for complete in merkle::completed_by_append(index) {
                let left = NodeId {
                    level: complete.level - 1,
                    index: complete.index * 2,
                };
                let Some(left) = hashes_by_node.remove(&left) else {
                    return Ok(Some(Mismatch {
                        seq,
                        problem: "the tree's left neighbour is missing".to_owned(),
                    }));
                };
                hashes_by_node.remove(&NodeId {
                    level: complete.level - 1,
                    index: complete.index * 2 + 1,
                });
                hash = merkle::node_hash(&left, &hash);
                let kept = stored.get(&(complete.level as i32, complete.index as i64));
                if kept.and_then(|h| from_hex(h)) != Some(hash) {
                    return Ok(Some(Mismatch {
                        seq,
                        problem: format!("tree node {complete:?} does not match the events"),
                    }));
                }
                hashes_by_node.insert(complete, hash);
            }
            expected_seq += 1;
        }
    }
    if expected_seq - 1 != size {
        return Ok(Some(Mismatch {
            seq: expected_seq,
            problem: format!(
                "the log holds {} events but its head says {size}",
                expected_seq - 1
            ),
        }));
    }
    Ok(None)
}

/// Lower-case hex of a hash.
pub fn to_hex(hash: &Hash) -> String {
    crate::domain::secret::hex(hash)
}

/// A hash from lower-case hex.
pub fn from_hex(text: &str) -> Option<Hash> {
    if text.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(hash)
}

/// Looks up the stored complete subtrees in `ids`.
async fn stored_nodes(
    db: &impl ConnectionTrait,
    ids: &[NodeId],
) -> Result<std::collections::HashMap<NodeId, Hash>, Error> {
    let mut found = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(200) {
        let mut any = sea_orm::Condition::any();
        for id in chunk {
            any = any.add(
                sea_orm::Condition::all()
                    .add(audit_node::Column::Level.eq(id.level as i32))
                    .add(audit_node::Column::Idx.eq(id.index as i64)),
            );
        }
        for row in audit_node::Entity::find().filter(any).all(db).await? {
            if let Some(hash) = from_hex(&row.hash) {
                found.insert(
                    NodeId {
                        level: row.level as u32,
                        index: row.idx as u64,
                    },
                    hash,
                );
            }
        }
    }
    Ok(found)
}

fn missing_nodes() -> Error {
    anyhow::anyhow!("the audit tree lacks a node it needs; run VerifyAuditLog").into()
}

/// The root of the tree of the first `size` events.
///
/// # Errors
/// INTERNAL when the stored tree lacks a node.
pub async fn root(db: &impl ConnectionTrait, size: u64) -> Result<Hash, Error> {
    let nodes = stored_nodes(db, &merkle::range_nodes(0, size)).await?;
    merkle::root(size, &|id| nodes.get(&id).copied()).ok_or_else(missing_nodes)
}

/// The inclusion proof of event `seq` in the tree of `size` events, with the leaf hash and
/// the root.
///
/// # Errors
/// INTERNAL when the stored tree lacks a node; callers check the arguments first.
pub async fn inclusion(
    db: &impl ConnectionTrait,
    seq: u64,
    size: u64,
) -> Result<(Hash, Vec<Hash>, Hash), Error> {
    let index = seq - 1;
    let mut ids = merkle::nodes_for_inclusion(index, size);
    ids.push(NodeId { level: 0, index });
    let nodes = stored_nodes(db, &ids).await?;
    let lookup = |id| nodes.get(&id).copied();
    let leaf = lookup(NodeId { level: 0, index }).ok_or_else(missing_nodes)?;
    let proof = merkle::inclusion_proof(index, size, &lookup).ok_or_else(missing_nodes)?;
    let root = merkle::root(size, &lookup).ok_or_else(missing_nodes)?;
    Ok((leaf, proof, root))
}

/// The consistency proof between trees of `first` and `second` events, with both roots.
///
/// # Errors
/// INTERNAL when the stored tree lacks a node; callers check the arguments first.
pub async fn consistency(
    db: &impl ConnectionTrait,
    first: u64,
    second: u64,
) -> Result<(Vec<Hash>, Hash, Hash), Error> {
    let nodes = stored_nodes(db, &merkle::nodes_for_consistency(first, second)).await?;
    let lookup = |id| nodes.get(&id).copied();
    let proof = merkle::consistency_proof(first, second, &lookup).ok_or_else(missing_nodes)?;
    let first_root = merkle::root(first, &lookup).ok_or_else(missing_nodes)?;
    let second_root = merkle::root(second, &lookup).ok_or_else(missing_nodes)?;
    Ok((proof, first_root, second_root))
}

/// Signs a checkpoint of the log as it stands and keeps it; when one of that size is
/// already kept, returns that one instead.
pub async fn checkpoint(
    db: &impl ConnectionTrait,
    key: &AuditKey,
) -> Result<(Checkpoint, Vec<u8>), Error> {
    let size = size(db).await?;
    if let Some(kept) = audit_checkpoint::Entity::find_by_id(size as i64)
        .one(db)
        .await?
    {
        return kept_checkpoint(kept);
    }
    let checkpoint = Checkpoint::now(size, root(db, size).await?);
    let signature = key.sign(&checkpoint);
    audit_checkpoint::Entity::insert(audit_checkpoint::ActiveModel {
        tree_size: Set(size as i64),
        root_hash: Set(to_hex(&checkpoint.root)),
        time: Set(checkpoint.time),
        signature: Set(STANDARD.encode(&signature)),
    })
    .on_conflict_do_nothing_on([audit_checkpoint::Column::TreeSize])
    .exec(db)
    .await?;
    let kept = audit_checkpoint::Entity::find_by_id(size as i64)
        .one(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("checkpoint {size} vanished"))?;
    kept_checkpoint(kept)
}

fn kept_checkpoint(row: audit_checkpoint::Model) -> Result<(Checkpoint, Vec<u8>), Error> {
    let root = from_hex(&row.root_hash)
        .ok_or_else(|| anyhow::anyhow!("checkpoint {} has a damaged root", row.tree_size))?;
    let signature = STANDARD.decode(&row.signature).map_err(|e| {
        anyhow::anyhow!("checkpoint {} has a damaged signature: {e}", row.tree_size)
    })?;
    Ok((
        Checkpoint {
            tree_size: row.tree_size as u64,
            root,
            time: row.time,
        },
        signature,
    ))
}

/// Checks every kept checkpoint against the tree and its signature under `public_key`;
/// returns the first that fails, as the size it claims and why. Run after [`verify`], when
/// the stored nodes are known to match the events.
pub async fn verify_checkpoints(
    db: &impl ConnectionTrait,
    public_key: &str,
) -> Result<Option<(u64, String)>, Error> {
    let kept = audit_checkpoint::Entity::find()
        .order_by_asc(audit_checkpoint::Column::TreeSize)
        .all(db)
        .await?;
    let size_now = size(db).await?;
    for row in kept {
        let claimed = row.tree_size as u64;
        let (checkpoint, signature) = kept_checkpoint(row)?;
        if verify_signed(public_key, &checkpoint.text(), &signature).is_none() {
            return Ok(Some((claimed, "the signature does not hold".to_owned())));
        }
        if claimed > size_now {
            return Ok(Some((
                claimed,
                "the log is shorter than this checkpoint".to_owned(),
            )));
        }
        if root(db, claimed).await? != checkpoint.root {
            return Ok(Some((
                claimed,
                "the tree no longer has this root".to_owned(),
            )));
        }
    }
    Ok(None)
}

/// A page of events in sequence order, after `after` if given.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &crate::domain::audit::AuditFilter,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<audit_event::Model>, Error> {
    let mut query = audit_event::Entity::find();
    if let Some(resource) = &filter.resource {
        query = query.filter(audit_event::Column::Resource.eq(resource.as_str()));
    }
    if let Some(method) = &filter.method {
        query = query.filter(audit_event::Column::Method.eq(method.as_str()));
    }
    if let Some(actor) = filter.actor_token_id {
        query = query.filter(audit_event::Column::ActorTokenId.eq(actor));
    }
    query = match filter.from {
        Some((time, true)) => query.filter(audit_event::Column::Time.gte(time)),
        Some((time, false)) => query.filter(audit_event::Column::Time.gt(time)),
        None => query,
    };
    query = match filter.until {
        Some((time, true)) => query.filter(audit_event::Column::Time.lte(time)),
        Some((time, false)) => query.filter(audit_event::Column::Time.lt(time)),
        None => query,
    };
    rows::page_after(db, query, audit_event::Column::Seq, after, limit).await
}

/// The domain form of a stored event.
pub fn event_of(row: audit_event::Model) -> AuditEvent {
    AuditEvent {
        seq: row.seq,
        time: row.time,
        actor: Actor {
            token_id: row.actor_token_id,
            label: row.actor_label,
            role: row.actor_role,
        },
        method: row.method,
        resource: row.resource,
        request_id: row.request_id,
        resource_sha256: row.resource_sha256,
    }
}
