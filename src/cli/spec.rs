//! `kbox spec`: write a starter config.json into a bundle directory.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};

use kbox::oci::bundle::CONFIG_FILE;
use kbox::oci::default_config::default_spec;

#[derive(Debug, clap::Args)]
pub struct SpecArgs {
    /// Bundle directory to write config.json into
    #[arg(long, short = 'b', value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
}

pub fn run(args: &SpecArgs) -> anyhow::Result<()> {
    let path = args.bundle.join(CONFIG_FILE);
    let mut json = serde_json::to_string_pretty(&default_spec())?;
    json.push('\n');
    // create_new: never overwrite a config someone wrote (runc refuses the same way).
    let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {
            bail!("File {} exists. Remove it first", path.display())
        }
        Err(err) => return Err(err).with_context(|| format!("cannot create {}", path.display())),
    };
    file.write_all(json.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
