//! Route authorization on the local server, as close to API Gateway's as a
//! machine without AWS credentials can be:
//!
//! - `auth: none`: every request passes, with no `authorizer` in the event;
//! - `auth: iam`: requests are not SigV4-checked (claw cannot verify a signature
//!   without AWS); they pass with a stand-in IAM identity and one warning;
//! - `auth: jwt`: `Authorization: Bearer TOKEN`, verified against the issuer's
//!   JWKS (found by OIDC discovery, `{issuer}/.well-known/openid-configuration`,
//!   or `--jwks-url`), or exactly `--dev-token`, which passes with `--dev-claims`.
//!   Anything else is API Gateway's 401 `{"message":"Unauthorized"}`.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use claw_spec::Config;
use claw_spec::model::ApiAuth;
use serde_json::{Map, Value, json};

use super::jwt::{self, Expect, RsaKey};

/// How long fetched keys are used before a token with an unknown `kid` may
/// fetch them again.
const REFETCH_AFTER: Duration = Duration::from_secs(30);

/// The command line's say on JWT routes.
#[derive(Debug, Clone, Default)]
pub struct JwtOptions {
    pub dev_token: Option<String>,
    /// Claims a `--dev-token` request carries (merged over `sub: dev`, `iss`, `aud`).
    pub dev_claims: Map<String, Value>,
    pub jwks_url: Option<String>,
}

pub enum Auth {
    None,
    Iam { account: String },
    Jwt(Box<JwtAuth>),
}

pub struct JwtAuth {
    issuer: String,
    audience: Vec<String>,
    opts: JwtOptions,
    keys: Mutex<Keys>,
}

#[derive(Default)]
struct Keys {
    keys: Vec<RsaKey>,
    fetched: Option<Instant>,
    error: Option<String>,
}

/// Why a request was refused (for claw's log line only).
pub struct Refused(pub String);

impl Auth {
    pub fn new(config: &Config, opts: &JwtOptions) -> anyhow::Result<Auth> {
        Ok(match config.api.auth {
            ApiAuth::None => Auth::None,
            ApiAuth::Iam => Auth::Iam {
                account: config.account.clone(),
            },
            ApiAuth::Jwt => {
                let jwt = config
                    .api
                    .jwt
                    .as_ref()
                    .context("`api.auth: jwt` needs `api.jwt` (issuer and audience)")?;
                Auth::Jwt(Box::new(JwtAuth {
                    issuer: jwt.issuer.clone(),
                    audience: jwt.audience.clone(),
                    opts: opts.clone(),
                    keys: Mutex::new(Keys::default()),
                }))
            }
        })
    }

    /// What the startup banner says about authorization.
    pub fn describe(&self) -> Vec<String> {
        match self {
            Auth::None => vec!["auth: none (as deployed: anyone may call)".into()],
            Auth::Iam { .. } => vec![
                "warning: auth: iam routes accept UNSIGNED requests here (claw cannot check \
                 SigV4 locally); the deployed API refuses them"
                    .into(),
            ],
            Auth::Jwt(j) => {
                let mut v = vec![format!(
                    "auth: jwt: tokens from {} for audience {} (keys: {})",
                    j.issuer,
                    j.audience.join(", "),
                    j.jwks_source()
                )];
                if j.opts.dev_token.is_some() {
                    v.push(format!(
                        "warning: --dev-token: a request bearing that exact token passes as {}",
                        Value::Object(j.dev_claims())
                    ));
                }
                v
            }
        }
    }

    /// Fetches the JWKS now, so the banner can say whether it is reachable.
    pub fn prefetch(&self) -> Option<String> {
        match self {
            Auth::Jwt(j) => j.refresh().err(),
            _ => None,
        }
    }

    /// `requestContext.authorizer` for a request bearing `authorization`.
    pub fn check(&self, authorization: Option<&str>) -> Result<Option<Value>, Refused> {
        match self {
            Auth::None => Ok(None),
            Auth::Iam { account } => Ok(Some(json!({"iam": {
                "accessKey": "",
                "accountId": account,
                "callerId": "claw-dev",
                "cognitoIdentity": null,
                "principalOrgId": null,
                "userArn": format!("arn:aws:iam::{account}:user/claw-dev"),
                "userId": "claw-dev",
            }}))),
            Auth::Jwt(j) => j.check(authorization).map(Some),
        }
    }
}

impl JwtAuth {
    fn jwks_source(&self) -> String {
        self.opts.jwks_url.clone().unwrap_or_else(|| {
            format!(
                "{}/.well-known/openid-configuration",
                self.issuer.trim_end_matches('/')
            )
        })
    }

    fn dev_claims(&self) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("sub".into(), "dev".into());
        c.insert("iss".into(), self.issuer.clone().into());
        if let Some(a) = self.audience.first() {
            c.insert("aud".into(), a.clone().into());
        }
        c.extend(self.opts.dev_claims.clone());
        c
    }

    fn check(&self, authorization: Option<&str>) -> Result<Value, Refused> {
        let token = authorization
            .and_then(|a| {
                a.strip_prefix("Bearer ")
                    .or_else(|| a.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(|| Refused("no `Authorization: Bearer` token".into()))?;
        if self.opts.dev_token.as_deref() == Some(token) {
            return Ok(jwt::authorizer(&self.dev_claims()));
        }
        let expect = Expect {
            issuer: &self.issuer,
            audience: &self.audience,
            now: SystemTime::now(),
        };
        let keys = self.current_keys();
        match jwt::verify(token, &keys, &expect) {
            Ok(claims) => Ok(jwt::authorizer(&claims)),
            // A new signing key: fetch the keys again (not more than every 30 s).
            Err(e) if e.starts_with("no key") || keys.is_empty() => {
                let stale = self
                    .keys
                    .lock()
                    .map(|k| k.fetched.is_none_or(|t| t.elapsed() > REFETCH_AFTER))
                    .unwrap_or(false);
                if stale && let Err(fetch) = self.refresh() {
                    return Err(Refused(format!("{e}; fetching the JWKS: {fetch}")));
                }
                jwt::verify(token, &self.current_keys(), &expect)
                    .map(|c| jwt::authorizer(&c))
                    .map_err(Refused)
            }
            Err(e) => Err(Refused(e)),
        }
    }

    fn current_keys(&self) -> Vec<RsaKey> {
        let need = self
            .keys
            .lock()
            .map(|k| k.fetched.is_none())
            .unwrap_or(true);
        if need {
            let _ = self.refresh();
        }
        self.keys.lock().map(|k| k.keys.clone()).unwrap_or_default()
    }

    /// Fetches the JWKS; keeps the old keys when it fails.
    fn refresh(&self) -> Result<(), String> {
        let got =
            fetch_jwks(&self.issuer, self.opts.jwks_url.as_deref()).map_err(|e| format!("{e:#}"));
        let mut k = self.keys.lock().map_err(|_| "poisoned".to_string())?;
        k.fetched = Some(Instant::now());
        match got {
            Ok(keys) => {
                k.keys = keys;
                k.error = None;
                Ok(())
            }
            Err(e) => {
                k.error = Some(e.clone());
                Err(e)
            }
        }
    }
}

/// The issuer's RSA keys: from `jwks_url`, else by OIDC discovery.
fn fetch_jwks(issuer: &str, jwks_url: Option<&str>) -> anyhow::Result<Vec<RsaKey>> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .context("building an HTTP client")?;
    let get = |url: &str| -> anyhow::Result<Value> {
        client
            .get(url)
            .send()
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("GET {url}"))?
            .json::<Value>()
            .with_context(|| format!("GET {url}: the answer is not JSON"))
    };
    let url = match jwks_url {
        Some(u) => u.to_string(),
        None => {
            let discovery = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            get(&discovery)?
                .get("jwks_uri")
                .and_then(Value::as_str)
                .map(String::from)
                .with_context(|| format!("{discovery} has no `jwks_uri`"))?
        }
    };
    jwt::parse_jwks(&get(&url)?).with_context(|| format!("reading the JWKS at {url}"))
}
