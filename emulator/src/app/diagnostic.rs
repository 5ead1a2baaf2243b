//! Problems found while loading a template, with enough location to fix them.
//!
//! The loader never stops at the first problem: every stage reports into a
//! [`Sink`] and carries on with what it could read, so `fogbank validate`
//! prints everything wrong with a template in one run.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The template cannot be served as written.
    Error,
    /// The template loads, but part of it is ignored or approximated.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem in a template.
///
/// Displayed as one line:
/// `template.yaml:14:7: error: HelloFunction.Properties.Handler: missing Handler; ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The template file, as the caller named it.
    pub file: PathBuf,
    /// 1-based line of the offending node, when the problem has a place.
    pub line: Option<u32>,
    /// 1-based column of the offending node.
    pub column: Option<u32>,
    /// Logical ID of the resource the problem belongs to.
    pub resource: Option<String>,
    /// Dotted path inside the resource (`Properties.Handler`), or the
    /// template section (`Parameters.Stage`) when there is no resource.
    pub property: Option<String>,
    /// What is wrong and how to fix it, in lowercase prose.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}: ", self.severity)?;
        match (&self.resource, &self.property) {
            (Some(resource), Some(property)) => write!(f, "{resource}.{property}: ")?,
            (Some(resource), None) => write!(f, "{resource}: ")?,
            (None, Some(property)) => write!(f, "{property}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a template that could not be loaded, errors and
/// warnings alike, in source order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// The problems of severity [`Severity::Error`].
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.severity == Severity::Error)
    }

    /// True when at least one problem is an error.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// A place in the template source: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct Pos {
    pub line: u32,
    pub col: u32,
}

/// Where a problem sits, apart from its source position: the resource and
/// the property path inside it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Site {
    pub resource: Option<String>,
    pub property: Option<String>,
}

impl Site {
    /// A property of a resource: `Site::resource("Fn", "Properties.Handler")`.
    pub fn resource(resource: &str, property: impl Into<String>) -> Site {
        let property = property.into();
        Site {
            resource: Some(resource.to_owned()),
            property: (!property.is_empty()).then_some(property),
        }
    }

    /// A place outside `Resources`, such as `Parameters.Stage`.
    pub fn section(path: impl Into<String>) -> Site {
        let path = path.into();
        Site {
            resource: None,
            property: (!path.is_empty()).then_some(path),
        }
    }

    /// The same resource, one level deeper: `Properties` + `Handler`.
    pub fn child(&self, key: &str) -> Site {
        let property = match &self.property {
            Some(parent) => format!("{parent}.{key}"),
            None => key.to_owned(),
        };
        Site {
            resource: self.resource.clone(),
            property: Some(property),
        }
    }

    /// The same resource, at a list index: `Properties.Layers[0]`.
    pub fn index(&self, index: usize) -> Site {
        let property = match &self.property {
            Some(parent) => format!("{parent}[{index}]"),
            None => format!("[{index}]"),
        };
        Site {
            resource: self.resource.clone(),
            property: Some(property),
        }
    }
}

/// What makes two diagnostics the same problem: everything but the
/// property path, which two passes may spell differently.
/// Candidate comparisons spent on hints per template: plenty for real
/// mistakes, and a bound on hostile input.
const SUGGESTION_BUDGET: usize = 5_000;

type DedupKey = (Severity, Option<u32>, Option<u32>, Option<String>, String);

/// Collects diagnostics for one template, dropping exact duplicates (the
/// reference check and the resolver may both see the same bad `!Ref`).
#[derive(Debug)]
pub(crate) struct Sink {
    file: PathBuf,
    diagnostics: Vec<Diagnostic>,
    seen: HashSet<DedupKey>,
    /// Candidate comparisons left for "did you mean" hints; a `Cell` so that
    /// a hint can be computed inside the arguments of `error`.
    suggestion_budget: Cell<usize>,
    /// Positions of the values written under a `Globals` section, with that
    /// section's path (`Globals.Function`). Globals are merged into every
    /// resource before it is read, so a bad global value would otherwise be
    /// reported once per resource, under the resource's name; see `push`.
    globals: HashMap<Pos, &'static str>,
}

impl Sink {
    pub fn new(file: &Path) -> Sink {
        Sink {
            file: file.to_owned(),
            diagnostics: Vec::new(),
            seen: HashSet::new(),
            suggestion_budget: Cell::new(SUGGESTION_BUDGET),
            globals: HashMap::new(),
        }
    }

    /// Marks `pos` as a key or value written under the Globals section
    /// `section` (such as `Globals.Function`).
    pub fn global_position(&mut self, pos: Pos, section: &'static str) {
        self.globals.insert(pos, section);
    }

    /// ` (did you mean `X`?)` for a near miss among `candidates`, or "".
    pub fn did_you_mean<'a>(
        &self,
        name: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> String {
        super::template::did_you_mean(name, candidates, &self.suggestion_budget)
    }

    pub fn error(&mut self, pos: Option<Pos>, site: &Site, message: impl Into<String>) {
        self.push(Severity::Error, pos, site, message.into());
    }

    pub fn warning(&mut self, pos: Option<Pos>, site: &Site, message: impl Into<String>) {
        self.push(Severity::Warning, pos, site, message.into());
    }

    fn push(&mut self, severity: Severity, pos: Option<Pos>, site: &Site, message: String) {
        // A problem found in a resource's property at a position inside
        // Globals came from a merged global value: it is reported as the
        // global's, so every resource that inherits it shares one message.
        let global_site;
        let site = match (pos.and_then(|p| self.globals.get(&p)), &site.resource) {
            (Some(section), Some(_)) => {
                let property = site.property.as_deref().unwrap_or_default();
                let property = match property.strip_prefix("Properties") {
                    Some(rest) => rest.to_owned(),
                    None if property.is_empty() => String::new(),
                    None => format!(".{property}"),
                };
                global_site = Site::section(format!("{section}{property}"));
                &global_site
            }
            _ => site,
        };
        let line = pos.map(|p| p.line);
        let column = pos.map(|p| p.col);
        let key = (
            severity,
            line,
            column,
            site.resource.clone(),
            message.clone(),
        );
        if !self.seen.insert(key) {
            return;
        }
        self.diagnostics.push(Diagnostic {
            severity,
            file: self.file.clone(),
            line,
            column,
            resource: site.resource.clone(),
            property: site.property.clone(),
            message,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// All diagnostics in source order; problems without a position (such as
    /// a missing `Transform`) come first.
    pub fn finish(mut self) -> Vec<Diagnostic> {
        self.diagnostics
            .sort_by_key(|d| (d.line.unwrap_or(0), d.column.unwrap_or(0)));
        self.diagnostics
    }
}
