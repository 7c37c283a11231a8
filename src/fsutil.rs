//! Files replaced whole: written under a temporary sibling name and renamed into place, so a
//! kill leaves the old file or the new one, never half of one. (The tables of a run are
//! renamed together at its end: [`crate::export::Files`].)

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The temporary sibling of `path`: `NAME.partial`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Replace `path` with what `write` writes to the temporary path it is given.
pub fn replace_with(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = partial_path(path);
    write(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

/// Replace `path` with `bytes`, synced to disk before the rename.
pub fn replace_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    replace_with(path, |tmp| {
        let mut f = fs::File::create(tmp)?;
        std::io::Write::write_all(&mut f, bytes)?;
        f.sync_data()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_partial() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        replace_bytes(&p, b"one").unwrap();
        replace_bytes(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(!partial_path(&p).exists());
        assert_eq!(partial_path(&p).file_name().unwrap(), "state.json.partial");
        // A failed write leaves the old file.
        assert!(replace_with(&p, |_| anyhow::bail!("no")).is_err());
        assert_eq!(fs::read(&p).unwrap(), b"two");
    }
}
