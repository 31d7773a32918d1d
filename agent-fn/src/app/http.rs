//! API Gateway (HTTP API, payload 2.0): the routes and the proxy response.
//!
//! - `POST /jobs` (async mode): queue a job, answer 202 with its id;
//! - `GET /jobs/{id}` (async mode): the job's status and progress, and the call
//!   it waits on when `waiting_approval`;
//! - `POST /jobs/{id}/approve` and `/reject` (async mode with a tool that needs
//!   approval): decide the call a job waits on, and queue it to resume;
//! - any other route: run the agent named by `{agent}` in the path, or `agent` in
//!   the body, or the only agent there is.

use claw_spec::model::{ApiAuth, ApiMode};
use serde_json::{Value, json};

use super::respond::{RunError, error_body};
use super::{App, Invocation};
use crate::approval::Decided;
use crate::audit::Audit;
use crate::deadline::random_id;
use crate::event::{AgentRequest, HttpRequest, check_id, truncate};
use claw_spec::storage::JobStatus;

impl App {
    pub(super) async fn http(
        &self,
        req: HttpRequest,
        inv: &Invocation,
        audit: &mut Audit,
    ) -> Value {
        // The caller gives up at API Gateway's timeout: stop spending tokens then.
        let inv = &Invocation {
            request_id: inv.request_id.clone(),
            deadline: inv.deadline.for_api_request(req.time_epoch_ms),
            trace_header: inv.trace_header.clone(),
        };
        let mut headers = json!({"content-type": "application/json"});
        let (status, body) = match self.route(&req, inv, audit).await {
            Ok((status, body)) => (status, body),
            Err(e) => {
                self.note_error(audit, &e);
                if let Some(s) = e.retry_after_s() {
                    headers["retry-after"] = s.to_string().into();
                }
                (e.status(), error_body(&e.public_message(), &inv.request_id))
            }
        };
        audit.status = status;
        json!({
            "statusCode": status,
            "headers": headers,
            "body": body.to_string(),
            "isBase64Encoded": false,
        })
    }

    async fn route(
        &self,
        req: &HttpRequest,
        inv: &Invocation,
        audit: &mut Audit,
    ) -> Result<(u16, Value), RunError> {
        let async_mode = self.config.api.mode == ApiMode::Async;
        let limits = &self.config.limits;
        if (limits.caller_tokens_per_day.is_some() || limits.caller_requests_per_minute.is_some())
            && self.config.api.auth == ApiAuth::Jwt
            && req.caller.is_none()
        {
            // Without `sub` the request could not be charged to anyone.
            return Err(RunError::BadRequest(
                "the token has no `sub` claim, which this API's caller budgets need".into(),
            ));
        }
        match req.route_key.as_str() {
            "POST /jobs" if async_mode => {
                let r = req.agent_request()?;
                let agent = r
                    .agent
                    .clone()
                    .ok_or_else(|| RunError::BadRequest("the body is missing `agent`".into()))?;
                if !self.config.agents.contains_key(&agent) {
                    return Err(RunError::NotFound(format!(
                        "no agent named `{}`",
                        truncate(&agent, 64)
                    )));
                }
                audit.agent = Some(agent.clone());
                let job_id = random_id();
                audit.job_id = Some(job_id.clone());
                self.jobs()
                    .submit(&job_id, &agent, &r)
                    .await
                    .map_err(|e| RunError::internal("job_submit", e))?;
                Ok((202, json!({"job_id": job_id})))
            }
            "GET /jobs/{id}" if async_mode => {
                let id = req.param("id").unwrap_or_default();
                check_id(id, "id")?;
                audit.job_id = Some(id.to_string());
                match self.jobs().status(id).await {
                    Ok(Some(v)) => Ok((200, v)),
                    Ok(None) => Err(RunError::NotFound("no job with this id".into())),
                    Err(e) => Err(RunError::internal("job_read", e)),
                }
            }
            key @ ("POST /jobs/{id}/approve" | "POST /jobs/{id}/reject") if async_mode => {
                let id = req.param("id").unwrap_or_default();
                check_id(id, "id")?;
                audit.job_id = Some(id.to_string());
                let approved = key.ends_with("/approve");
                match self
                    .jobs()
                    .decide(id, approved, req.caller.as_deref())
                    .await
                {
                    Ok(Decided::Queued(call)) => Ok((
                        202,
                        json!({
                            "job_id": id,
                            "status": JobStatus::Queued.as_str(),
                            "tool_use_id": call.tool_use_id,
                            "approved": approved,
                        }),
                    )),
                    Ok(Decided::NotFound) => Err(RunError::NotFound("no job with this id".into())),
                    Ok(Decided::NotWaiting(status)) => Err(RunError::NotWaiting(status)),
                    Err(e) => Err(RunError::internal("job_decide", e)),
                }
            }
            _ => {
                let r = req.agent_request()?;
                let agent = self.agent_for(req, &r)?;
                let answer = self.converse(&agent, &r, inv, audit, None, None).await?;
                Ok((200, answer.json()))
            }
        }
    }

    /// The agent a request names: `{agent}` in the path, `agent` in the body,
    /// or the only agent there is.
    pub(super) fn agent_for(
        &self,
        req: &HttpRequest,
        r: &AgentRequest,
    ) -> Result<String, RunError> {
        match (req.param("agent"), &r.agent) {
            (Some(a), _) => Ok(a.to_string()),
            (None, Some(a)) => Ok(a.clone()),
            (None, None) if self.config.agents.len() == 1 => Ok(self
                .config
                .agents
                .keys()
                .next()
                .cloned()
                .unwrap_or_default()),
            (None, None) => Err(RunError::BadRequest(
                "name the agent in the path (`/agents/{agent}`) or the body (`agent`)".into(),
            )),
        }
    }
}
