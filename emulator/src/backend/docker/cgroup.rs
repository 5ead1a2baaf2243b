//! A container's peak memory use, read straight from its memory cgroup on
//! the host, so that the REPORT line's `Max Memory Used` costs one `pread`
//! and no Engine API call.
//!
//! Where the cgroup lives depends on the cgroup version and on the engine's
//! cgroup driver, so the known places are tried in turn, then the path the
//! container's first process reports in `/proc/PID/cgroup`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The open memory-accounting file of one container.
#[derive(Debug)]
pub(crate) struct MemoryPeak {
    file: File,
}

/// The file names that hold peak usage, best first: cgroup v1's
/// high-water mark, cgroup v2's `memory.peak` (Linux 5.19+), and v2's
/// current usage as a last resort on older kernels.
const FILES: [&str; 3] = ["memory.max_usage_in_bytes", "memory.peak", "memory.current"];

impl MemoryPeak {
    /// Finds the memory cgroup of container `id` by the places engines put
    /// it.
    pub fn by_container_id(id: &str) -> Option<MemoryPeak> {
        candidate_dirs(Path::new(CGROUP_ROOT), id)
            .iter()
            .find_map(|dir| MemoryPeak::open_in(dir))
    }

    /// Finds the memory cgroup of the process `pid` (a process of the
    /// container) from `/proc/PID/cgroup`.
    pub fn by_pid(pid: u32) -> Option<MemoryPeak> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        dirs_from_proc(Path::new(CGROUP_ROOT), &text)
            .iter()
            .find_map(|dir| MemoryPeak::open_in(dir))
    }

    fn open_in(dir: &Path) -> Option<MemoryPeak> {
        FILES
            .iter()
            .find_map(|name| File::open(dir.join(name)).ok())
            .map(|file| MemoryPeak { file })
    }

    /// The peak in whole megabytes, rounded up; `None` once the cgroup is
    /// gone.
    pub fn megabytes(&self) -> Option<u64> {
        let mut buffer = [0u8; 32];
        let read = self.file.read_at(&mut buffer, 0).ok()?;
        parse_megabytes(&buffer[..read])
    }
}

/// Where the engines put a container's memory cgroup: the cgroupfs driver
/// and the systemd driver, on cgroup v1 and v2.
fn candidate_dirs(root: &Path, id: &str) -> Vec<PathBuf> {
    let scope = format!("docker-{id}.scope");
    vec![
        root.join("memory/docker").join(id),
        root.join("memory/system.slice").join(&scope),
        root.join("system.slice").join(&scope),
        root.join("docker").join(id),
    ]
}

/// The memory cgroup directories named in a `/proc/PID/cgroup` text: the
/// v1 `memory` controller's line, and the v2 unified (`0::`) line.
fn dirs_from_proc(root: &Path, text: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let relative = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "memory") {
            dirs.push(root.join("memory").join(relative));
        } else if controllers.is_empty() {
            dirs.push(root.join(relative));
        }
    }
    dirs
}

fn parse_megabytes(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let value: u64 = text.trim().parse().ok()?;
    Some(value.div_ceil(1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_cgroup_lines_name_the_memory_cgroup() {
        let check = |text: &str, expected: &[&str]| {
            let dirs = dirs_from_proc(Path::new("/sys/fs/cgroup"), text);
            let expected: Vec<PathBuf> = expected.iter().map(PathBuf::from).collect();
            assert_eq!(dirs, expected, "{text}");
        };
        check(
            "12:pids:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n",
            &["/sys/fs/cgroup/memory/docker/abc"],
        );
        check(
            "0::/system.slice/docker-abc.scope\n",
            &["/sys/fs/cgroup/system.slice/docker-abc.scope"],
        );
        check("5:cpu,memory:/x\n", &["/sys/fs/cgroup/memory/x"]);
        check("garbage\n\n", &[]);
    }

    #[test]
    fn candidates_cover_both_drivers_and_versions() {
        let dirs = candidate_dirs(Path::new("/cg"), "abc");
        assert!(dirs.contains(&PathBuf::from("/cg/memory/docker/abc")));
        assert!(dirs.contains(&PathBuf::from("/cg/system.slice/docker-abc.scope")));
    }

    #[test]
    fn usage_is_rounded_up_to_megabytes() {
        assert_eq!(parse_megabytes(b"1048576\n"), Some(1));
        assert_eq!(parse_megabytes(b"1048577\n"), Some(2));
        assert_eq!(parse_megabytes(b"0"), Some(0));
        assert_eq!(parse_megabytes(b"max\n"), None);
    }
}
