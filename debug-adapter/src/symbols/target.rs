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

/// Size of the aligned blocks [`CachedMemory`] reads and keeps.
const CACHE_BLOCK: u64 = 256;

/// Most blocks [`CachedMemory`] keeps before it starts over.
const CACHE_BLOCKS: usize = 4096;

/// A [`Memory`] that reads whole aligned blocks and keeps them, so the
/// many small reads of formatting a frame's variables cost few round trips
/// to a remote target. Create one per stop: the cache is never
/// invalidated, and the target's memory changes when it runs.
#[derive(Debug)]
pub struct CachedMemory<M> {
    inner: M,
    blocks: std::collections::HashMap<u64, Option<Box<[u8]>>>,
}

impl<M: Memory> CachedMemory<M> {
    /// Wraps `inner`.
    pub fn new(inner: M) -> Self {
        CachedMemory {
            inner,
            blocks: std::collections::HashMap::new(),
        }
    }

    /// The wrapped memory.
    pub fn into_inner(self) -> M {
        self.inner
    }

    /// The cached block starting at `start`, read on first use; `None`
    /// when the whole block is unreadable (the end of a mapping).
    fn block(&mut self, start: u64) -> Option<&[u8]> {
        if self.blocks.len() >= CACHE_BLOCKS && !self.blocks.contains_key(&start) {
            self.blocks.clear();
        }
        let inner = &mut self.inner;
        self.blocks
            .entry(start)
            .or_insert_with(|| {
                let mut block = vec![0u8; CACHE_BLOCK as usize].into_boxed_slice();
                inner.read(start, &mut block).ok().map(|()| block)
            })
            .as_deref()
    }
}

impl<M: Memory> Memory for CachedMemory<M> {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let len = buf.len() as u64;
        let Some(end) = address.checked_add(len) else {
            return self.inner.read(address, buf);
        };
        // Large reads go straight through: caching them gains nothing.
        if len > 4 * CACHE_BLOCK {
            return self.inner.read(address, buf);
        }
        let mut copied = 0usize;
        let mut block_start = address - address % CACHE_BLOCK;
        while block_start < end {
            let Some(block) = self.block(block_start) else {
                // Part of this range is unreadable as whole blocks; let
                // the target answer the exact range (it may succeed or
                // name the failing address).
                return self.inner.read(address, buf);
            };
            let from = address.max(block_start) - block_start;
            let to = end.min(block_start.saturating_add(CACHE_BLOCK)) - block_start;
            let chunk = &block[from as usize..to as usize];
            buf[copied..copied + chunk.len()].copy_from_slice(chunk);
            copied += chunk.len();
            match block_start.checked_add(CACHE_BLOCK) {
                Some(next) => block_start = next,
                None => break,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// Memory holding `address as u8` at every readable address, counting reads.
    struct Counting {
        readable: std::ops::Range<u64>,
        reads: usize,
    }

    impl Memory for Counting {
        fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
            self.reads += 1;
            let end = address.checked_add(buf.len() as u64);
            if address < self.readable.start || end.is_none_or(|end| end > self.readable.end) {
                return Err(MemoryError {
                    address,
                    len: buf.len(),
                    reason: "unmapped".into(),
                });
            }
            for (index, byte) in buf.iter_mut().enumerate() {
                *byte = (address + index as u64) as u8;
            }
            Ok(())
        }
    }

    #[test]
    fn cached_reads_match_and_save_round_trips() {
        let mut memory = CachedMemory::new(Counting {
            readable: 0x1000..0x1300,
            reads: 0,
        });
        let check = |memory: &mut CachedMemory<Counting>, address: u64, len: usize| {
            let mut buf = vec![0u8; len];
            let result = memory.read(address, &mut buf);
            let expected: Vec<u8> = (0..len as u64)
                .map(|i| address.wrapping_add(i) as u8)
                .collect();
            (result.is_ok() && buf == expected, result.is_ok())
        };
        // Many small reads in one block: one round trip.
        for offset in 0..32 {
            assert_eq!(check(&mut memory, 0x1000 + offset * 8, 8), (true, true));
        }
        assert_eq!(memory.inner.reads, 1);
        // A read spanning two blocks.
        assert_eq!(check(&mut memory, 0x10f8, 16), (true, true));
        assert_eq!(memory.inner.reads, 2);
        // The last block ends mid-way: its exact range still reads, past it fails.
        assert_eq!(check(&mut memory, 0x12f8, 8), (true, true));
        assert_eq!(check(&mut memory, 0x12fc, 8), (false, false));
        assert_eq!(check(&mut memory, 0xfff, 2), (false, false));
        assert_eq!(check(&mut memory, u64::MAX - 1, 8), (false, false));
        assert_eq!(check(&mut memory, u64::MAX - 10, 4), (false, false));
        assert_eq!(check(&mut memory, 0x1000, 2000), (false, false));
    }
}
