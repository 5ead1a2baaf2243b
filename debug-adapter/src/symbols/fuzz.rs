//! Fuzz tests: mutated executables, arbitrary bytes and garbage target
//! memory go through the loader and every query; nothing may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;

use super::testing::{self, Stopped};
use super::{DebugInfo, Memory, MemoryError, Registers, arch};

/// Memory whose contents are a hash of the address (and a seed); reads
/// below 4 KiB fail like a null-pointer access would.
struct GarbageMemory {
    seed: u64,
}

impl Memory for GarbageMemory {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        if address < 0x1000 {
            return Err(MemoryError {
                address,
                len: buf.len(),
                reason: "unmapped".into(),
            });
        }
        for (index, byte) in buf.iter_mut().enumerate() {
            let mut x = address.wrapping_add(index as u64) ^ self.seed;
            x ^= x >> 33;
            x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
            x ^= x >> 29;
            *byte = x as u8;
        }
        Ok(())
    }
}

/// Runs every query once; the results do not matter, panics do.
fn exercise(info: &DebugInfo, source: &str, function: &str, seed: u64) {
    let mut memory = GarbageMemory { seed };
    let _ = info.resolve_line_breakpoint(source, 20);
    let _ = info.resolve_function_breakpoint(function);
    let mut registers = Registers::new();
    for number in 0..arch::REGISTER_COUNT as u16 {
        registers.set(number, seed.rotate_left(u32::from(number)) | 0x10_0000);
    }
    let pcs = [0x1139, 0x1144, 0x201239, 0x17d2f, seed & 0xffff];
    for pc in pcs {
        let _ = info.frames_at(pc);
        let _ = info.location_at(pc);
        let _ = info.step_range(pc);
        let _ = info.has_debug_info(pc);
        registers.set(arch::PC, pc);
        let trace = info.unwind(&registers, &mut memory, 8);
        for frame in &trace.frames {
            if let Ok(variables) = info.frame_variables(frame, 0, &mut memory) {
                for variable in variables.arguments.iter().chain(&variables.locals) {
                    if let Some(handle) = &variable.children {
                        let _ = info.children(handle, &mut memory);
                    }
                }
            }
            let _ = info.evaluate("pair->right", frame, 0, &mut memory);
        }
    }
}

fn mutate(mut bytes: Vec<u8>, mutations: &[(usize, u8)], truncate: Option<usize>) -> Vec<u8> {
    let len = bytes.len();
    for (offset, value) in mutations {
        bytes[offset % len] = *value;
    }
    if let Some(keep) = truncate {
        bytes.truncate(keep % len.max(1));
    }
    bytes
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(testing::fixture_path(name)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn mutated_c_executables_never_panic(
        mutations in prop::collection::vec((any::<usize>(), any::<u8>()), 1..64),
        truncate in prop::option::weighted(0.1, any::<usize>()),
        seed in any::<u64>(),
    ) {
        let bytes = mutate(fixture("c_frames"), &mutations, truncate);
        if let Ok(info) = DebugInfo::from_raw(&bytes) {
            exercise(&info, "c_frames.c", "leaf", seed);
        }
    }

    #[test]
    fn mutated_rust_executables_never_panic(
        mutations in prop::collection::vec((any::<usize>(), any::<u8>()), 1..64),
        seed in any::<u64>(),
    ) {
        let bytes = mutate(fixture("rust_inline"), &mutations, None);
        if let Ok(info) = DebugInfo::from_raw(&bytes) {
            exercise(&info, "rust_inline.rs", "compute", seed);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096), seed in any::<u64>()) {
        let mut with_header = b"\x7fELF\x02\x01\x01\x00".to_vec();
        with_header.extend_from_slice(&bytes);
        for candidate in [bytes, with_header] {
            if let Ok(info) = DebugInfo::from_raw(&candidate) {
                exercise(&info, "main.rs", "main", seed);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

    /// Real DWARF over garbage memory: huge lengths, wild pointers and
    /// bogus discriminants must render as values or errors.
    #[test]
    fn garbage_target_memory_never_panics(seed in any::<u64>(), depth in 0usize..3) {
        let stopped = Stopped::open("rust_types");
        let mut memory = GarbageMemory { seed };
        let frame = super::StackFrame {
            pc: stopped.core.registers.pc().unwrap(),
            cfa: Some(seed | 0x10_0000),
            registers: stopped.core.registers.clone(),
            exact_pc: true,
        };
        let mut registers = stopped.core.registers.clone();
        registers.set(arch::FP, seed | 0x10_0000);
        registers.set(arch::SP, seed.rotate_left(7) | 0x10_0000);
        let frame = super::StackFrame { registers, ..frame };
        let variables = stopped.info.frame_variables(&frame, 0, &mut memory).unwrap();
        let mut pending: Vec<_> = variables.locals.into_iter().chain(variables.arguments).collect();
        for _ in 0..=depth {
            let mut next = Vec::new();
            for variable in pending {
                if let Some(handle) = &variable.children {
                    next.extend(stopped.info.children_range(handle, 0, 16, &mut memory));
                }
            }
            pending = next;
        }
        for expression in ["order.items[2].price", "map.len", "*rc", "shape.0.x", "text.len"] {
            let _ = stopped.info.evaluate(expression, &frame, 0, &mut memory);
        }
    }
}

/// Hover, watch and condition text is typed by the user: any string must
/// yield a value or an error.
#[test]
fn arbitrary_expressions_and_conditions_never_panic() {
    use proptest::test_runner::{Config, TestRunner};
    let stopped = Stopped::open("rust_types");
    let trace = stopped
        .info
        .unwind(&stopped.core.registers, &mut stopped.memory(), 2);
    let frame = trace.frames[0].clone();
    let mut runner = TestRunner::new(Config {
        cases: 512,
        ..Config::default()
    });
    let text = prop_oneof![
        any::<String>(),
        "[a-z_.\\[\\]0-9*()!=<>&|\"' -]{0,40}",
        "(order|map|rc|shape|text|vec|raw)(\\.[a-z0-9_]{1,6}|\\[[0-9]{1,3}\\]){0,4}( (==|!=|<|>=) (-?[0-9]{1,5}|\"[a-z]{0,4}\"|'x'|true))?",
    ];
    runner
        .run(&text, |text| {
            let mut memory = stopped.memory();
            let _ = stopped.info.evaluate(&text, &frame, 0, &mut memory);
            let _ = stopped
                .info
                .evaluate_condition(&text, &frame, 0, &mut memory);
            Ok(())
        })
        .unwrap();
}

proptest! {
    /// The block cache returns exactly what the target would.
    #[test]
    fn cached_memory_reads_like_its_target(
        reads in prop::collection::vec((prop_oneof![any::<u64>(), 0u64..0x3000, (u64::MAX - 600)..=u64::MAX], 0usize..1500), 1..32),
        seed in any::<u64>(),
    ) {
        let mut cached = super::CachedMemory::new(GarbageMemory { seed });
        let mut direct = GarbageMemory { seed };
        for (address, len) in reads {
            let mut a = vec![0u8; len];
            let mut b = vec![0u8; len];
            let cached_result = cached.read(address, &mut a).is_ok();
            let direct_result = direct.read(address, &mut b).is_ok();
            prop_assert_eq!(cached_result, direct_result);
            if direct_result {
                prop_assert_eq!(a, b);
            }
        }
    }
}
