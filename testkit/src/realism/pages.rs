//! AWS pages every list it can: a caller that reads only the first page misses
//! the rest. moto returns whole lists, so a missing pagination loop passes every
//! test. Here every paged list claw uses answers one item per page, with a token
//! this layer issues and serves.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::RealAws;
use super::wire::{Request, Response};

#[derive(Clone, Copy)]
enum Shape {
    /// A JSON list field and the response's token field.
    Json {
        list: &'static str,
        token: &'static str,
    },
    /// An XML list of `<member>`s: IAM's `IsTruncated` + `Marker`, or
    /// CloudWatch's `NextToken`.
    Xml { list: &'static str, iam: bool },
}

#[derive(Clone, Copy)]
enum TokenIn {
    Query(&'static str),
    Body(&'static str),
    Form(&'static str),
}

fn paged(req: &Request) -> Option<(Shape, TokenIn)> {
    let json = |list, token| Shape::Json { list, token };
    let action = req.action().unwrap_or_default();
    let s = req.segments();
    let s: Vec<&str> = s.iter().map(String::as_str).collect();
    Some(match (req.service().as_str(), action.as_str()) {
        ("iam", a) => {
            let list = match a {
                "ListRolePolicies" => "PolicyNames",
                "ListAttachedRolePolicies" => "AttachedPolicies",
                "ListPolicyVersions" => "Versions",
                "ListRoleTags" => "Tags",
                "ListRoles" => "Roles",
                "ListPolicies" => "Policies",
                _ => return None,
            };
            (Shape::Xml { list, iam: true }, TokenIn::Form("Marker"))
        }
        ("monitoring", "DescribeAlarms") => (
            Shape::Xml {
                list: "MetricAlarms",
                iam: false,
            },
            TokenIn::Form("NextToken"),
        ),
        ("logs", "DescribeLogGroups") => {
            (json("logGroups", "nextToken"), TokenIn::Body("nextToken"))
        }
        ("logs", "DescribeLogStreams") => {
            (json("logStreams", "nextToken"), TokenIn::Body("nextToken"))
        }
        ("dynamodb", "ListTagsOfResource") => {
            (json("Tags", "NextToken"), TokenIn::Body("NextToken"))
        }
        ("sqs", "ListQueues") => (json("QueueUrls", "NextToken"), TokenIn::Body("NextToken")),
        ("secretsmanager", "ListSecrets") => {
            (json("SecretList", "NextToken"), TokenIn::Body("NextToken"))
        }
        ("lambda", _) if req.method() == "GET" => match &s[..] {
            [_, "event-source-mappings"] => (
                json("EventSourceMappings", "NextMarker"),
                TokenIn::Query("Marker"),
            ),
            [_, "functions"] => (json("Functions", "NextMarker"), TokenIn::Query("Marker")),
            _ => return None,
        },
        ("apigateway", _) if req.method() == "GET" => match &s[..] {
            ["v2", "apis"]
            | [
                "v2",
                "apis",
                _,
                "routes" | "integrations" | "authorizers" | "stages" | "deployments",
            ] => (json("items", "nextToken"), TokenIn::Query("nextToken")),
            _ => return None,
        },
        _ => return None,
    })
}

fn token_of(req: &Request, at: TokenIn) -> Option<String> {
    match at {
        TokenIn::Query(k) => req.query().remove(k),
        TokenIn::Form(k) => req.form().remove(k),
        TokenIn::Body(k) => req.json()[k].as_str().map(str::to_string),
    }
}

const PREFIX: &str = "realism-page-";

struct Remaining {
    template: Response,
    shape: Shape,
    /// For XML: the text before the items and after them.
    around: (String, String),
    items: Vec<Value>,
}

#[derive(Default)]
pub struct State {
    next: u64,
    pages: HashMap<String, Remaining>,
}

/// The next page of a list this layer paged, when the request asks for one.
pub fn follow_up(aws: &RealAws, req: &Request) -> Option<Response> {
    let (_, at) = paged(req)?;
    let token = token_of(req, at).filter(|t| t.starts_with(PREFIX))?;
    let mut rest = aws.world().pages.pages.remove(&token)?;
    let item = rest.items.remove(0);
    Some(page(aws, rest, item))
}

/// The first page of a list, when it has more than one item.
pub fn first(aws: &RealAws, req: &Request, resp: Response) -> Response {
    let Some((shape, _)) = paged(req).filter(|_| resp.ok()) else {
        return resp;
    };
    let (around, mut items) = match shape {
        Shape::Json { list, .. } => {
            let Some(items) = resp.json().and_then(|v| v[list].as_array().cloned()) else {
                return resp;
            };
            ((String::new(), String::new()), items)
        }
        Shape::Xml { list, .. } => match split_xml(&resp.text(), list) {
            Some((before, items, after)) => (
                (before, after),
                items.into_iter().map(Value::String).collect(),
            ),
            None => return resp,
        },
    };
    if items.len() <= 1 {
        return resp;
    }
    aws.note("pages: a list answered one item per page");
    aws.note(&format!("pages: {} paged", req.operation()));
    let item = items.remove(0);
    let rest = Remaining {
        template: resp,
        shape,
        around,
        items,
    };
    page(aws, rest, item)
}

/// One page holding `item`; stores what remains under a new token.
fn page(aws: &RealAws, rest: Remaining, item: Value) -> Response {
    let (shape, around) = (rest.shape, rest.around.clone());
    let template = Response {
        status: rest.template.status,
        headers: rest.template.headers.clone(),
        body: rest.template.body.clone(),
    };
    let token = if rest.items.is_empty() {
        None
    } else {
        let mut w = aws.world();
        w.pages.next += 1;
        let token = format!("{PREFIX}{}", w.pages.next);
        w.pages.pages.insert(token.clone(), rest);
        Some(token)
    };
    match shape {
        Shape::Json { list, token: field } => {
            let mut body = template.json().unwrap_or(Value::Null);
            body[list] = json!([item]);
            match &token {
                Some(t) => body[field] = json!(t),
                None => {
                    if let Some(o) = body.as_object_mut() {
                        o.remove(field);
                    }
                }
            }
            template.with_json(&body)
        }
        Shape::Xml { list, iam } => {
            let mut text = format!(
                "{}{}{}",
                around.0,
                item.as_str().unwrap_or_default(),
                around.1
            );
            let close = format!("</{list}>");
            if iam {
                text = remove_element(&text, "Marker");
                text = remove_element(&text, "IsTruncated");
                let marker = token
                    .as_ref()
                    .map(|t| format!("<Marker>{t}</Marker>"))
                    .unwrap_or_default();
                let insert = format!(
                    "{close}<IsTruncated>{}</IsTruncated>{marker}",
                    token.is_some()
                );
                text = text.replacen(&close, &insert, 1);
            } else {
                text = remove_element(&text, "NextToken");
                if let Some(t) = &token {
                    text = text.replacen(&close, &format!("{close}<NextToken>{t}</NextToken>"), 1);
                }
            }
            template.with_body(text.into_bytes())
        }
    }
}

fn remove_element(xml: &str, tag: &str) -> String {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    match (xml.find(&open), xml.find(&close)) {
        (Some(a), Some(b)) if b > a => format!("{}{}", &xml[..a], &xml[b + close.len()..]),
        _ => xml.replacen(&format!("<{tag}/>"), "", 1),
    }
}

/// Splits `<list>` into the text up to its items, its top-level `<member>`s,
/// and the text after them.
fn split_xml(xml: &str, list: &str) -> Option<(String, Vec<String>, String)> {
    let open = format!("<{list}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{list}>"))?;
    let inner = &xml[start..end];
    let mut items = Vec::new();
    let (mut depth, mut at, mut item_start) = (0usize, 0usize, 0usize);
    while at < inner.len() {
        let rest = &inner[at..];
        if rest.starts_with("<member>") {
            if depth == 0 {
                item_start = at;
            }
            depth += 1;
            at += "<member>".len();
        } else if rest.starts_with("</member>") {
            depth = depth.checked_sub(1)?;
            at += "</member>".len();
            if depth == 0 {
                items.push(inner[item_start..at].to_string());
            }
        } else {
            at += rest.chars().next()?.len_utf8();
        }
    }
    Some((xml[..start].to_string(), items, xml[end..].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_lists_split_on_top_level_members_only() {
        let xml = "<R><MetricAlarms><member><A>1</A><Dimensions><member>d</member></Dimensions></member><member><A>2</A></member></MetricAlarms><NextToken>x</NextToken></R>";
        let (before, items, after) = split_xml(xml, "MetricAlarms").unwrap();
        assert_eq!(items.len(), 2);
        assert!(items[0].contains("<member>d</member>"));
        assert_eq!(before, "<R><MetricAlarms>");
        assert!(after.starts_with("</MetricAlarms>"));
        assert_eq!(remove_element(&after, "NextToken"), "</MetricAlarms></R>");
    }
}
