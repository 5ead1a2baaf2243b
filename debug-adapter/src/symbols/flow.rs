//! Control flow out of a line's code, from its machine code: where a thread
//! that runs the line's address ranges first arrives outside them, calls
//! not counted (a call returns inside). `next` puts temporary breakpoints
//! there and continues once, instead of range-stepping and stopping at
//! every call the line makes.
//!
//! The code is decoded from the executable's file (never from the target,
//! whose code holds breakpoint bytes), with iced-x86.

use std::ops::Range;

use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction};

use super::DebugInfo;

/// Largest amount of code (all ranges together) decoded for one line; a
/// bigger line is range-stepped instead.
const MAX_LINE_CODE: u64 = 64 * 1024;

impl DebugInfo {
    /// The addresses (runtime, sorted, without duplicates) where a thread
    /// running the code of `ranges` (runtime addresses, as
    /// [`DebugInfo::step_range`] returns them) first arrives outside them,
    /// not counting calls, which return inside:
    /// - the targets of direct jumps that leave the ranges;
    /// - the address after each range, when its last instruction can fall
    ///   through;
    /// - the address of each instruction whose destination is unknown
    ///   before it runs (indirect jumps, returns, traps): the thread must be
    ///   single-stepped from there.
    ///
    /// `None` when the code cannot be decoded from the executable's file
    /// (not file-backed, bigger than 64 KiB, or not whole instructions).
    pub fn range_exits(&self, ranges: &[Range<u64>]) -> Option<Vec<u64>> {
        let total: u64 = ranges
            .iter()
            .map(|range| range.end.saturating_sub(range.start))
            .sum();
        if ranges.is_empty() || total > MAX_LINE_CODE {
            return None;
        }
        exits(ranges, |range| {
            let length = usize::try_from(range.end.checked_sub(range.start)?).ok()?;
            self.read_file_bytes(range.start, length)
        })
    }
}

/// [`DebugInfo::range_exits`] over code read by `code` (the bytes of one
/// range, or `None` when unreadable).
pub(crate) fn exits<'a>(
    ranges: &[Range<u64>],
    code: impl Fn(&Range<u64>) -> Option<&'a [u8]>,
) -> Option<Vec<u64>> {
    let inside = |address: u64| ranges.iter().any(|range| range.contains(&address));
    let mut stops = Vec::new();
    for range in ranges.iter().filter(|range| range.end > range.start) {
        let bytes = code(range)?;
        let mut decoder = Decoder::with_ip(64, bytes, range.start, DecoderOptions::NONE);
        let mut instruction = Instruction::default();
        let mut falls_through = true;
        while decoder.can_decode() {
            decoder.decode_out(&mut instruction);
            if instruction.is_invalid() {
                return None;
            }
            falls_through = true;
            match instruction.flow_control() {
                FlowControl::Next
                | FlowControl::Call
                | FlowControl::IndirectCall
                | FlowControl::Interrupt => {}
                FlowControl::UnconditionalBranch | FlowControl::ConditionalBranch => {
                    let direct = instruction.is_jcc_short_or_near()
                        || instruction.is_jmp_short_or_near()
                        || instruction.is_loopcc()
                        || instruction.is_loop()
                        || instruction.is_jcx_short();
                    if !direct {
                        // A far or otherwise unusual branch: stop on it.
                        stops.push(instruction.ip());
                    } else if !inside(instruction.near_branch_target()) {
                        stops.push(instruction.near_branch_target());
                    }
                    falls_through = instruction.flow_control() == FlowControl::ConditionalBranch;
                }
                FlowControl::IndirectBranch
                | FlowControl::Return
                | FlowControl::XbeginXabortXend
                | FlowControl::Exception => {
                    stops.push(instruction.ip());
                    falls_through = false;
                }
            }
        }
        // The decoder stops early when the last instruction runs past the
        // range: the ranges are not whole instructions.
        if instruction.next_ip() != range.end {
            return None;
        }
        if falls_through && !inside(range.end) {
            stops.push(range.end);
        }
    }
    stops.sort_unstable();
    stops.dedup();
    Some(stops)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    // Line ranges are lists of address ranges; one-range lists are normal.
    #![allow(clippy::single_range_in_vec_init)]
    use expect_test::{Expect, expect};

    use super::*;
    use crate::symbols::testing;

    /// Machine code at 0x1000, line ranges over it, and the exits found.
    fn check(code: &[u8], ranges: &[Range<u64>], expected: Expect) {
        let found = exits(ranges, |range| {
            let start = usize::try_from(range.start.checked_sub(0x1000)?).ok()?;
            let end = usize::try_from(range.end.checked_sub(0x1000)?).ok()?;
            code.get(start..end)
        });
        let rendered = match found {
            Some(stops) => stops
                .iter()
                .map(|stop| format!("{stop:#x}"))
                .collect::<Vec<_>>()
                .join(" "),
            None => "none".to_owned(),
        };
        expected.assert_eq(&rendered);
    }

    #[test]
    fn straight_code_with_calls_exits_at_its_end() {
        // mov eax, 1; call +0x100; add eax, 2 | next line: nop
        let code = [
            0xb8, 0x01, 0x00, 0x00, 0x00, 0xe8, 0x00, 0x01, 0x00, 0x00, 0x83, 0xc0, 0x02, 0x90,
        ];
        check(&code, &[0x1000..0x100d], expect!["0x100d"]);
        // An indirect call returns inside too.
        // call rax; nop | nop
        check(
            &[0xff, 0xd0, 0x90, 0x90],
            &[0x1000..0x1003],
            expect!["0x1003"],
        );
    }

    #[test]
    fn jumps_out_stop_at_their_targets_and_jumps_inside_do_not() {
        // 0x1000 test eax, eax; 0x1002 je 0x1010; 0x1004 jmp 0x1000;
        // 0x1006 jmp 0x1020
        let code = [0x85, 0xc0, 0x74, 0x0c, 0xeb, 0xfa, 0xeb, 0x18];
        check(&code, &[0x1000..0x1008], expect!["0x1010 0x1020"]);
        // The conditional jump's target in another range of the line, and
        // the unconditional jump at the end: no fall-through exit.
        let mut padded = code.to_vec();
        padded.resize(0x11, 0x90);
        check(
            &padded,
            &[0x1000..0x1008, 0x1010..0x1011],
            expect!["0x1011 0x1020"],
        );
    }

    #[test]
    fn returns_and_indirect_jumps_stop_on_themselves() {
        // 0x1000 pop rbp; 0x1001 ret
        check(&[0x5d, 0xc3], &[0x1000..0x1002], expect!["0x1001"]);
        // 0x1000 jmp rax; 0x1002 ud2
        check(
            &[0xff, 0xe0, 0x0f, 0x0b],
            &[0x1000..0x1004],
            expect!["0x1000 0x1002"],
        );
    }

    #[test]
    fn code_that_does_not_decode_into_the_ranges_is_refused() {
        // A range that ends inside `mov eax, 1`.
        check(
            &[0xb8, 0x01, 0x00, 0x00, 0x00],
            &[0x1000..0x1003],
            expect!["none"],
        );
        // Unreadable code.
        check(&[0x90], &[0x2000..0x2001], expect!["none"]);
    }

    #[test]
    fn exits_of_a_real_line() {
        let info = testing::load("rust_inline");
        // `black_box(total) + 1` in `compute`, then its return on line 23.
        let line = info.step_range(0x20126b).unwrap().unwrap();
        let found = info
            .range_exits(&line.ranges)
            .unwrap()
            .iter()
            .map(|stop| format!("{stop:#x}"))
            .collect::<Vec<_>>()
            .join(" ");
        expect!["0x20126e"].assert_eq(&found);
        // Outside the file's code: nothing to decode.
        assert_eq!(info.range_exits(&[0x10..0x20]), None);
        assert_eq!(info.range_exits(&[]), None);
    }
}
