//! Azure Blob Storage destinations (`azblob://container/prefix`): how the OpenDAL operator
//! is configured from the URL and the environment.
//!
//! Credentials, first match wins (the variables Azure's own tools read):
//! 1. `AZURE_STORAGE_CONNECTION_STRING`: endpoint, account and key or SAS token in one string
//!    (`UseDevelopmentStorage=true` means Azurite's well-known account);
//! 2. `AZURE_STORAGE_ACCOUNT` (or `AZURE_STORAGE_ACCOUNT_NAME`) with `AZURE_STORAGE_KEY` (or
//!    `AZURE_STORAGE_ACCOUNT_KEY`) — a shared key — or `AZURE_STORAGE_SAS_TOKEN`;
//! 3. otherwise Entra ID, as OpenDAL's default chain finds it: a service principal
//!    (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`), workload identity, a
//!    managed identity, the Azure CLI's login.
//!
//! The endpoint is the URL's `endpoint=` option, else the connection string's, else
//! `AZURE_STORAGE_ENDPOINT`, else `https://ACCOUNT.blob.core.windows.net`.
//!
//! Uploads are block blobs: [`PART_SIZE`](super::PART_SIZE) blocks staged with Put Block and
//! made the blob's content by one Put Block List at `finish` — before that, nothing is visible
//! under the name (an existing blob of that name keeps its old content). Staged blocks that are
//! never committed (an aborted or killed upload) are not part of any blob; the service
//! discards them after a week.

use opendal::Operator;

use crate::error::{Error, ErrorKind, Result};

/// Shared-key credentials a library caller holds (tests, a caller reading its own
/// configuration); shown redacted.
#[derive(Clone, Default)]
pub struct AzureCredentials {
    pub account: String,
    /// The account key, base64 as the portal shows it.
    pub key: String,
}

impl std::fmt::Debug for AzureCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureCredentials")
            .field("account", &self.account)
            .field("key", &"***")
            .finish()
    }
}

/// Where the credentials came from, for messages (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Auth {
    ConnectionString,
    SharedKey {
        account: String,
    },
    Sas {
        account: Option<String>,
    },
    /// OpenDAL's default chain (Entra ID).
    Default {
        account: Option<String>,
    },
}

/// The operator's settings, resolved from the URL and an environment.
#[derive(Clone, PartialEq, Eq)]
struct Settings {
    endpoint: Option<String>,
    auth: Auth,
    connection_string: Option<String>,
    key: Option<String>,
    sas: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

const ENV_HINT: &str =
    "set AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, or AZURE_STORAGE_CONNECTION_STRING";

/// Resolves the settings: `url_endpoint` from the URL, `env` looks a variable up
/// (non-empty values only), `creds` from a library caller (these win).
fn resolve(
    url_endpoint: Option<&str>,
    creds: Option<&AzureCredentials>,
    env: &dyn Fn(&str) -> Option<String>,
    shown: &str,
) -> Result<Settings> {
    let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let config = |why: String| Error::new(ErrorKind::Config, format!("destination \"{shown}\": {why}"));
    let mut s = Settings {
        endpoint: url_endpoint.map(str::to_string),
        auth: Auth::Default { account: None },
        connection_string: None,
        key: None,
        sas: None,
    };
    if let Some(c) = creds {
        check_key(&c.key).map_err(config)?;
        s.auth = Auth::SharedKey {
            account: c.account.clone(),
        };
        s.key = Some(c.key.clone());
    } else if let Some(cs) = env("AZURE_STORAGE_CONNECTION_STRING") {
        // Parsed here already so that a malformed string fails before anything is dumped.
        opendal::services::Azblob::from_connection_string(&cs).map_err(|_| {
            config(
                "AZURE_STORAGE_CONNECTION_STRING is not a valid connection string (Key=Value pairs separated by ';')"
                    .to_string(),
            )
        })?;
        s.auth = Auth::ConnectionString;
        s.connection_string = Some(cs);
    } else {
        let account = env("AZURE_STORAGE_ACCOUNT").or_else(|| env("AZURE_STORAGE_ACCOUNT_NAME"));
        let key = env("AZURE_STORAGE_KEY").or_else(|| env("AZURE_STORAGE_ACCOUNT_KEY"));
        let sas = env("AZURE_STORAGE_SAS_TOKEN");
        match (account, key, sas) {
            (Some(account), Some(key), _) => {
                check_key(&key).map_err(|e| config(format!("AZURE_STORAGE_KEY: {e}")))?;
                s.auth = Auth::SharedKey { account };
                s.key = Some(key);
            }
            (None, Some(_), _) => {
                return Err(config(format!(
                    "AZURE_STORAGE_KEY is set without the account it belongs to: {ENV_HINT}"
                )));
            }
            (account, None, Some(sas)) => {
                s.auth = Auth::Sas { account };
                s.sas = Some(sas.trim_start_matches('?').to_string());
            }
            (account, None, None) => s.auth = Auth::Default { account },
        }
    }
    if s.endpoint.is_none() && s.connection_string.is_none() {
        s.endpoint = env("AZURE_STORAGE_ENDPOINT").map(|e| e.trim_end_matches('/').to_string());
    }
    if s.endpoint.is_none() && s.connection_string.is_none() {
        let account = match &s.auth {
            Auth::SharedKey { account } => Some(account.clone()),
            Auth::Sas { account } | Auth::Default { account } => account.clone(),
            Auth::ConnectionString => None,
        };
        match account {
            Some(a) => s.endpoint = Some(format!("https://{a}.blob.core.windows.net")),
            None => return Err(config(format!("no storage account given: {ENV_HINT}"))),
        }
    }
    Ok(s)
}

/// An account key is base64 (checked here: OpenDAL's own message names the decoding error).
fn check_key(key: &str) -> std::result::Result<(), String> {
    use base64ct::Encoding;
    match base64ct::Base64::decode_vec(key.trim()) {
        Ok(k) if !k.is_empty() => Ok(()),
        _ => Err(
            "the account key is not base64 (copy it as the portal or `az storage account keys list` shows it)".into(),
        ),
    }
}

/// The operator for `container`/`prefix`, from the URL's endpoint, the caller's credentials or
/// the environment.
pub(super) fn operator(
    container: &str,
    prefix: &str,
    endpoint: Option<&str>,
    creds: Option<&AzureCredentials>,
    shown: &str,
) -> Result<Operator> {
    let s = resolve(endpoint, creds, &|k| std::env::var(k).ok(), shown)?;
    let mut b = match &s.connection_string {
        // Parsed once already in `resolve`, which reports a bad one to the user.
        Some(cs) => opendal::services::Azblob::from_connection_string(cs)
            .map_err(|_| Error::internal("the Azure connection string no longer parses"))?,
        None => opendal::services::Azblob::default(),
    };
    b = b.container(container).root(&format!("/{prefix}"));
    if let Some(e) = &s.endpoint {
        b = b.endpoint(e);
    }
    match &s.auth {
        Auth::SharedKey { account } => {
            b = b.account_name(account);
            if let Some(k) = &s.key {
                b = b.account_key(k.trim());
            }
        }
        Auth::Sas { account } | Auth::Default { account } => {
            if let Some(a) = account {
                b = b.account_name(a);
            }
            if let Some(t) = &s.sas {
                b = b.sas_token(t);
            }
        }
        Auth::ConnectionString => {}
    }
    Operator::new(b).map_err(|e| super::dal(shown, "opening", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::storage::test_env as env_of;

    const KEY: &str = "c2VjcmV0LWtleS1ieXRlcw==";

    #[test]
    fn shared_key_from_the_environment_and_the_default_endpoint() {
        let env = env_of(&[("AZURE_STORAGE_ACCOUNT", "acct"), ("AZURE_STORAGE_KEY", KEY)]);
        let s = resolve(None, None, &env, "azblob://c").unwrap();
        assert_eq!(s.auth, Auth::SharedKey { account: "acct".into() });
        assert_eq!(s.endpoint.as_deref(), Some("https://acct.blob.core.windows.net"));
        // The URL's endpoint wins over AZURE_STORAGE_ENDPOINT, which wins over the default.
        let env = env_of(&[
            ("AZURE_STORAGE_ACCOUNT_NAME", "acct"),
            ("AZURE_STORAGE_ACCOUNT_KEY", KEY),
            ("AZURE_STORAGE_ENDPOINT", "http://127.0.0.1:9/acct/"),
        ]);
        let s = resolve(None, None, &env, "azblob://c").unwrap();
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:9/acct"));
        let s = resolve(Some("http://h:1/a"), None, &env, "azblob://c").unwrap();
        assert_eq!(s.endpoint.as_deref(), Some("http://h:1/a"));
    }

    #[test]
    fn sas_tokens_connection_strings_and_entra_id() {
        let env = env_of(&[
            ("AZURE_STORAGE_ACCOUNT", "acct"),
            ("AZURE_STORAGE_SAS_TOKEN", "?sv=1&sig=x"),
        ]);
        let s = resolve(None, None, &env, "azblob://c").unwrap();
        assert_eq!(
            s.auth,
            Auth::Sas {
                account: Some("acct".into())
            }
        );
        assert_eq!(s.sas.as_deref(), Some("sv=1&sig=x"));
        // A connection string wins over the separate variables and carries the endpoint.
        let env = env_of(&[
            ("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true"),
            ("AZURE_STORAGE_ACCOUNT", "other"),
        ]);
        let s = resolve(None, None, &env, "azblob://c").unwrap();
        assert_eq!(s.auth, Auth::ConnectionString);
        assert_eq!(s.endpoint, None);
        // Only the account: Entra ID through the default chain.
        let s = resolve(None, None, &env_of(&[("AZURE_STORAGE_ACCOUNT", "acct")]), "azblob://c").unwrap();
        assert_eq!(
            s.auth,
            Auth::Default {
                account: Some("acct".into())
            }
        );
        // Caller's credentials win over the environment.
        let creds = AzureCredentials {
            account: "mine".into(),
            key: KEY.into(),
        };
        let s = resolve(None, Some(&creds), &env, "azblob://c").unwrap();
        assert_eq!(s.auth, Auth::SharedKey { account: "mine".into() });
    }

    #[test]
    fn unusable_settings_are_config_errors_that_never_show_a_secret() {
        let e = resolve(None, None, &env_of(&[]), "azblob://c").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.to_string().contains("AZURE_STORAGE_ACCOUNT") && e.to_string().contains("azblob://c"),
            "{e}"
        );
        let e = resolve(None, None, &env_of(&[("AZURE_STORAGE_KEY", KEY)]), "azblob://c").unwrap_err();
        assert!(!e.to_string().contains(KEY), "{e}");
        let env = env_of(&[
            ("AZURE_STORAGE_ACCOUNT", "acct"),
            ("AZURE_STORAGE_KEY", "not base64 s3cr3t!"),
        ]);
        let e = resolve(None, None, &env, "azblob://c").unwrap_err().to_string();
        assert!(e.contains("base64") && !e.contains("s3cr3t"), "{e}");
        let env = env_of(&[("AZURE_STORAGE_CONNECTION_STRING", "AccountName=a;s3cr3tWithoutEquals")]);
        let e = resolve(None, None, &env, "azblob://c").unwrap_err().to_string();
        assert!(e.contains("connection string") && !e.contains("s3cr3t"), "{e}");
        let creds = AzureCredentials {
            account: "a".into(),
            key: KEY.into(),
        };
        assert!(!format!("{creds:?}").contains(KEY));
        let s = resolve(None, Some(&creds), &env_of(&[]), "azblob://c").unwrap();
        assert!(!format!("{s:?}").contains(KEY));
    }
}
