//! Every method of duikou's own services has a grpcurl example that runs: in the README
//! for the main paths, the rest in `examples/every-method.sh`, both of which the smoke test
//! runs against the release binary. A method added without one fails here.

use prost::Message;
use prost_types::FileDescriptorSet;

#[test]
fn every_method_has_a_grpcurl_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |file: &str| {
        std::fs::read_to_string(format!("{root}/{file}"))
            .unwrap_or_else(|e| panic!("reading {file}: {e}"))
    };
    let examples = format!(
        "{}\n{}",
        read("README.md"),
        read("examples/every-method.sh")
    );
    let set = FileDescriptorSet::decode(duikou::proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    let mut methods = Vec::new();
    for file in set.file.iter().filter(|f| f.package() == "duikou.v1") {
        for service in &file.service {
            for method in &service.method {
                methods.push(format!("{}/{}", service.name(), method.name()));
            }
        }
    }
    assert!(methods.len() > 60, "only {} methods", methods.len());
    let missing: Vec<&String> = methods
        .iter()
        .filter(|m| !examples.contains(m.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "methods without a grpcurl example in README.md or examples/every-method.sh: {missing:?}"
    );
}
