//! `fogbank package-agent`: the files that put live mode's forwarding stub
//! into a cloud function.
//!
//! - `fogbank-agent-layer.zip`, a Lambda layer: `bin/fogbank-agent` (the
//!   static agent) and `fogbank-forward`, a wrapper for managed runtimes
//!   (`AWS_LAMBDA_EXEC_WRAPPER=/opt/fogbank-forward`): Lambda runs it with
//!   the runtime's command line, and it runs the stub instead, so the
//!   function's own code never starts in the cloud.
//! - `bootstrap`, for `provided.*` runtimes: the function's entry point,
//!   starting the stub from the layer.

use std::io::Write;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;

/// The layer's wrapper for managed runtimes.
pub const EXEC_WRAPPER: &str = "#!/bin/sh\n# Fogbank live mode: the cloud function's invocations are forwarded to the\n# developer's machine; the runtime command in \"$@\" is not started.\nexec /opt/bin/fogbank-agent --forward\n";

/// The bootstrap for `provided.*` runtimes.
pub const BOOTSTRAP: &str = "#!/bin/sh\n# Fogbank live mode: forward this function's invocations to the developer.\nexec /opt/bin/fogbank-agent --forward\n";

/// File name of the layer zip.
pub const LAYER_ZIP: &str = "fogbank-agent-layer.zip";

/// Packaging failures, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The agent binary cannot be read.
    #[error(
        "cannot read the agent binary {path}: {cause}; build it with `RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build -p fogbank-agent --release --target x86_64-unknown-linux-gnu` and pass it with --agent"
    )]
    Agent {
        /// The binary.
        path: PathBuf,
        /// The cause.
        cause: String,
    },
    /// Writing an output file failed.
    #[error("cannot write {path}: {cause}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: String,
    },
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packaged {
    /// The layer zip.
    pub layer: PathBuf,
    /// The bootstrap script.
    pub bootstrap: PathBuf,
    /// Whether the agent binary is statically linked (it must be, for a
    /// sandbox whose libc differs from the build machine's).
    pub agent_is_static: bool,
}

/// Whether an ELF binary has no program interpreter (`PT_INTERP`), i.e.
/// is statically linked. Reads the 64-bit little-endian program headers.
pub fn is_static_elf(bytes: &[u8]) -> bool {
    let read_u16 = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let read_u64 = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(|b: [u8; 8]| u64::from_le_bytes(b) as usize)
    };
    if bytes.get(..4) != Some(b"\x7fELF") || bytes.get(4) != Some(&2) {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) =
        (read_u64(0x20), read_u16(0x36), read_u16(0x38))
    else {
        return false;
    };
    (0..phnum).all(|index| {
        let at = phoff.saturating_add(index.saturating_mul(phentsize));
        // PT_INTERP is 3.
        bytes.get(at..at + 4) != Some(&3u32.to_le_bytes()[..])
    })
}

/// Writes the layer zip and the bootstrap into `out`.
pub fn package_agent(agent: &Path, out: &Path) -> Result<Packaged, PackageError> {
    let binary = std::fs::read(agent).map_err(|error| PackageError::Agent {
        path: agent.to_path_buf(),
        cause: error.to_string(),
    })?;
    let write_error = |path: &Path, error: &dyn std::fmt::Display| PackageError::Write {
        path: path.to_path_buf(),
        cause: error.to_string(),
    };
    std::fs::create_dir_all(out).map_err(|error| write_error(out, &error))?;
    let layer = out.join(LAYER_ZIP);
    let file = std::fs::File::create(&layer).map_err(|error| write_error(&layer, &error))?;
    let mut zip = zip::ZipWriter::new(file);
    let executable = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    let entries: [(&str, &[u8]); 2] = [
        ("bin/fogbank-agent", &binary),
        ("fogbank-forward", EXEC_WRAPPER.as_bytes()),
    ];
    for (name, bytes) in entries {
        zip.start_file(name, executable)
            .map_err(|error| write_error(&layer, &error))?;
        zip.write_all(bytes)
            .map_err(|error| write_error(&layer, &error))?;
    }
    zip.finish().map_err(|error| write_error(&layer, &error))?;
    let bootstrap = out.join("bootstrap");
    std::fs::write(&bootstrap, BOOTSTRAP).map_err(|error| write_error(&bootstrap, &error))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
            .map_err(|error| write_error(&bootstrap, &error))?;
    }
    Ok(Packaged {
        layer,
        bootstrap,
        agent_is_static: is_static_elf(&binary),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn packages_a_layer_with_the_agent_and_the_wrapper() {
        let dir = std::env::temp_dir().join(format!("fogbank-package-{}", std::process::id()));
        let agent = dir.join("agent-bin");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&agent, b"\x7fELF not really").unwrap();
        let packaged = package_agent(&agent, &dir.join("out")).unwrap();
        let mut archive =
            zip::ZipArchive::new(std::fs::File::open(&packaged.layer).unwrap()).unwrap();
        let mut names: Vec<_> = archive.file_names().map(str::to_owned).collect();
        names.sort();
        assert_eq!(names, ["bin/fogbank-agent", "fogbank-forward"]);
        assert_eq!(
            archive
                .by_name("bin/fogbank-agent")
                .unwrap()
                .unix_mode()
                .map(|m| m & 0o777),
            Some(0o755)
        );
        assert_eq!(
            std::fs::read_to_string(&packaged.bootstrap).unwrap(),
            BOOTSTRAP
        );
        assert!(!packaged.agent_is_static);
        let error = package_agent(&dir.join("missing"), &dir.join("out")).unwrap_err();
        assert!(
            error.to_string().starts_with(&format!(
                "cannot read the agent binary {}",
                dir.join("missing").display()
            )),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn static_detection() {
        // This test binary is dynamically linked (it has PT_INTERP).
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(!is_static_elf(&me));
        assert!(!is_static_elf(b"#!/bin/sh"));
    }

    proptest! {
        #[test]
        fn elf_reading_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut elf = b"\x7fELF\x02".to_vec();
            elf.extend_from_slice(&bytes);
            let _ = is_static_elf(&elf);
            let _ = is_static_elf(&bytes);
        }
    }
}
