//! The `api` section: routes, authorization and throttling.

use std::collections::BTreeSet;

use super::check::{Check, p};
use crate::model::{ApiAuth, ApiMode};
use crate::rules::is_name;
use crate::yaml::{PathSeg, suggest};

/// Lambda's limit on a permission's statement id.
const MAX_STATEMENT_ID: usize = 100;

/// Checks a route `METHOD /path`; returns the problem, if any.
pub fn route_problem(route: &str) -> Option<String> {
    let Some((method, path)) = route.split_once(' ') else {
        return Some(format!(
            "`{route}` is not a route: write `METHOD /path`, such as `POST /agents/{{agent}}`"
        ));
    };
    const METHODS: &[&str] = &[
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
    ];
    if !METHODS.contains(&method) {
        let mut m = format!("`{method}` is not an HTTP method ({})", METHODS.join(", "));
        if let Some(s) = suggest(method, METHODS) {
            m.push_str(&format!("; did you mean `{s}`?"));
        }
        return Some(m);
    }
    if !path.starts_with('/') || path.contains(' ') {
        return Some(format!(
            "the path `{path}` must start with `/` and contain no spaces"
        ));
    }
    if path.len() > 1 && path.ends_with('/') {
        return Some(format!("the path `{path}` must not end with `/`"));
    }
    for seg in path.split('/').skip(1) {
        if path == "/" {
            break;
        }
        let ok = if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let inner = inner.strip_suffix('+').unwrap_or(inner);
            is_name(inner, 64)
        } else {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        };
        if !ok {
            return Some(format!(
                "the path segment `{seg}` is not allowed: use letters, digits, `-._~`, or `{{name}}`"
            ));
        }
    }
    None
}

pub(super) fn api(c: &mut Check) {
    let cfg = c.config;
    let a = &cfg.api;
    if a.routes.is_empty() && a.mode == ApiMode::Sync {
        c.error(
            p(&["api", "routes"]),
            "list at least one route, such as `POST /agents/{agent}`",
        );
    }
    let mut seen = BTreeSet::new();
    // Each route's invoke permission has a statement id derived from it; Lambda
    // refuses a second AddPermission with the same id (ResourceConflictException)
    // and ids over 100 characters (AddPermission API reference, StatementId).
    let mut sids: std::collections::BTreeMap<String, &str> = std::collections::BTreeMap::new();
    for (i, route) in a.routes.iter().enumerate() {
        let mut path = p(&["api", "routes"]);
        path.push(PathSeg::Index(i));
        let sid = crate::names::Names::permission_sid(route);
        if let Some(problem) = route_problem(route) {
            c.error(path, problem);
        } else if !seen.insert(route.as_str()) {
            c.error(path, format!("`{route}` is listed twice"));
        } else if let Some(other) = sids.insert(sid.clone(), route) {
            c.error(
                path,
                format!("`{route}` and `{other}` give the same invoke-permission statement id `{sid}`; change one path"),
            );
        } else if sid.len() > MAX_STATEMENT_ID {
            c.error(
                path,
                format!("the invoke-permission statement id of `{route}` would be {} characters; Lambda allows {MAX_STATEMENT_ID}: shorten the path", sid.len()),
            );
        } else if a.mode == ApiMode::Sync
            && crate::model::ASYNC_ROUTES
                .iter()
                .chain(crate::model::APPROVAL_ROUTES)
                .any(|r| r == route)
        {
            c.error(path, format!("`{route}` is reserved for `api.mode: async`"));
        }
    }
    match (a.auth, &a.jwt) {
        (ApiAuth::Jwt, None) => c.key_error(
            p(&["api"]),
            "`auth: jwt` needs a `jwt:` block with `issuer` and `audience`",
        ),
        (ApiAuth::Jwt, Some(j)) => {
            if !j.issuer.starts_with("https://") {
                c.error(
                    p(&["api", "jwt", "issuer"]),
                    "the issuer must be an `https://` URL",
                );
            }
            if j.audience.is_empty() {
                c.error(p(&["api", "jwt", "audience"]), "list at least one audience");
            }
        }
        (_, Some(_)) => c.key_error(p(&["api", "jwt"]), "`jwt` applies only with `auth: jwt`"),
        _ => {}
    }
    if a.auth == ApiAuth::None {
        c.warn(
            p(&["api", "auth"]),
            "the API is open to anyone on the internet; every request may spend model tokens",
        );
    }
    if !(a.throttle.rate > 0.0 && a.throttle.rate <= 10_000.0) {
        c.error(
            p(&["api", "throttle", "rate"]),
            format!(
                "must be above 0 and at most 10000, found {}",
                a.throttle.rate
            ),
        );
    }
    c.range(
        p(&["api", "throttle", "burst"]),
        a.throttle.burst.into(),
        1,
        5000,
        "",
    );
    if let Some(st) = &a.stream {
        stream(c, st, a.auth);
    }
    if a.mode == ApiMode::Sync && cfg.function.timeout_s > 30 {
        c.warn(
            p(&["function", "timeout_s"]),
            format!(
                "API Gateway stops waiting after 30 s, but the function may run {} s; \
                 long agents should use `api.mode: async` (or `api.stream`, for callers \
                 that read a stream)",
                cfg.function.timeout_s
            ),
        );
    }
}

/// `api.stream`: a function URL has no JWT authorizer, and says who may call it.
fn stream(c: &mut Check, st: &crate::model::Stream, auth: ApiAuth) {
    let partition = crate::names::partition(&c.config.region);
    if auth == ApiAuth::Jwt {
        c.error(
            p(&["api", "stream"]),
            "a function URL has no JWT authorizer: with `auth: jwt` the stream would be \
             open to any caller the URL's own auth lets in; use `allow` with IAM \
             principals under `auth: iam`",
        );
    }
    match (st.public, st.allow.is_empty()) {
        (true, false) => c.error(
            p(&["api", "stream", "allow"]),
            "`public: true` lets anyone call the URL; `allow` would mean nothing: remove one",
        ),
        (false, true) => c.error(
            p(&["api", "stream", "allow"]),
            "list who may call the URL (account ids or IAM role ARNs), or set `public: true`",
        ),
        (true, true) => c.warn(
            p(&["api", "stream", "public"]),
            "the function URL is open to anyone on the internet (AuthType NONE); every \
             request may spend model tokens",
        ),
        (false, false) => {}
    }
    let mut seen = BTreeSet::new();
    for (i, who) in st.allow.iter().enumerate() {
        let mut path = p(&["api", "stream", "allow"]);
        path.push(PathSeg::Index(i));
        if !is_account(who) && !is_role_arn(who, partition) {
            c.error(
                path,
                format!("`{who}` is neither a 12-digit account id nor an IAM role ARN in this Region's partition (`arn:{partition}:iam::123456789012:role/NAME`)"),
            );
        } else if !seen.insert(crate::policy_url::url_sid(who)) {
            c.error(
                path,
                format!(
                    "`{who}` is listed twice (or names a role of the same name in the same account)"
                ),
            );
        }
    }
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_role_arn(s: &str, partition: &str) -> bool {
    let Some(rest) = s.strip_prefix(&format!("arn:{partition}:iam::")) else {
        return false;
    };
    let Some((account, path)) = rest.split_once(":role/") else {
        return false;
    };
    is_account(account)
        && !path.is_empty()
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
}
