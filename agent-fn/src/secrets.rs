//! Secret values (the API key, http tools' auth credentials) from Secrets Manager,
//! fetched on first use and cached for the container's life. Values never reach a
//! log line, an error message or a response.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::aws::Aws;

pub enum Source {
    Aws(Arc<Aws>),
    /// Fixed values, for tests and benchmarks that run without AWS.
    Static(HashMap<String, String>),
    /// One value for every name (under `claw test`: nothing is read, nothing leaks).
    Placeholder(&'static str),
}

type Cell = Arc<OnceCell<Arc<str>>>;

/// Why a secret could not be had. Each names the secret, never its value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the secret cache is poisoned")]
    Poisoned,
    #[error("the secret `{0}` does not exist")]
    Missing(String),
    /// Secrets Manager refused or failed; `detail` is the SDK's code and message.
    #[error("reading the secret `{name}`: {detail}")]
    Read { name: String, detail: String },
    #[error("the secret `{0}` has no SecretString")]
    NotString(String),
    #[error("the secret `{0}` is empty")]
    Empty(String),
}

/// The tools report failures to the model as text.
impl From<SecretError> for String {
    fn from(e: SecretError) -> String {
        e.to_string()
    }
}

pub struct Secrets {
    source: Source,
    /// One cell per name: concurrent first uses (parallel tools, parallel SQS records) share a
    /// single fetch; a failed fetch leaves the cell empty for the next try.
    cache: Mutex<HashMap<String, Cell>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

impl Secrets {
    pub fn new(source: Source) -> Secrets {
        Secrets {
            source,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Drops a cached value, so the next use fetches it again (after the API
    /// rejected a key that may have been rotated).
    pub fn forget(&self, name: &str) {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(name);
        }
    }

    /// The secret's value. Errors name the secret, never its value.
    pub async fn get(&self, name: &str) -> Result<Arc<str>, SecretError> {
        let cell: Cell = {
            let mut c = self.cache.lock().map_err(|_| SecretError::Poisoned)?;
            Arc::clone(c.entry(name.to_string()).or_default())
        };
        cell.get_or_try_init(|| self.fetch(name)).await.cloned()
    }

    async fn fetch(&self, name: &str) -> Result<Arc<str>, SecretError> {
        let value: Arc<str> = match &self.source {
            Source::Static(m) => m
                .get(name)
                .map(|v| Arc::from(v.as_str()))
                .ok_or_else(|| SecretError::Missing(name.to_string()))?,
            Source::Placeholder(v) => Arc::from(*v),
            Source::Aws(aws) => {
                let out = aws
                    .secrets()
                    .await
                    .get_secret_value()
                    .secret_id(name)
                    .send()
                    .await
                    .map_err(|e| SecretError::Read {
                        name: name.to_string(),
                        detail: crate::aws::describe(&e),
                    })?;
                let s = out
                    .secret_string()
                    .ok_or_else(|| SecretError::NotString(name.to_string()))?;
                // A trailing newline from `echo … | aws secretsmanager` is never part of a key.
                Arc::from(s.trim())
            }
        };
        if value.is_empty() {
            return Err(SecretError::Empty(name.to_string()));
        }
        Ok(value)
    }
}
