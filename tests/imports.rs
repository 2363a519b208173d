//! No two source files import each other (issue 15): a helper two modules share lives
//! in a module of its own that both import. Reads every `use crate::…;` of src/**/*.rs,
//! resolves each path to the file that defines it, and fails on any pair of files that
//! import each other.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without `//` comments (doc comments quote `use` lines at times).
fn without_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| line.find("//").map_or(line, |at| &line[..at]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `a::b::{c, d::{e, f}}` as `a::b::c`, `a::b::d::e`, `a::b::d::f`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.to_string()];
    };
    let close = tree.rfind('}').expect("balanced braces in a use tree");
    let (prefix, body) = (&tree[..open], &tree[open + 1..close]);
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (at, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&body[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(expand)
        .map(|path| format!("{prefix}{path}"))
        .collect()
}

/// The file that defines the longest module prefix of `crate::<path>`.
fn defining_file(src: &Path, path: &str) -> Option<PathBuf> {
    let mut dir = src.to_path_buf();
    let mut found = None;
    for segment in path.split("::") {
        let name = segment.split_whitespace().next().unwrap_or("");
        let file = dir.join(format!("{name}.rs"));
        let module = dir.join(name).join("mod.rs");
        if file.is_file() {
            found = Some(file);
        } else if module.is_file() {
            found = Some(module);
        } else {
            break;
        }
        dir = dir.join(name);
    }
    found
}

#[test]
fn no_two_files_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut imports: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for file in &files {
        let source = without_comments(&fs::read_to_string(file).expect("source file"));
        let mut rest = source.as_str();
        while let Some(at) = rest.find("use crate::") {
            let statement = &rest[at + "use crate::".len()..];
            let end = statement.find(';').expect("use statement ends with ;");
            for path in expand(&statement[..end]) {
                if let Some(target) = defining_file(&src, &path) {
                    if &target != file {
                        imports.entry(file.clone()).or_default().insert(target);
                    }
                }
            }
            rest = &statement[end..];
        }
    }
    // The check itself must see what it checks: SNMP imports the shared BER framing.
    assert!(imports[&src.join("protocols/snmp.rs")].contains(&src.join("protocols/ber.rs")));
    let mut mutual = Vec::new();
    for (a, targets) in &imports {
        for b in targets {
            if a < b && imports.get(b).is_some_and(|back| back.contains(a)) {
                let name = |f: &PathBuf| f.strip_prefix(&src).unwrap_or(f).display().to_string();
                mutual.push(format!("src/{} <-> src/{}", name(a), name(b)));
            }
        }
    }
    assert!(
        mutual.is_empty(),
        "files importing each other (move what both need into a module of its own):\n{}",
        mutual.join("\n")
    );
}

#[test]
fn use_trees_expand() {
    assert_eq!(
        expand("a::{b, c::{d, e as f}}"),
        ["a::b", "a::c::d", "a::c::e as f"]
    );
}
