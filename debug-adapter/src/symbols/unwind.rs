//! Call-stack unwinding from `.eh_frame` and `.debug_frame` call-frame
//! information, with a frame-pointer fallback for code of a known module
//! that has no CFI.

use std::cell::OnceCell;

use gimli::UnwindSection;

use super::DebugInfo;
use super::arch;
use super::error::MemoryError;
use super::loader::{LoadedSections, Reader};
use super::location::{self, EvalContext, Place};
use super::target::{Memory, Registers, read_u64};

/// One physical frame of the call stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFrame {
    /// Program counter: the stop address for the top frame, the return
    /// address for callers.
    pub pc: u64,
    /// Canonical frame address (the caller's stack pointer before the
    /// call), when the frame could be unwound.
    pub cfa: Option<u64>,
    /// Registers known in this frame. Caller frames know only what the
    /// callees saved, the stack pointer and the ABI's preserved registers.
    pub registers: Registers,
    /// Whether `pc` is the exact instruction where this frame stopped: the
    /// top frame, or a frame interrupted by a signal. Otherwise `pc` is a
    /// return address just past a call.
    pub exact_pc: bool,
}

impl StackFrame {
    /// The address to look up source lines and function levels with:
    /// `pc` when it is exact, else `pc - 1`, which lies inside the call
    /// instruction that the return address follows.
    pub fn lookup_pc(&self) -> u64 {
        if self.exact_pc {
            self.pc
        } else {
            self.pc.saturating_sub(1)
        }
    }
}

/// Why unwinding stopped after the last frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnwindStop {
    /// The CFI marks the last frame as outermost (its return address is
    /// undefined), or the return address is zero.
    Outermost,
    /// No module given covers the last frame's pc, or its module has no
    /// unwind information for it.
    NoUnwindInfo {
        /// The pc without unwind information.
        pc: u64,
    },
    /// Reading the stack failed.
    Memory(MemoryError),
    /// The CFI of the last frame is malformed or uses an unsupported rule.
    Malformed {
        /// The pc whose CFI failed.
        pc: u64,
        /// What went wrong.
        reason: String,
    },
    /// The caller's stack pointer did not move up the stack, which would
    /// loop forever.
    StackNotAdvancing,
    /// The frame limit was reached.
    FrameLimit,
}

/// A call stack, top frame first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackTrace {
    /// The frames; the first is the given register state.
    pub frames: Vec<StackFrame>,
    /// Why there are no more frames.
    pub stop: UnwindStop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    EhFrame,
    DebugFrame,
}

#[derive(Debug, Clone, Copy)]
struct FdeIndexEntry {
    start: u64,
    end: u64,
    source: Source,
    offset: usize,
}

/// The CFI sections of one executable and a lazily built FDE index.
pub(crate) struct CfiSections {
    eh_frame: Option<gimli::EhFrame<Reader>>,
    debug_frame: Option<gimli::DebugFrame<Reader>>,
    bases: gimli::BaseAddresses,
    index: OnceCell<Vec<FdeIndexEntry>>,
}

impl CfiSections {
    pub(crate) fn new(sections: &LoadedSections) -> Self {
        let mut bases = gimli::BaseAddresses::default().set_text(sections.text_address);
        if let Some(got) = sections.got_address {
            bases = bases.set_got(got);
        }
        let eh_frame = sections.eh_frame.as_ref().map(|(reader, address)| {
            bases = bases.clone().set_eh_frame(*address);
            let mut section = gimli::EhFrame::from(reader.clone());
            section.set_address_size(8);
            section
        });
        if let Some((_, address)) = &sections.eh_frame_hdr {
            bases = bases.clone().set_eh_frame_hdr(*address);
        }
        let debug_frame = sections.debug_frame.as_ref().map(|reader| {
            let mut section = gimli::DebugFrame::from(reader.clone());
            section.set_address_size(8);
            section
        });
        CfiSections {
            eh_frame,
            debug_frame,
            bases,
            index: OnceCell::new(),
        }
    }

    fn index(&self) -> &[FdeIndexEntry] {
        self.index.get_or_init(|| {
            let mut index = Vec::new();
            if let Some(section) = &self.eh_frame {
                index_section(section, &self.bases, Source::EhFrame, &mut index);
            }
            if let Some(section) = &self.debug_frame {
                index_section(section, &self.bases, Source::DebugFrame, &mut index);
            }
            // .eh_frame entries come first, so on overlap they win.
            index.sort_by_key(|entry| entry.start);
            index
        })
    }

    fn find(&self, file_pc: u64) -> Option<FdeIndexEntry> {
        let index = self.index();
        let upper = index.partition_point(|entry| entry.start <= file_pc);
        index[..upper]
            .iter()
            .rev()
            .take(64)
            .find(|entry| file_pc < entry.end)
            .copied()
    }
}

fn index_section<S: UnwindSection<Reader>>(
    section: &S,
    bases: &gimli::BaseAddresses,
    source: Source,
    out: &mut Vec<FdeIndexEntry>,
) where
    S::Offset: gimli::UnwindOffset<usize>,
{
    let mut entries = section.entries(bases);
    // A malformed entry ends the walk: the entries before it stay usable.
    while let Ok(Some(entry)) = entries.next() {
        if let gimli::CieOrFde::Fde(partial) = entry
            && let Ok(fde) = partial.parse(S::cie_from_offset)
            && fde.initial_address() != 0
        {
            out.push(FdeIndexEntry {
                start: fde.initial_address(),
                end: fde.end_address(),
                source,
                offset: fde.offset(),
            });
        }
    }
}

/// The result of unwinding one frame.
enum Step {
    /// The caller's registers and the CFA; the flag says the unwound
    /// frame is a signal trampoline, so the caller's pc is exact.
    Caller(Box<Registers>, u64, bool),
    Outermost(u64),
}

impl DebugInfo {
    /// Whether runtime address `pc` is inside one of this executable's
    /// loadable segments.
    fn contains(&self, pc: u64) -> bool {
        let Some(file_pc) = pc.checked_sub(self.bias) else {
            return false;
        };
        self.segments.iter().any(|segment| {
            segment.file_size > 0
                && file_pc >= segment.address
                && file_pc - segment.address < segment.file_size
        })
    }

    /// Unwinds the stack from the given top-frame registers, using only
    /// this executable's unwind information (see [`unwind_stack`]).
    pub fn unwind(
        &self,
        registers: &Registers,
        memory: &mut dyn Memory,
        max_frames: usize,
    ) -> StackTrace {
        unwind_stack(&[self], registers, memory, max_frames)
    }

    /// The return address of the frame whose registers are given: where
    /// `stepOut` stops. `None` when the frame cannot be unwound.
    pub fn return_address(&self, registers: &Registers, memory: &mut dyn Memory) -> Option<u64> {
        self.unwind(registers, memory, 2)
            .frames
            .get(1)
            .map(|frame| frame.pc)
    }

    /// The CFA of the frame whose registers are given: the stack pointer
    /// its caller had before the call, from the frame's CFI row. Cheaper
    /// than [`DebugInfo::unwind`]: no saved register is read. `None`
    /// without CFI for the pc.
    pub fn frame_cfa(&self, registers: &Registers, memory: &mut dyn Memory) -> Option<u64> {
        let pc = registers.pc()?;
        let file_pc = pc.wrapping_sub(self.bias);
        let entry = self.cfi.find(file_pc)?;
        match entry.source {
            Source::EhFrame => self.row_cfa(
                self.cfi.eh_frame.as_ref()?,
                entry,
                file_pc,
                registers,
                memory,
            ),
            Source::DebugFrame => self.row_cfa(
                self.cfi.debug_frame.as_ref()?,
                entry,
                file_pc,
                registers,
                memory,
            ),
        }
    }

    fn row_cfa<S: UnwindSection<Reader>>(
        &self,
        section: &S,
        entry: FdeIndexEntry,
        file_pc: u64,
        registers: &Registers,
        memory: &mut dyn Memory,
    ) -> Option<u64>
    where
        S::Offset: gimli::UnwindOffset<usize> + From<usize>,
    {
        let fde = section
            .fde_from_offset(
                &self.cfi.bases,
                S::Offset::from(entry.offset),
                S::cie_from_offset,
            )
            .ok()?;
        let mut context = gimli::UnwindContext::new();
        let row = fde
            .unwind_info_for_address(section, &self.cfi.bases, &mut context, file_pc)
            .ok()?;
        match row.cfa() {
            gimli::CfaRule::RegisterAndOffset { register, offset } => registers
                .get(register.0)
                .map(|value| value.wrapping_add_signed(*offset)),
            gimli::CfaRule::Expression(expression) => {
                let expression = expression.get(section).ok()?;
                let context = EvalContext {
                    registers,
                    cfa: None,
                    frame_base: None,
                    bias: self.bias,
                    unit: None,
                };
                match location::evaluate(expression, fde.cie().encoding(), &context, memory, None) {
                    Ok(Place::Memory(address)) => Some(address),
                    Ok(Place::Value(bytes)) => {
                        let mut value = [0u8; 8];
                        for (slot, byte) in value.iter_mut().zip(bytes) {
                            *slot = byte;
                        }
                        Some(u64::from_le_bytes(value))
                    }
                    Err(_) => None,
                }
            }
        }
    }

    fn unwind_one(
        &self,
        registers: &Registers,
        memory: &mut dyn Memory,
        is_caller: bool,
    ) -> Result<Option<Step>, UnwindStop> {
        let pc = registers.pc().ok_or(UnwindStop::NoUnwindInfo { pc: 0 })?;
        let file_pc = pc
            .wrapping_sub(self.bias)
            .wrapping_sub(u64::from(is_caller));
        let Some(entry) = self.cfi.find(file_pc) else {
            return Ok(None);
        };
        let malformed = |reason: String| UnwindStop::Malformed { pc, reason };
        match entry.source {
            Source::EhFrame => {
                let section = self
                    .cfi
                    .eh_frame
                    .as_ref()
                    .ok_or_else(|| malformed("no .eh_frame".into()))?;
                self.apply_row(section, entry, file_pc, registers, memory)
                    .map(Some)
            }
            Source::DebugFrame => {
                let section = self
                    .cfi
                    .debug_frame
                    .as_ref()
                    .ok_or_else(|| malformed("no .debug_frame".into()))?;
                self.apply_row(section, entry, file_pc, registers, memory)
                    .map(Some)
            }
        }
    }

    fn apply_row<S: UnwindSection<Reader>>(
        &self,
        section: &S,
        entry: FdeIndexEntry,
        file_pc: u64,
        registers: &Registers,
        memory: &mut dyn Memory,
    ) -> Result<Step, UnwindStop>
    where
        S::Offset: gimli::UnwindOffset<usize> + From<usize>,
    {
        let pc = registers.pc().unwrap_or(0);
        let malformed = |reason: String| UnwindStop::Malformed { pc, reason };
        let fde = section
            .fde_from_offset(
                &self.cfi.bases,
                S::Offset::from(entry.offset),
                S::cie_from_offset,
            )
            .map_err(|e| malformed(e.to_string()))?;
        let mut context = gimli::UnwindContext::new();
        let row = fde
            .unwind_info_for_address(section, &self.cfi.bases, &mut context, file_pc)
            .map_err(|e| malformed(e.to_string()))?;
        let encoding = fde.cie().encoding();
        let eval_context = |cfa: Option<u64>| EvalContext {
            registers,
            cfa,
            frame_base: None,
            bias: self.bias,
            unit: None,
        };
        let evaluate = |expression: &gimli::UnwindExpression<usize>,
                        memory: &mut dyn Memory,
                        cfa: Option<u64>|
         -> Result<u64, UnwindStop> {
            let expression = expression
                .get(section)
                .map_err(|e| malformed(e.to_string()))?;
            match location::evaluate(expression, encoding, &eval_context(cfa), memory, cfa) {
                Ok(Place::Memory(address)) => Ok(address),
                Ok(Place::Value(bytes)) => {
                    let mut value = [0u8; 8];
                    for (slot, byte) in value.iter_mut().zip(bytes) {
                        *slot = byte;
                    }
                    Ok(u64::from_le_bytes(value))
                }
                Err(reason) => Err(malformed(reason)),
            }
        };

        let cfa = match row.cfa() {
            gimli::CfaRule::RegisterAndOffset { register, offset } => registers
                .get(register.0)
                .ok_or_else(|| malformed(format!("CFA register {} is unknown", register.0)))?
                .wrapping_add_signed(*offset),
            gimli::CfaRule::Expression(expression) => evaluate(expression, memory, None)?,
        };

        let mut caller = Registers::new();
        for register in arch::CALLEE_SAVED {
            if let Some(value) = registers.get(register) {
                caller.set(register, value);
            }
        }
        let return_register = fde.cie().return_address_register();
        let mut return_rule = gimli::RegisterRule::Undefined;
        let mut saw_return_rule = false;
        for (register, rule) in row.registers() {
            if *register == return_register {
                return_rule = rule.clone();
                saw_return_rule = true;
            }
            let value = match rule {
                gimli::RegisterRule::Undefined => None,
                gimli::RegisterRule::SameValue => registers.get(register.0),
                gimli::RegisterRule::Offset(offset) => Some(
                    read_u64(memory, cfa.wrapping_add_signed(*offset))
                        .map_err(UnwindStop::Memory)?,
                ),
                gimli::RegisterRule::ValOffset(offset) => Some(cfa.wrapping_add_signed(*offset)),
                gimli::RegisterRule::Register(other) => registers.get(other.0),
                gimli::RegisterRule::Expression(expression) => {
                    let address = evaluate(expression, memory, Some(cfa))?;
                    Some(read_u64(memory, address).map_err(UnwindStop::Memory)?)
                }
                gimli::RegisterRule::ValExpression(expression) => {
                    Some(evaluate(expression, memory, Some(cfa))?)
                }
                gimli::RegisterRule::Constant(value) => Some(*value),
                gimli::RegisterRule::Architectural => None,
            };
            match value {
                Some(value) => caller.set(register.0, value),
                None => caller.clear(register.0),
            }
        }
        if !saw_return_rule || matches!(return_rule, gimli::RegisterRule::Undefined) {
            return Ok(Step::Outermost(cfa));
        }
        let return_address = caller.get(return_register.0).unwrap_or(0);
        caller.set(arch::PC, return_address);
        caller.set(arch::SP, cfa);
        Ok(Step::Caller(
            Box::new(caller),
            cfa,
            fde.is_signal_trampoline(),
        ))
    }

    /// Frame-pointer unwinding for code without CFI (rbp chains).
    fn unwind_frame_pointer(
        &self,
        registers: &Registers,
        memory: &mut dyn Memory,
    ) -> Result<Step, UnwindStop> {
        let pc = registers.pc().unwrap_or(0);
        let frame_pointer = registers
            .get(arch::FP)
            .ok_or(UnwindStop::NoUnwindInfo { pc })?;
        if frame_pointer == 0 {
            return Err(UnwindStop::NoUnwindInfo { pc });
        }
        let saved_fp = read_u64(memory, frame_pointer).map_err(UnwindStop::Memory)?;
        let return_address = read_u64(memory, frame_pointer.wrapping_add(arch::POINTER_SIZE))
            .map_err(UnwindStop::Memory)?;
        let cfa = frame_pointer.wrapping_add(2 * arch::POINTER_SIZE);
        let mut caller = Registers::new();
        for register in arch::CALLEE_SAVED {
            if let Some(value) = registers.get(register) {
                caller.set(register, value);
            }
        }
        caller.set(arch::FP, saved_fp);
        caller.set(arch::SP, cfa);
        caller.set(arch::PC, return_address);
        Ok(Step::Caller(Box::new(caller), cfa, false))
    }
}

/// Unwinds the stack from `registers` (the top frame), using the module
/// among `modules` whose segments hold each frame's pc, reading saved
/// registers through `memory`. Returns at most `max_frames` frames and
/// never fails: a problem ends the trace and is named in
/// [`StackTrace::stop`].
pub fn unwind_stack(
    modules: &[&DebugInfo],
    registers: &Registers,
    memory: &mut dyn Memory,
    max_frames: usize,
) -> StackTrace {
    let mut frames = Vec::new();
    let mut current = registers.clone();
    let mut previous_cfa: Option<u64> = None;
    let mut exact_pc = true;
    let stop = loop {
        let Some(pc) = current.pc() else {
            break UnwindStop::NoUnwindInfo { pc: 0 };
        };
        if frames.len() >= max_frames {
            break UnwindStop::FrameLimit;
        }
        let is_caller = !frames.is_empty();
        let module = modules.iter().find(|module| module.contains(pc));
        let step = match module {
            None => Err(UnwindStop::NoUnwindInfo { pc }),
            Some(module) => match module.unwind_one(&current, memory, !exact_pc) {
                Ok(Some(step)) => Ok(step),
                Ok(None) => module.unwind_frame_pointer(&current, memory),
                Err(stop) => Err(stop),
            },
        };
        match step {
            Err(stop) => {
                frames.push(StackFrame {
                    pc,
                    cfa: None,
                    registers: current.clone(),
                    exact_pc,
                });
                break stop;
            }
            Ok(Step::Outermost(cfa)) => {
                frames.push(StackFrame {
                    pc,
                    cfa: Some(cfa),
                    registers: current.clone(),
                    exact_pc,
                });
                break UnwindStop::Outermost;
            }
            Ok(Step::Caller(caller, cfa, signal_frame)) => {
                frames.push(StackFrame {
                    pc,
                    cfa: Some(cfa),
                    registers: std::mem::replace(&mut current, *caller),
                    exact_pc,
                });
                exact_pc = signal_frame;
                if previous_cfa.is_some_and(|previous| cfa <= previous) && is_caller {
                    break UnwindStop::StackNotAdvancing;
                }
                previous_cfa = Some(cfa);
                if current.pc() == Some(0) {
                    break UnwindStop::Outermost;
                }
            }
        }
    };
    StackTrace { frames, stop }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use expect_test::{Expect, expect};

    use super::*;
    use crate::symbols::testing::Stopped;

    fn render(stopped: &Stopped, trace: &StackTrace) -> String {
        let mut out = String::new();
        for (index, frame) in trace.frames.iter().enumerate() {
            let lookup = frame.lookup_pc();
            let names: Vec<String> = stopped
                .info
                .frames_at(lookup)
                .unwrap()
                .into_iter()
                .map(|level| {
                    let location = level
                        .location
                        .map(|l| {
                            format!(
                                "{}:{}",
                                l.path.rsplit('/').next().unwrap_or_default(),
                                l.line
                            )
                        })
                        .unwrap_or_else(|| "?".into());
                    format!(
                        "{} at {location}",
                        level.function.unwrap_or_else(|| "?".into())
                    )
                })
                .collect();
            let cfa = frame
                .cfa
                .map(|c| format!("{c:#x}"))
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "#{index} pc={:#x} cfa={cfa} {}\n",
                frame.pc,
                names.join(" <- ")
            ));
        }
        out.push_str(&format!("stop: {:?}\n", trace.stop));
        out
    }

    fn check(program: &str, expect: Expect) {
        let stopped = Stopped::open(program);
        let mut memory = stopped.memory();
        let trace = stopped
            .info
            .unwind(&stopped.core.registers, &mut memory, 64);
        expect.assert_eq(&render(&stopped, &trace));
    }

    #[test]
    fn unwinds_rust_frames_through_eh_frame() {
        check(
            "rust_types",
            expect![[r#"
            #0 pc=0x55555556c268 cfa=0x7fffffffe2b0 rust_types::inspect at rust_types.rs:77
            #1 pc=0x55555556bcbf cfa=0x7fffffffe2f0 rust_types::middle at rust_types.rs:86
            #2 pc=0x55555556bc73 cfa=0x7fffffffe310 rust_types::outer at rust_types.rs:92
            #3 pc=0x55555556bbc9 cfa=0x7fffffffe4d0 rust_types::main at rust_types.rs:106
            #4 pc=0x55555556cecb cfa=0x7fffffffe4f0 core::ops::function::FnOnce::call_once at function.rs:250
            #5 pc=0x55555556ca1e cfa=0x7fffffffe510 std::sys::backtrace::__rust_begin_short_backtrace at backtrace.rs:166
            #6 pc=0x55555556c791 cfa=0x7fffffffe530 std::rt::lang_start::{{closure}} at rt.rs:206
            #7 pc=0x555555598b44 cfa=0x7fffffffe640 <&dyn core::ops::function::Fn<(), Output = i32> + core::marker::Sync + core::panic::unwind_safe::RefUnwindSafe as core::ops::function::FnOnce<()>>::call_once at function.rs:287 <- std::panicking::catch_unwind::do_call::<&dyn core::ops::function::Fn<(), Output = i32> + core::marker::Sync + core::panic::unwind_safe::RefUnwindSafe, i32> at panicking.rs:581 <- std::panicking::catch_unwind::<i32, &dyn core::ops::function::Fn<(), Output = i32> + core::marker::Sync + core::panic::unwind_safe::RefUnwindSafe> at panicking.rs:544 <- std::panic::catch_unwind::<&dyn core::ops::function::Fn<(), Output = i32> + core::marker::Sync + core::panic::unwind_safe::RefUnwindSafe, i32> at panic.rs:359 <- std::rt::lang_start_internal::{closure#0} at rt.rs:175 <- std::panicking::catch_unwind::do_call::<std::rt::lang_start_internal::{closure#0}, isize> at panicking.rs:581 <- std::panicking::catch_unwind::<isize, std::rt::lang_start_internal::{closure#0}> at panicking.rs:544 <- std::panic::catch_unwind::<std::rt::lang_start_internal::{closure#0}, isize> at panic.rs:359 <- std::rt::lang_start_internal at rt.rs:171
            #8 pc=0x55555556c777 cfa=0x7fffffffe670 std::rt::lang_start at rt.rs:205
            #9 pc=0x55555557038e cfa=0x7fffffffe680 main at ?
            #10 pc=0x7ffff7ddc24a cfa=- 
            stop: NoUnwindInfo { pc: 140737351893578 }
        "#]],
        );
    }

    #[test]
    fn unwinds_c_frames_through_debug_frame() {
        check(
            "c_frames",
            expect![[r#"
            #0 pc=0x555555555176 cfa=0x7fffffffe610 leaf at c_frames.c:25
            #1 pc=0x5555555551be cfa=0x7fffffffe640 branch at c_frames.c:31
            #2 pc=0x5555555551f7 cfa=0x7fffffffe680 trunk at c_frames.c:38
            #3 pc=0x555555555212 cfa=0x7fffffffe690 main at c_frames.c:44
            #4 pc=0x7ffff7dfc24a cfa=- 
            stop: NoUnwindInfo { pc: 140737352024650 }
        "#]],
        );
    }

    #[test]
    fn frame_cfa_agrees_with_the_unwinder() {
        // .eh_frame (Rust) and .debug_frame (C).
        for program in ["rust_types", "c_frames"] {
            let stopped = Stopped::open(program);
            let mut memory = stopped.memory();
            let trace = stopped.info.unwind(&stopped.core.registers, &mut memory, 2);
            let cfa = stopped.info.frame_cfa(&stopped.core.registers, &mut memory);
            assert!(cfa.is_some(), "{program}");
            assert_eq!(cfa, trace.frames[0].cfa, "{program}");
        }
        // No CFI for a pc outside the executable.
        let stopped = Stopped::open("c_frames");
        let mut registers = stopped.core.registers.clone();
        registers.set(arch::PC, 0x10);
        assert_eq!(
            stopped.info.frame_cfa(&registers, &mut stopped.memory()),
            None
        );
    }

    #[test]
    fn return_address_is_the_callers_pc() {
        let stopped = Stopped::open("c_frames");
        let mut memory = stopped.memory();
        let return_address = stopped
            .info
            .return_address(&stopped.core.registers, &mut memory)
            .unwrap();
        let caller = stopped.info.frames_at(return_address - 1).unwrap();
        assert_eq!(caller[0].function.as_deref(), Some("branch"));
    }

    #[test]
    fn callee_saved_registers_survive_and_others_are_unknown() {
        let stopped = Stopped::open("rust_types");
        let mut memory = stopped.memory();
        let trace = stopped.info.unwind(&stopped.core.registers, &mut memory, 3);
        assert_eq!(trace.stop, UnwindStop::FrameLimit);
        let caller = &trace.frames[1].registers;
        assert!(caller.get(arch::FP).is_some());
        assert_eq!(caller.get(0), None, "rax is caller-saved");
        assert_eq!(caller.sp(), trace.frames[0].cfa);
    }

    /// A stack of zeros, except for the given words.
    struct FakeStack {
        base: u64,
        words: Vec<u64>,
    }

    impl Memory for FakeStack {
        fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
            for (index, byte) in buf.iter_mut().enumerate() {
                let at = address + index as u64;
                let Some(word) = at.checked_sub(self.base).map(|offset| offset / 8) else {
                    return Err(MemoryError {
                        address,
                        len: buf.len(),
                        reason: "below the stack".into(),
                    });
                };
                let value = self.words.get(word as usize).copied().unwrap_or(0);
                *byte = value.to_le_bytes()[(at % 8) as usize];
            }
            Ok(())
        }
    }

    #[test]
    fn a_zero_return_address_ends_the_stack_as_outermost() {
        let info = crate::symbols::testing::load("rust_inline");
        let compute = info.resolve_function_breakpoint("compute").unwrap()[0].address;
        let start = info.resolve_function_breakpoint("_start").unwrap()[0].address;
        // Stopped at `compute`'s first instruction, called from `_start`:
        // the return address is on top of the stack, and `_start`'s own
        // return slot holds zero.
        let entry = info.frames_at(compute).unwrap();
        assert_eq!(
            entry.last().unwrap().function.as_deref(),
            Some("rust_inline::compute")
        );
        let mut registers = Registers::new();
        let function_start = info.function_level_range(compute, 2).unwrap().start;
        registers.set(arch::PC, function_start);
        registers.set(arch::SP, 0x7000_0000);
        registers.set(arch::FP, 0);
        let mut stack = FakeStack {
            base: 0x7000_0000,
            words: vec![start + 4],
        };
        let trace = info.unwind(&registers, &mut stack, 16);
        let names: Vec<String> = trace
            .frames
            .iter()
            .map(|frame| {
                info.function_name_at(frame.lookup_pc())
                    .unwrap()
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(names, ["rust_inline::compute", "_start"]);
        assert_eq!(trace.stop, UnwindStop::Outermost);
        assert!(!trace.frames[1].exact_pc);
    }

    #[test]
    fn unreadable_stack_stops_with_a_memory_error() {
        struct Empty;
        impl Memory for Empty {
            fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
                Err(MemoryError {
                    address,
                    len: buf.len(),
                    reason: "nothing here".into(),
                })
            }
        }
        let stopped = Stopped::open("rust_types");
        let trace = stopped.info.unwind(&stopped.core.registers, &mut Empty, 64);
        assert_eq!(trace.frames.len(), 1);
        assert!(
            matches!(trace.stop, UnwindStop::Memory(_)),
            "{:?}",
            trace.stop
        );
    }
}
