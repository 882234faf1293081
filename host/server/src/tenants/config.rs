//! The tenants file (`stepbox serve --tenants FILE`): TOML, read and checked
//! whole before it replaces the one in use.
//!
//! ```toml
//! [[tenant]]
//! name = "acme"
//! account = "111111111111"
//! keys = [{ access_key_id = "AKIDACME0001", secret_access_key = "acme-secret" }]
//! [tenant.quotas]
//! concurrent_invocations = 32
//!
//! [admin]
//! keys = [{ access_key_id = "AKIDADMIN001", secret_access_key = "admin-secret" }]
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

/// Why a tenants file was refused; the message names the file, and the line
/// and field where the file itself is wrong.
#[derive(Debug, thiserror::Error)]
pub enum TenantsError {
    #[error("cannot read the tenants file {file}: {reason}")]
    Unreadable { file: String, reason: String },
    #[error(
        "the tenants file {file} is readable or writable by other users (mode {mode:03o}): it holds secret keys; \
         make it private (chmod 600)"
    )]
    Exposed { file: String, mode: u32 },
    #[error("invalid tenants file {file}: {reason}")]
    Invalid { file: String, reason: String },
}

/// A secret access key: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// A tenant's limits (`[tenant.quotas]`); each has a default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    /// Sandbox instances running at once for the tenant (Lambda's TooManyRequestsException past it).
    pub concurrent_invocations: u32,
    /// Standard executions RUNNING at once (ExecutionLimitExceeded past it).
    pub open_executions: u64,
    /// Executions started per second, a token bucket of this size refilled at this rate (ThrottlingException).
    pub start_rate: u32,
    /// The largest MemorySize a function may have, in MB.
    pub max_function_memory_mb: u64,
    /// All of the tenant's uploaded code, in MB (CodeStorageExceededException past it).
    pub code_storage_mb: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            concurrent_invocations: 32,
            open_executions: 10_000,
            start_rate: 100,
            max_function_memory_mb: 512,
            code_storage_mb: 512,
        }
    }
}

/// One tenant: its name, the account of all its ARNs and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub name: String,
    pub account: String,
    pub quotas: Quotas,
}

/// Who a key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// The tenant at this index of [`TenantsConfig::tenants`].
    Tenant(usize),
    /// An operator (`[admin] keys`): operator endpoints only.
    Admin,
}

/// A checked tenants file.
#[derive(Debug, Clone)]
pub struct TenantsConfig {
    pub tenants: Vec<Tenant>,
    /// Access key id → its secret and owner.
    pub keys: HashMap<String, (Secret, KeyOwner)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    tenant: Vec<TenantToml>,
    admin: Option<AdminToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantToml {
    name: Spanned<String>,
    account: Spanned<String>,
    keys: Spanned<Vec<KeyToml>>,
    #[serde(default)]
    quotas: QuotasToml,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyToml {
    access_key_id: Spanned<String>,
    secret_access_key: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct QuotasToml {
    concurrent_invocations: Option<Spanned<u32>>,
    open_executions: Option<Spanned<u64>>,
    start_rate: Option<Spanned<u32>>,
    max_function_memory_mb: Option<Spanned<u64>>,
    code_storage_mb: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminToml {
    keys: Vec<KeyToml>,
}

impl TenantsConfig {
    /// Reads `file`, refusing one other users may read or write.
    pub fn load(file: &Path) -> Result<Self, TenantsError> {
        let name = file.display().to_string();
        let unreadable = |e: std::io::Error| TenantsError::Unreadable { file: name.clone(), reason: e.to_string() };
        let meta = std::fs::metadata(file).map_err(unreadable)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o066 != 0 {
                return Err(TenantsError::Exposed { file: name, mode });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = std::fs::read_to_string(file).map_err(unreadable)?;
        Self::parse(&text).map_err(|reason| TenantsError::Invalid { file: name, reason })
    }

    /// Parses and checks a tenants file's text; an error names the line and field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: FileToml = toml::from_str(text).map_err(|e| one_line(&e.to_string()))?;
        let at = |span: std::ops::Range<usize>, field: &str, what: String| {
            format!("line {}, field `{field}`: {what}", line_of(text, span.start))
        };
        let mut config = TenantsConfig { tenants: Vec::new(), keys: HashMap::new() };
        let mut key_lines: HashMap<String, usize> = HashMap::new();
        let mut add_keys = |config: &mut TenantsConfig, keys: &[KeyToml], owner: KeyOwner| -> Result<(), String> {
            for key in keys {
                let id = key.access_key_id.get_ref();
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(at(key.access_key_id.span(), "access_key_id", "must be letters and digits".into()));
                }
                if key.secret_access_key.get_ref().is_empty() {
                    return Err(at(key.secret_access_key.span(), "secret_access_key", "must not be empty".into()));
                }
                let line = line_of(text, key.access_key_id.span().start);
                if let Some(first) = key_lines.insert(id.clone(), line) {
                    return Err(at(key.access_key_id.span(), "access_key_id", format!("{id} is already given on line {first}")));
                }
                config.keys.insert(id.clone(), (Secret(key.secret_access_key.get_ref().clone()), owner.clone()));
            }
            Ok(())
        };
        for (index, t) in raw.tenant.iter().enumerate() {
            let name = t.name.get_ref();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(at(t.name.span(), "name", "must be letters, digits, '-' or '_'".into()));
            }
            let account = t.account.get_ref();
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                return Err(at(t.account.span(), "account", format!("'{account}' is not 12 digits")));
            }
            if let Some(other) = config.tenants.iter().find(|o| &o.name == name || &o.account == account) {
                let (field, span) = if &other.name == name { ("name", t.name.span()) } else { ("account", t.account.span()) };
                return Err(at(span, field, format!("tenant '{}' already has it", other.name)));
            }
            if t.keys.get_ref().is_empty() {
                return Err(at(t.keys.span(), "keys", "a tenant needs at least one key".into()));
            }
            add_keys(&mut config, t.keys.get_ref(), KeyOwner::Tenant(index))?;
            let quotas = t.quotas.checked(&at)?;
            config.tenants.push(Tenant { name: name.clone(), account: account.clone(), quotas });
        }
        if let Some(admin) = &raw.admin {
            add_keys(&mut config, &admin.keys, KeyOwner::Admin)?;
        }
        if config.tenants.is_empty() {
            return Err("no [[tenant]]: a tenants file names at least one tenant".into());
        }
        Ok(config)
    }

    /// The tenant with this account.
    pub fn by_account(&self, account: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.account == account)
    }
}

impl QuotasToml {
    fn checked(&self, at: &impl Fn(std::ops::Range<usize>, &str, String) -> String) -> Result<Quotas, String> {
        let d = Quotas::default();
        fn positive<T: Copy + PartialOrd + Default>(
            v: &Option<Spanned<T>>,
            field: &str,
            default: T,
            at: &impl Fn(std::ops::Range<usize>, &str, String) -> String,
        ) -> Result<T, String> {
            match v {
                None => Ok(default),
                Some(s) if *s.get_ref() > T::default() => Ok(*s.get_ref()),
                Some(s) => Err(at(s.span(), field, "must be at least 1".into())),
            }
        }
        Ok(Quotas {
            concurrent_invocations: positive(&self.concurrent_invocations, "concurrent_invocations", d.concurrent_invocations, at)?,
            open_executions: positive(&self.open_executions, "open_executions", d.open_executions, at)?,
            start_rate: positive(&self.start_rate, "start_rate", d.start_rate, at)?,
            max_function_memory_mb: positive(&self.max_function_memory_mb, "max_function_memory_mb", d.max_function_memory_mb, at)?,
            code_storage_mb: positive(&self.code_storage_mb, "code_storage_mb", d.code_storage_mb, at)?,
        })
    }
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// toml's multi-line error (position, the line quoted, a caret, the reason) as one line.
fn one_line(message: &str) -> String {
    let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
    let head = lines.next().unwrap_or_default().trim_start_matches("TOML parse error at ").to_string();
    let reason = message.lines().last().unwrap_or_default().trim();
    format!("{head}: {reason}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[tenant]]
name = "acme"
account = "111111111111"
keys = [{ access_key_id = "AKIDACME0001", secret_access_key = "acme-secret" }]
[tenant.quotas]
concurrent_invocations = 8

[[tenant]]
name = "globex"
account = "222222222222"
keys = [{ access_key_id = "AKIDGLOBEX01", secret_access_key = "globex-secret" }]

[admin]
keys = [{ access_key_id = "AKIDADMIN001", secret_access_key = "admin-secret" }]
"#;

    #[test]
    fn the_issue_format_parses_with_defaults() {
        let c = TenantsConfig::parse(GOOD).unwrap();
        assert_eq!(c.tenants.len(), 2);
        assert_eq!(c.tenants[0].quotas.concurrent_invocations, 8);
        assert_eq!(c.tenants[0].quotas.open_executions, Quotas::default().open_executions);
        assert_eq!(c.tenants[1].quotas, Quotas::default());
        assert_eq!(c.keys["AKIDGLOBEX01"].1, KeyOwner::Tenant(1));
        assert_eq!(c.keys["AKIDADMIN001"].1, KeyOwner::Admin);
        assert_eq!(c.keys["AKIDACME0001"].0.expose(), "acme-secret");
        assert!(!format!("{:?}", c).contains("acme-secret"), "Debug hides secrets");
    }

    fn error(text: &str) -> String {
        TenantsConfig::parse(text).unwrap_err()
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let bad_account = GOOD.replace("\"222222222222\"", "\"2222\"");
        assert_eq!(error(&bad_account), "line 11, field `account`: '2222' is not 12 digits");
        let dup = GOOD.replace("AKIDGLOBEX01", "AKIDACME0001");
        assert_eq!(error(&dup), "line 12, field `access_key_id`: AKIDACME0001 is already given on line 5");
        let same_account = GOOD.replace("222222222222", "111111111111");
        assert_eq!(error(&same_account), "line 11, field `account`: tenant 'acme' already has it");
        let zero = GOOD.replace("concurrent_invocations = 8", "concurrent_invocations = 0");
        assert_eq!(error(&zero), "line 7, field `concurrent_invocations`: must be at least 1");
        let typo = GOOD.replace("concurrent_invocations", "concurent_invocations");
        let e = error(&typo);
        assert!(e.starts_with("line 7, column 1") && e.contains("unknown field `concurent_invocations`"), "{e}");
        let missing = GOOD.replace("account = \"111111111111\"\n", "");
        let e = error(&missing);
        assert!(e.contains("line 2") && e.contains("missing field `account`"), "{e}");
        let no_keys = GOOD.replace(
            "keys = [{ access_key_id = \"AKIDGLOBEX01\", secret_access_key = \"globex-secret\" }]",
            "keys = []",
        );
        assert_eq!(error(&no_keys), "line 12, field `keys`: a tenant needs at least one key");
        assert!(error("").contains("no [[tenant]]"));
        assert!(!error(&dup).contains("secret"), "errors never show secrets");
    }
}
