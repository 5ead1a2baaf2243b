//! Loading an ELF executable's bytes into gimli sections, without parsing
//! any DWARF unit: everything past the section table is built on demand.

use std::borrow::Cow;
use std::sync::Arc;

use object::{Object, ObjectSection, ObjectSegment};

use super::error::{Result, SymbolError};

/// Shared, immutable bytes: the executable's contents, or a decompressed
/// section. Wrapping a `Vec` (rather than converting it into an
/// `Arc<[u8]>`) lets a loaded file be used without copying it.
#[derive(Clone)]
pub(crate) struct SharedBytes(Arc<Vec<u8>>);

impl SharedBytes {
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        SharedBytes(Arc::new(bytes))
    }
}

impl std::ops::Deref for SharedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedBytes({} bytes)", self.0.len())
    }
}

// SAFETY: the bytes live in the `Vec`'s heap buffer, owned by the `Arc`.
// Nothing mutates or reallocates that `Vec` (no `&mut` is ever handed
// out), so the slice address is stable for as long as any clone lives,
// and clones deref to the same slice.
unsafe impl gimli::StableDeref for SharedBytes {}
// SAFETY: as above; cloning the `Arc` does not move the buffer.
unsafe impl gimli::CloneStableDeref for SharedBytes {}

/// The gimli reader used throughout the core: a cheap-to-clone window into
/// shared bytes.
pub(crate) type Reader = gimli::EndianReader<gimli::RunTimeEndian, SharedBytes>;

/// An executable's loadable segment, used to read code and read-only data
/// from the file when a target cannot provide them (core dumps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileSegment {
    pub(crate) address: u64,
    pub(crate) file_offset: u64,
    pub(crate) file_size: u64,
}

/// The sections the core uses, cut out of the executable's bytes.
pub(crate) struct LoadedSections {
    pub(crate) dwarf: gimli::Dwarf<Reader>,
    pub(crate) eh_frame: Option<(Reader, u64)>,
    pub(crate) eh_frame_hdr: Option<(Reader, u64)>,
    pub(crate) debug_frame: Option<Reader>,
    pub(crate) text_address: u64,
    pub(crate) got_address: Option<u64>,
    pub(crate) entry: u64,
    pub(crate) segments: Vec<FileSegment>,
    pub(crate) has_dwarf: bool,
}

/// Cuts the sections out of `bytes` (decompressing compressed ones).
pub(crate) fn load_sections(bytes: &SharedBytes) -> Result<LoadedSections> {
    let file = object::File::parse(&**bytes).map_err(|e| SymbolError::ParseElf(e.to_string()))?;
    if file.architecture() != object::Architecture::X86_64 {
        return Err(SymbolError::ParseElf(format!(
            "unsupported architecture {:?}; the debugger supports x86_64 only",
            file.architecture()
        )));
    }
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let whole = gimli::EndianReader::new(bytes.clone(), endian);
    let empty = gimli::EndianReader::new(SharedBytes::new(Vec::new()), endian);

    let section_reader = |name: &str| -> Result<Option<(Reader, u64)>> {
        let Some(section) = file.section_by_name(name) else {
            return Ok(None);
        };
        let address = section.address();
        let data = section
            .uncompressed_data()
            .map_err(|e| SymbolError::ReadSection {
                section: name.to_owned(),
                reason: e.to_string(),
            })?;
        let reader = match data {
            // Uncompressed sections are windows into the shared file bytes,
            // so loading copies nothing.
            Cow::Borrowed(slice) => {
                let start = (slice.as_ptr() as usize).wrapping_sub(bytes.as_ptr() as usize);
                match start.checked_add(slice.len()) {
                    Some(end) if end <= bytes.len() && !slice.is_empty() => whole.range(start..end),
                    _ => gimli::EndianReader::new(SharedBytes::new(slice.to_vec()), endian),
                }
            }
            Cow::Owned(vec) => gimli::EndianReader::new(SharedBytes::new(vec), endian),
        };
        Ok(Some((reader, address)))
    };

    let mut has_dwarf = false;
    let dwarf_sections = gimli::DwarfSections::load(|id: gimli::SectionId| -> Result<Reader> {
        match section_reader(id.name())? {
            Some((reader, _)) => {
                if id == gimli::SectionId::DebugInfo {
                    has_dwarf = true;
                }
                Ok(reader)
            }
            None => Ok(empty.clone()),
        }
    })?;
    let dwarf = dwarf_sections.borrow(|section| section.clone());

    let segments = file
        .segments()
        .map(|segment| {
            let (file_offset, file_size) = segment.file_range();
            FileSegment {
                address: segment.address(),
                file_offset,
                file_size,
            }
        })
        .collect();

    Ok(LoadedSections {
        dwarf,
        eh_frame: section_reader(".eh_frame")?,
        eh_frame_hdr: section_reader(".eh_frame_hdr")?,
        debug_frame: section_reader(".debug_frame")?.map(|(reader, _)| reader),
        text_address: file
            .section_by_name(".text")
            .map(|s| s.address())
            .unwrap_or(0),
        got_address: file.section_by_name(".got").map(|s| s.address()),
        entry: file.entry(),
        segments,
        has_dwarf,
    })
}

/// A function symbol from the ELF symbol table.
#[derive(Debug, Clone)]
pub(crate) struct FunctionSymbol {
    /// The symbol's (mangled) name; demangle with [`demangle`] on use, as
    /// demangling every symbol of a large binary is costly.
    pub(crate) raw: String,
    pub(crate) address: u64,
    pub(crate) size: u64,
}

/// Reads the function symbols of the ELF symbol table (or the dynamic one).
pub(crate) fn function_symbols(bytes: &[u8]) -> Result<Vec<FunctionSymbol>> {
    let file = object::File::parse(bytes).map_err(|e| SymbolError::ParseElf(e.to_string()))?;
    let mut symbols: Vec<FunctionSymbol> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|symbol| {
            use object::ObjectSymbol;
            symbol.kind() == object::SymbolKind::Text && symbol.address() != 0
        })
        .filter_map(|symbol| {
            use object::ObjectSymbol;
            let raw = symbol.name().ok()?;
            Some(FunctionSymbol {
                raw: raw.to_owned(),
                address: symbol.address(),
                size: symbol.size(),
            })
        })
        .collect();
    symbols.sort_by(|a, b| (a.address, &a.raw).cmp(&(b.address, &b.raw)));
    symbols.dedup_by(|a, b| a.address == b.address && a.raw == b.raw);
    Ok(symbols)
}

/// Demangles a Rust symbol (legacy or v0) without its hash; other names
/// are returned unchanged.
pub(crate) fn demangle(raw: &str) -> String {
    match rustc_demangle::try_demangle(raw) {
        Ok(demangled) => format!("{demangled:#}"),
        Err(_) => raw.to_owned(),
    }
}

/// Reads bytes of the executable's loadable segments at a file (unbiased)
/// address; `None` when the range is not backed by file contents.
pub(crate) fn read_file_segment<'a>(
    bytes: &'a [u8],
    segments: &[FileSegment],
    address: u64,
    len: usize,
) -> Option<&'a [u8]> {
    let len = u64::try_from(len).ok()?;
    let end = address.checked_add(len)?;
    let segment = segments.iter().find(|segment| {
        address >= segment.address && end <= segment.address.saturating_add(segment.file_size)
    })?;
    let start = segment.file_offset.checked_add(address - segment.address)?;
    let start = usize::try_from(start).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    bytes.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_rust_names_without_hash() {
        let check = |raw: &str, expected: &str| assert_eq!(demangle(raw), expected);
        check(
            "_ZN10rust_types7inspect17h0123456789abcdefE",
            "rust_types::inspect",
        );
        check("main", "main");
        check("_RNvCs1234_10rust_types7inspect", "rust_types::inspect");
    }
}
