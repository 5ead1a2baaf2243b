//! Staleness: a build unit's inputs hashed into a fingerprint. A unit is
//! rebuilt only when its fingerprint differs from the one its output was
//! built from (the builder keeps that one in a stamp beside the output), so a save that changes nothing (or touches an ignored file)
//! rebuilds nothing, and `fogbank start` skips builds that are current.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ignore::is_ignored;

/// The hex SHA-256 of a unit's inputs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub String);

/// Hashes `config` (the build settings, which change the output too) and
/// every file under `root` that is not ignored, by relative path and
/// content, skipping `exclude` (the template, whose edits are handled as a
/// template reload). A file that vanishes mid-walk is skipped: the watcher
/// reports its removal and the next fingerprint sees the settled tree.
pub fn fingerprint(root: &Path, config: &str, exclude: &[PathBuf]) -> Fingerprint {
    let mut files = Vec::new();
    collect(root, root, exclude, &mut files);
    files.sort();
    let mut hasher = Sha256::new();
    hasher.update((config.len() as u64).to_le_bytes());
    hasher.update(config.as_bytes());
    for relative in &files {
        let Ok(content) = std::fs::read(root.join(relative)) else {
            continue;
        };
        let name = relative.as_os_str().as_encoded_bytes();
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name);
        hasher.update((content.len() as u64).to_le_bytes());
        hasher.update(&content);
    }
    Fingerprint(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

fn collect(root: &Path, dir: &Path, exclude: &[PathBuf], files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(relative) = path.strip_prefix(root) else {
            continue;
        };
        if is_ignored(relative) || exclude.iter().any(|e| e == &path) {
            continue;
        }
        // Symbolic links are followed for files but not for directories,
        // so a link cycle cannot make the walk endless.
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => collect(root, &path, exclude, files),
            Ok(_) if path.is_file() => files.push(relative.to_path_buf()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Applies `edit` to a tree and checks whether the fingerprint moved.
    fn check(edit: impl FnOnce(&Path), changes: bool) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "src/main.rs", "fn main() {}");
        write(root, "Cargo.toml", "[package]");
        write(root, "template.yaml", "Resources: {}");
        let exclude = vec![root.join("template.yaml")];
        let before = fingerprint(root, "rust-cargolambda", &exclude);
        edit(root);
        let after = fingerprint(root, "rust-cargolambda", &exclude);
        assert_eq!(before != after, changes);
    }

    #[test]
    fn content_changes_make_a_unit_stale() {
        check(|root| write(root, "src/main.rs", "fn main() { 1; }"), true);
        check(|root| write(root, "src/lib.rs", ""), true);
        check(
            |root| std::fs::remove_file(root.join("Cargo.toml")).unwrap(),
            true,
        );
        check(
            |root| std::fs::rename(root.join("src/main.rs"), root.join("src/bin.rs")).unwrap(),
            true,
        );
    }

    #[test]
    fn noise_leaves_a_unit_current() {
        // The same bytes written again (an editor's save without edits).
        check(|root| write(root, "src/main.rs", "fn main() {}"), false);
        check(|root| write(root, "target/release/hello", "binary"), false);
        check(|root| write(root, "src/.main.rs.swp", "swap"), false);
        check(|root| write(root, ".fogbank/build/H/bootstrap", "x"), false);
        check(
            |root| write(root, "template.yaml", "Resources: {X: 1}"),
            false,
        );
    }

    #[test]
    fn build_settings_are_inputs() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "app.py", "x = 1");
        assert_ne!(
            fingerprint(dir.path(), "python3.12", &[]),
            fingerprint(dir.path(), "python3.13", &[])
        );
    }
}
