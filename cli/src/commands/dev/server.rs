//! What `claw dev` does with each request: picks up an edited agent.yaml (or
//! agent-fn source) first, matches the route, authorizes, hands the function
//! the payload 2.0 event and answers as API Gateway would, then prints one line.
//! Requests are served one at a time by one warm function, as by a function
//! with a reserved concurrency of 1.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use claw_spec::{Config, Overrides};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::auth::{Auth, JwtOptions, Refused};
use super::event::{self, HttpIn, HttpOut};
use super::function::{Origin, Warm};
use super::http::Responder;
use super::logs::{Audits, StreamWatch, Summary, span_lines};
use super::routes::Routes;
use crate::local::{InvocationReport, InvocationResult};
use crate::report::Printer;

/// API Gateway's longest integration timeout for an HTTP API.
const API_TIMEOUT: Duration = Duration::from_secs(30);

/// Which listener a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// The HTTP API's routes.
    Api,
    /// The function URL (`api.stream`): every path, answered as a stream.
    Url,
}

/// What the command line fixed for the whole session.
pub struct Settings {
    pub overrides: Overrides,
    pub origin: Origin,
    pub jwt: JwtOptions,
    pub verbose: bool,
    pub out: Printer,
    pub api_host: String,
}

/// The config being served, and what was made of it.
pub struct State {
    pub config: Config,
    pub routes: Routes,
    pub auth: Auth,
    pub warm: Warm,
    hash: Vec<u8>,
    /// The hash of an edit that failed (reported once).
    rejected: Option<Vec<u8>>,
}

pub struct Server {
    pub settings: Settings,
    state: Mutex<State>,
    pub audits: Arc<Audits>,
    logs: Sender<String>,
    pid: Arc<std::sync::atomic::AtomicU32>,
    pub served: AtomicU64,
}

impl Server {
    pub fn new(
        settings: Settings,
        config: Config,
        logs: Sender<String>,
        audits: Arc<Audits>,
        pid: Arc<std::sync::atomic::AtomicU32>,
    ) -> anyhow::Result<Server> {
        let hash = file_hash(&settings.origin.config_path);
        let state = State::new(config, &settings, logs.clone(), Arc::clone(&pid), hash)?;
        Ok(Server {
            settings,
            state: Mutex::new(state),
            audits,
            logs,
            pid,
            served: AtomicU64::new(0),
        })
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers one request through `w`; returns its summary.
    pub fn handle(&self, front: Front, req: &HttpIn, w: &mut Responder) -> Summary {
        let started = Instant::now();
        let mut st = self.state();
        self.refresh(&mut st);
        let mut s = Summary {
            method: req.method.clone(),
            path: req.path.clone(),
            ..Summary::default()
        };
        let (route, params, authorizer) = match front {
            Front::Api => {
                let Some(m) = st.routes.find(&req.method, &req.path) else {
                    s.route = "no route".into();
                    return self.gateway(w, s, 404, "Not Found", None, started);
                };
                let (key, params) = (m.route.key.clone(), m.params);
                match st.auth.check(req.header("authorization")) {
                    Ok(a) => (key, params, a),
                    Err(Refused(why)) => {
                        s.route = key;
                        return self.gateway(w, s, 401, "Unauthorized", Some(why), started);
                    }
                }
            }
            Front::Url => {
                let public = st.config.api.stream.as_ref().is_some_and(|u| u.public);
                let authorizer = (!public).then(|| st.auth_iam_standin());
                ("$default".to_string(), Vec::new(), authorizer)
            }
        };
        s.route = if front == Front::Url {
            "function URL".into()
        } else {
            route.clone()
        };
        let ctx = event::Context {
            account: st.config.account.clone(),
            api_id: if front == Front::Url {
                "claw0dev0url".into()
            } else {
                "claw0dev".into()
            },
            domain_name: match front {
                // The function tells a function URL request by its domain.
                Front::Url => format!("claw0dev0url.lambda-url.{}.on.aws", st.config.region),
                Front::Api => self.settings.api_host.clone(),
            },
            route_key: route,
            request_id: gateway_request_id(),
            path_params: params,
            authorizer,
            now: SystemTime::now(),
        };
        let payload = event::request_event(req, &ctx);
        let payload = serde_json::to_vec(&payload).unwrap_or_default();
        let request_id = crate::local::new_request_id();
        s.request_id = request_id.clone();
        let verbose = self.settings.verbose;
        let mut watch = StreamWatch::default();
        // Set by the prelude, which comes before the first chunk.
        let head: std::cell::RefCell<Option<event::StreamHead>> = Default::default();
        let result = st.warm.invoke(
            &request_id,
            &payload,
            &mut |prelude| *head.borrow_mut() = Some(event::stream_head(prelude)),
            &mut |chunk| {
                let mut head = head.borrow_mut();
                let (status, headers) = head.get_or_insert_with(|| event::stream_head(None));
                w.start_stream(*status, headers);
                w.chunk(chunk);
                if verbose {
                    for l in watch.feed(chunk) {
                        eprintln!("{l}");
                    }
                }
            },
        );
        if let Ok(r) = &result
            && matches!(r.outcome, InvocationResult::Streamed { .. })
        {
            // A stream with no body still has its head.
            let (status, headers) = head
                .into_inner()
                .unwrap_or_else(|| event::stream_head(None));
            w.start_stream(status, &headers);
        }
        let timeout = st.warm.timeout();
        drop(st);
        match result {
            Err(e) => {
                s.note = Some(format!("{e:#}"));
                w.send(&HttpOut::gateway(500, "Internal Server Error"));
            }
            Ok(report) => self.answer(w, &mut s, &report, timeout),
        }
        w.finish();
        s.status = w.status.unwrap_or(500);
        s.audit = self.audits.take(&request_id, Duration::from_millis(500));
        s.duration = started.elapsed();
        s
    }

    /// The response for the function's outcome (a stream is already sent).
    fn answer(&self, w: &mut Responder, s: &mut Summary, r: &InvocationReport, timeout: Duration) {
        if self.settings.verbose {
            for l in span_lines(&r.spans) {
                eprintln!("{l}");
            }
        }
        match &r.outcome {
            InvocationResult::Response(body) => w.send(&event::response(body)),
            InvocationResult::Streamed { .. } => {}
            InvocationResult::TimedOut { .. } => {
                // Past the API's 30 s the caller has API Gateway's 503; a shorter
                // function timeout is a function error to API Gateway: 500.
                let (status, msg) = if timeout >= API_TIMEOUT {
                    (503, "Service Unavailable")
                } else {
                    (500, "Internal Server Error")
                };
                s.note = Some(format!(
                    "the function timed out after {} s and was stopped; the next request starts it again",
                    timeout.as_secs()
                ));
                w.send(&HttpOut::gateway(status, msg));
            }
            other => {
                if let Some((t, m)) = other.error(&r.request_id) {
                    s.note = Some(format!("function error {t}: {m}"));
                }
                w.send(&HttpOut::gateway(500, "Internal Server Error"));
            }
        }
    }

    fn gateway(
        &self,
        w: &mut Responder,
        mut s: Summary,
        status: u16,
        message: &str,
        note: Option<String>,
        started: Instant,
    ) -> Summary {
        w.send(&HttpOut::gateway(status, message));
        s.status = status;
        s.note = note;
        s.duration = started.elapsed();
        s
    }

    /// Prints a request's line.
    pub fn print(&self, s: &Summary) {
        self.served.fetch_add(1, Ordering::Relaxed);
        if self.settings.out.is_json() {
            println!("{}", s.json());
        } else {
            self.settings.out.line(s.line());
        }
    }

    /// Picks up an edited agent.yaml, or changed agent-fn sources in a claw
    /// checkout, before a request.
    pub fn refresh(&self, st: &mut State) {
        let path = &self.settings.origin.config_path;
        let hash = file_hash(path);
        if hash != st.hash && st.rejected.as_ref() != Some(&hash) {
            match crate::ops::load::load_config(path, &self.settings.overrides).and_then(|l| {
                State::new(
                    l.config,
                    &self.settings,
                    self.logs.clone(),
                    Arc::clone(&self.pid),
                    hash.clone(),
                )
            }) {
                Ok(new) => {
                    let routes: Vec<&str> = new.routes.keys().collect();
                    self.settings.out.note(format!(
                        "{} changed: repackaged and restarted the function (routes: {})",
                        path.display(),
                        routes.join(", ")
                    ));
                    st.warm.stop();
                    *st = new;
                    let _ = st.warm.start();
                }
                Err(e) => {
                    st.rejected = Some(hash);
                    report_rejected(path, &e);
                }
            }
        } else if st.warm.source_changed() {
            match State::new(
                st.config.clone(),
                &self.settings,
                self.logs.clone(),
                Arc::clone(&self.pid),
                st.hash.clone(),
            ) {
                Ok(new) => {
                    self.settings
                        .out
                        .note("agent-fn changed: rebuilt and restarted the function");
                    st.warm.stop();
                    *st = new;
                    let _ = st.warm.start();
                }
                Err(e) => eprintln!(
                    "agent-fn changed but does not build; still serving the previous build: {e:#}"
                ),
            }
        }
    }
}

impl State {
    fn new(
        config: Config,
        settings: &Settings,
        logs: Sender<String>,
        pid: Arc<std::sync::atomic::AtomicU32>,
        hash: Vec<u8>,
    ) -> anyhow::Result<State> {
        let routes = Routes::new(&config.all_routes())?;
        let auth = Auth::new(&config, &settings.jwt)?;
        let warm = Warm::new(&config, &settings.origin, logs, pid)?;
        Ok(State {
            config,
            routes,
            auth,
            warm,
            hash,
            rejected: None,
        })
    }

    /// The function URL's caller when its auth type is AWS_IAM (unsigned here).
    fn auth_iam_standin(&self) -> Value {
        let account = &self.config.account;
        serde_json::json!({"iam": {
            "accessKey": "", "accountId": account, "callerId": "claw-dev",
            "cognitoIdentity": null, "principalOrgId": null,
            "userArn": format!("arn:aws:iam::{account}:user/claw-dev"), "userId": "claw-dev",
        }})
    }
}

fn report_rejected(path: &std::path::Path, e: &anyhow::Error) {
    eprintln!(
        "{} changed but is not valid; still serving the previous config:",
        path.display()
    );
    if let Some(cfg) = e.downcast_ref::<crate::ops::load::ConfigError>() {
        for p in &cfg.problems {
            eprintln!("{}\n", p.render(&cfg.source_text));
        }
    } else {
        eprintln!("  {e:#}");
    }
}

fn file_hash(path: &std::path::Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap_or_default();
    Sha256::digest(&bytes).to_vec()
}

/// An id in the form of API Gateway's `requestContext.requestId`.
fn gateway_request_id() -> String {
    use base64::Engine as _;
    let bytes: [u8; 10] = rand::random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
