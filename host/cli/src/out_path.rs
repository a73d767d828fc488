//! Checks, before a long run, that the file it ends by writing (`--report`, `--json FILE`,
//! `-o FILE`) can be written, so a typo in a path does not cost the run.

use std::path::Path;

use anyhow::{Result, bail};

/// Refuses `path` (given as `flag`) if a file cannot be written there: its folder is missing
/// or is not a folder, the path is a folder, or it is a read-only file. Writes nothing.
pub(crate) fn check(path: &Path, flag: &str) -> Result<()> {
    let shown = path.display();
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match std::fs::metadata(parent) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => bail!("{flag} {shown}: {} is not a folder", parent.display()),
        Err(_) => bail!(
            "{flag} {shown}: the folder {} does not exist (nothing was run)",
            parent.display()
        ),
    }
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.is_dir() {
            bail!("{flag} {shown}: is a folder, not a file (nothing was run)");
        }
        if meta.permissions().readonly() {
            bail!("{flag} {shown}: the file is read-only (nothing was run)");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;
    use std::path::Path;

    #[test]
    fn a_missing_folder_or_a_folder_is_refused() {
        let dir = std::env::temp_dir();
        assert!(check(&dir.join("report.json"), "--report").is_ok());
        assert!(check(Path::new("report.json"), "--report").is_ok());
        let error = check(&dir.join("no-such-dir-opml/report.json"), "--report").unwrap_err();
        assert!(error.to_string().contains("does not exist"), "{error}");
        let error = check(&dir, "--report").unwrap_err();
        assert!(error.to_string().contains("is a folder"), "{error}");
    }
}
