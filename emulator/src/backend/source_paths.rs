//! Source paths in a function's output.
//!
//! The process runtime runs an interpreted function from a versioned copy
//! of its CodeUri (`.fogbank/build/<F>/v<N>/`), so that a reload never
//! changes files under a running instance. Python and Node name that copy
//! in tracebacks, which sends a developer who clicks one to a file whose
//! edits are never served. A path into the copy is therefore shown as the
//! source file it was copied from, when that file exists; files that exist
//! only in the copy (dependencies installed into it) keep their path.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Bytes that end a path in a traceback line: Python quotes its paths
/// (`File "/…/app.py", line 3`), Node puts line and column after a colon,
/// in parentheses (`at handler (/…/app.mjs:3:9)`). A backslash ends one
/// inside a JSON string (`\"`).
const PATH_END: &[u8] = b"\"':()<>, \t\\";

/// The build copy's directory, as the function may print it, and the
/// source directory it was copied from.
#[derive(Debug, Clone)]
pub struct SourcePaths {
    /// `build/` with its trailing slash, in every spelling the function may
    /// print: as given, and with symbolic links resolved (Node resolves
    /// them in module paths).
    build_prefixes: Vec<Vec<u8>>,
    source: PathBuf,
}

impl SourcePaths {
    /// None when the function runs from its source directory itself, so
    /// there is nothing to map.
    pub fn new(build: &Path, source: &Path) -> Option<SourcePaths> {
        let build = std::path::absolute(build).ok()?;
        let source = std::path::absolute(source).ok()?;
        if build == source {
            return None;
        }
        let mut build_prefixes = vec![with_slash(&build)];
        if let Ok(resolved) = build.canonicalize()
            && resolved != build
        {
            build_prefixes.push(with_slash(&resolved));
        }
        Some(SourcePaths {
            build_prefixes,
            source,
        })
    }

    /// The line with every path into the build copy that has a source
    /// file replaced by that source file's path.
    pub fn rewrite<'a>(&self, line: &'a [u8]) -> Cow<'a, [u8]> {
        self.rewrite_with(line, |path| path.is_file(), Encoding::Raw)
    }

    /// The same for a JSON document, such as the error a function reports
    /// (its `stackTrace`): the source paths are escaped as JSON strings.
    pub fn rewrite_json<'a>(&self, json: &'a [u8]) -> Cow<'a, [u8]> {
        self.rewrite_with(json, |path| path.is_file(), Encoding::JsonString)
    }

    fn rewrite_with<'a>(
        &self,
        line: &'a [u8],
        is_source_file: impl Fn(&Path) -> bool,
        encoding: Encoding,
    ) -> Cow<'a, [u8]> {
        let mut rewritten: Option<Vec<u8>> = None;
        // Everything before `copied` is already in `rewritten`.
        let mut copied = 0;
        let mut position = 0;
        while position < line.len() {
            let Some((start, prefix)) = self.next_prefix(&line[position..]) else {
                break;
            };
            let relative_start = position + start + prefix;
            let relative_end = line[relative_start..]
                .iter()
                .position(|byte| PATH_END.contains(byte))
                .map_or(line.len(), |end| relative_start + end);
            let relative = &line[relative_start..relative_end];
            let source = std::str::from_utf8(relative)
                .ok()
                .filter(|relative| {
                    // Joining an absolute path would replace the source
                    // directory; `..` would climb out of it.
                    !relative.is_empty() && !relative.starts_with('/') && !relative.contains("..")
                })
                .map(|relative| self.source.join(relative))
                .filter(|source| is_source_file(source));
            if let Some(source) = source {
                let out = rewritten.get_or_insert_with(|| Vec::with_capacity(line.len()));
                out.extend_from_slice(&line[copied..position + start]);
                encoding.append(&source, out);
                copied = relative_end;
            }
            position = relative_end.max(position + start + 1);
        }
        match rewritten {
            Some(mut out) => {
                out.extend_from_slice(&line[copied..]);
                Cow::Owned(out)
            }
            None => Cow::Borrowed(line),
        }
    }

    /// The first occurrence of any build prefix in `text`: its offset and
    /// length.
    fn next_prefix(&self, text: &[u8]) -> Option<(usize, usize)> {
        self.build_prefixes
            .iter()
            .filter_map(|prefix| find(text, prefix).map(|offset| (offset, prefix.len())))
            .min()
    }
}

/// The offset of `needle` in `haystack`. Log lines are short, so a plain
/// scan is as good as a substring-search crate here.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// How a source path is written into the text being rewritten.
#[derive(Clone, Copy)]
enum Encoding {
    Raw,
    JsonString,
}

impl Encoding {
    fn append(self, path: &Path, out: &mut Vec<u8>) {
        let bytes = path.as_os_str().as_encoded_bytes();
        match self {
            Encoding::Raw => out.extend_from_slice(bytes),
            Encoding::JsonString => {
                let quoted = serde_json::Value::from(String::from_utf8_lossy(bytes)).to_string();
                let inner = quoted
                    .strip_prefix('"')
                    .and_then(|rest| rest.strip_suffix('"'))
                    .unwrap_or(&quoted);
                out.extend_from_slice(inner.as_bytes());
            }
        }
    }
}

fn with_slash(directory: &Path) -> Vec<u8> {
    let mut bytes = directory.as_os_str().as_encoded_bytes().to_vec();
    if bytes.last() != Some(&b'/') {
        bytes.push(b'/');
    }
    bytes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const BUILD: &str = "/app/.fogbank/build/Hello/v3";

    fn replace_all(text: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(at) = find(rest, from) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(to);
            rest = &rest[at + from.len()..];
        }
        out.extend_from_slice(rest);
        out
    }
    const SOURCE: &str = "/app/hello_world";

    /// Rewrites `line` as if the source directory held `source_files`.
    fn check(line: &str, source_files: &[&str], expected: &str) {
        let paths = SourcePaths::new(Path::new(BUILD), Path::new(SOURCE)).unwrap();
        let rewritten = paths.rewrite_with(
            line.as_bytes(),
            |path| {
                source_files
                    .iter()
                    .any(|file| Path::new(SOURCE).join(file) == path)
            },
            Encoding::Raw,
        );
        assert_eq!(String::from_utf8_lossy(&rewritten), expected, "{line}");
    }

    #[test]
    fn python_tracebacks_name_the_source() {
        check(
            r#"  File "/app/.fogbank/build/Hello/v3/app.py", line 7, in lambda_handler"#,
            &["app.py"],
            r#"  File "/app/hello_world/app.py", line 7, in lambda_handler"#,
        );
        check(
            r#"  File "/app/.fogbank/build/Hello/v3/pkg/util.py", line 2, in f"#,
            &["pkg/util.py"],
            r#"  File "/app/hello_world/pkg/util.py", line 2, in f"#,
        );
    }

    #[test]
    fn node_stack_lines_name_the_source() {
        check(
            "    at handler (/app/.fogbank/build/Hello/v3/app.js:3:9)",
            &["app.js"],
            "    at handler (/app/hello_world/app.js:3:9)",
        );
        check(
            "    at handler (file:///app/.fogbank/build/Hello/v3/app.mjs:3:9)",
            &["app.mjs"],
            "    at handler (file:///app/hello_world/app.mjs:3:9)",
        );
        check(
            "/app/.fogbank/build/Hello/v3/a.js:1 and /app/.fogbank/build/Hello/v3/b.js:2",
            &["a.js", "b.js"],
            "/app/hello_world/a.js:1 and /app/hello_world/b.js:2",
        );
    }

    #[test]
    fn files_only_in_the_copy_keep_their_path() {
        // A dependency installed into the version has no source file.
        let line = r#"  File "/app/.fogbank/build/Hello/v3/requests/api.py", line 1, in get"#;
        check(line, &["app.py"], line);
        // The directory itself, and paths climbing out of it, are left.
        check(
            "cwd: /app/.fogbank/build/Hello/v3/",
            &["app.py"],
            "cwd: /app/.fogbank/build/Hello/v3/",
        );
        let climbing = "/app/.fogbank/build/Hello/v3/../v2/app.py";
        check(climbing, &["../v2/app.py"], climbing);
    }

    #[test]
    fn other_lines_are_borrowed_unchanged() {
        let paths = SourcePaths::new(Path::new(BUILD), Path::new(SOURCE)).unwrap();
        let line = b"[INFO] hello from /app/.fogbank/build/Hello/v30/app.py";
        assert!(matches!(
            paths.rewrite_with(line, |_| true, Encoding::Raw),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            paths.rewrite_with(b"plain output", |_| true, Encoding::Raw),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn error_reports_name_the_source_as_json() {
        let paths = SourcePaths::new(Path::new(BUILD), Path::new("/app/my \"src\"")).unwrap();
        let report = br#"{"stackTrace": ["  File \"/app/.fogbank/build/Hello/v3/app.py\", line 4, in handler\n"]}"#;
        let rewritten = paths.rewrite_with(report, |_| true, Encoding::JsonString);
        let parsed: serde_json::Value = serde_json::from_slice(&rewritten).unwrap();
        assert_eq!(
            parsed["stackTrace"][0],
            "  File \"/app/my \"src\"/app.py\", line 4, in handler\n"
        );
    }

    #[test]
    fn a_function_run_from_its_source_needs_no_map() {
        assert!(SourcePaths::new(Path::new(SOURCE), Path::new(SOURCE)).is_none());
    }

    proptest::proptest! {
        /// Whatever a function prints, rewriting never panics and only
        /// ever swaps the build directory for the source directory: undoing
        /// that swap gives back the line, byte for byte.
        #[test]
        fn any_output_survives_rewriting(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::arbitrary::any::<Vec<u8>>(),
                    proptest::strategy::Just(b"/app/.fogbank/build/Hello/v3/".to_vec()),
                    proptest::strategy::Just(b"app.py".to_vec()),
                    proptest::strategy::Just(b"\\\"".to_vec()),
                ],
                0..8,
            ),
        ) {
            let line: Vec<u8> = pieces.concat();
            proptest::prop_assume!(find(&line, b"/app/hello_world/").is_none());
            let paths = SourcePaths::new(Path::new(BUILD), Path::new(SOURCE)).unwrap();
            for encoding in [Encoding::Raw, Encoding::JsonString] {
                let rewritten = paths.rewrite_with(&line, |path| path.ends_with("app.py"), encoding);
                proptest::prop_assert_eq!(
                    replace_all(&rewritten, b"/app/hello_world/", b"/app/.fogbank/build/Hello/v3/"),
                    line.clone()
                );
                if find(&line, b"/app/.fogbank/build/Hello/v3/").is_none() {
                    proptest::prop_assert!(matches!(rewritten, Cow::Borrowed(_)));
                }
            }
        }
    }
}
