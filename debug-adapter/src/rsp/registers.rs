//! Register layouts from gdb target descriptions (`target.xml`), and decoded
//! register values.
//!
//! A target description lists registers in document order (with
//! `<xi:include>`s expanded in place); each takes the next number unless it
//! has a `regnum`. The `g` packet carries the registers by increasing number,
//! each `bitsize / 8` bytes, little-endian on the targets we debug.

use std::collections::HashMap;

/// One item of a parsed target description document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescriptionItem {
    /// A `<reg>` element.
    Register(RegisterDecl),
    /// An `<xi:include href="…"/>`, to be fetched and expanded in place.
    Include(String),
    /// The `<architecture>` text.
    Architecture(String),
}

/// A `<reg>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterDecl {
    /// Register name, e.g. `rip`.
    pub name: String,
    /// Size in bits.
    pub bitsize: usize,
    /// Explicit number, if given.
    pub regnum: Option<usize>,
    /// The `group` attribute, e.g. `float`, `vector`.
    pub group: Option<String>,
    /// The `<feature>` it belongs to, e.g. `org.gnu.gdb.i386.core`.
    pub feature: Option<String>,
}

/// A target description that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptionError {
    /// Not well-formed XML.
    #[error("target description {annex} is not valid XML: {detail}")]
    Xml {
        /// The document name.
        annex: String,
        /// The parser's message.
        detail: String,
    },
    /// A `<reg>` lacks or has a bad `name`, `bitsize` or `regnum`.
    #[error("target description {annex}: register element {detail}")]
    Register {
        /// The document name.
        annex: String,
        /// What is wrong.
        detail: String,
    },
    /// The description defines no registers at all.
    #[error("target description defines no registers")]
    Empty,
    /// Two registers have the same number.
    #[error("target description gives register number {0} twice")]
    DuplicateNumber(usize),
}

/// Parses one target description document (without fetching includes).
pub fn parse_description(annex: &str, xml: &str) -> Result<Vec<DescriptionItem>, DescriptionError> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    // Some stubs use `xi:include` without declaring the namespace, which a
    // conforming parser rejects; the element name alone is what matters.
    let undeclared;
    let xml = if xml.contains("xi:include") && !xml.contains("xmlns:xi") {
        undeclared = xml.replace("<xi:include", "<include");
        undeclared.as_str()
    } else {
        xml
    };
    let document = roxmltree::Document::parse_with_options(xml, options).map_err(|error| {
        DescriptionError::Xml {
            annex: annex.to_owned(),
            detail: error.to_string(),
        }
    })?;
    let register_error = |detail: String| DescriptionError::Register {
        annex: annex.to_owned(),
        detail,
    };
    let mut items = Vec::new();
    for node in document.descendants().filter(roxmltree::Node::is_element) {
        match node.tag_name().name() {
            "architecture" => {
                if let Some(text) = node.text() {
                    items.push(DescriptionItem::Architecture(text.trim().to_owned()));
                }
            }
            "include" => {
                if let Some(href) = node.attribute("href") {
                    items.push(DescriptionItem::Include(href.to_owned()));
                }
            }
            "reg" => {
                let name = node
                    .attribute("name")
                    .ok_or_else(|| register_error("without a name".to_owned()))?;
                let bitsize = node
                    .attribute("bitsize")
                    .and_then(|text| text.parse::<usize>().ok())
                    .filter(|bits| *bits > 0 && bits % 8 == 0 && *bits <= 4096)
                    .ok_or_else(|| register_error(format!("{name} has no valid bitsize")))?;
                let regnum = match node.attribute("regnum") {
                    Some(text) => Some(
                        text.parse::<usize>()
                            .ok()
                            .filter(|n| *n < 10_000)
                            .ok_or_else(|| {
                                register_error(format!("{name} has a bad regnum {text:?}"))
                            })?,
                    ),
                    None => None,
                };
                let feature = node
                    .ancestors()
                    .find(|ancestor| ancestor.has_tag_name("feature"))
                    .and_then(|feature| feature.attribute("name"))
                    .map(str::to_owned);
                items.push(DescriptionItem::Register(RegisterDecl {
                    name: name.to_owned(),
                    bitsize,
                    regnum,
                    group: node.attribute("group").map(str::to_owned),
                    feature,
                }));
            }
            _ => {}
        }
    }
    Ok(items)
}

/// One register of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterInfo {
    /// Register name.
    pub name: String,
    /// The number used by `p`/`P` and in stop replies.
    pub regnum: usize,
    /// Size in bytes.
    pub size: usize,
    /// Byte offset in the `g` packet.
    pub offset: usize,
    /// The `group` attribute.
    pub group: Option<String>,
    /// The feature it belongs to.
    pub feature: Option<String>,
}

/// All registers of a target, by number, with their `g` packet offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterLayout {
    architecture: Option<String>,
    registers: Vec<RegisterInfo>,
    by_name: HashMap<String, usize>,
    by_number: HashMap<usize, usize>,
}

impl RegisterLayout {
    /// Builds a layout from fully expanded description items.
    pub fn from_items(items: &[DescriptionItem]) -> Result<RegisterLayout, DescriptionError> {
        let mut architecture = None;
        let mut declared: Vec<(usize, &RegisterDecl)> = Vec::new();
        let mut next = 0usize;
        for item in items {
            match item {
                DescriptionItem::Architecture(name) => architecture = Some(name.clone()),
                DescriptionItem::Register(decl) => {
                    let regnum = decl.regnum.unwrap_or(next);
                    next = regnum + 1;
                    declared.push((regnum, decl));
                }
                DescriptionItem::Include(_) => {}
            }
        }
        if declared.is_empty() {
            return Err(DescriptionError::Empty);
        }
        declared.sort_by_key(|(regnum, _)| *regnum);
        let mut registers = Vec::with_capacity(declared.len());
        let mut offset = 0;
        for (regnum, decl) in declared {
            if registers
                .last()
                .is_some_and(|last: &RegisterInfo| last.regnum == regnum)
            {
                return Err(DescriptionError::DuplicateNumber(regnum));
            }
            let size = decl.bitsize / 8;
            registers.push(RegisterInfo {
                name: decl.name.clone(),
                regnum,
                size,
                offset,
                group: decl.group.clone(),
                feature: decl.feature.clone(),
            });
            offset += size;
        }
        let by_name = registers
            .iter()
            .enumerate()
            .map(|(index, info)| (info.name.clone(), index))
            .collect();
        let by_number = registers
            .iter()
            .enumerate()
            .map(|(index, info)| (info.regnum, index))
            .collect();
        Ok(RegisterLayout {
            architecture,
            registers,
            by_name,
            by_number,
        })
    }

    /// The `<architecture>`, e.g. `i386:x86-64`.
    pub fn architecture(&self) -> Option<&str> {
        self.architecture.as_deref()
    }

    /// All registers in number order.
    pub fn registers(&self) -> &[RegisterInfo] {
        &self.registers
    }

    /// A register by name.
    pub fn by_name(&self, name: &str) -> Option<&RegisterInfo> {
        self.by_name.get(name).map(|index| &self.registers[*index])
    }

    /// A register by number.
    pub fn by_number(&self, regnum: usize) -> Option<&RegisterInfo> {
        self.by_number
            .get(&regnum)
            .map(|index| &self.registers[*index])
    }

    fn index_of_number(&self, regnum: usize) -> Option<usize> {
        self.by_number.get(&regnum).copied()
    }

    /// The program counter's name in this layout.
    pub fn pc_name(&self) -> Option<&str> {
        ["rip", "pc", "eip"]
            .into_iter()
            .find(|name| self.by_name.contains_key(*name))
    }

    /// The stack pointer's name in this layout.
    pub fn sp_name(&self) -> Option<&str> {
        ["rsp", "sp", "esp"]
            .into_iter()
            .find(|name| self.by_name.contains_key(*name))
    }

    /// The frame pointer's name in this layout.
    pub fn fp_name(&self) -> Option<&str> {
        ["rbp", "fp", "x29", "ebp"]
            .into_iter()
            .find(|name| self.by_name.contains_key(*name))
    }
}

/// Register values of one thread at one stop. Values are raw target-order
/// bytes; registers the server did not send are absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registers {
    values: Vec<Option<Vec<u8>>>,
}

/// A `g` reply that does not fit the layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterDecodeError {
    /// Not hex (and not `x` placeholders).
    #[error("register block has invalid hex at byte {0}")]
    Hex(usize),
    /// An odd number of hex digits.
    #[error("register block has an odd number of hex digits")]
    OddLength,
}

impl Registers {
    /// No values yet.
    pub fn empty(layout: &RegisterLayout) -> Registers {
        Registers {
            values: vec![None; layout.registers.len()],
        }
    }

    /// Decodes a `g` reply. Registers past its end stay absent (fetch them
    /// with `p`); `xx` digits mark unavailable registers.
    pub fn decode_g(layout: &RegisterLayout, hex: &[u8]) -> Result<Registers, RegisterDecodeError> {
        if !hex.len().is_multiple_of(2) {
            return Err(RegisterDecodeError::OddLength);
        }
        let mut registers = Registers::empty(layout);
        for (index, info) in layout.registers.iter().enumerate() {
            let start = info.offset * 2;
            let end = start + info.size * 2;
            let Some(digits) = hex.get(start..end) else {
                break;
            };
            if digits.iter().all(|digit| *digit == b'x') {
                continue;
            }
            let bytes = super::packet::decode_hex(digits)
                .map_err(|_| RegisterDecodeError::Hex(start / 2))?;
            registers.values[index] = Some(bytes);
        }
        Ok(registers)
    }

    /// Sets one register's raw value by number (e.g. from a stop reply).
    pub fn set_by_number(&mut self, layout: &RegisterLayout, regnum: usize, value: Vec<u8>) {
        if let Some(index) = layout.index_of_number(regnum)
            && let Some(slot) = self.values.get_mut(index)
        {
            *slot = Some(value);
        }
    }

    /// A register's raw bytes by name.
    pub fn raw(&self, layout: &RegisterLayout, name: &str) -> Option<&[u8]> {
        let index = *layout.by_name.get(name)?;
        self.values.get(index)?.as_deref()
    }

    /// A register of up to 8 bytes as a little-endian integer.
    pub fn value(&self, layout: &RegisterLayout, name: &str) -> Option<u64> {
        let bytes = self.raw(layout, name)?;
        if bytes.len() > 8 {
            return None;
        }
        Some(
            bytes
                .iter()
                .rev()
                .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte)),
        )
    }

    /// Whether every register of the layout has a value.
    pub fn is_complete(&self) -> bool {
        self.values.iter().all(Option::is_some)
    }

    /// Name and raw bytes of every register that has a value.
    pub fn iter<'a>(
        &'a self,
        layout: &'a RegisterLayout,
    ) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        layout
            .registers
            .iter()
            .zip(&self.values)
            .filter_map(|(info, value)| value.as_deref().map(|bytes| (info.name.as_str(), bytes)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const GDBSERVER_STYLE: &str = r#"<?xml version="1.0"?>
<!DOCTYPE target SYSTEM "gdb-target.dtd">
<target xmlns:xi="http://www.w3.org/2001/XInclude">
  <architecture>i386:x86-64</architecture>
  <osabi>GNU/Linux</osabi>
  <xi:include href="64bit-core.xml"/>
  <feature name="org.gnu.gdb.i386.linux">
    <reg name="orig_rax" bitsize="64" type="int" regnum="57"/>
  </feature>
</target>"#;

    const CORE: &str = r#"<?xml version="1.0"?>
<feature name="org.gnu.gdb.i386.core">
  <reg name="rax" bitsize="64" type="int64" regnum="0"/>
  <reg name="rbx" bitsize="64" type="int64"/>
  <reg name="eflags" bitsize="32" type="i386_eflags" regnum="17"/>
  <reg name="rip" bitsize="64" type="code_ptr" regnum="16"/>
</feature>"#;

    #[test]
    fn parses_documents_and_includes() {
        let items = parse_description("target.xml", GDBSERVER_STYLE).unwrap();
        assert_eq!(
            items,
            vec![
                DescriptionItem::Architecture("i386:x86-64".into()),
                DescriptionItem::Include("64bit-core.xml".into()),
                DescriptionItem::Register(RegisterDecl {
                    name: "orig_rax".into(),
                    bitsize: 64,
                    regnum: Some(57),
                    group: None,
                    feature: Some("org.gnu.gdb.i386.linux".into()),
                }),
            ]
        );
    }

    #[test]
    fn numbers_and_offsets_follow_regnum_order() {
        let mut items = parse_description("64bit-core.xml", CORE).unwrap();
        items.extend(parse_description("target.xml", GDBSERVER_STYLE).unwrap());
        let layout = RegisterLayout::from_items(&items).unwrap();
        let check = |name: &str, regnum: usize, offset: usize, size: usize| {
            let info = layout.by_name(name).unwrap();
            assert_eq!(
                (info.regnum, info.offset, info.size),
                (regnum, offset, size),
                "{name}"
            );
        };
        check("rax", 0, 0, 8);
        check("rbx", 1, 8, 8);
        check("rip", 16, 16, 8);
        check("eflags", 17, 24, 4);
        check("orig_rax", 57, 28, 8);
        assert_eq!(layout.architecture(), Some("i386:x86-64"));
        assert_eq!(layout.pc_name(), Some("rip"));

        let hex = b"0100000000000000xxxxxxxxxxxxxxxx3412000000000000460200";
        let registers = Registers::decode_g(&layout, hex).unwrap();
        assert_eq!(registers.value(&layout, "rax"), Some(1));
        assert_eq!(registers.value(&layout, "rbx"), None);
        assert_eq!(registers.value(&layout, "rip"), Some(0x1234));
        // Cut off in the middle of eflags: absent, to be read with `p`.
        assert_eq!(registers.value(&layout, "eflags"), None);
        assert!(!registers.is_complete());
        assert_eq!(
            Registers::decode_g(&layout, b"0"),
            Err(RegisterDecodeError::OddLength)
        );
        assert_eq!(
            Registers::decode_g(&layout, b"zz00000000000000"),
            Err(RegisterDecodeError::Hex(0))
        );
    }

    #[test]
    fn rejects_bad_descriptions() {
        let check = |xml: &str, expected: &str| {
            let result = parse_description("t.xml", xml)
                .and_then(|items| RegisterLayout::from_items(&items));
            assert_eq!(
                result.map(|_| ()).unwrap_err().to_string(),
                expected,
                "{xml}"
            );
        };
        check(
            "<target>",
            "target description t.xml is not valid XML: the root node was opened but never closed",
        );
        check("<target/>", "target description defines no registers");
        check(
            r#"<feature><reg bitsize="8"/></feature>"#,
            "target description t.xml: register element without a name",
        );
        check(
            r#"<feature><reg name="a" bitsize="7"/></feature>"#,
            "target description t.xml: register element a has no valid bitsize",
        );
        check(
            r#"<feature><reg name="a" bitsize="8" regnum="1"/><reg name="b" bitsize="8" regnum="1"/></feature>"#,
            "target description gives register number 1 twice",
        );
    }

    proptest::proptest! {
        #[test]
        fn garbage_xml_never_panics(text in "\\PC{0,200}") {
            let _ = parse_description("fuzz.xml", &text).and_then(|items| RegisterLayout::from_items(&items));
        }
    }
}
