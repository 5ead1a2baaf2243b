//! Architecture specifics: x86_64 DWARF register numbers and the ABI facts
//! unwinding relies on. Every other module names registers only through
//! the constants here, so another architecture is a change to this file.

/// Number of DWARF registers tracked (x86_64: the 16 general-purpose
/// registers plus the return-address column, rip).
pub const REGISTER_COUNT: usize = 17;

/// DWARF number of the program counter / return-address column (rip).
pub const PC: u16 = 16;
/// DWARF number of the stack pointer (rsp).
pub const SP: u16 = 7;
/// DWARF number of the frame pointer (rbp).
pub const FP: u16 = 6;

/// Pointer size in bytes.
pub const POINTER_SIZE: u64 = 8;

/// Registers the System V x86_64 ABI says a callee preserves (rbx, rbp,
/// r12-r15): when CFI says nothing about them, a caller frame keeps them.
pub const CALLEE_SAVED: [u16; 6] = [3, 6, 12, 13, 14, 15];

const NAMES: [&str; REGISTER_COUNT] = [
    "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15", "rip",
];

/// Name of DWARF register `number`, if tracked.
pub fn register_name(number: u16) -> Option<&'static str> {
    NAMES.get(usize::from(number)).copied()
}

/// DWARF number of the register called `name` (lower case, as gdb names it).
pub fn register_number(name: &str) -> Option<u16> {
    NAMES
        .iter()
        .position(|candidate| *candidate == name)
        .and_then(|index| u16::try_from(index).ok())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        for number in 0..REGISTER_COUNT as u16 {
            let name = register_name(number).unwrap();
            assert_eq!(register_number(name), Some(number));
        }
        assert_eq!(register_number("rip"), Some(PC));
        assert_eq!(register_number("rsp"), Some(SP));
        assert_eq!(register_number("xmm0"), None);
    }
}
