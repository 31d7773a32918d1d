//! Secret values (the API key, http tools' auth credentials) from Secrets Manager,
//! fetched on first use and cached for the container's life. Values never reach a
//! log line, an error message or a response.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::aws::Aws;

pub enum Source {
    Aws(Arc<Aws>),
    /// Fixed values, for tests and benchmarks that run without AWS.
    Static(HashMap<String, String>),
}

pub struct Secrets {
    source: Source,
    cache: Mutex<HashMap<String, Arc<str>>>,
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

    /// The secret's value. Errors name the secret, never its value.
    pub async fn get(&self, name: &str) -> Result<Arc<str>, String> {
        if let Some(v) = self.cache.lock().ok().and_then(|c| c.get(name).cloned()) {
            return Ok(v);
        }
        let value: Arc<str> = match &self.source {
            Source::Static(m) => m
                .get(name)
                .map(|v| Arc::from(v.as_str()))
                .ok_or_else(|| format!("the secret `{name}` does not exist"))?,
            Source::Aws(aws) => {
                let out = aws
                    .secrets()
                    .await
                    .get_secret_value()
                    .secret_id(name)
                    .send()
                    .await
                    .map_err(|e| {
                        format!("reading the secret `{name}`: {}", crate::aws::describe(&e))
                    })?;
                let s = out
                    .secret_string()
                    .ok_or_else(|| format!("the secret `{name}` has no SecretString"))?;
                // A trailing newline from `echo … | aws secretsmanager` is never part of a key.
                Arc::from(s.trim())
            }
        };
        if value.is_empty() {
            return Err(format!("the secret `{name}` is empty"));
        }
        if let Ok(mut c) = self.cache.lock() {
            c.insert(name.to_string(), Arc::clone(&value));
        }
        Ok(value)
    }
}
