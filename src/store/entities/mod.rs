//! Table definitions, mirroring `migrations/`. Plain rows; the rules live in `domain`.

pub mod access_token;
pub mod audit_checkpoint;
pub mod audit_event;
pub mod audit_head;
pub mod audit_node;
pub mod pairing;
pub mod program;
pub mod region;
pub mod request_id;
