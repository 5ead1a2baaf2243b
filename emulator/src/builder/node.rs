//! Node.js dependencies and esbuild bundles.
//!
//! Dependencies are installed with `npm ci` (or `npm install` without a
//! lock file) into a shared directory named by a hash of `package.json`
//! and the lock file, so they are installed again only when those change;
//! each version directory links its `node_modules` there.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::BuildError;
use super::process::run;
use crate::app::{Function, Runtime};
use crate::console::{Console, Prefix};

/// Installs the function's npm dependencies, when `package.json` declares
/// any, and returns the `node_modules` directory to use. Without declared
/// dependencies, a `node_modules` the developer installed is used as is.
pub(super) async fn dependencies(
    function: &Function,
    build_root: &Path,
    console: &Console,
    prefix: &Prefix,
) -> Result<Option<PathBuf>, BuildError> {
    let manifest_path = function.code_uri.join("package.json");
    let local_modules = function.code_uri.join("node_modules");
    let Ok(manifest) = std::fs::read(&manifest_path) else {
        return Ok(local_modules.is_dir().then_some(local_modules));
    };
    let bundling = function.build.method.as_deref() == Some("esbuild");
    let parsed: serde_json::Value =
        serde_json::from_slice(&manifest).map_err(|e| BuildError::Output {
            function: function.logical_id.clone(),
            message: format!("{} is not valid JSON: {e}", manifest_path.display()),
        })?;
    if !declares_dependencies(&parsed, bundling) {
        return Ok(local_modules.is_dir().then_some(local_modules));
    }
    let lock_path = function.code_uri.join("package-lock.json");
    let lock = std::fs::read(&lock_path).ok();
    let mut hasher = Sha256::new();
    hasher.update(&manifest);
    hasher.update(lock.as_deref().unwrap_or_default());
    hasher.update([u8::from(bundling)]);
    let digest: String = hasher
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let installed = build_root.join("node-deps").join(&digest);
    if installed.join("node_modules").is_dir() {
        return Ok(Some(installed.join("node_modules")));
    }
    let io_error = |path: &Path, cause| BuildError::Io {
        function: function.logical_id.clone(),
        path: path.to_path_buf(),
        cause,
    };
    let staging = build_root
        .join("node-deps")
        .join(format!("{digest}.staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|cause| io_error(&staging, cause))?;
    std::fs::write(staging.join("package.json"), &manifest)
        .map_err(|cause| io_error(&staging, cause))?;
    if let Some(lock) = &lock {
        std::fs::write(staging.join("package-lock.json"), lock)
            .map_err(|cause| io_error(&staging, cause))?;
    }
    let verb = if lock.is_some() { "ci" } else { "install" };
    let mut command = tokio::process::Command::new("npm");
    command
        .arg(verb)
        .args(["--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&staging);
    if !bundling {
        // Like SAM's npm builder: the function gets its production
        // dependencies; esbuild needs the dev ones (esbuild itself).
        command.arg("--omit=dev");
    }
    let result = run(function, command, format!("npm {verb}"), console, prefix).await;
    if let Err(error) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    if std::fs::rename(&staging, &installed).is_err() {
        // Another build installed the same dependencies first; use theirs.
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(Some(installed.join("node_modules")))
}

fn declares_dependencies(manifest: &serde_json::Value, with_dev: bool) -> bool {
    let non_empty = |key: &str| {
        manifest
            .get(key)
            .and_then(|v| v.as_object())
            .is_some_and(|m| !m.is_empty())
    };
    non_empty("dependencies") || (with_dev && non_empty("devDependencies"))
}

/// `BuildMethod: esbuild`: bundles the entry points into `out`.
pub(super) async fn esbuild(
    function: &Function,
    modules: Option<&Path>,
    out: &Path,
    console: &Console,
    prefix: &Prefix,
) -> Result<(), BuildError> {
    let binary = [modules.map(Path::to_path_buf), Some(function.code_uri.join("node_modules"))]
        .into_iter()
        .flatten()
        .map(|dir| dir.join(".bin").join("esbuild"))
        .find(|path| path.is_file())
        .or_else(|| crate::host::find_on_path("esbuild"))
        .ok_or_else(|| BuildError::Output {
            function: function.logical_id.clone(),
            message: "BuildMethod esbuild needs esbuild: add it to devDependencies (npm install --save-dev esbuild) or put it on PATH".to_owned(),
        })?;
    let arguments = esbuild_arguments(function, out).map_err(|message| BuildError::Output {
        function: function.logical_id.clone(),
        message,
    })?;
    let mut command = tokio::process::Command::new(&binary);
    command.args(&arguments).current_dir(&function.code_uri);
    run(
        function,
        command,
        format!("esbuild {}", arguments.join(" ")),
        console,
        prefix,
    )
    .await
}

/// esbuild's command line from SAM's BuildProperties (`EntryPoints`,
/// `Format`, `Target`, `Minify`, `Sourcemap`, `External`).
fn esbuild_arguments(function: &Function, out: &Path) -> Result<Vec<String>, String> {
    let properties = &function.build.properties;
    let list = |key: &str| -> Result<Vec<String>, String> {
        match properties.get(key) {
            None => Ok(Vec::new()),
            Some(text) if text.trim_start().starts_with('[') => serde_json::from_str(text)
                .map_err(|_| format!("Metadata.BuildProperties.{key} should be a list of strings")),
            Some(text) => Ok(vec![text.clone()]),
        }
    };
    let flag = |key: &str| {
        properties
            .get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    };
    let entry_points = list("EntryPoints")?;
    if entry_points.is_empty() {
        return Err(
            "BuildMethod esbuild needs Metadata.BuildProperties.EntryPoints (for example [app.ts])"
                .to_owned(),
        );
    }
    let mut arguments = entry_points;
    arguments.extend(["--bundle".to_owned(), "--platform=node".to_owned()]);
    arguments.push(format!("--outdir={}", out.display()));
    arguments.push(format!(
        "--format={}",
        properties.get("Format").map_or("cjs", String::as_str)
    ));
    let target = match (&function.runtime, properties.get("Target")) {
        (_, Some(target)) => target.clone(),
        (Runtime::Node { major, .. }, None) => format!("node{major}"),
        _ => "node20".to_owned(),
    };
    arguments.push(format!("--target={target}"));
    if flag("Minify") {
        arguments.push("--minify".to_owned());
    }
    if flag("Sourcemap") {
        arguments.push("--sourcemap".to_owned());
    }
    for external in list("External")? {
        arguments.push(format!("--external:{external}"));
    }
    Ok(arguments)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::super::test_support::function;
    use super::*;

    fn check(properties: &[(&str, &str)], expected: Result<&str, &str>) {
        let base = function(
            "Bundled",
            Runtime::Node {
                id: "nodejs20.x".into(),
                major: 20,
            },
            Path::new("/app/src"),
            Some("esbuild"),
        );
        let mut function = Function::clone(&base);
        for (key, value) in properties {
            function
                .build
                .properties
                .insert((*key).to_owned(), (*value).to_owned());
        }
        match (esbuild_arguments(&function, Path::new("/out/v1")), expected) {
            (Ok(arguments), Ok(expected)) => assert_eq!(arguments.join(" "), expected),
            (Err(message), Err(fragment)) => assert!(message.contains(fragment), "{message}"),
            (got, _) => panic!("unexpected {got:?}"),
        }
    }

    #[test]
    fn esbuild_follows_sam_build_properties() {
        check(
            &[("EntryPoints", r#"["app.ts"]"#)],
            Ok("app.ts --bundle --platform=node --outdir=/out/v1 --format=cjs --target=node20"),
        );
        check(
            &[
                ("EntryPoints", r#"["app.ts","worker.ts"]"#),
                ("Format", "esm"),
                ("Target", "es2020"),
                ("Minify", "true"),
                ("Sourcemap", "true"),
                ("External", r#"["@aws-sdk/*"]"#),
            ],
            Ok(
                "app.ts worker.ts --bundle --platform=node --outdir=/out/v1 --format=esm --target=es2020 --minify --sourcemap --external:@aws-sdk/*",
            ),
        );
        check(&[], Err("needs Metadata.BuildProperties.EntryPoints"));
        check(&[("EntryPoints", "[1, 2]")], Err("list of strings"));
    }

    #[test]
    fn dependencies_are_installed_only_when_declared() {
        let check = |manifest: serde_json::Value, with_dev: bool, expected: bool| {
            assert_eq!(
                declares_dependencies(&manifest, with_dev),
                expected,
                "{manifest}"
            );
        };
        check(serde_json::json!({"name": "x"}), false, false);
        check(serde_json::json!({"dependencies": {}}), false, false);
        check(
            serde_json::json!({"dependencies": {"uuid": "^9"}}),
            false,
            true,
        );
        check(
            serde_json::json!({"devDependencies": {"esbuild": "^0.20"}}),
            false,
            false,
        );
        check(
            serde_json::json!({"devDependencies": {"esbuild": "^0.20"}}),
            true,
            true,
        );
    }
}
