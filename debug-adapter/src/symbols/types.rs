//! The type model: DWARF type DIEs converted into our own description,
//! parsed on first use and cached by DIE offset.

use std::sync::Arc;

use super::DebugInfo;
use super::loader::Reader;
use super::units::{self, DieKey};

/// How a base type's bytes are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Signed,
    Unsigned,
    Float,
    Bool,
    /// A Unicode scalar (Rust `char`, UTF-32).
    Utf,
    /// A C `char` (signed or unsigned byte).
    CChar,
    Other,
}

/// A data member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) ty: Option<DieKey>,
    /// Byte offset within the containing value.
    pub(crate) offset: u64,
}

/// One variant of a Rust enum (`DW_TAG_variant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Variant {
    /// The discriminant value selecting this variant; `None` for the
    /// default variant (the dataful variant of a niche layout).
    pub(crate) discr_value: Option<u64>,
    /// The variant's member: named after the variant, of the variant's
    /// struct type, usually at offset 0.
    pub(crate) field: Field,
}

/// A `DW_TAG_variant_part`: the discriminant and the variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VariantPart {
    pub(crate) discriminant: Option<Field>,
    pub(crate) variants: Vec<Variant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypeKind {
    Void,
    Base(Encoding),
    Pointer {
        pointee: Option<DieKey>,
        /// `&T`/`&mut T` in Rust, `T&` in C++.
        reference: bool,
    },
    Struct {
        fields: Vec<Field>,
        variants: Option<VariantPart>,
        /// Template type parameters (`T` of `Vec<T>`), by name.
        template_types: Vec<(String, DieKey)>,
    },
    Union {
        fields: Vec<Field>,
    },
    Enum {
        signed: bool,
        enumerators: Vec<(String, i128)>,
    },
    Array {
        element: Option<DieKey>,
        /// Element counts per dimension, outermost first; `None` if unknown.
        dims: Vec<Option<u64>>,
    },
    Function,
    Unknown,
}

/// A type, as the value formatter needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeInfo {
    pub(crate) name: String,
    pub(crate) size: Option<u64>,
    pub(crate) kind: TypeKind,
}

impl TypeInfo {
    /// A synthetic base type (for `len` and other computed members).
    pub(crate) fn base(name: &str, size: u64, encoding: Encoding) -> Arc<TypeInfo> {
        Arc::new(TypeInfo {
            name: name.to_owned(),
            size: Some(size),
            kind: TypeKind::Base(encoding),
        })
    }

    fn unknown(reason: &str) -> Arc<TypeInfo> {
        Arc::new(TypeInfo {
            name: format!("<{reason}>"),
            size: None,
            kind: TypeKind::Unknown,
        })
    }

    /// The template type parameter called `name`.
    pub(crate) fn template_type(&self, name: &str) -> Option<DieKey> {
        match &self.kind {
            TypeKind::Struct { template_types, .. } => template_types
                .iter()
                .find(|(param, _)| param == name)
                .map(|(_, key)| *key),
            _ => None,
        }
    }

    /// The field called `name`.
    pub(crate) fn field(&self, name: &str) -> Option<&Field> {
        match &self.kind {
            TypeKind::Struct { fields, .. } | TypeKind::Union { fields } => {
                fields.iter().find(|field| field.name == name)
            }
            _ => None,
        }
    }
}

/// The extent of a `DW_TAG_namespace` within its unit.
#[derive(Debug)]
pub(crate) struct NamespaceScope {
    start: u64,
    end: u64,
    path: String,
}

/// Type-qualifier chains longer than this are treated as malformed.
const MAX_CHAIN: usize = 32;

impl DebugInfo {
    /// The type at DIE `key`, looking through typedefs and qualifiers.
    pub(crate) fn type_of(&self, key: Option<DieKey>) -> Arc<TypeInfo> {
        let Some(key) = key else {
            return Arc::new(TypeInfo {
                name: "void".into(),
                size: Some(0),
                kind: TypeKind::Void,
            });
        };
        if let Some(found) = self.types.borrow().get(&key) {
            return found.clone();
        }
        // A pointer whose pointee is itself (malformed DWARF) would recurse
        // forever while naming the type.
        let depth = self.nesting.get();
        if depth > super::values::MAX_NESTING {
            return TypeInfo::unknown("type nests too deeply");
        }
        self.nesting.set(depth + 1);
        let parsed = Arc::new(self.parse_type(key, 0));
        self.nesting.set(depth);
        self.types.borrow_mut().insert(key, parsed.clone());
        parsed
    }

    fn parse_type(&self, key: DieKey, depth: usize) -> TypeInfo {
        let fallback = |reason: &str| (*TypeInfo::unknown(reason)).clone();
        if depth > MAX_CHAIN {
            return fallback("type chain too deep");
        }
        let Some((unit, offset)) = self.units().locate(key) else {
            return fallback("type outside any unit");
        };
        let Ok(entry) = unit.entry(offset) else {
            return fallback("malformed type entry");
        };
        let name = units::attr_string(unit, &entry, gimli::DW_AT_name);
        let size = units::attr_u64(&entry, gimli::DW_AT_byte_size);
        let target = entry
            .attr_value(gimli::DW_AT_type)
            .and_then(|value| units::reference_key(&unit, &value));
        let tag = entry.tag();
        match tag {
            gimli::DW_TAG_typedef
            | gimli::DW_TAG_const_type
            | gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_restrict_type
            | gimli::DW_TAG_atomic_type => {
                let mut inner = match target {
                    Some(target) => self.parse_type(target, depth + 1),
                    None => TypeInfo {
                        name: "void".into(),
                        size: Some(0),
                        kind: TypeKind::Void,
                    },
                };
                inner.name = match (tag, name) {
                    (gimli::DW_TAG_typedef, Some(name)) => self.qualify(key, name),
                    (gimli::DW_TAG_const_type, _) => format!("const {}", inner.name),
                    (gimli::DW_TAG_volatile_type, _) => format!("volatile {}", inner.name),
                    _ => inner.name,
                };
                inner
            }
            gimli::DW_TAG_base_type => {
                let encoding = match entry.attr_value(gimli::DW_AT_encoding) {
                    Some(gimli::AttributeValue::Encoding(encoding)) => match encoding {
                        gimli::DW_ATE_signed => Encoding::Signed,
                        gimli::DW_ATE_unsigned => Encoding::Unsigned,
                        gimli::DW_ATE_float => Encoding::Float,
                        gimli::DW_ATE_boolean => Encoding::Bool,
                        gimli::DW_ATE_UTF => Encoding::Utf,
                        gimli::DW_ATE_signed_char | gimli::DW_ATE_unsigned_char => {
                            // rustc describes `u8`/`i8` as chars; they are numbers.
                            if name.as_deref().is_some_and(|n| n == "u8" || n == "i8") {
                                if name.as_deref() == Some("i8") {
                                    Encoding::Signed
                                } else {
                                    Encoding::Unsigned
                                }
                            } else {
                                Encoding::CChar
                            }
                        }
                        _ => Encoding::Other,
                    },
                    _ => Encoding::Other,
                };
                TypeInfo {
                    name: name.unwrap_or_else(|| "<base>".into()),
                    size,
                    kind: TypeKind::Base(encoding),
                }
            }
            gimli::DW_TAG_unspecified_type => TypeInfo {
                name: name.unwrap_or_else(|| "void".into()),
                size: Some(0),
                kind: TypeKind::Void,
            },
            gimli::DW_TAG_pointer_type
            | gimli::DW_TAG_reference_type
            | gimli::DW_TAG_rvalue_reference_type
            | gimli::DW_TAG_ptr_to_member_type => {
                let reference = tag != gimli::DW_TAG_pointer_type;
                let name = name.unwrap_or_else(|| {
                    let pointee = match target {
                        Some(target) => self.type_of(Some(target)).name.clone(),
                        None => "void".into(),
                    };
                    if reference {
                        format!("{pointee} &")
                    } else {
                        format!("{pointee} *")
                    }
                });
                TypeInfo {
                    name,
                    size: size.or(Some(8)),
                    kind: TypeKind::Pointer {
                        pointee: target,
                        reference,
                    },
                }
            }
            gimli::DW_TAG_structure_type | gimli::DW_TAG_class_type | gimli::DW_TAG_union_type => {
                let (fields, variants, template_types) = self.parse_members(unit, offset);
                let name = match name {
                    Some(name) => self.qualify(key, name),
                    None => "<anonymous>".into(),
                };
                let kind = if tag == gimli::DW_TAG_union_type {
                    TypeKind::Union { fields }
                } else {
                    TypeKind::Struct {
                        fields,
                        variants,
                        template_types,
                    }
                };
                TypeInfo { name, size, kind }
            }
            gimli::DW_TAG_enumeration_type => {
                let signed = target.is_some_and(|target| {
                    matches!(
                        self.type_of(Some(target)).kind,
                        TypeKind::Base(Encoding::Signed)
                    )
                });
                let mut enumerators = Vec::new();
                for_each_child(unit, offset, |child| {
                    if child.tag() == gimli::DW_TAG_enumerator {
                        let label =
                            units::attr_string(unit, child, gimli::DW_AT_name).unwrap_or_default();
                        let value = match child.attr_value(gimli::DW_AT_const_value) {
                            Some(gimli::AttributeValue::Sdata(v)) => i128::from(v),
                            Some(value) => value.udata_value().map_or(0, i128::from),
                            None => 0,
                        };
                        enumerators.push((label, value));
                    }
                });
                TypeInfo {
                    name: name.map_or_else(|| "<enum>".into(), |name| self.qualify(key, name)),
                    size,
                    kind: TypeKind::Enum {
                        signed,
                        enumerators,
                    },
                }
            }
            gimli::DW_TAG_array_type => {
                let mut dims = Vec::new();
                for_each_child(unit, offset, |child| {
                    if child.tag() == gimli::DW_TAG_subrange_type {
                        let lower = units::attr_u64(child, gimli::DW_AT_lower_bound).unwrap_or(0);
                        let count = units::attr_u64(child, gimli::DW_AT_count).or_else(|| {
                            match child.attr_value(gimli::DW_AT_upper_bound)? {
                                gimli::AttributeValue::Sdata(v) if v < 0 => Some(0),
                                value => value.udata_value()?.checked_sub(lower)?.checked_add(1),
                            }
                        });
                        dims.push(count);
                    }
                });
                if dims.is_empty() {
                    dims.push(None);
                }
                let element_name = self.type_of(target).name.clone();
                let shape: String = dims
                    .iter()
                    .map(|d| d.map_or("[]".to_owned(), |d| format!("[{d}]")))
                    .collect();
                TypeInfo {
                    name: name.unwrap_or_else(|| format!("{element_name}{shape}")),
                    size,
                    kind: TypeKind::Array {
                        element: target,
                        dims,
                    },
                }
            }
            gimli::DW_TAG_subroutine_type | gimli::DW_TAG_subprogram => TypeInfo {
                name: name.unwrap_or_else(|| "fn".into()),
                size,
                kind: TypeKind::Function,
            },
            _ => TypeInfo {
                name: name.unwrap_or_else(|| format!("<{tag}>")),
                size,
                kind: TypeKind::Unknown,
            },
        }
    }

    /// Prefixes `name` with the namespaces enclosing DIE `key`
    /// (`Vec<u8>` becomes `alloc::vec::Vec<u8>`), as Rust type names are
    /// written relative to their module.
    fn qualify(&self, key: DieKey, name: String) -> String {
        let Some(index) = self.units().index_of_offset(key) else {
            return name;
        };
        let namespaces = self.unit_namespaces(index);
        let Some(unit) = self.units().unit(index) else {
            return name;
        };
        let Some(offset) = gimli::DebugInfoOffset(key as usize).to_unit_offset(&unit.header) else {
            return name;
        };
        let offset = offset.0 as u64;
        let innermost = namespaces
            .iter()
            .filter(|scope| scope.start < offset && offset < scope.end)
            .max_by_key(|scope| scope.start);
        match innermost {
            Some(scope) if !scope.path.is_empty() => format!("{}::{name}", scope.path),
            _ => name,
        }
    }

    /// The namespace extents of unit `index`, computed by one walk over
    /// the unit on first use.
    fn unit_namespaces(&self, index: usize) -> Arc<Vec<NamespaceScope>> {
        if let Some(found) = self.namespaces.borrow().get(&index) {
            return found.clone();
        }
        let mut scopes: Vec<NamespaceScope> = Vec::new();
        if let Some(unit) = self.units().unit(index) {
            let mut open: Vec<(isize, usize)> = Vec::new();
            let mut cursor = unit.entries();
            while let Ok(Some(entry)) = cursor.next_dfs() {
                let depth = entry.depth();
                let offset = entry.offset().0 as u64;
                while open
                    .last()
                    .is_some_and(|(open_depth, _)| *open_depth >= depth)
                {
                    if let Some((_, scope)) = open.pop() {
                        scopes[scope].end = offset;
                    }
                }
                if entry.tag() == gimli::DW_TAG_namespace {
                    let name =
                        units::attr_string(unit, entry, gimli::DW_AT_name).unwrap_or_default();
                    let parent = open
                        .last()
                        .map(|(_, scope)| scopes[*scope].path.clone())
                        .unwrap_or_default();
                    let path = if parent.is_empty() {
                        name
                    } else {
                        format!("{parent}::{name}")
                    };
                    open.push((depth, scopes.len()));
                    scopes.push(NamespaceScope {
                        start: offset,
                        end: u64::MAX,
                        path,
                    });
                }
            }
        }
        let scopes = Arc::new(scopes);
        self.namespaces.borrow_mut().insert(index, scopes.clone());
        scopes
    }

    fn parse_members(
        &self,
        unit: gimli::UnitRef<'_, Reader>,
        offset: gimli::UnitOffset<usize>,
    ) -> (Vec<Field>, Option<VariantPart>, Vec<(String, DieKey)>) {
        let mut fields = Vec::new();
        let mut template_types = Vec::new();
        let mut variant_part = None;
        for_each_child(unit, offset, |child| match child.tag() {
            gimli::DW_TAG_member | gimli::DW_TAG_inheritance => {
                // Static members have no location in the object.
                if child.attr_value(gimli::DW_AT_external).is_some()
                    && child
                        .attr_value(gimli::DW_AT_data_member_location)
                        .is_none()
                {
                    return;
                }
                fields.push(field(unit, child));
            }
            gimli::DW_TAG_template_type_parameter => {
                if let (Some(name), Some(key)) = (
                    units::attr_string(unit, child, gimli::DW_AT_name),
                    child
                        .attr_value(gimli::DW_AT_type)
                        .and_then(|value| units::reference_key(&unit, &value)),
                ) {
                    template_types.push((name, key));
                }
            }
            gimli::DW_TAG_variant_part => {
                variant_part = Some(parse_variant_part(unit, child));
            }
            _ => {}
        });
        (fields, variant_part, template_types)
    }
}

fn field(
    unit: gimli::UnitRef<'_, Reader>,
    entry: &gimli::DebuggingInformationEntry<Reader>,
) -> Field {
    Field {
        name: units::attr_string(unit, entry, gimli::DW_AT_name).unwrap_or_default(),
        ty: entry
            .attr_value(gimli::DW_AT_type)
            .and_then(|value| units::reference_key(&unit, &value)),
        offset: units::attr_u64(entry, gimli::DW_AT_data_member_location).unwrap_or(0),
    }
}

fn parse_variant_part(
    unit: gimli::UnitRef<'_, Reader>,
    part: &gimli::DebuggingInformationEntry<Reader>,
) -> VariantPart {
    let discriminant_offset = match part.attr_value(gimli::DW_AT_discr) {
        Some(gimli::AttributeValue::UnitRef(offset)) => Some(offset),
        _ => None,
    };
    let mut discriminant = None;
    let mut variants = Vec::new();
    for_each_child(unit, part.offset(), |child| match child.tag() {
        gimli::DW_TAG_member if Some(child.offset()) == discriminant_offset => {
            discriminant = Some(field(unit, child));
        }
        gimli::DW_TAG_variant => {
            let discr_value = match child.attr_value(gimli::DW_AT_discr_value) {
                Some(gimli::AttributeValue::Sdata(v)) => Some(v as u64),
                Some(value) => value.udata_value(),
                None => None,
            };
            let mut member = None;
            for_each_child(unit, child.offset(), |grandchild| {
                if grandchild.tag() == gimli::DW_TAG_member && member.is_none() {
                    member = Some(field(unit, grandchild));
                }
            });
            if let Some(field) = member {
                variants.push(Variant { discr_value, field });
            }
        }
        _ => {}
    });
    VariantPart {
        discriminant,
        variants,
    }
}

/// Calls `visit` on each direct child of the DIE at `offset`; malformed
/// data ends the walk.
pub(crate) fn for_each_child(
    unit: gimli::UnitRef<'_, Reader>,
    offset: gimli::UnitOffset<usize>,
    mut visit: impl FnMut(&gimli::DebuggingInformationEntry<Reader>),
) {
    let Ok(mut tree) = unit.entries_tree(Some(offset)) else {
        return;
    };
    let Ok(root) = tree.root() else { return };
    let mut children = root.children();
    while let Ok(Some(child)) = children.next() {
        visit(child.entry());
    }
}
