//! The e2fsck check shared by the integration tests (included with `#[path]`).

use std::path::Path;
use std::process::Command;

/// `e2fsck -fn`: forced, read-only. Exit status 0 is not enough: on a filesystem that was
/// never unmounted it skips the journal and answers "Fix? no" to wrong summary counts, yet
/// exits 0.
pub fn assert_clean(image: &Path) {
    let output = Command::new("e2fsck")
        .arg("-fn")
        .arg(image)
        .output()
        .expect("cannot run e2fsck (install e2fsprogs: hack/setup.sh)");
    let text = format!(
        "{}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && !text.contains("Fix?") && !text.contains("journal"),
        "e2fsck -fn {} is not clean: {text}",
        image.display()
    );
}
