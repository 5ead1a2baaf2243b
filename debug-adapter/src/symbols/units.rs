//! The table of DWARF compilation units, each parsed on first use.
//!
//! Only unit headers are read up front (a walk over `.debug_info` that
//! skips every unit's body); a unit's abbreviations, root DIE and line
//! program header are parsed the first time a query needs that unit.

use std::cell::OnceCell;
use std::sync::Arc;

use gimli::Reader as _;

use super::loader::Reader;

/// Offset of a DIE in `.debug_info`, unique across units.
pub(crate) type DieKey = u64;

struct UnitSlot {
    header: gimli::UnitHeader<Reader>,
    start: u64,
    end: u64,
    unit: OnceCell<Option<Arc<gimli::Unit<Reader>>>>,
}

/// All compilation units of one executable.
pub(crate) struct Units {
    dwarf: Arc<gimli::Dwarf<Reader>>,
    slots: Vec<UnitSlot>,
}

impl Units {
    /// Reads the unit headers. Malformed trailing data ends the table
    /// rather than failing it, so good units stay usable.
    pub(crate) fn new(dwarf: Arc<gimli::Dwarf<Reader>>) -> Self {
        let mut slots = Vec::new();
        let mut headers = dwarf.units();
        while let Ok(Some(header)) = headers.next() {
            let Some(start) = Some(header.offset().0 as u64) else {
                continue;
            };
            let end = start.saturating_add(header.length_including_self() as u64);
            slots.push(UnitSlot {
                header,
                start,
                end,
                unit: OnceCell::new(),
            });
        }
        Units { dwarf, slots }
    }

    /// Number of units.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Unit `index`, parsed on first use; `None` when it is malformed.
    pub(crate) fn unit(&self, index: usize) -> Option<gimli::UnitRef<'_, Reader>> {
        let slot = self.slots.get(index)?;
        let unit = slot
            .unit
            .get_or_init(|| match self.dwarf.unit(slot.header.clone()) {
                Ok(unit) => Some(Arc::new(unit)),
                Err(error) => {
                    tracing::debug!(offset = slot.start, %error, "skipping malformed DWARF unit");
                    None
                }
            })
            .as_ref()?;
        Some(gimli::UnitRef::new(&self.dwarf, unit))
    }

    /// Index of the unit whose `.debug_info` range holds `offset`.
    pub(crate) fn index_of_offset(&self, offset: u64) -> Option<usize> {
        let index = self.slots.partition_point(|slot| slot.start <= offset);
        let index = index.checked_sub(1)?;
        let slot = self.slots.get(index)?;
        (offset < slot.end).then_some(index)
    }

    /// Resolves a global DIE key to its unit and unit-relative offset.
    pub(crate) fn locate(
        &self,
        key: DieKey,
    ) -> Option<(gimli::UnitRef<'_, Reader>, gimli::UnitOffset<usize>)> {
        let index = self.index_of_offset(key)?;
        let unit = self.unit(index)?;
        let offset =
            gimli::DebugInfoOffset(usize::try_from(key).ok()?).to_unit_offset(&unit.header)?;
        Some((unit, offset))
    }

    /// The index of the unit whose header starts at `offset`.
    pub(crate) fn index_of_unit_start(&self, offset: u64) -> Option<usize> {
        let index = self.index_of_offset(offset)?;
        (self.slots.get(index)?.start == offset).then_some(index)
    }
}

/// The global key of the DIE at `offset` in `unit`.
pub(crate) fn die_key(
    unit: &gimli::Unit<Reader>,
    offset: gimli::UnitOffset<usize>,
) -> Option<DieKey> {
    offset
        .to_debug_info_offset(&unit.header)
        .map(|offset| offset.0 as u64)
}

/// Resolves a reference attribute value to a global DIE key.
pub(crate) fn reference_key(
    unit: &gimli::Unit<Reader>,
    value: &gimli::AttributeValue<Reader>,
) -> Option<DieKey> {
    match *value {
        gimli::AttributeValue::UnitRef(offset) => die_key(unit, offset),
        gimli::AttributeValue::DebugInfoRef(offset) => Some(offset.0 as u64),
        _ => None,
    }
}

/// Reads a string attribute of a DIE.
pub(crate) fn attr_string(
    unit: gimli::UnitRef<'_, Reader>,
    entry: &gimli::DebuggingInformationEntry<Reader>,
    name: gimli::DwAt,
) -> Option<String> {
    let value = entry.attr_value(name)?;
    let reader = unit.attr_string(value).ok()?;
    reader.to_string_lossy().ok().map(|s| s.into_owned())
}

/// Reads an unsigned constant attribute.
pub(crate) fn attr_u64(
    entry: &gimli::DebuggingInformationEntry<Reader>,
    name: gimli::DwAt,
) -> Option<u64> {
    entry.attr_value(name).and_then(|value| value.udata_value())
}
