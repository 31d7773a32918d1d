//! Checking a bearer token as API Gateway's JWT authorizer does
//! (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html):
//! an RS256 signature by a key of the issuer's JWKS (found by `kid`), `iss` the
//! configured issuer, `aud` (or `client_id`) one of the configured audiences,
//! `exp` in the future and `nbf`, when present, in the past. The claims then go
//! to the function in `requestContext.authorizer.jwt`, their values as strings.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// One RSA key of a JWKS: its `kid` and the big-endian modulus and exponent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    pub kid: Option<String>,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

/// The RSA signing keys of a JWKS document (`{"keys": [...]}`); others are skipped.
pub fn parse_jwks(doc: &Value) -> anyhow::Result<Vec<RsaKey>> {
    let Some(keys) = doc.get("keys").and_then(Value::as_array) else {
        anyhow::bail!("the JWKS has no `keys` array");
    };
    let b64 = |v: Option<&Value>| -> Option<Vec<u8>> {
        let bytes = b64url(v?.as_str()?).ok()?;
        // Big-endian integers without leading zeros, as verification wants them.
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        Some(bytes[start..].to_vec())
    };
    Ok(keys
        .iter()
        .filter(|k| k["kty"] == "RSA" && k.get("use").is_none_or(|u| u == "sig"))
        .filter_map(|k| {
            Some(RsaKey {
                kid: k.get("kid").and_then(Value::as_str).map(String::from),
                n: b64(k.get("n"))?,
                e: b64(k.get("e"))?,
            })
        })
        .collect())
}

/// What a token must satisfy.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    pub issuer: &'a str,
    pub audience: &'a [String],
    pub now: SystemTime,
}

/// The token's claims when it passes every check; otherwise why not (for
/// claw's own log line: the caller only ever sees 401 Unauthorized).
pub fn verify(token: &str, keys: &[RsaKey], expect: &Expect) -> Result<Map<String, Value>, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a JWT (three dot-separated parts)".into());
    };
    let header: Value = b64url(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the header is not base64url JSON")?;
    if header["alg"] != "RS256" {
        return Err(format!("alg {} is not RS256", header["alg"]));
    }
    let sig = b64url(s).map_err(|_| "the signature is not base64url")?;
    let kid = header.get("kid").and_then(Value::as_str);
    let candidates: Vec<&RsaKey> = keys
        .iter()
        .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
        .collect();
    if candidates.is_empty() {
        return Err(format!("no key with kid {kid:?} in the issuer's JWKS"));
    }
    let signed = &token[..h.len() + 1 + p.len()];
    let ok = candidates.iter().any(|k| {
        aws_lc_rs::signature::RsaPublicKeyComponents { n: &k.n, e: &k.e }
            .verify(
                &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                signed.as_bytes(),
                &sig,
            )
            .is_ok()
    });
    if !ok {
        return Err("the signature does not verify".into());
    }
    let claims: Map<String, Value> = b64url(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the payload is not base64url JSON")?;
    if claims.get("iss").and_then(Value::as_str) != Some(expect.issuer) {
        return Err(format!(
            "iss {} is not {}",
            claims.get("iss").unwrap_or(&Value::Null),
            expect.issuer
        ));
    }
    let auds: Vec<&str> = match claims.get("aud").or_else(|| claims.get("client_id")) {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !auds.iter().any(|a| expect.audience.iter().any(|x| x == a)) {
        return Err(format!("aud {auds:?} is none of {:?}", expect.audience));
    }
    let now = expect
        .now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    match claims.get("exp").and_then(Value::as_f64) {
        Some(exp) if exp > now => {}
        Some(_) => return Err("the token has expired (exp)".into()),
        None => return Err("the token has no exp".into()),
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64)
        && nbf > now
    {
        return Err("the token is not valid yet (nbf)".into());
    }
    Ok(claims)
}

/// `requestContext.authorizer` for these claims: each value as a string (an
/// array as `[a b]`), the scopes from `scope` (space-separated) or `scp`.
pub fn authorizer(claims: &Map<String, Value>) -> Value {
    let as_string = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|x| x
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| x.to_string()))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        other => other.to_string(),
    };
    let strings: Map<String, Value> = claims
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(as_string(v))))
        .collect();
    let scopes: Option<Vec<String>> = match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(s)) => Some(s.split_whitespace().map(String::from).collect()),
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
        ),
        _ => None,
    };
    json!({"jwt": {"claims": strings, "scopes": scopes}})
}

fn b64url(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('='))
}

#[cfg(test)]
mod tests;
