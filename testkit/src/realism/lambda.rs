//! Lambda's asynchronous states, statement-id rules and concurrency quota.
//!
//! States, as https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html
//! describes them: a new function is `Pending` until its resources are ready; an
//! update sets `LastUpdateStatus: InProgress` until applied; meanwhile another
//! update is refused with `ResourceConflictException`. An idle function becomes
//! `Inactive` and stays so until invoked or updated; a failed create leaves
//! `State: Failed` ("you must delete and recreate the function"); a failed update
//! leaves `LastUpdateStatus: Failed` with the old configuration in place.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{Value, json};

use super::wire::{Request, Response, error, json_ok};
use super::{Forward, RealAws};

/// A state a test can leave a function in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionCondition {
    /// Idle long enough for Lambda to reclaim its resources.
    Inactive,
    /// The last update failed (the reason given); the old configuration stays.
    UpdateFailed(String),
    /// The create failed (the reason given): only delete-and-recreate helps.
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Busy {
    Creating,
    Updating,
}

#[derive(Default)]
struct Function {
    role: String,
    busy: Option<(Busy, Instant)>,
    condition: Option<FunctionCondition>,
}

#[derive(Default)]
pub struct State {
    functions: HashMap<String, Function>,
    reserved: HashMap<String, u32>,
}

impl State {
    pub fn set_condition(&mut self, name: &str, condition: Option<FunctionCondition>) {
        let f = self.functions.entry(name.to_string()).or_default();
        f.condition = condition;
        f.busy = None;
    }

    pub fn role_of(&self, name: &str) -> Option<String> {
        self.functions.get(name).map(|f| f.role.clone())
    }

    /// What blocks an update now, as Lambda words it.
    fn conflict(&mut self, name: &str, arn: &str) -> Option<String> {
        let f = self.functions.get_mut(name)?;
        if let Some((_, until)) = f.busy
            && Instant::now() >= until
        {
            f.busy = None;
        }
        match (&f.busy, &f.condition) {
            (Some((Busy::Creating, _)), _) => Some(
                "The operation cannot be performed at this time. The function is currently in the following state: Pending".into(),
            ),
            (Some((Busy::Updating, _)), _) => Some(format!(
                "The operation cannot be performed at this time. An update is in progress for resource: {arn}"
            )),
            (None, Some(FunctionCondition::Failed(_))) => Some(
                "The operation cannot be performed at this time. The function is currently in the following state: Failed".into(),
            ),
            _ => None,
        }
    }

    /// Rewrites a function configuration as AWS would show it now; says
    /// whether it showed a change still being applied.
    fn present(&mut self, name: &str, config: &mut Value) -> bool {
        let Some(f) = self.functions.get_mut(name) else {
            return false;
        };
        if let Some((_, until)) = f.busy
            && Instant::now() >= until
        {
            f.busy = None;
        }
        let Some(c) = config.as_object_mut() else {
            return false;
        };
        let busy = f.busy.is_some();
        match (&f.busy, &f.condition) {
            (Some((Busy::Creating, _)), _) => {
                c.insert("State".into(), json!("Pending"));
                c.insert(
                    "StateReason".into(),
                    json!("The function is being created."),
                );
                c.insert("StateReasonCode".into(), json!("Creating"));
                c.remove("LastUpdateStatus");
            }
            (Some((Busy::Updating, _)), _) => {
                c.insert("State".into(), json!("Active"));
                c.insert("LastUpdateStatus".into(), json!("InProgress"));
                c.insert(
                    "LastUpdateStatusReason".into(),
                    json!("The function is being updated."),
                );
            }
            (None, Some(FunctionCondition::Inactive)) => {
                c.insert("State".into(), json!("Inactive"));
                c.insert(
                    "StateReason".into(),
                    json!("The function is inactive and its resources have been reclaimed."),
                );
                c.insert("StateReasonCode".into(), json!("Idle"));
            }
            (None, Some(FunctionCondition::UpdateFailed(why))) => {
                c.insert("LastUpdateStatus".into(), json!("Failed"));
                c.insert("LastUpdateStatusReason".into(), json!(why));
                c.insert(
                    "LastUpdateStatusReasonCode".into(),
                    json!("SubnetOutOfIPAddresses"),
                );
            }
            (None, Some(FunctionCondition::Failed(why))) => {
                c.insert("State".into(), json!("Failed"));
                c.insert("StateReason".into(), json!(why));
                c.insert("StateReasonCode".into(), json!("SubnetOutOfIPAddresses"));
            }
            (None, None) => {}
        }
        busy
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Op {
    Create,
    Get,
    Update { configuration: bool },
    Publish,
    Delete,
    AddPermission,
    PutConcurrency,
    DeleteConcurrency,
    AccountSettings,
    CreateMapping,
    Other,
}

/// A function name from a path segment: a name, or an ARN (maybe qualified).
fn function_name(segment: &str) -> String {
    match segment.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest).to_string(),
        None => segment.to_string(),
    }
}

fn route(req: &Request) -> (Op, String) {
    let s = req.segments();
    let s: Vec<&str> = s.iter().map(String::as_str).collect();
    let name = s.get(2).map(|n| function_name(n)).unwrap_or_default();
    let op = match (req.method(), &s[..]) {
        ("POST", [_, "functions"]) => {
            let body = req.json();
            let name = body["FunctionName"].as_str().unwrap_or_default();
            return (Op::Create, function_name(name));
        }
        ("GET", [_, "functions", _]) | ("GET", [_, "functions", _, "configuration"]) => Op::Get,
        ("PUT", [_, "functions", _, "code"]) => Op::Update {
            configuration: false,
        },
        ("PUT", [_, "functions", _, "configuration"]) => Op::Update {
            configuration: true,
        },
        ("POST", [_, "functions", _, "versions"]) => Op::Publish,
        ("DELETE", [_, "functions", _]) => Op::Delete,
        ("POST", [_, "functions", _, "policy"]) => Op::AddPermission,
        ("PUT", [_, "functions", _, "concurrency"]) => Op::PutConcurrency,
        ("DELETE", [_, "functions", _, "concurrency"]) => Op::DeleteConcurrency,
        ("GET", [_, "account-settings"]) => Op::AccountSettings,
        ("POST", [_, "event-source-mappings"]) => {
            let body = req.json();
            let name = body["FunctionName"].as_str().unwrap_or_default();
            return (Op::CreateMapping, function_name(name));
        }
        _ => Op::Other,
    };
    (op, name)
}

fn arn(req: &Request, name: &str) -> String {
    let auth = req.header("authorization").unwrap_or_default();
    let region = auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or("us-east-1");
    format!("arn:aws:lambda:{region}:123456789012:function:{name}")
}

/// Refusals AWS would send before the change reaches moto.
pub fn before(aws: &RealAws, req: &Request, forward: Forward) -> std::io::Result<Option<Response>> {
    let (op, name) = route(req);
    let config = aws.config();
    match op {
        Op::AccountSettings => {
            aws.note("lambda: GetAccountSettings served");
            let reserved: u32 = aws.world().lambda.reserved.values().sum();
            let functions = aws.world().lambda.functions.len();
            return Ok(Some(json_ok(&json!({
                "AccountLimit": {
                    "TotalCodeSize": 80_530_636_800u64,
                    "CodeSizeUnzipped": 262_144_000u64,
                    "CodeSizeZipped": 52_428_800u64,
                    "ConcurrentExecutions": config.account_concurrency,
                    "UnreservedConcurrentExecutions":
                        config.account_concurrency.saturating_sub(reserved),
                },
                "AccountUsage": { "TotalCodeSize": 0, "FunctionCount": functions },
            }))));
        }
        Op::Create
        | Op::Update {
            configuration: true,
        } => {
            let role = req.json()["Role"].as_str().unwrap_or_default().to_string();
            if !role.is_empty() && aws.role_is_new(&role) {
                aws.note("iam: role not yet assumable by Lambda");
                return Ok(Some(error(
                    req,
                    400,
                    "InvalidParameterValueException",
                    "The role defined for the function cannot be assumed by Lambda.",
                )));
            }
        }
        Op::CreateMapping => {
            let role = aws.world().lambda.role_of(&name).unwrap_or_default();
            if !role.is_empty() && aws.role_policy_is_new(&role) {
                aws.note("iam: role policy not yet visible to Lambda's poller");
                return Ok(Some(error(
                    req,
                    400,
                    "InvalidParameterValueException",
                    "The provided execution role does not have permissions to call ReceiveMessage on SQS",
                )));
            }
        }
        Op::AddPermission => {
            let sid = req.json()["StatementId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            // AddPermission: StatementId is 1-100 characters of ([a-zA-Z0-9-_.]+).
            if sid.len() > 100
                || !sid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                aws.note("lambda: statement id refused");
                return Ok(Some(error(
                    req,
                    400,
                    "ValidationException",
                    &format!(
                        "1 validation error detected: Value '{sid}' at 'statementId' failed to satisfy constraint: Member must have length less than or equal to 100 and match pattern ([a-zA-Z0-9-_.]+)"
                    ),
                )));
            }
            let path = format!("/2015-03-31/functions/{name}/policy");
            let policy = Response::parse(&forward(&req.sibling("GET", &path))?)
                .and_then(|r| r.json())
                .and_then(|v| v["Policy"].as_str().map(str::to_string))
                .and_then(|p| serde_json::from_str::<Value>(&p).ok())
                .unwrap_or(Value::Null);
            let taken = policy["Statement"]
                .as_array()
                .is_some_and(|s| s.iter().any(|st| st["Sid"] == json!(sid)));
            if taken {
                aws.note("lambda: duplicate statement id refused");
                return Ok(Some(error(
                    req,
                    409,
                    "ResourceConflictException",
                    &format!(
                        "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
                    ),
                )));
            }
        }
        Op::PutConcurrency => {
            let want = req.json()["ReservedConcurrentExecutions"]
                .as_u64()
                .unwrap_or(0) as u32;
            let others: u32 = aws
                .world()
                .lambda
                .reserved
                .iter()
                .filter(|(f, _)| **f != name)
                .map(|(_, n)| n)
                .sum();
            if config.account_concurrency < others + want + config.unreserved_minimum {
                aws.note("lambda: reservation below the unreserved minimum refused");
                return Ok(Some(error(
                    req,
                    400,
                    "InvalidParameterValueException",
                    &format!(
                        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{}].",
                        config.unreserved_minimum
                    ),
                )));
            }
        }
        _ => {}
    }
    if matches!(op, Op::Update { .. } | Op::Publish) {
        let conflict = aws.world().lambda.conflict(&name, &arn(req, &name));
        if let Some(message) = conflict {
            aws.note("lambda: ResourceConflictException while a change is applied");
            return Ok(Some(error(req, 409, "ResourceConflictException", &message)));
        }
    }
    Ok(None)
}

/// Records what moto accepted, and shows states as AWS would.
pub fn after(aws: &RealAws, req: &Request, resp: Response) -> Response {
    if !resp.ok() {
        return resp;
    }
    let (op, name) = route(req);
    let settle = matches!(op, Op::Create | Op::Update { .. }).then(|| aws.settle());
    let mut w = aws.world();
    let state = &mut w.lambda;
    match op {
        Op::Create => {
            let role = req.json()["Role"].as_str().unwrap_or_default().to_string();
            let until = Instant::now() + settle.unwrap_or_default();
            state.functions.insert(
                name.clone(),
                Function {
                    role,
                    busy: Some((Busy::Creating, until)),
                    condition: None,
                },
            );
        }
        Op::Update { configuration } => {
            let f = state.functions.entry(name.clone()).or_default();
            f.busy = Some((Busy::Updating, Instant::now() + settle.unwrap_or_default()));
            // An update is what brings an Inactive function back, and what
            // carries the fix for a failed one.
            if !matches!(f.condition, Some(FunctionCondition::Failed(_))) {
                f.condition = None;
            }
            if configuration && let Some(role) = req.json()["Role"].as_str() {
                f.role = role.to_string();
            }
        }
        Op::Delete => {
            state.functions.remove(&name);
            state.reserved.remove(&name);
            return resp;
        }
        Op::PutConcurrency => {
            let n = req.json()["ReservedConcurrentExecutions"]
                .as_u64()
                .unwrap_or(0) as u32;
            state.reserved.insert(name, n);
            return resp;
        }
        Op::DeleteConcurrency => {
            state.reserved.remove(&name);
            return resp;
        }
        Op::Get => {}
        _ => return resp,
    }
    let Some(mut body) = resp.json() else {
        return resp;
    };
    let busy = if body.get("Configuration").is_some() {
        state.present(&name, &mut body["Configuration"])
    } else {
        state.present(&name, &mut body)
    };
    if busy {
        *w.counts
            .entry("lambda: Pending or InProgress while a change is applied".into())
            .or_default() += 1;
    }
    drop(w);
    resp.with_json(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_functions_by_name_or_arn() {
        assert_eq!(function_name("arn:aws:lambda:r:1:function:f:live"), "f");
        assert_eq!(function_name("f"), "f");
        let req = Request {
            head: "PUT /2015-03-31/functions/arn%3Aaws%3Alambda%3Ar%3A1%3Afunction%3Af/code HTTP/1.1\r\n".into(),
            body: vec![],
        };
        assert_eq!(
            route(&req),
            (
                Op::Update {
                    configuration: false
                },
                "f".into()
            )
        );
    }

    #[test]
    fn a_busy_or_failed_function_refuses_updates_and_an_update_clears_inactive() {
        let mut s = State::default();
        s.set_condition("f", Some(FunctionCondition::Inactive));
        assert_eq!(s.conflict("f", "arn"), None);
        let mut c = json!({"State": "Active", "LastUpdateStatus": "Successful"});
        s.present("f", &mut c);
        assert_eq!(c["State"], "Inactive");
        s.set_condition("f", Some(FunctionCondition::Failed("no IPs".into())));
        assert!(s.conflict("f", "arn").unwrap().contains("Failed"));
        s.functions.get_mut("f").unwrap().busy = Some((
            Busy::Updating,
            Instant::now() + std::time::Duration::from_secs(60),
        ));
        assert!(s.conflict("f", "arn").unwrap().contains("in progress"));
    }
}
