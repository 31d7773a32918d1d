//! API Gateway (HTTP APIs): authorizer names are unique per API ("Authorizer name
//! must be unique. Authorizer … already exists", seen from apigatewayv2 in
//! aws-cdk issues 13711 and 20170), and `GetAuthorizers` lists every authorizer,
//! referenced by a route or not. moto answers `GetAuthorizers` with a 500, so it
//! is served here from the authorizers created through this proxy.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::RealAws;
use super::wire::{Request, Response, error, json_ok};

#[derive(Default)]
pub struct State {
    /// Authorizers by API id, as API Gateway returned them.
    authorizers: HashMap<String, Vec<Value>>,
}

enum Op {
    List(String),
    Create(String),
    Update(String, String),
    Delete(String, String),
    DeleteApi(String),
    Other,
}

fn route(req: &Request) -> Op {
    let s = req.segments();
    let s: Vec<&str> = s.iter().map(String::as_str).collect();
    match (req.method(), &s[..]) {
        ("GET", ["v2", "apis", api, "authorizers"]) => Op::List(api.to_string()),
        ("POST", ["v2", "apis", api, "authorizers"]) => Op::Create(api.to_string()),
        ("PATCH", ["v2", "apis", api, "authorizers", id]) => {
            Op::Update(api.to_string(), id.to_string())
        }
        ("DELETE", ["v2", "apis", api, "authorizers", id]) => {
            Op::Delete(api.to_string(), id.to_string())
        }
        ("DELETE", ["v2", "apis", api]) => Op::DeleteApi(api.to_string()),
        _ => Op::Other,
    }
}

pub fn before(aws: &RealAws, req: &Request) -> Option<Response> {
    match route(req) {
        Op::List(api) => {
            let items = aws
                .world()
                .apigw
                .authorizers
                .get(&api)
                .cloned()
                .unwrap_or_default();
            aws.note("apigateway: GetAuthorizers served");
            Some(json_ok(&json!({ "items": items })))
        }
        Op::Create(api) => {
            let name = req.json()["name"].as_str().unwrap_or_default().to_string();
            let taken = aws
                .world()
                .apigw
                .authorizers
                .get(&api)
                .is_some_and(|list| list.iter().any(|a| a["name"] == json!(name)));
            if !taken {
                return None;
            }
            aws.note("apigateway: duplicate authorizer name refused");
            Some(error(
                req,
                400,
                "BadRequestException",
                &format!(
                    "Authorizer name must be unique. Authorizer {name} already exists in this RestApi."
                ),
            ))
        }
        _ => None,
    }
}

pub fn after(aws: &RealAws, req: &Request, resp: Response) -> Response {
    if !resp.ok() {
        return resp;
    }
    let mut w = aws.world();
    let all = &mut w.apigw.authorizers;
    match route(req) {
        Op::Create(api) => {
            if let Some(a) = resp.json() {
                all.entry(api).or_default().push(a);
            }
        }
        Op::Update(api, id) => {
            if let (Some(a), Some(list)) = (resp.json(), all.get_mut(&api)) {
                list.retain(|x| x["authorizerId"] != json!(id));
                list.push(a);
            }
        }
        Op::Delete(api, id) => {
            if let Some(list) = all.get_mut(&api) {
                list.retain(|x| x["authorizerId"] != json!(id));
            }
        }
        Op::DeleteApi(api) => {
            all.remove(&api);
        }
        Op::List(_) | Op::Other => {}
    }
    drop(w);
    resp
}
