//! x86_64 specifics of the RSP client: the register layout assumed when a
//! server sends no target description, and DWARF register numbers.
//!
//! Architecture Invariant: the rest of `rsp` names no x86 register except
//! through [`RegisterLayout`]; aarch64 gets a sibling module.

use super::registers::{DescriptionError, DescriptionItem, RegisterDecl, RegisterLayout};

/// gdb's default amd64 layout (core + SSE registers, numbers 0..=56), for
/// servers without `qXfer:features:read`.
pub fn default_layout() -> Result<RegisterLayout, DescriptionError> {
    let mut items = vec![DescriptionItem::Architecture("i386:x86-64".to_owned())];
    let mut push = |name: String, bitsize: usize| {
        items.push(DescriptionItem::Register(RegisterDecl {
            name,
            bitsize,
            regnum: None,
            group: None,
            feature: None,
        }));
    };
    for name in [
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15", "rip",
    ] {
        push(name.to_owned(), 64);
    }
    for name in ["eflags", "cs", "ss", "ds", "es", "fs", "gs"] {
        push(name.to_owned(), 32);
    }
    for index in 0..8 {
        push(format!("st{index}"), 80);
    }
    for name in [
        "fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop",
    ] {
        push(name.to_owned(), 32);
    }
    for index in 0..16 {
        push(format!("xmm{index}"), 128);
    }
    push("mxcsr".to_owned(), 32);
    RegisterLayout::from_items(&items)
}

/// The register name for a DWARF register number (System V AMD64 psABI,
/// figure 3.36), as used by CFI and location expressions.
pub fn dwarf_register_name(number: u16) -> Option<&'static str> {
    const GPRS: [&str; 17] = [
        "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15", "rip",
    ];
    const XMM: [&str; 16] = [
        "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
    ];
    const ST: [&str; 8] = ["st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7"];
    let index = usize::from(number);
    match number {
        0..=16 => Some(GPRS[index]),
        17..=32 => Some(XMM[index - 17]),
        33..=40 => Some(ST[index - 33]),
        49 => Some("eflags"),
        50 => Some("es"),
        51 => Some("cs"),
        52 => Some("ss"),
        53 => Some("ds"),
        54 => Some("fs"),
        55 => Some("gs"),
        58 => Some("fs_base"),
        59 => Some("gs_base"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn default_layout_matches_gdb_numbering() {
        let layout = default_layout().unwrap();
        let check = |name: &str, regnum: usize, offset: usize| {
            let info = layout.by_name(name).unwrap();
            assert_eq!((info.regnum, info.offset), (regnum, offset), "{name}");
        };
        check("rax", 0, 0);
        check("rip", 16, 0x80);
        check("eflags", 17, 0x88);
        check("st0", 24, 0xa4);
        check("xmm0", 40, 0x114);
        check("mxcsr", 56, 0x214);
    }

    #[test]
    fn dwarf_numbers_follow_the_psabi() {
        assert_eq!(dwarf_register_name(0), Some("rax"));
        assert_eq!(dwarf_register_name(1), Some("rdx"));
        assert_eq!(dwarf_register_name(7), Some("rsp"));
        assert_eq!(dwarf_register_name(16), Some("rip"));
        assert_eq!(dwarf_register_name(17), Some("xmm0"));
        assert_eq!(dwarf_register_name(40), Some("st7"));
        assert_eq!(dwarf_register_name(41), None);
    }
}
