//! readMemory and disassemble.
//!
//! Disassembly uses iced-x86, a maintained, complete x86 decoder and
//! formatter (the same tables as the instruction set manuals, fuzzed
//! upstream); x86's variable-length instructions are not something to
//! decode by hand.

use std::io::Write;

use base64::Engine as _;
use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};
use serde_json::{Value, json};

use super::super::to_proto::{self, parse_memory_reference};
use super::super::{HandlerResult, Reply, Session};

/// Largest memory read one request may ask for.
const MAX_READ: i64 = 1 << 20;

/// Most instructions one disassemble request returns.
const MAX_INSTRUCTIONS: i64 = 4096;

/// Longest x86 instruction.
const MAX_INSTRUCTION_LEN: u64 = 15;

impl<W: Write> Session<W> {
    /// A target to read memory from: the stopped one with the lowest id.
    fn memory_target(&self) -> Result<u32, String> {
        self.targets
            .iter()
            .find(|target| !target.running)
            .map(|target| target.id)
            .ok_or_else(|| {
                "nothing is stopped: pause the function or wait for a breakpoint".to_owned()
            })
    }

    pub(in crate::session) fn read_memory(
        &mut self,
        args: &dap::requests::ReadMemoryArguments,
    ) -> HandlerResult {
        let base = parse_memory_reference(&args.memory_reference)
            .ok_or_else(|| format!("{:?} is not a memory reference", args.memory_reference))?;
        let address = base.wrapping_add_signed(args.offset.unwrap_or(0));
        let count = args.count.clamp(0, MAX_READ) as usize;
        let id = self.memory_target()?;
        let runtime = self.runtime.clone();
        let target = self.target_mut(id).ok_or("the target is gone")?;
        let data = if count == 0 {
            Vec::new()
        } else {
            runtime
                .block_on(target.rsp.read_memory(address, count))
                .unwrap_or_default()
        };
        let unreadable = count - data.len();
        Ok(Reply::Body(Some(json!({
            "address": to_proto::memory_reference(address),
            "data": base64::engine::general_purpose::STANDARD.encode(&data),
            "unreadableBytes": (unreadable > 0).then_some(unreadable),
        }))))
    }

    pub(in crate::session) fn disassemble(
        &mut self,
        args: &dap::requests::DisassembleArguments,
    ) -> HandlerResult {
        let base = parse_memory_reference(&args.memory_reference)
            .ok_or_else(|| format!("{:?} is not a memory reference", args.memory_reference))?;
        let anchor = base.wrapping_add_signed(args.offset.unwrap_or(0));
        let wanted = args.instruction_count.clamp(0, MAX_INSTRUCTIONS);
        let offset = args
            .instruction_offset
            .unwrap_or(0)
            .clamp(-MAX_INSTRUCTIONS, MAX_INSTRUCTIONS);
        let id = self.memory_target()?;
        // Decoding must start at an instruction boundary: the start of the
        // function holding the anchor when it is near, else far enough back
        // that x86's self-synchronisation settles before the anchor.
        let before = u64::try_from((-offset).max(0)).unwrap_or(0);
        let function_start = self
            .with_symbols(id, |info, _| {
                let depth = info
                    .frames_at(anchor)
                    .map(|levels| levels.len())
                    .unwrap_or(0);
                info.function_level_range(anchor, depth.saturating_sub(1))
                    .map(|range| range.start)
            })
            .flatten()
            .filter(|start| *start <= anchor && anchor - start < 256 * 1024);
        let backwards = before * MAX_INSTRUCTION_LEN + 64;
        let start = match function_start {
            Some(start) if anchor - start <= backwards * 4 => start,
            _ => anchor.saturating_sub(backwards),
        };
        let after = u64::try_from(offset.max(0) + wanted).unwrap_or(0);
        let end = anchor.saturating_add((after + 1) * MAX_INSTRUCTION_LEN);
        let bytes = self.code_bytes(id, start, end)?;
        let decoded = decode(&bytes, start);
        // The anchor's index: the instruction at it, or the first after.
        let anchor_index = decoded.partition_point(|instruction| instruction.ip() < anchor) as i64;
        let first = anchor_index + offset;
        let mut out = Vec::with_capacity(wanted as usize);
        let mut last_location: Option<(String, u32)> = None;
        let mut last_symbol: Option<String> = None;
        for index in first..first + wanted {
            let Some(instruction) = usize::try_from(index).ok().and_then(|i| decoded.get(i)) else {
                // Outside what could be decoded: placeholders, as DAP asks
                // for exactly `instructionCount` entries.
                let address = if index < 0 {
                    start.saturating_sub(u64::try_from(-index).unwrap_or(0))
                } else {
                    decoded.last().map_or(end, |last| last.next_ip())
                        + u64::try_from(index - decoded.len() as i64).unwrap_or(0)
                };
                out.push(json!({
                    "address": to_proto::memory_reference(address),
                    "instruction": "??",
                    "presentationHint": "invalid",
                }));
                continue;
            };
            out.push(self.instruction_entry(
                id,
                instruction,
                &bytes,
                start,
                &mut last_location,
                &mut last_symbol,
            ));
        }
        Ok(Reply::Body(Some(json!({ "instructions": out }))))
    }

    /// Code bytes: from the executable file where it has them (without the
    /// debugger's breakpoints), else from target memory.
    fn code_bytes(&mut self, id: u32, start: u64, end: u64) -> Result<Vec<u8>, String> {
        let len = usize::try_from(end.saturating_sub(start)).unwrap_or(0);
        if let Some(bytes) = self
            .with_symbols(id, |info, _| {
                info.read_file_bytes(start, len).map(<[u8]>::to_vec)
            })
            .flatten()
        {
            return Ok(bytes);
        }
        let runtime = self.runtime.clone();
        let target = self.target_mut(id).ok_or("the target is gone")?;
        runtime
            .block_on(target.rsp.read_memory(start, len))
            .map_err(|error| format!("cannot read code at {start:#x}: {error}"))
    }

    fn instruction_entry(
        &mut self,
        id: u32,
        instruction: &Instruction,
        bytes: &[u8],
        start: u64,
        last_location: &mut Option<(String, u32)>,
        last_symbol: &mut Option<String>,
    ) -> Value {
        let ip = instruction.ip();
        let mut formatter = IntelFormatter::new();
        let mut text = String::new();
        formatter.format(instruction, &mut text);
        let offset = usize::try_from(ip - start).unwrap_or(0);
        let raw = bytes
            .get(offset..offset + instruction.len())
            .unwrap_or_default();
        let hex: Vec<String> = raw.iter().map(|byte| format!("{byte:02x}")).collect();
        let (location, symbol) = self
            .with_symbols(id, |info, _| {
                let location = info.location_at(ip).ok().flatten();
                let symbol = info.function_name_at(ip).ok().flatten();
                (location, symbol)
            })
            .unwrap_or((None, None));
        let mut entry = json!({
            "address": to_proto::memory_reference(ip),
            "instructionBytes": hex.join(" "),
            "instruction": text,
        });
        if let Some(symbol) = symbol
            && last_symbol.as_ref() != Some(&symbol)
        {
            entry["symbol"] = Value::String(to_proto::shorten_function(&symbol));
            *last_symbol = Some(symbol);
        }
        if let Some(location) = location.filter(|location| location.line != 0) {
            let key = (location.path.clone(), location.line);
            if last_location.as_ref() != Some(&key) {
                entry["location"] = to_proto::source(&location.path);
                entry["line"] = json!(location.line);
                *last_location = Some(key);
            }
        }
        entry
    }
}

/// Decodes every instruction in `bytes`, which start at `address`.
fn decode(bytes: &[u8], address: u64) -> Vec<Instruction> {
    let mut decoder = Decoder::with_ip(64, bytes, address, DecoderOptions::NONE);
    let mut instructions = Vec::new();
    while decoder.can_decode() {
        instructions.push(decoder.decode());
    }
    instructions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_formats() {
        // push rbp; mov rbp,rsp; nop; ret
        let code = [0x55, 0x48, 0x89, 0xe5, 0x90, 0xc3];
        let decoded = decode(&code, 0x1000);
        let mut formatter = IntelFormatter::new();
        let rendered: Vec<String> = decoded
            .iter()
            .map(|instruction| {
                let mut text = String::new();
                formatter.format(instruction, &mut text);
                format!("{:#x} {text}", instruction.ip())
            })
            .collect();
        assert_eq!(
            rendered,
            [
                "0x1000 push rbp",
                "0x1001 mov rbp,rsp",
                "0x1004 nop",
                "0x1005 ret"
            ]
        );
        // Truncated bytes decode as an invalid instruction, not a panic.
        assert_eq!(decode(&[0x48], 0).len(), 1);
    }
}
