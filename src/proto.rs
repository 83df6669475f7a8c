//! Code generated from `proto/` by `build.rs`; never edited by hand.

/// The `duikou.v1` package.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("duikou.v1");
}

/// The encoded descriptor set of every served proto file, with comments, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("duikou_descriptor");
