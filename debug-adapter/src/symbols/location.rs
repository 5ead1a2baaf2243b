//! Evaluating DWARF expressions (variable locations, frame bases, CFI
//! rules) against a frame's registers and the target's memory.

use super::loader::Reader;
use super::target::{Memory, Registers};

/// Where an evaluated value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// In target memory at this runtime address.
    Memory(u64),
    /// Nowhere addressable; these are its bytes (registers, constants,
    /// pieces), little-endian.
    Value(Vec<u8>),
}

/// What an expression may ask of its surroundings.
pub(crate) struct EvalContext<'a> {
    pub(crate) registers: &'a Registers,
    pub(crate) cfa: Option<u64>,
    pub(crate) frame_base: Option<u64>,
    pub(crate) bias: u64,
    pub(crate) unit: Option<gimli::UnitRef<'a, Reader>>,
}

/// Bounds the work one expression may do, so a looping expression in a
/// malformed binary ends with an error.
const MAX_ITERATIONS: u32 = 100_000;

/// Largest value we assemble from pieces or read for an expression.
const MAX_VALUE_SIZE: u64 = 1 << 20;

fn value_bytes(value: gimli::Value) -> Vec<u8> {
    match value {
        gimli::Value::Generic(v) | gimli::Value::U64(v) => v.to_le_bytes().to_vec(),
        gimli::Value::I8(v) => v.to_le_bytes().to_vec(),
        gimli::Value::U8(v) => v.to_le_bytes().to_vec(),
        gimli::Value::I16(v) => v.to_le_bytes().to_vec(),
        gimli::Value::U16(v) => v.to_le_bytes().to_vec(),
        gimli::Value::I32(v) => v.to_le_bytes().to_vec(),
        gimli::Value::U32(v) => v.to_le_bytes().to_vec(),
        gimli::Value::I64(v) => v.to_le_bytes().to_vec(),
        gimli::Value::F32(v) => v.to_le_bytes().to_vec(),
        gimli::Value::F64(v) => v.to_le_bytes().to_vec(),
    }
}

fn register_value(registers: &Registers, register: gimli::Register) -> Result<u64, String> {
    registers
        .get(register.0)
        .ok_or_else(|| format!("register {} is not available in this frame", register.0))
}

/// Evaluates `expression`; `initial` is pushed first (CFI register rules
/// push the CFA). Errors are reasons suitable for an `<unavailable>` text.
pub(crate) fn evaluate(
    expression: gimli::Expression<Reader>,
    encoding: gimli::Encoding,
    context: &EvalContext<'_>,
    memory: &mut dyn Memory,
    initial: Option<u64>,
) -> Result<Place, String> {
    let mut evaluation = expression.evaluation(encoding);
    evaluation.set_max_iterations(MAX_ITERATIONS);
    if let Some(initial) = initial {
        evaluation.set_initial_value(initial);
    }
    let mut result = evaluation.evaluate().map_err(|e| e.to_string())?;
    loop {
        use gimli::EvaluationResult as R;
        result = match result {
            R::Complete => break,
            R::RequiresMemory { address, size, .. } => {
                let size = usize::from(size.min(8));
                let mut bytes = [0u8; 8];
                memory
                    .read(address, &mut bytes[..size])
                    .map_err(|e| e.to_string())?;
                let value = u64::from_le_bytes(bytes);
                evaluation.resume_with_memory(gimli::Value::Generic(value))
            }
            R::RequiresRegister { register, .. } => {
                let value = register_value(context.registers, register)?;
                evaluation.resume_with_register(gimli::Value::Generic(value))
            }
            R::RequiresFrameBase => {
                let base = context
                    .frame_base
                    .ok_or("the frame base is not available")?;
                evaluation.resume_with_frame_base(base)
            }
            R::RequiresCallFrameCfa => {
                let cfa = context
                    .cfa
                    .ok_or("the canonical frame address is not available")?;
                evaluation.resume_with_call_frame_cfa(cfa)
            }
            R::RequiresRelocatedAddress(address) => {
                evaluation.resume_with_relocated_address(address.wrapping_add(context.bias))
            }
            R::RequiresIndexedAddress { index, relocate } => {
                let unit = context.unit.ok_or("indexed address without a unit")?;
                let address = unit.address(index).map_err(|e| e.to_string())?;
                let address = if relocate {
                    address.wrapping_add(context.bias)
                } else {
                    address
                };
                evaluation.resume_with_indexed_address(address)
            }
            R::RequiresBaseType(offset) => {
                let value_type =
                    base_value_type(context, offset).unwrap_or(gimli::ValueType::Generic);
                evaluation.resume_with_base_type(value_type)
            }
            R::RequiresTls(_) => return Err("thread-local storage is not supported".into()),
            R::RequiresEntryValue(_) => {
                return Err("the value at function entry is not available (optimized out)".into());
            }
            R::RequiresAtLocation(_) | R::RequiresParameterRef(_) => {
                return Err("the expression refers to another DIE's location".into());
            }
            R::RequiresWasmLocal { .. }
            | R::RequiresWasmGlobal { .. }
            | R::RequiresWasmStack { .. } => {
                return Err("WebAssembly locations are not supported".into());
            }
        }
        .map_err(|e| e.to_string())?;
    }
    assemble(evaluation.result(), context.registers, memory)
}

fn base_value_type(
    context: &EvalContext<'_>,
    offset: gimli::UnitOffset<usize>,
) -> Option<gimli::ValueType> {
    let unit = context.unit?;
    let entry = unit.entry(offset).ok()?;
    let encoding = match entry.attr_value(gimli::DW_AT_encoding)? {
        gimli::AttributeValue::Encoding(encoding) => encoding,
        _ => return None,
    };
    let size = entry.attr_value(gimli::DW_AT_byte_size)?.udata_value()?;
    gimli::ValueType::from_encoding(encoding, size)
}

fn assemble(
    pieces: Vec<gimli::Piece<Reader>>,
    registers: &Registers,
    memory: &mut dyn Memory,
) -> Result<Place, String> {
    use gimli::Reader as _;
    if let [piece] = pieces.as_slice()
        && piece.size_in_bits.is_none()
    {
        return match &piece.location {
            gimli::Location::Address { address } => Ok(Place::Memory(*address)),
            gimli::Location::Register { register } => Ok(Place::Value(
                register_value(registers, *register)?.to_le_bytes().to_vec(),
            )),
            gimli::Location::Value { value } => Ok(Place::Value(value_bytes(*value))),
            gimli::Location::Bytes { value } => Ok(Place::Value(
                value.to_slice().map_err(|e| e.to_string())?.into_owned(),
            )),
            gimli::Location::Empty => Err("optimized out".into()),
            gimli::Location::ImplicitPointer { .. } => {
                Err("implicit pointer (optimized out)".into())
            }
        };
    }
    if pieces.is_empty() {
        return Err("optimized out".into());
    }
    let mut bytes = Vec::new();
    for piece in &pieces {
        let bits = piece.size_in_bits.ok_or("a piece without a size")?;
        if bits % 8 != 0 || piece.bit_offset.is_some_and(|offset| offset % 8 != 0) {
            return Err("bit-sized pieces are not supported".into());
        }
        let size = bits / 8;
        if (bytes.len() as u64).saturating_add(size) > MAX_VALUE_SIZE {
            return Err("the value is too large".into());
        }
        let size = size as usize;
        let skip = piece.bit_offset.unwrap_or(0) as usize / 8;
        let mut chunk = match &piece.location {
            gimli::Location::Address { address } => {
                let mut chunk = vec![0u8; size];
                memory
                    .read(address.wrapping_add(skip as u64), &mut chunk)
                    .map_err(|e| e.to_string())?;
                chunk
            }
            gimli::Location::Register { register } => register_value(registers, *register)?
                .to_le_bytes()
                .into_iter()
                .skip(skip)
                .collect(),
            gimli::Location::Value { value } => {
                value_bytes(*value).into_iter().skip(skip).collect()
            }
            gimli::Location::Bytes { value } => value
                .to_slice()
                .map_err(|e| e.to_string())?
                .iter()
                .skip(skip)
                .copied()
                .collect(),
            gimli::Location::Empty | gimli::Location::ImplicitPointer { .. } => {
                return Err("partly optimized out".into());
            }
        };
        chunk.resize(size, 0);
        bytes.extend_from_slice(&chunk);
    }
    Ok(Place::Value(bytes))
}
