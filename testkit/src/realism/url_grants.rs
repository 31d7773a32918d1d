//! A function's resource policy as Lambda shows it after AddPermission with a
//! function URL's parameters.
//!
//! AddPermission's `FunctionUrlAuthType` becomes the condition
//! `StringEquals lambda:FunctionUrlAuthType`, and `InvokedViaFunctionUrl` the
//! condition `Bool lambda:InvokedViaFunctionUrl: "true"`
//! (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html, its example
//! policies); an account id as `Principal` reads back as
//! `{"AWS": "arn:aws:iam::ACCOUNT:root"}` and a role ARN as `{"AWS": ARN}`
//! (AddPermission API reference, `Principal`). moto keeps the parameters as
//! keys of the statement and the principal as sent, so every read would look
//! like drift.

use serde_json::{Value, json};

use super::RealAws;
use super::wire::{Request, Response};

/// Rewrites GetPolicy's answer; anything else passes.
pub fn after(aws: &RealAws, req: &Request, resp: Response) -> Response {
    let segments = req.segments();
    let is_get_policy = req.method() == "GET"
        && segments.len() == 4
        && segments[1] == "functions"
        && segments[3] == "policy";
    if !is_get_policy || !resp.ok() {
        return resp;
    }
    let Some(mut body) = resp.json() else {
        return resp;
    };
    let Some(mut policy) = body["Policy"]
        .as_str()
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
    else {
        return resp;
    };
    let mut changed = false;
    for st in policy["Statement"].as_array_mut().into_iter().flatten() {
        let Some(obj) = st.as_object_mut() else {
            continue;
        };
        let auth = obj.remove("FunctionUrlAuthType");
        let via = obj.remove("InvokedViaFunctionUrl");
        if auth.is_none() && via.is_none() {
            continue;
        }
        changed = true;
        // The function's partition, from the statement's resource ARN.
        let partition = obj
            .get("Resource")
            .and_then(Value::as_str)
            .and_then(|r| r.split(':').nth(1))
            .unwrap_or("aws")
            .to_string();
        let mut condition = obj.get("Condition").cloned().unwrap_or_else(|| json!({}));
        if let Some(a) = auth {
            condition["StringEquals"]["lambda:FunctionUrlAuthType"] = a;
        }
        if via.is_some() {
            condition["Bool"]["lambda:InvokedViaFunctionUrl"] = json!("true");
        }
        obj.insert("Condition".into(), condition);
        if let Some(Value::String(p)) = obj.get("Principal").cloned() {
            let principal = if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
                json!({"AWS": format!("arn:{partition}:iam::{p}:root")})
            } else if p.starts_with("arn:") {
                json!({"AWS": p})
            } else {
                json!(p)
            };
            obj.insert("Principal".into(), principal);
        }
    }
    if !changed {
        return resp;
    }
    aws.note("lambda: a function URL grant read back with its conditions");
    body["Policy"] = json!(policy.to_string());
    resp.with_json(&body)
}
