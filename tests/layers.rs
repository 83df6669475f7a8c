//! The layer rule the compiler does not check: `src/domain/` and the error type it raises
//! (`src/error.rs`) name no transport or storage crate and no module of the crate outside
//! themselves, so nothing reaches tonic or sea-orm from them, not even through another
//! module. A source-level check: it reads the files, it does not resolve names.

use std::{
    fs,
    path::{Path, PathBuf},
};

/// Crates of transport and storage, as Rust code names them.
const TRANSPORT_AND_STORAGE: &[&str] = &[
    "http",
    "migration",
    "prost",
    "prost_types",
    "rusqlite",
    "sea_orm",
    "sqlx",
    "tonic",
    "tonic_health",
    "tonic_prost",
    "tonic_reflection",
    "tonic_types",
    "tower",
];

/// The modules of the crate these files may name: the domain and the error type.
const SAME_LAYER: &[&str] = &["domain", "error"];

#[test]
fn domain_and_its_error_type_reach_neither_transport_nor_storage() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = crate_modules(&fs::read_to_string(root.join("lib.rs")).unwrap());
    let mut files = vec![root.join("error.rs")];
    rust_files(&root.join("domain"), &mut files);
    assert!(
        files.len() > 2,
        "no domain sources under {}",
        root.display()
    );

    let faults: Vec<String> = files
        .iter()
        .flat_map(|file| {
            let code = fs::read_to_string(file).unwrap();
            let name = file.strip_prefix(&root).unwrap().display();
            out_of_layer(&code, module_depth(&root, file), &modules)
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

    let faults = out_of_layer(code, 1, &modules);

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

/// The paths in the code of a file `depth` modules below the crate root that leave the
/// layer: into a transport or storage crate, or into a module of the crate (among
/// `modules`) other than the domain and the error type.
fn out_of_layer(code: &str, depth: usize, modules: &[String]) -> Vec<String> {
    paths(&without_comments(code))
        .into_iter()
        .filter(|path| {
            let supers = path.iter().take_while(|s| *s == "super").count();
            if TRANSPORT_AND_STORAGE.contains(&path[0].as_str()) {
                true
            } else if path[0] == "crate" || path[0] == "$crate" {
                !SAME_LAYER.contains(&path[1].as_str())
            } else if supers >= depth && supers < path.len() {
                // Enough `super`s climb to the crate root, where only its modules matter
                // (an item of the file's own inline module is not one of them).
                let next = path[supers].as_str();
                modules.iter().any(|m| m == next) && !SAME_LAYER.contains(&next)
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
