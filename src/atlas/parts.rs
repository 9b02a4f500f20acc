//! An atlas's folder as the shards fill it: `plan.json`, and `parts/<content hash>.png`, one per filter. Every file
//! is written under a temporary name and renamed into place, so a reader (or a shard run again after a kill) sees a
//! whole file or none.

use std::path::{Path, PathBuf};

use super::{AtlasError, Plan};

/// The pictures made so far, in an atlas's folder.
pub struct Parts {
    dir: PathBuf,
}

const PLAN: &str = "plan.json";

fn file_error(path: &Path, e: impl std::fmt::Display) -> AtlasError {
    AtlasError::File { path: path.display().to_string(), reason: e.to_string() }
}

/// Writes `bytes` to `path` whole or not at all: a temporary file beside it (named for this process, so shards
/// writing at once never share one), then a rename, which replaces atomically.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), AtlasError> {
    let name = path.file_name().expect("a file path").to_string_lossy();
    let temporary = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    std::fs::write(&temporary, bytes).map_err(|e| file_error(&temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| file_error(path, e))
}

impl Parts {
    /// The folder of `plan`'s atlas, made if new; refused if it holds another plan's.
    pub fn create(folder: &Path, plan: &Plan) -> Result<Parts, AtlasError> {
        let dir = folder.join("parts");
        std::fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))?;
        let path = folder.join(PLAN);
        match read_plan(folder) {
            Ok(existing) if existing == *plan => {}
            Ok(existing) => {
                return Err(AtlasError::OtherPlan {
                    folder: folder.display().to_string(),
                    differs: differences(&existing, plan),
                });
            }
            Err(_) if !path.exists() => {
                let text = serde_json::to_string_pretty(plan).expect("a plan serialises") + "\n";
                write_atomically(&path, text.as_bytes())?;
            }
            Err(e) => return Err(e),
        }
        Ok(Parts { dir })
    }

    /// The folder of an atlas the shards have worked on, and its plan.
    pub fn open(folder: &Path) -> Result<(Plan, Parts), AtlasError> {
        Ok((read_plan(folder)?, Parts { dir: folder.join("parts") }))
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.png"))
    }

    pub fn has(&self, key: &str) -> bool {
        self.path(key).is_file()
    }

    pub fn write(&self, key: &str, png: &[u8]) -> Result<(), String> {
        write_atomically(&self.path(key), png).map_err(|e| e.to_string())
    }

    /// A part's bytes; none where it was never written.
    pub fn read(&self, key: &str) -> Result<Option<Vec<u8>>, AtlasError> {
        let path = self.path(key);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_error(&path, e)),
        }
    }
}

fn read_plan(folder: &Path) -> Result<Plan, AtlasError> {
    let path = folder.join(PLAN);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| file_error(&path, format!("{e} (no atlas has been started in this folder)")))?;
    serde_json::from_str(&text).map_err(|e| file_error(&path, format!("not an atlas plan: {e}")))
}

/// The top-level fields in which two plans differ, as a refusal names them.
fn differences(a: &Plan, b: &Plan) -> String {
    let (a, b) = (serde_json::to_value(a).expect("serialises"), serde_json::to_value(b).expect("serialises"));
    let fields = a.as_object().expect("a plan is an object");
    let differ: Vec<&str> = fields.keys().filter(|k| a[k.as_str()] != b[k.as_str()]).map(String::as_str).collect();
    differ.join(", ")
}
