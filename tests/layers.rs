//! The layer rules the compiler does not check, read from the sources (a source-level
//! check: it reads the files, it does not resolve names):
//! - `src/domain/` and the error type it raises (`src/error.rs`) name no transport or
//!   storage crate and no module of the crate outside themselves, so nothing reaches tonic
//!   or sea-orm from them, not even through another module;
//! - the use cases, `src/app/`, name no transport or storage crate, and of the crate only
//!   the domain, the error type, the store and themselves: they see neither the wire nor
//!   a database type;
//! - the services, `src/api/`, name no storage crate: they parse, call the use cases (or
//!   the store's read queries) and map back.

use std::{
    fs,
    path::{Path, PathBuf},
};

/// Crates of transport, as Rust code names them.
const TRANSPORT: &[&str] = &[
    "http",
    "prost",
    "prost_types",
    "tonic",
    "tonic_health",
    "tonic_prost",
    "tonic_reflection",
    "tonic_types",
    "tower",
];

/// Crates of storage, as Rust code names them.
const STORAGE: &[&str] = &["migration", "rusqlite", "sea_orm", "sqlx"];

/// One layer: the files it holds, the crates they may not name, and the modules of the
/// crate they may name (all of them when `None`).
struct Layer {
    files: &'static [&'static str],
    crates: &'static [&'static [&'static str]],
    modules: Option<&'static [&'static str]>,
}

const DOMAIN: Layer = Layer {
    files: &["domain", "error.rs"],
    crates: &[TRANSPORT, STORAGE],
    modules: Some(&["domain", "error"]),
};

const APP: Layer = Layer {
    files: &["app"],
    crates: &[TRANSPORT, STORAGE],
    modules: Some(&["app", "domain", "error", "store"]),
};

const API: Layer = Layer {
    files: &["api"],
    crates: &[STORAGE],
    modules: None,
};

#[test]
fn domain_and_its_error_type_reach_neither_transport_nor_storage() {
    assert_layer(&DOMAIN);
}

#[test]
fn use_cases_see_neither_the_wire_nor_the_database() {
    assert_layer(&APP);
}

#[test]
fn services_name_no_storage_crate() {
    assert_layer(&API);
}

/// Fails naming every path of `layer`'s files that leaves it.
fn assert_layer(layer: &Layer) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = crate_modules(&fs::read_to_string(root.join("lib.rs")).unwrap());
    let mut files = Vec::new();
    for part in layer.files {
        let path = root.join(part);
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else {
            files.push(path);
        }
    }
    assert!(files.len() > 1, "no sources for {:?}", layer.files);

    let faults: Vec<String> = files
        .iter()
        .flat_map(|file| {
            let code = fs::read_to_string(file).unwrap();
            let name = file.strip_prefix(&root).unwrap().display();
            out_of_layer(&code, module_depth(&root, file), &modules, layer)
                .into_iter()
                .map(move |path| format!("src/{name}: {path}"))
        })
        .collect();

    assert!(
        faults.is_empty(),
        "paths out of the layer:\n{}",
        faults.join("\n")
    );
}

#[test]
fn the_check_finds_paths_through_groups_renames_and_super() {
    let code = "use crate::{error::Error, store as s};\n\
                use super::{api, FieldViolation};\n\
                fn f() -> tonic::Status { sea_orm::DbErr::Custom(x).into() } // tonic::Code";
    let modules = crate_modules("pub mod api;\npub mod error;\nmod store;\n");

    let faults = out_of_layer(code, 1, &modules, &DOMAIN);

    assert_eq!(
        faults,
        [
            "crate::store",
            "super::api",
            "tonic::Status",
            "sea_orm::DbErr::Custom"
        ]
    );
}

/// The paths in the code of a file `depth` modules below the crate root that leave
/// `layer`: into a crate it may not name, or into a module of the crate (among `modules`)
/// outside those it may name.
fn out_of_layer(code: &str, depth: usize, modules: &[String], layer: &Layer) -> Vec<String> {
    let allowed = |module: &str| layer.modules.is_none_or(|m| m.contains(&module));
    paths(&without_comments(code))
        .into_iter()
        .filter(|path| {
            let supers = path.iter().take_while(|s| *s == "super").count();
            if layer.crates.iter().any(|c| c.contains(&path[0].as_str())) {
                true
            } else if path[0] == "crate" || path[0] == "$crate" {
                !allowed(&path[1])
            } else if supers >= depth && supers < path.len() {
                // Enough `super`s climb to the crate root, where only its modules matter
                // (an item of the file's own inline module is not one of them).
                let next = path[supers].as_str();
                modules.iter().any(|m| m == next) && !allowed(next)
            } else {
                false
            }
        })
        .map(|path| path.join("::"))
        .collect()
}

/// The top-level modules that `lib.rs` declares.
fn crate_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .filter_map(|line| {
            let line = line.trim().strip_prefix("pub ").unwrap_or(line.trim());
            line.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_owned)
        })
        .collect()
}

/// How many modules deep `file` sits below the crate root: `error.rs` and `domain/mod.rs`
/// one, `domain/money.rs` two.
fn module_depth(root: &Path, file: &Path) -> usize {
    let parts = file.strip_prefix(root).unwrap().components().count();
    if file.ends_with("mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// Every `.rs` file under `dir`, at any depth.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The text with each line's `//` comment removed (doc comments included).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| line.split_once("//").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path of two or more segments in `code`, with `use` groups spread out:
/// `use crate::{error::Error, store}` gives `crate::error::Error` and `crate::store`.
fn paths(code: &str) -> Vec<Vec<String>> {
    let tokens = tokens(code);
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let starts = is_identifier(&tokens[i])
            && tokens.get(i + 1).is_some_and(|t| t == "::")
            && (i == 0 || tokens[i - 1] != "::");
        i = if starts {
            expand(&tokens, i, Vec::new(), &mut found)
        } else {
            i + 1
        };
    }
    found
}

/// Follows the path starting at `tokens[i]` after `prefix`, into every branch of a group.
/// Returns the index just past it.
fn expand(
    tokens: &[String],
    mut i: usize,
    mut prefix: Vec<String>,
    found: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        match tokens.get(i).map(String::as_str) {
            Some("{") => {
                i += 1;
                while tokens.get(i).is_some_and(|t| t != "}") {
                    if tokens[i] == "," {
                        i += 1;
                    } else {
                        i = expand(tokens, i, prefix.clone(), found);
                    }
                }
                return i + 1;
            }
            Some(t) if is_identifier(t) => {
                prefix.push(t.to_owned());
                i += 1;
                if tokens.get(i).is_some_and(|t| t == "::") {
                    i += 1;
                    continue;
                }
                // `as` renames, and anything else ends the path.
                if tokens.get(i).is_some_and(|t| t == "as") {
                    i += 2;
                }
                break;
            }
            Some(_) => {
                i += 1;
                break;
            }
            None => break,
        }
    }
    if prefix.len() > 1 {
        found.push(prefix);
    }
    i
}

/// Identifiers (with `$crate`), `::`, and every other character as a token of its own.
fn tokens(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".to_owned());
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}

fn is_identifier(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
}
