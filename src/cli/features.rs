//! `kbox features`: the OCI features document.

use kbox::oci::features::kbox_features;

use super::print_json;

#[derive(Debug, clap::Args)]
pub struct FeaturesArgs {}

pub fn run(_args: &FeaturesArgs) -> anyhow::Result<()> {
    print_json(&kbox_features())
}
