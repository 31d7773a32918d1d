use std::time::{Duration, UNIX_EPOCH};

use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use serde_json::json;

use super::*;

const NOW: u64 = 1_800_000_000;

/// The modulus and exponent of an RFC 8017 RSAPublicKey (DER).
fn components(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    fn tlv(d: &[u8]) -> (&[u8], &[u8]) {
        let (len, skip) = if d[1] & 0x80 == 0 {
            (d[1] as usize, 2)
        } else {
            let n = (d[1] & 0x7f) as usize;
            (
                d[2..2 + n].iter().fold(0, |a, b| a * 256 + *b as usize),
                2 + n,
            )
        };
        (&d[skip..skip + len], &d[skip + len..])
    }
    let (seq, _) = tlv(der);
    let (n, rest) = tlv(seq);
    let (e, _) = tlv(rest);
    (n.to_vec(), e.to_vec())
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn sign(key: &KeyPair, header: Value, claims: Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", b64(&sig))
}

fn setup() -> (KeyPair, Vec<RsaKey>) {
    let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let (n, e) = components(key.public_key().as_ref());
    let jwks = json!({"keys": [
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "", "y": ""},
        {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": b64(&n), "e": b64(&e)},
    ]});
    let keys = parse_jwks(&jwks).unwrap();
    assert_eq!(keys.len(), 1);
    (key, keys)
}

fn claims() -> Value {
    json!({"iss": "https://issuer.example.com/", "aud": "crm-api", "sub": "user-7",
           "exp": NOW + 60, "scope": "leads:read leads:write", "groups": ["a", "b"]})
}

fn check(token: &str, keys: &[RsaKey]) -> Result<Map<String, Value>, String> {
    let audience = vec!["crm-api".to_string()];
    verify(
        token,
        keys,
        &Expect {
            issuer: "https://issuer.example.com/",
            audience: &audience,
            now: UNIX_EPOCH + Duration::from_secs(NOW),
        },
    )
}

#[test]
fn a_good_token_passes_and_its_claims_become_strings() {
    let (key, keys) = setup();
    let token = sign(&key, json!({"alg": "RS256", "kid": "k1"}), claims());
    let got = check(&token, &keys).unwrap();
    assert_eq!(got["sub"], "user-7");
    let a = authorizer(&got);
    assert_eq!(a["jwt"]["claims"]["sub"], "user-7");
    assert_eq!(a["jwt"]["claims"]["exp"], (NOW + 60).to_string());
    assert_eq!(a["jwt"]["claims"]["groups"], "[a b]");
    assert_eq!(a["jwt"]["scopes"], json!(["leads:read", "leads:write"]));
}

#[test]
fn every_bad_token_is_refused() {
    let (key, keys) = setup();
    let h = json!({"alg": "RS256", "kid": "k1"});
    let with = |k: &str, v: Value| {
        let mut c = claims();
        c[k] = v;
        sign(&key, h.clone(), c)
    };
    let cases = [
        ("expired", with("exp", json!(NOW - 1)), "expired"),
        (
            "issuer",
            with("iss", json!("https://evil.example.com/")),
            "iss",
        ),
        ("audience", with("aud", json!(["other"])), "aud"),
        ("not yet", with("nbf", json!(NOW + 30)), "nbf"),
        (
            "kid",
            sign(&key, json!({"alg": "RS256", "kid": "k9"}), claims()),
            "kid",
        ),
        (
            "alg",
            sign(&key, json!({"alg": "HS256", "kid": "k1"}), claims()),
            "RS256",
        ),
        ("garbage", "a.b".to_string(), "three"),
    ];
    for (what, token, says) in cases {
        let err = check(&token, &keys).unwrap_err();
        assert!(err.contains(says), "{what}: {err}");
    }
    // Another key's signature over the same claims.
    let (other, _) = setup();
    let forged = sign(&other, h.clone(), claims());
    assert!(check(&forged, &keys).unwrap_err().contains("signature"));
    // A changed payload under the original signature.
    let good = sign(&key, h, claims());
    let mut parts: Vec<&str> = good.split('.').collect();
    let swapped = sign(
        &key,
        json!({"alg": "RS256", "kid": "k1"}),
        json!({"sub": "admin"}),
    );
    parts[1] = swapped.split('.').nth(1).unwrap();
    assert!(
        check(&parts.join("."), &keys)
            .unwrap_err()
            .contains("signature")
    );
}
