//! `AWS::Serverless::LayerVersion` resources with a local `ContentUri`,
//! which functions use through `Layers: [!Ref MyLayer]`.

use std::path::{Path, PathBuf};

use super::diagnostic::Sink;
use super::function::local_path;
use super::read::{self, Props};
use super::resolve::Resolver;
use super::template::Resource;
use super::yaml::Value;

const KNOWN_PROPERTIES: &[&str] = &[
    "LayerName",
    "Description",
    "PublishLambdaVersion",
    "ContentUri",
    "CompatibleArchitectures",
    "CompatibleRuntimes",
    "LicenseInfo",
    "RetentionPolicy",
];

/// The layer's local directory; `None` when it has none (reported).
pub(crate) fn build(
    resource: &Resource,
    root_dir: &Path,
    resolver: &mut Resolver<'_>,
    sink: &mut Sink,
) -> Option<PathBuf> {
    let id = resource.logical_id.as_str();
    read::check_known(
        id,
        &resource.kind,
        &resource.properties,
        KNOWN_PROPERTIES,
        sink,
    );
    let props = Props::resolve(
        resolver,
        id,
        &resource.properties,
        resource.properties_pos,
        &["ContentUri"],
        sink,
    );
    let site = props.site("ContentUri");
    let Some(node) = props.get("ContentUri") else {
        sink.error(
            Some(props.pos),
            &site,
            "missing ContentUri; point it at the layer's local directory",
        );
        return None;
    };
    if let Value::Map(_) = node.value {
        sink.error(
            Some(node.pos),
            &site,
            "ContentUri points at an S3 object, which cannot be fetched offline; point it at \
             the layer's local directory",
        );
        return None;
    }
    let text = read::string(node, &site, sink)?;
    if text.starts_with("s3://") {
        sink.error(
            Some(node.pos),
            &site,
            format!("ContentUri `{text}` is in S3, which cannot be fetched offline; point it at the layer's local directory"),
        );
        return None;
    }
    local_path(&text, root_dir, node.pos, &site, "ContentUri", sink)
}
