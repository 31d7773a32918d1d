//! SQS refuses the name of a queue deleted less than 60 s ago: "You must wait 60
//! seconds after deleting a queue before you can create another queue with the
//! same name" (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html).

use std::collections::HashMap;
use std::time::Instant;

use super::RealAws;
use super::wire::{Request, Response, error};

#[derive(Default)]
pub struct State {
    deleted: HashMap<String, Instant>,
}

fn queue_name(url: &str) -> String {
    url.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

pub fn before(aws: &RealAws, req: &Request) -> Option<Response> {
    if req.action().as_deref() != Some("CreateQueue") {
        return None;
    }
    let name = req.json()["QueueName"].as_str()?.to_string();
    let window = aws.config().queue_name_reuse;
    let deleted = aws.world().sqs.deleted.get(&name).copied()?;
    if deleted.elapsed() >= window {
        return None;
    }
    aws.note("sqs: QueueDeletedRecently");
    Some(error(
        req,
        400,
        "QueueDeletedRecently",
        "You must wait 60 seconds after deleting a queue before you can create another queue with the same name.",
    ))
}

pub fn after(aws: &RealAws, req: &Request, resp: Response) -> Response {
    if resp.ok() && req.action().as_deref() == Some("DeleteQueue") {
        let url = req.json()["QueueUrl"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        aws.world()
            .sqs
            .deleted
            .insert(queue_name(&url), Instant::now());
    }
    resp
}
