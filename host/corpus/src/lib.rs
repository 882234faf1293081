//! Where the ASL conformance corpus (LocalStack's snapshot tests of real AWS
//! Step Functions executions) is, for every test and tool that reads it:
//! `$STEPBOX_CONFORMANCE_DIR` if set, else the copy vendored in the
//! repository at `tests/conformance` (see its `NOTICE`).
//!
//! Cases are JSON files in the corpus's `cases/` and `cases_other_services/`
//! directories. The `*_dir`/`case_files` helpers panic with the path they
//! looked at when the corpus is not there, so a test that needs it fails
//! instead of passing on nothing.

use std::path::PathBuf;

/// The environment variable that points at another copy of the corpus.
pub const ENV_VAR: &str = "STEPBOX_CONFORMANCE_DIR";

/// The corpus vendored in the repository (`tests/conformance`).
pub const VENDORED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/conformance");

/// The corpus root: `$STEPBOX_CONFORMANCE_DIR` if set (and not empty), else
/// [`VENDORED_DIR`]. Not checked: see [`cases_dir`] for a checked one.
pub fn corpus_dir() -> PathBuf {
    std::env::var_os(ENV_VAR)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(VENDORED_DIR))
}

/// The corpus subdirectory `sub` (`"cases"` or `"cases_other_services"`).
///
/// # Panics
/// When it is not a directory, naming the path and where it came from.
pub fn cases_dir(sub: &str) -> PathBuf {
    let dir = corpus_dir().join(sub);
    if !dir.is_dir() {
        let from = match std::env::var_os(ENV_VAR).filter(|d| !d.is_empty()) {
            Some(_) => format!("${ENV_VAR}"),
            None => format!("the vendored copy (set ${ENV_VAR} to use another)"),
        };
        panic!("conformance corpus not found: {} is not a directory (from {from})", dir.display());
    }
    dir
}

/// The case files (`*.json`) of [`cases_dir`]`(sub)`, sorted by name.
///
/// # Panics
/// When the directory is missing, unreadable or holds no case.
pub fn case_files(sub: &str) -> Vec<PathBuf> {
    let dir = cases_dir(sub);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())).path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    assert!(!files.is_empty(), "no case files (*.json) in {}", dir.display());
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_corpus_is_found() {
        let dir = PathBuf::from(VENDORED_DIR);
        assert!(dir.join("cases").is_dir(), "{}", dir.display());
        assert!(dir.join("NOTICE").is_file(), "{}", dir.display());
        if std::env::var_os(ENV_VAR).is_none() {
            assert!(case_files("cases").len() > 600);
            assert!(!case_files("cases_other_services").is_empty());
        }
    }

    #[test]
    #[should_panic(expected = "conformance corpus not found")]
    fn a_missing_subdirectory_fails_loudly() {
        cases_dir("no-such-subdirectory");
    }
}
