//! Template reloads: what changed between two loads of the app model, so
//! only the affected parts are reconfigured. Pure: two [`App`]s in, a
//! description of the change out.

use std::collections::BTreeSet;

use crate::app::{App, Function};

/// How a reloaded template differs from the one being served.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TemplateChanges {
    /// Functions new in the template, by logical ID.
    pub added: BTreeSet<String>,
    /// Functions no longer in the template.
    pub removed: BTreeSet<String>,
    /// Functions whose instances must be replaced (code location, runtime,
    /// environment, memory, timeout, layers, build settings...).
    pub changed: BTreeSet<String>,
    /// APIs, routes or function URLs differ: the route table is rebuilt.
    pub routes: bool,
    /// Queues new in the template or with new attributes, by logical ID.
    /// Queues are never deleted by a reload: their messages survive.
    pub queues: BTreeSet<String>,
    /// SQS event-source mappings differ: the pollers are restarted.
    pub mappings: bool,
}

impl TemplateChanges {
    pub fn is_empty(&self) -> bool {
        *self == TemplateChanges::default()
    }

    /// A short summary for the console: `added Foo; changed Bar; routes`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
        if !self.added.is_empty() {
            parts.push(format!("added {}", list(&self.added)));
        }
        if !self.removed.is_empty() {
            parts.push(format!("removed {}", list(&self.removed)));
        }
        if !self.changed.is_empty() {
            parts.push(format!("changed {}", list(&self.changed)));
        }
        if self.routes {
            parts.push("routes updated".to_owned());
        }
        if !self.queues.is_empty() {
            parts.push(format!("queues {}", list(&self.queues)));
        }
        if self.mappings {
            parts.push("event sources updated".to_owned());
        }
        if parts.is_empty() {
            "no changes".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// What changed from `old` to `new`.
pub fn diff(old: &App, new: &App) -> TemplateChanges {
    let mut changes = TemplateChanges::default();
    for (id, function) in &new.functions {
        match old.functions.get(id) {
            None => {
                changes.added.insert(id.clone());
            }
            Some(before) if !same_instances(before, function) => {
                changes.changed.insert(id.clone());
            }
            Some(_) => {}
        }
    }
    for id in old.functions.keys() {
        if !new.functions.contains_key(id) {
            changes.removed.insert(id.clone());
        }
    }
    let front_doors = |app: &App| {
        app.functions
            .values()
            .map(|f| {
                (
                    f.logical_id.clone(),
                    f.events.clone(),
                    f.function_url.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    changes.routes = old.apis != new.apis || front_doors(old) != front_doors(new);
    for (id, queue) in &new.queues {
        if old.queues.get(id) != Some(queue) {
            changes.queues.insert(id.clone());
        }
    }
    let mappings = |app: &App| format!("{:?}", crate::event_source::mappings(app));
    changes.mappings = mappings(old) != mappings(new);
    changes
}

/// True when instances of `a` can serve `b`: the functions differ at most
/// in their events and URL, which only the front doors read.
fn same_instances(a: &Function, b: &Function) -> bool {
    let strip = |f: &Function| Function {
        events: Vec::new(),
        function_url: None,
        ..f.clone()
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::app::LoadOptions;

    fn load(dir: &std::path::Path, template: &str) -> App {
        let path = dir.join("template.yaml");
        std::fs::write(&path, template).unwrap();
        crate::app::load(&path, &LoadOptions::default())
            .unwrap()
            .app
    }

    const BASE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Get:
          Type: Api
          Properties: {Path: /hello, Method: get}
  Other:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: other.handler
      Runtime: python3.12
  Jobs:
    Type: AWS::SQS::Queue
"#;

    /// Loads BASE, then BASE with `edit` applied, and checks the summary.
    fn check(edit: impl Fn(&str) -> String, expected: &str) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        let old = load(dir.path(), BASE);
        let new = load(dir.path(), &edit(BASE));
        assert_eq!(diff(&old, &new).summary(), expected);
    }

    #[test]
    fn template_changes_are_classified() {
        check(|t| t.to_owned(), "no changes");
        check(
            |t| {
                t.replace(
                    "Properties: {Path: /hello, Method: get}",
                    "Properties: {Path: /hi, Method: get}",
                )
            },
            "routes updated",
        );
        check(
            |t| {
                t.replace(
                    "      Handler: other.handler\n",
                    "      Handler: other.handler\n      Environment:\n        Variables: {MODE: fast}\n",
                )
            },
            "changed Other",
        );
        check(
            |t| {
                format!(
                    "{t}  Added:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Handler: a.handler\n      Runtime: python3.12\n      Events:\n        New:\n          Type: Api\n          Properties: {{Path: /new, Method: get}}\n"
                )
            },
            "added Added; routes updated",
        );
        check(
            |t| {
                t.replace(
                    "  Jobs:\n    Type: AWS::SQS::Queue\n",
                    "  Jobs:\n    Type: AWS::SQS::Queue\n    Properties: {VisibilityTimeout: 60}\n",
                )
            },
            "queues Jobs",
        );
        check(
            |t| {
                let start = t.find("  Other:").unwrap();
                let end = t.find("  Jobs:").unwrap();
                format!("{}{}", &t[..start], &t[end..])
            },
            "removed Other; routes updated",
        );
    }
}
