//! Test support: the committed fixtures and a [`Memory`] over core dumps.
//!
//! A core dump stands in for a stopped process: `NT_PRSTATUS` gives the
//! registers of the stopped thread, `PT_LOAD` segments give writable
//! memory (stack, heap, data), and read-only segments, which build.sh
//! strips from the cores, are read from the executable itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};

use super::error::MemoryError;
use super::target::{Memory, Registers};
use super::{DebugInfo, arch};

/// Path of a committed fixture.
pub(crate) fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Loads a fixture executable (bias 0).
pub(crate) fn load(name: &str) -> DebugInfo {
    let bytes =
        std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("reading fixture {name}: {e}"));
    DebugInfo::from_raw(&bytes).unwrap()
}

/// A parsed core dump.
pub(crate) struct CoreDump {
    segments: Vec<(u64, Vec<u8>)>,
    pub(crate) registers: Registers,
    at_entry: u64,
}

impl CoreDump {
    pub(crate) fn open(name: &str) -> CoreDump {
        let data = std::fs::read(fixture_path(name)).unwrap();
        let data = data.as_slice();
        let header = elf::FileHeader64::<object::Endianness>::parse(data).unwrap();
        let endian = header.endian().unwrap();
        let mut segments = Vec::new();
        let mut registers = Registers::new();
        let mut at_entry = 0;
        for program in header.program_headers(endian, data).unwrap() {
            match program.p_type(endian) {
                elf::PT_LOAD => {
                    let bytes = program.data(endian, data).unwrap();
                    if !bytes.is_empty() {
                        segments.push((program.p_vaddr(endian), bytes.to_vec()));
                    }
                }
                elf::PT_NOTE => {
                    let mut notes = program.notes(endian, data).unwrap().unwrap();
                    while let Some(note) = notes.next().unwrap() {
                        match note.n_type(endian) {
                            elf::NT_PRSTATUS if registers.pc().is_none() => {
                                registers = prstatus_registers(note.desc());
                            }
                            elf::NT_AUXV => at_entry = auxv_entry(note.desc()),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        CoreDump {
            segments,
            registers,
            at_entry,
        }
    }

    /// The load bias of `info`'s executable in this process.
    pub(crate) fn bias_for(&self, info: &DebugInfo) -> u64 {
        self.at_entry - info.entry_point()
    }

    /// A memory reader over this core, falling back to the executable.
    pub(crate) fn memory<'a>(&'a self, executable: &'a DebugInfo) -> CoreMemory<'a> {
        CoreMemory {
            core: self,
            executable,
        }
    }
}

fn words(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|chunk| u64::from_le_bytes(chunk.try_into().unwrap()))
        .collect()
}

/// The x86_64 `user_regs_struct` inside `elf_prstatus` (at offset 112).
fn prstatus_registers(desc: &[u8]) -> Registers {
    const ORDER: [&str; 27] = [
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx",
        "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds",
        "es", "fs", "gs",
    ];
    let mut registers = Registers::new();
    for (name, value) in ORDER.iter().zip(words(&desc[112..112 + 27 * 8])) {
        registers.set_by_name(name, value);
    }
    assert!(registers.get(arch::PC).is_some());
    registers
}

fn auxv_entry(desc: &[u8]) -> u64 {
    let words = words(desc);
    words
        .chunks_exact(2)
        .find(|pair| pair[0] == 9) // AT_ENTRY
        .map(|pair| pair[1])
        .unwrap()
}

/// Reads a core dump's memory, or the executable's file-backed segments.
pub(crate) struct CoreMemory<'a> {
    core: &'a CoreDump,
    executable: &'a DebugInfo,
}

impl Memory for CoreMemory<'_> {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let len = buf.len() as u64;
        for (start, bytes) in &self.core.segments {
            if address >= *start && address.saturating_add(len) <= start + bytes.len() as u64 {
                let offset = (address - start) as usize;
                buf.copy_from_slice(&bytes[offset..offset + buf.len()]);
                return Ok(());
            }
        }
        if let Some(bytes) = self.executable.read_file_bytes(address, buf.len()) {
            buf.copy_from_slice(bytes);
            return Ok(());
        }
        Err(MemoryError {
            address,
            len: buf.len(),
            reason: "not in the core dump".into(),
        })
    }
}

/// A fixture stopped in its core dump, with the bias applied.
pub(crate) struct Stopped {
    pub(crate) info: DebugInfo,
    pub(crate) core: CoreDump,
}

impl Stopped {
    pub(crate) fn open(program: &str) -> Stopped {
        let mut info = load(program);
        let core = CoreDump::open(&format!("{program}.core"));
        info.set_load_bias(core.bias_for(&info));
        Stopped { info, core }
    }

    pub(crate) fn memory(&self) -> CoreMemory<'_> {
        self.core.memory(&self.info)
    }
}
