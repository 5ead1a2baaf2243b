//! What the symbols core needs from a debugged target: memory and registers.
//!
//! The adapter implements [`Memory`] over the GDB Remote Serial Protocol;
//! tests implement it over committed core dumps. Registers are numbered as
//! DWARF numbers them, so the core never translates register names itself
//! (see [`super::arch`] for the x86_64 numbering and names).

use super::arch;
use super::error::MemoryError;

/// Reads the debugged process's memory.
pub trait Memory {
    /// Fills `buf` with the bytes at `address`, or fails without a partial result.
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError>;
}

/// Reads a little-endian `u64` at `address`.
pub(crate) fn read_u64(memory: &mut dyn Memory, address: u64) -> Result<u64, MemoryError> {
    let mut bytes = [0u8; 8];
    memory.read(address, &mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}

/// A set of register values of one frame, indexed by DWARF register number.
///
/// A register is `None` when its value is unknown, which is normal in
/// caller frames: unwinding recovers only the registers that the callee
/// saved or that the ABI says are preserved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registers {
    values: [Option<u64>; arch::REGISTER_COUNT],
}

impl Registers {
    /// An empty set: every register unknown.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of DWARF register `number`, if known.
    pub fn get(&self, number: u16) -> Option<u64> {
        self.values.get(usize::from(number)).copied().flatten()
    }

    /// Sets DWARF register `number`; numbers the architecture does not
    /// track (vector registers, for example) are ignored.
    pub fn set(&mut self, number: u16, value: u64) {
        if let Some(slot) = self.values.get_mut(usize::from(number)) {
            *slot = Some(value);
        }
    }

    /// Marks DWARF register `number` unknown.
    pub fn clear(&mut self, number: u16) {
        if let Some(slot) = self.values.get_mut(usize::from(number)) {
            *slot = None;
        }
    }

    /// Sets a register by its conventional name (`"rip"`, `"rbx"`, ...),
    /// as a gdb target description names it. Returns false for names
    /// the core does not track.
    pub fn set_by_name(&mut self, name: &str, value: u64) -> bool {
        match arch::register_number(name) {
            Some(number) => {
                self.set(number, value);
                true
            }
            None => false,
        }
    }

    /// The program counter, if known.
    pub fn pc(&self) -> Option<u64> {
        self.get(arch::PC)
    }

    /// The stack pointer, if known.
    pub fn sp(&self) -> Option<u64> {
        self.get(arch::SP)
    }

    /// Known registers as `(name, DWARF number, value)`, in DWARF order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u16, u64)> + '_ {
        self.values.iter().enumerate().filter_map(|(index, value)| {
            let number = u16::try_from(index).ok()?;
            Some((arch::register_name(number)?, number, (*value)?))
        })
    }
}
