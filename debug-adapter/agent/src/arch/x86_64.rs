//! x86_64 Linux: the register file as gdb sees it, its ptrace mapping, the
//! target description and the breakpoint instruction.
//!
//! The `g` packet carries gdbstub_arch's core+SSE registers (numbers 0..=56)
//! followed by the Linux extras gdb's amd64-linux ABI looks for: `orig_rax`
//! (57, feature `org.gnu.gdb.i386.linux`, which gdb needs to enable its Linux
//! support such as shared-library discovery) and `fs_base`/`gs_base` (58, 59,
//! feature `org.gnu.gdb.i386.segments`, needed to find thread-local storage).

use std::num::NonZeroUsize;

use gdbstub::arch::{Arch, RegId, Registers};
use gdbstub_arch::x86::reg::X86_64CoreRegs;
use gdbstub_arch::x86::reg::id::X86_64CoreRegId;
use nix::errno::Errno;
use nix::sys::ptrace;
use nix::unistd::Pid;

/// The instruction written over code to make a software breakpoint (`int3`).
pub const BREAKPOINT_INSTRUCTION: &[u8] = &[0xcc];

/// After a thread executes `int3`, its program counter is this far past the
/// breakpoint address; the agent rewinds it so gdb sees the breakpoint address.
pub const PC_ADVANCE_AFTER_BREAKPOINT: u64 = 1;

/// Byte length of the core+SSE block serialized by gdbstub_arch.
const CORE_LEN: usize = 0x218;
/// Register numbers of the Linux extras, after the 57 core+SSE registers.
const ORIG_RAX_REGNUM: usize = 57;
const FS_BASE_REGNUM: usize = 58;
const GS_BASE_REGNUM: usize = 59;

/// gdbstub architecture for a Linux x86_64 process.
#[derive(Debug)]
pub enum LinuxX86_64 {}

impl Arch for LinuxX86_64 {
    type Usize = u64;
    type Registers = LinuxX86_64Regs;
    type RegId = LinuxX86_64RegId;
    type BreakpointKind = usize;

    fn target_description_xml() -> Option<&'static str> {
        Some(TARGET_XML)
    }
}

/// The whole register file of one thread, in gdb's numbering.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LinuxX86_64Regs {
    /// General purpose, segment, x87 and SSE registers (gdb numbers 0..=56).
    pub core: X86_64CoreRegs,
    /// The syscall number the kernel restarts with; gdb writes -1 to it to
    /// cancel a syscall restart when it changes the program counter.
    pub orig_rax: u64,
    /// Base of the `fs` segment: the thread pointer used for TLS.
    pub fs_base: u64,
    /// Base of the `gs` segment.
    pub gs_base: u64,
}

impl Registers for LinuxX86_64Regs {
    type ProgramCounter = u64;

    fn pc(&self) -> u64 {
        self.core.rip
    }

    fn gdb_serialize(&self, mut write_byte: impl FnMut(Option<u8>)) {
        self.core.gdb_serialize(&mut write_byte);
        for value in [self.orig_rax, self.fs_base, self.gs_base] {
            for byte in value.to_le_bytes() {
                write_byte(Some(byte));
            }
        }
    }

    fn gdb_deserialize(&mut self, bytes: &[u8]) -> Result<(), ()> {
        let core = bytes.get(..CORE_LEN).ok_or(())?;
        self.core.gdb_deserialize(core)?;
        // A client that knows only the core registers sends a shorter `G`;
        // the Linux extras then keep their current values.
        let extras = &bytes[CORE_LEN..];
        for (index, slot) in [&mut self.orig_rax, &mut self.fs_base, &mut self.gs_base]
            .into_iter()
            .enumerate()
        {
            if let Some(chunk) = extras.get(index * 8..index * 8 + 8) {
                let mut value = [0u8; 8];
                value.copy_from_slice(chunk);
                *slot = u64::from_le_bytes(value);
            }
        }
        Ok(())
    }
}

/// Identifies one register for the `p`/`P` packets.
#[derive(Debug, Clone, Copy)]
pub enum LinuxX86_64RegId {
    /// A core or SSE register.
    Core(X86_64CoreRegId),
    /// `orig_rax`.
    OrigRax,
    /// `fs_base`.
    FsBase,
    /// `gs_base`.
    GsBase,
}

impl RegId for LinuxX86_64RegId {
    fn from_raw_id(id: usize) -> Option<(Self, Option<NonZeroUsize>)> {
        let eight = NonZeroUsize::new(8);
        match id {
            ORIG_RAX_REGNUM => Some((Self::OrigRax, eight)),
            FS_BASE_REGNUM => Some((Self::FsBase, eight)),
            GS_BASE_REGNUM => Some((Self::GsBase, eight)),
            _ => X86_64CoreRegId::from_raw_id(id).map(|(reg, size)| (Self::Core(reg), size)),
        }
    }
}

/// Reads the full register file of a stopped thread.
pub fn read_registers(tid: Pid) -> Result<LinuxX86_64Regs, Errno> {
    let gprs = ptrace::getregs(tid)?;
    let fprs = ptrace::getregset::<ptrace::regset::NT_PRFPREG>(tid)?;
    Ok(from_ptrace(&gprs, &fprs))
}

/// Writes the full register file of a stopped thread.
pub fn write_registers(tid: Pid, regs: &LinuxX86_64Regs) -> Result<(), Errno> {
    let mut gprs = ptrace::getregs(tid)?;
    let mut fprs = ptrace::getregset::<ptrace::regset::NT_PRFPREG>(tid)?;
    to_ptrace(regs, &mut gprs, &mut fprs);
    ptrace::setregs(tid, gprs)?;
    ptrace::setregset::<ptrace::regset::NT_PRFPREG>(tid, fprs)
}

/// Reads only the program counter (one syscall, for the hot stop path).
pub fn read_pc(tid: Pid) -> Result<u64, Errno> {
    Ok(ptrace::getregs(tid)?.rip)
}

/// Sets only the program counter.
pub fn write_pc(tid: Pid, pc: u64) -> Result<(), Errno> {
    let mut gprs = ptrace::getregs(tid)?;
    gprs.rip = pc;
    ptrace::setregs(tid, gprs)
}

/// Serializes one register the way the `p` packet carries it.
pub fn register_bytes(regs: &LinuxX86_64Regs, id: LinuxX86_64RegId) -> Vec<u8> {
    let (offset, len) = register_span(id);
    let mut all = Vec::with_capacity(CORE_LEN + 24);
    regs.gdb_serialize(|byte| all.push(byte.unwrap_or(0)));
    all.get(offset..offset + len)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// Replaces one register from `P` packet bytes; `Err` if the length is wrong.
// `Result<(), ()>` mirrors gdbstub's own `gdb_deserialize`, whose error
// carries no detail either.
#[allow(clippy::result_unit_err)]
pub fn set_register_bytes(
    regs: &mut LinuxX86_64Regs,
    id: LinuxX86_64RegId,
    value: &[u8],
) -> Result<(), ()> {
    let (offset, len) = register_span(id);
    if value.len() != len {
        return Err(());
    }
    let mut all = Vec::with_capacity(CORE_LEN + 24);
    regs.gdb_serialize(|byte| all.push(byte.unwrap_or(0)));
    all.get_mut(offset..offset + len)
        .ok_or(())?
        .copy_from_slice(value);
    regs.gdb_deserialize(&all)
}

/// Byte offset and length of a register inside the serialized `g` block.
fn register_span(id: LinuxX86_64RegId) -> (usize, usize) {
    use gdbstub_arch::x86::reg::id::{X86SegmentRegId, X87FpuInternalRegId};
    match id {
        LinuxX86_64RegId::Core(core) => match core {
            X86_64CoreRegId::Gpr(n) => (usize::from(n) * 8, 8),
            X86_64CoreRegId::Rip => (0x80, 8),
            X86_64CoreRegId::Eflags => (0x88, 4),
            X86_64CoreRegId::Segment(segment) => {
                let index = match segment {
                    X86SegmentRegId::CS => 0,
                    X86SegmentRegId::SS => 1,
                    X86SegmentRegId::DS => 2,
                    X86SegmentRegId::ES => 3,
                    X86SegmentRegId::FS => 4,
                    X86SegmentRegId::GS => 5,
                };
                (0x8c + index * 4, 4)
            }
            X86_64CoreRegId::St(n) => (0xa4 + usize::from(n) * 10, 10),
            X86_64CoreRegId::Fpu(fpu) => {
                let index = match fpu {
                    X87FpuInternalRegId::Fctrl => 0,
                    X87FpuInternalRegId::Fstat => 1,
                    X87FpuInternalRegId::Ftag => 2,
                    X87FpuInternalRegId::Fiseg => 3,
                    X87FpuInternalRegId::Fioff => 4,
                    X87FpuInternalRegId::Foseg => 5,
                    X87FpuInternalRegId::Fooff => 6,
                    X87FpuInternalRegId::Fop => 7,
                };
                (0xf4 + index * 4, 4)
            }
            X86_64CoreRegId::Xmm(n) => (0x114 + usize::from(n) * 16, 16),
            X86_64CoreRegId::Mxcsr => (0x214, 4),
            // gdbstub_arch's RegId is non-exhaustive in spirit; an unknown id
            // maps to an empty span, which reads as "unavailable".
            #[allow(unreachable_patterns)]
            _ => (0, 0),
        },
        LinuxX86_64RegId::OrigRax => (CORE_LEN, 8),
        LinuxX86_64RegId::FsBase => (CORE_LEN + 8, 8),
        LinuxX86_64RegId::GsBase => (CORE_LEN + 16, 8),
    }
}

/// Converts the kernel's register structs into gdb's register file.
pub fn from_ptrace(
    gprs: &libc::user_regs_struct,
    fprs: &libc::user_fpregs_struct,
) -> LinuxX86_64Regs {
    let mut core = X86_64CoreRegs {
        regs: [
            gprs.rax, gprs.rbx, gprs.rcx, gprs.rdx, gprs.rsi, gprs.rdi, gprs.rbp, gprs.rsp,
            gprs.r8, gprs.r9, gprs.r10, gprs.r11, gprs.r12, gprs.r13, gprs.r14, gprs.r15,
        ],
        rip: gprs.rip,
        eflags: gprs.eflags as u32,
        ..Default::default()
    };
    core.segments.cs = gprs.cs as u32;
    core.segments.ss = gprs.ss as u32;
    core.segments.ds = gprs.ds as u32;
    core.segments.es = gprs.es as u32;
    core.segments.fs = gprs.fs as u32;
    core.segments.gs = gprs.gs as u32;
    for (index, st) in core.st.iter_mut().enumerate() {
        let words = &fprs.st_space[index * 4..index * 4 + 4];
        let bytes: Vec<u8> = words.iter().flat_map(|word| word.to_le_bytes()).collect();
        st.copy_from_slice(&bytes[..10]);
    }
    core.fpu.fctrl = u32::from(fprs.cwd);
    core.fpu.fstat = u32::from(fprs.swd);
    core.fpu.ftag = full_tag_word(fprs.ftw);
    core.fpu.fioff = fprs.rip as u32;
    core.fpu.fiseg = ((fprs.rip >> 32) & 0xffff) as u32;
    core.fpu.fooff = fprs.rdp as u32;
    core.fpu.foseg = ((fprs.rdp >> 32) & 0xffff) as u32;
    core.fpu.fop = u32::from(fprs.fop & 0x7ff);
    for (index, xmm) in core.xmm.iter_mut().enumerate() {
        let words = &fprs.xmm_space[index * 4..index * 4 + 4];
        *xmm = words
            .iter()
            .rev()
            .fold(0u128, |acc, word| (acc << 32) | u128::from(*word));
    }
    core.mxcsr = fprs.mxcsr;
    LinuxX86_64Regs {
        core,
        orig_rax: gprs.orig_rax,
        fs_base: gprs.fs_base,
        gs_base: gprs.gs_base,
    }
}

/// Writes gdb's register file into the kernel's register structs, keeping
/// fields gdb does not model (such as `mxcr_mask`) as they were.
pub fn to_ptrace(
    regs: &LinuxX86_64Regs,
    gprs: &mut libc::user_regs_struct,
    fprs: &mut libc::user_fpregs_struct,
) {
    let core = &regs.core;
    let [
        rax,
        rbx,
        rcx,
        rdx,
        rsi,
        rdi,
        rbp,
        rsp,
        r8,
        r9,
        r10,
        r11,
        r12,
        r13,
        r14,
        r15,
    ] = core.regs;
    gprs.rax = rax;
    gprs.rbx = rbx;
    gprs.rcx = rcx;
    gprs.rdx = rdx;
    gprs.rsi = rsi;
    gprs.rdi = rdi;
    gprs.rbp = rbp;
    gprs.rsp = rsp;
    gprs.r8 = r8;
    gprs.r9 = r9;
    gprs.r10 = r10;
    gprs.r11 = r11;
    gprs.r12 = r12;
    gprs.r13 = r13;
    gprs.r14 = r14;
    gprs.r15 = r15;
    gprs.rip = core.rip;
    gprs.eflags = u64::from(core.eflags);
    gprs.cs = u64::from(core.segments.cs);
    gprs.ss = u64::from(core.segments.ss);
    gprs.ds = u64::from(core.segments.ds);
    gprs.es = u64::from(core.segments.es);
    gprs.fs = u64::from(core.segments.fs);
    gprs.gs = u64::from(core.segments.gs);
    gprs.orig_rax = regs.orig_rax;
    gprs.fs_base = regs.fs_base;
    gprs.gs_base = regs.gs_base;
    for (index, st) in core.st.iter().enumerate() {
        let mut bytes = [0u8; 16];
        bytes[..10].copy_from_slice(st);
        for (word_index, chunk) in bytes.chunks_exact(4).enumerate() {
            let mut word = [0u8; 4];
            word.copy_from_slice(chunk);
            fprs.st_space[index * 4 + word_index] = u32::from_le_bytes(word);
        }
    }
    fprs.cwd = core.fpu.fctrl as u16;
    fprs.swd = core.fpu.fstat as u16;
    fprs.ftw = abridged_tag_word(core.fpu.ftag);
    fprs.rip = u64::from(core.fpu.fioff) | (u64::from(core.fpu.fiseg & 0xffff) << 32);
    fprs.rdp = u64::from(core.fpu.fooff) | (u64::from(core.fpu.foseg & 0xffff) << 32);
    fprs.fop = (core.fpu.fop & 0x7ff) as u16;
    for (index, xmm) in core.xmm.iter().enumerate() {
        for word_index in 0..4 {
            fprs.xmm_space[index * 4 + word_index] = (xmm >> (32 * word_index)) as u32;
        }
    }
    fprs.mxcsr = core.mxcsr;
}

/// Expands FXSAVE's abridged tag byte (one "not empty" bit per register) to
/// the x87 tag word gdb shows (two bits per register: 00 valid, 11 empty).
fn full_tag_word(abridged: u16) -> u32 {
    (0..8).fold(0u32, |tags, register| {
        let tag = if abridged & (1 << register) != 0 {
            0b00
        } else {
            0b11
        };
        tags | (tag << (register * 2))
    })
}

/// The inverse of [`full_tag_word`]: any tag other than "empty" marks the
/// register as in use.
fn abridged_tag_word(full: u32) -> u16 {
    (0..8).fold(0u16, |abridged, register| {
        if (full >> (register * 2)) & 0b11 != 0b11 {
            abridged | (1 << register)
        } else {
            abridged
        }
    })
}

/// The target description served to gdb and to Fogbank's RSP client. It lists
/// every register in `g` packet order so that clients can map them by name.
pub const TARGET_XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target version="1.0">
  <architecture>i386:x86-64</architecture>
  <osabi>GNU/Linux</osabi>
  <feature name="org.gnu.gdb.i386.core">
    <flags id="i386_eflags" size="4">
      <field name="CF" start="0" end="0"/>
      <field name="" start="1" end="1"/>
      <field name="PF" start="2" end="2"/>
      <field name="AF" start="4" end="4"/>
      <field name="ZF" start="6" end="6"/>
      <field name="SF" start="7" end="7"/>
      <field name="TF" start="8" end="8"/>
      <field name="IF" start="9" end="9"/>
      <field name="DF" start="10" end="10"/>
      <field name="OF" start="11" end="11"/>
    </flags>
    <reg name="rax" bitsize="64" type="int64" regnum="0"/>
    <reg name="rbx" bitsize="64" type="int64"/>
    <reg name="rcx" bitsize="64" type="int64"/>
    <reg name="rdx" bitsize="64" type="int64"/>
    <reg name="rsi" bitsize="64" type="int64"/>
    <reg name="rdi" bitsize="64" type="int64"/>
    <reg name="rbp" bitsize="64" type="data_ptr"/>
    <reg name="rsp" bitsize="64" type="data_ptr"/>
    <reg name="r8" bitsize="64" type="int64"/>
    <reg name="r9" bitsize="64" type="int64"/>
    <reg name="r10" bitsize="64" type="int64"/>
    <reg name="r11" bitsize="64" type="int64"/>
    <reg name="r12" bitsize="64" type="int64"/>
    <reg name="r13" bitsize="64" type="int64"/>
    <reg name="r14" bitsize="64" type="int64"/>
    <reg name="r15" bitsize="64" type="int64"/>
    <reg name="rip" bitsize="64" type="code_ptr"/>
    <reg name="eflags" bitsize="32" type="i386_eflags"/>
    <reg name="cs" bitsize="32" type="int32"/>
    <reg name="ss" bitsize="32" type="int32"/>
    <reg name="ds" bitsize="32" type="int32"/>
    <reg name="es" bitsize="32" type="int32"/>
    <reg name="fs" bitsize="32" type="int32"/>
    <reg name="gs" bitsize="32" type="int32"/>
    <reg name="st0" bitsize="80" type="i387_ext"/>
    <reg name="st1" bitsize="80" type="i387_ext"/>
    <reg name="st2" bitsize="80" type="i387_ext"/>
    <reg name="st3" bitsize="80" type="i387_ext"/>
    <reg name="st4" bitsize="80" type="i387_ext"/>
    <reg name="st5" bitsize="80" type="i387_ext"/>
    <reg name="st6" bitsize="80" type="i387_ext"/>
    <reg name="st7" bitsize="80" type="i387_ext"/>
    <reg name="fctrl" bitsize="32" type="int" group="float"/>
    <reg name="fstat" bitsize="32" type="int" group="float"/>
    <reg name="ftag" bitsize="32" type="int" group="float"/>
    <reg name="fiseg" bitsize="32" type="int" group="float"/>
    <reg name="fioff" bitsize="32" type="int" group="float"/>
    <reg name="foseg" bitsize="32" type="int" group="float"/>
    <reg name="fooff" bitsize="32" type="int" group="float"/>
    <reg name="fop" bitsize="32" type="int" group="float"/>
  </feature>
  <feature name="org.gnu.gdb.i386.sse">
    <vector id="v4f" type="ieee_single" count="4"/>
    <vector id="v2d" type="ieee_double" count="2"/>
    <vector id="v16i8" type="int8" count="16"/>
    <vector id="v8i16" type="int16" count="8"/>
    <vector id="v4i32" type="int32" count="4"/>
    <vector id="v2i64" type="int64" count="2"/>
    <union id="vec128">
      <field name="v4_float" type="v4f"/>
      <field name="v2_double" type="v2d"/>
      <field name="v16_int8" type="v16i8"/>
      <field name="v8_int16" type="v8i16"/>
      <field name="v4_int32" type="v4i32"/>
      <field name="v2_int64" type="v2i64"/>
      <field name="uint128" type="uint128"/>
    </union>
    <reg name="xmm0" bitsize="128" type="vec128" regnum="40"/>
    <reg name="xmm1" bitsize="128" type="vec128"/>
    <reg name="xmm2" bitsize="128" type="vec128"/>
    <reg name="xmm3" bitsize="128" type="vec128"/>
    <reg name="xmm4" bitsize="128" type="vec128"/>
    <reg name="xmm5" bitsize="128" type="vec128"/>
    <reg name="xmm6" bitsize="128" type="vec128"/>
    <reg name="xmm7" bitsize="128" type="vec128"/>
    <reg name="xmm8" bitsize="128" type="vec128"/>
    <reg name="xmm9" bitsize="128" type="vec128"/>
    <reg name="xmm10" bitsize="128" type="vec128"/>
    <reg name="xmm11" bitsize="128" type="vec128"/>
    <reg name="xmm12" bitsize="128" type="vec128"/>
    <reg name="xmm13" bitsize="128" type="vec128"/>
    <reg name="xmm14" bitsize="128" type="vec128"/>
    <reg name="xmm15" bitsize="128" type="vec128"/>
    <reg name="mxcsr" bitsize="32" type="int" group="vector"/>
  </feature>
  <feature name="org.gnu.gdb.i386.linux">
    <reg name="orig_rax" bitsize="64" type="int" regnum="57"/>
  </feature>
  <feature name="org.gnu.gdb.i386.segments">
    <reg name="fs_base" bitsize="64" type="int"/>
    <reg name="gs_base" bitsize="64" type="int"/>
  </feature>
</target>
"#;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> LinuxX86_64Regs {
        let mut regs = LinuxX86_64Regs::default();
        for (index, reg) in regs.core.regs.iter_mut().enumerate() {
            *reg = 0x1111_0000_0000_0000 + index as u64;
        }
        regs.core.rip = 0x5555_5555_1234;
        regs.core.eflags = 0x246;
        regs.core.segments.cs = 0x33;
        regs.core.st[3] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        regs.core.fpu.fctrl = 0x37f;
        regs.core.fpu.ftag = 0xffff;
        regs.core.xmm[15] = 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10;
        regs.core.mxcsr = 0x1f80;
        regs.orig_rax = u64::MAX;
        regs.fs_base = 0x7fff_0000_1000;
        regs
    }

    #[test]
    fn ptrace_structs_round_trip() {
        let regs = sample();
        // SAFETY: both structs are plain old data; all-zero is a valid value.
        let mut gprs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
        let mut fprs: libc::user_fpregs_struct = unsafe { std::mem::zeroed() };
        to_ptrace(&regs, &mut gprs, &mut fprs);
        assert_eq!(gprs.rbx, regs.core.regs[1]);
        assert_eq!(from_ptrace(&gprs, &fprs), regs);
    }

    #[test]
    fn g_block_round_trip_and_single_registers() {
        let regs = sample();
        let mut bytes = Vec::new();
        regs.gdb_serialize(|byte| bytes.push(byte.unwrap()));
        assert_eq!(bytes.len(), CORE_LEN + 24);
        let mut decoded = LinuxX86_64Regs::default();
        decoded.gdb_deserialize(&bytes).unwrap();
        assert_eq!(decoded, regs);

        let check = |regnum: usize, expected: &[u8]| {
            let (id, size) = LinuxX86_64RegId::from_raw_id(regnum).unwrap();
            assert_eq!(
                size.unwrap().get(),
                expected.len(),
                "size of register {regnum}"
            );
            assert_eq!(register_bytes(&regs, id), expected, "register {regnum}");
        };
        check(1, &regs.core.regs[1].to_le_bytes());
        check(16, &regs.core.rip.to_le_bytes());
        check(17, &regs.core.eflags.to_le_bytes());
        check(18, &0x33u32.to_le_bytes());
        check(27, &regs.core.st[3]);
        check(55, &regs.core.xmm[15].to_le_bytes());
        check(56, &regs.core.mxcsr.to_le_bytes());
        check(57, &u64::MAX.to_le_bytes());
        check(58, &regs.fs_base.to_le_bytes());

        let mut changed = regs.clone();
        let (rip, _) = LinuxX86_64RegId::from_raw_id(16).unwrap();
        set_register_bytes(&mut changed, rip, &7u64.to_le_bytes()).unwrap();
        assert_eq!(changed.core.rip, 7);
        assert!(set_register_bytes(&mut changed, rip, &[1, 2]).is_err());
    }

    #[test]
    fn target_xml_lists_every_register_in_g_order() {
        let names: Vec<&str> = TARGET_XML
            .split("<reg name=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert_eq!(names.len(), GS_BASE_REGNUM + 1);
        assert_eq!(names[16], "rip");
        assert_eq!(names[40], "xmm0");
        assert_eq!(names[ORIG_RAX_REGNUM], "orig_rax");
        assert_eq!(names[GS_BASE_REGNUM], "gs_base");
    }

    #[test]
    fn tag_words_convert_both_ways() {
        assert_eq!(full_tag_word(0), 0xffff);
        assert_eq!(full_tag_word(0b1000_0001), 0x3ffc);
        assert_eq!(abridged_tag_word(0x3ffc), 0b1000_0001);
    }
}
