//! The OCI runtime features document (`kbox features`), claiming only what kbox does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::hooks::HookKind;
use super::{mount_options, validate};

/// Every kind of hook: `prestart` and `createRuntime` (after create), `poststart` (after
/// start) and `poststop` (at delete) run on the host; `createContainer` (during create) and
/// `startContainer` (during start) run as processes of the container, on its kernel (see
/// src/supervisor/hooks.rs).
pub const SUPPORTED_HOOKS: &[HookKind] = &HookKind::ALL;

/// Subset of the runtime-spec `features.md` document that kbox fills in; absent fields
/// mean "unknown" to the reader, so nothing is emitted that kbox cannot back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FeaturesDocument {
    pub oci_version_min: String,
    pub oci_version_max: String,
    pub hooks: Vec<String>,
    pub mount_options: Vec<String>,
    pub annotations: BTreeMap<String, String>,
}

pub fn kbox_features() -> FeaturesDocument {
    let annotations = BTreeMap::from([
        (
            "io.github.kbox.version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
        ("io.github.kbox.kernel".to_owned(), "lkl".to_owned()),
    ]);
    FeaturesDocument {
        oci_version_min: validate::OCI_VERSION_MIN.to_owned(),
        oci_version_max: validate::OCI_VERSION_MAX.to_owned(),
        hooks: SUPPORTED_HOOKS
            .iter()
            .map(|kind| kind.name().to_owned())
            .collect(),
        mount_options: mount_options::recognized_names(),
        annotations,
    }
}
