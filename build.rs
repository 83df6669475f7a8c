//! Compiles `proto/` with protox (no system protoc), generates the Rust types and tonic
//! services, and keeps the descriptor set with its comments for server reflection.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "duikou/v1/region.proto",
    "duikou/v1/pairing.proto",
    "duikou/v1/access.proto",
    "duikou/v1/audit.proto",
    "duikou/v1/money.proto",
    "duikou/v1/project.proto",
    "duikou/v1/fund.proto",
    "duikou/v1/talent.proto",
    "duikou/v1/supervision.proto",
    "duikou/v1/water.proto",
    "duikou/v1/organization.proto",
    "duikou/v1/plan.proto",
    // Not generated into Rust (tonic-types has them); compiled so that reflection can
    // describe the error details the server sends.
    "google/rpc/error_details.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(PROTOS)?;
    let descriptors = compiler.file_descriptor_set();
    fs::write(
        out_dir.join("duikou_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .extern_path(".google.rpc", "::tonic_types")
        .compile_fds(descriptors)?;
    Ok(())
}
