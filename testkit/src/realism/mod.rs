//! AWS's own behaviour, where moto is lenient: the realism layer of the proxy.
//!
//! moto applies every change at once, enforces no quota, no name-reuse delay, no
//! character rule and no eventual consistency, and returns whole lists. A deploy
//! tool that passes against moto can still fail its first real deploy. With
//! [`Realism`] on (the end-to-end suite turns it on for every test), the proxy in
//! front of moto answers the way AWS documents, on a shorter clock:
//!
//! - Lambda ([`lambda`]): `State: Pending` after CreateFunction and
//!   `LastUpdateStatus: InProgress` after every update, for a seeded 1–2 s; an
//!   update sent meanwhile gets `ResourceConflictException`. A test can leave a
//!   function `Inactive`, with a failed last update, or `Failed`. Statement ids:
//!   duplicates and ids over 100 characters refused. `GetAccountSettings`
//!   (which moto lacks) with a configurable quota, and PutFunctionConcurrency
//!   refused when it would leave fewer than 100 unreserved.
//! - IAM ([`iam`]): a role younger than the propagation time cannot be assumed
//!   by Lambda; a boundary policy younger than it is `NoSuchEntity` to CreateRole;
//!   DeleteRole right after DeleteRolePolicy is a `DeleteConflict`, and so is
//!   DeletePolicy of a boundary right after its role went; managed policies over
//!   6,144 and a role's inline policies over 10,240 non-whitespace characters are
//!   `LimitExceeded`.
//! - SQS ([`sqs`]): CreateQueue of a name deleted moments ago is
//!   `QueueDeletedRecently` (AWS: 60 s).
//! - API Gateway ([`apigw`]): authorizer names unique per API, and
//!   `GetAuthorizers` (a 500 in moto) served from what the proxy saw.
//! - Bedrock ([`bedrock`]): `GetInferenceProfile` (which moto lacks), from a
//!   table of system-defined profiles a test can extend, each with its source
//!   and destination Regions; `ResourceNotFoundException` for any other id.
//! - Every list call AWS paginates returns one item per page ([`pages`]).
//! - Tag keys and values: each service's allowed characters ([`tags`]).
//! - Lambda's InvokeWithResponseStream (which moto lacks), answered in its
//!   event-stream framing around what a test says the function streams
//!   ([`response_stream`]).
//! - CloudWatch's GetMetricData with a percentile statistic (which moto
//!   cannot compute): the period's maximum, exact for the tests' few samples
//!   ([`monitoring`]).
//! - A function URL's grants (AddPermission with `FunctionUrlAuthType` or
//!   `InvokedViaFunctionUrl`) read back as Lambda shows them: conditions and
//!   an ARN principal ([`url_grants`]).
//!
//! [`RealAws::emulated`] counts what was emulated, so a test can show that the
//! behaviour it relies on really happened.

mod apigw;
mod bedrock;
mod iam;
mod lambda;
mod monitoring;
mod pages;
pub mod response_stream;
mod sqs;
mod tags;
mod url_grants;
pub mod wire;

use std::collections::BTreeMap;
use std::io;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use lambda::FunctionCondition;
use wire::{Request, Response};

/// How AWS's timing and limits are scaled for the tests.
#[derive(Debug, Clone)]
pub struct Realism {
    /// Seeds the pick of each settle time, so a seed replays a run.
    pub seed: u64,
    /// How long Lambda takes to apply a create or an update: a seeded pick in
    /// this range (AWS: seconds to minutes; a VPC function longer).
    pub lambda_settle: (Duration, Duration),
    /// How long a new role or boundary, or a changed role policy, takes to reach
    /// the services that use it (AWS: seconds, undocumented).
    pub iam_propagation: Duration,
    /// How long SQS refuses the name of a deleted queue (AWS: 60 s).
    pub queue_name_reuse: Duration,
    /// The account's concurrency quota (`ConcurrentExecutions`; new accounts
    /// often have 10, the default quota is 1,000).
    pub account_concurrency: u32,
    /// What Lambda keeps unreserved (AWS: 100, or the quota on tiny accounts).
    pub unreserved_minimum: u32,
}

impl Default for Realism {
    fn default() -> Realism {
        Realism {
            seed: 0x5eed,
            lambda_settle: (Duration::from_millis(1000), Duration::from_millis(2000)),
            iam_propagation: Duration::from_secs(2),
            queue_name_reuse: Duration::from_secs(3),
            account_concurrency: 1000,
            unreserved_minimum: 100,
        }
    }
}

/// What the layer remembers between requests.
#[derive(Default)]
struct World {
    rng: u64,
    lambda: lambda::State,
    iam: iam::State,
    apigw: apigw::State,
    sqs: sqs::State,
    pages: pages::State,
    bedrock: bedrock::State,
    response_streams: response_stream::State,
    counts: BTreeMap<String, u64>,
    /// Whether calls this layer answers itself are recorded (beside moto's own
    /// recorder, which never sees them), and those recorded.
    recording: bool,
    served: Vec<crate::moto::Call>,
}

/// The realism layer: one per proxy, shared by its connections.
pub struct RealAws {
    config: Mutex<Realism>,
    world: Mutex<World>,
}

/// Sends a request to moto and returns its raw answer.
pub type Forward<'a> = &'a dyn Fn(&Request) -> io::Result<Vec<u8>>;

impl RealAws {
    pub fn new(config: Realism) -> RealAws {
        let world = World {
            rng: config.seed,
            ..World::default()
        };
        RealAws {
            config: Mutex::new(config),
            world: Mutex::new(world),
        }
    }

    pub fn config(&self) -> Realism {
        self.config.lock().unwrap().clone()
    }

    /// Forgets everything seen (with moto's own reset); keeps the settings.
    pub fn reset(&self) {
        let seed = self.config().seed;
        let mut w = self.world();
        let (recording, served) = (w.recording, std::mem::take(&mut w.served));
        // The inference profiles are AWS's, not the account's: a test's table stays.
        let bedrock = std::mem::take(&mut w.bedrock);
        *w = World {
            rng: seed,
            recording,
            served,
            bedrock,
            ..World::default()
        };
    }

    /// Records (or stops recording) the calls this layer answers without moto:
    /// GetAccountSettings, GetAuthorizers, GetInferenceProfile and the pages
    /// after the first. moto's recorder sees every other call.
    pub fn set_recording(&self, on: bool) {
        self.world().recording = on;
    }

    pub fn clear_recording(&self) {
        self.world().served.clear();
    }

    /// The calls answered here while recording, in order.
    pub fn served(&self) -> Vec<crate::moto::Call> {
        self.world().served.clone()
    }

    fn serve(&self, req: &Request, response: Response) -> Response {
        let mut w = self.world();
        if w.recording && response.ok() {
            let target = req.head.split_whitespace().nth(1).unwrap_or_default();
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            w.served.push(crate::moto::Call {
                method: req.method().to_string(),
                service: req.service(),
                action: req
                    .action()
                    .unwrap_or_else(|| format!("{} {path}", req.method())),
                path: path.to_string(),
                query: query.to_string(),
                body: String::from_utf8_lossy(&req.body).into_owned(),
            });
        }
        response
    }

    /// Changes the account's concurrency quota (what GetAccountSettings says and
    /// PutFunctionConcurrency enforces).
    pub fn set_account_concurrency(&self, total: u32, minimum_unreserved: u32) {
        let mut c = self.config.lock().unwrap();
        c.account_concurrency = total;
        c.unreserved_minimum = minimum_unreserved;
    }

    /// Leaves a function in a state moto never produces (it must have been
    /// created through this proxy).
    pub fn set_function_condition(&self, function: &str, condition: FunctionCondition) {
        self.world().lambda.set_condition(function, Some(condition));
    }

    /// Adds (or replaces) a system-defined inference profile: the Regions it can
    /// be called from and the Regions it routes to (GetInferenceProfile's
    /// `models[].modelArn`).
    /// What `function` streams to InvokeWithResponseStream.
    pub fn set_response_stream(&self, function: &str, streamed: response_stream::Streamed) {
        self.world()
            .response_streams
            .functions
            .insert(function.to_string(), streamed);
    }

    pub fn set_inference_profile(&self, id: &str, sources: &[&str], destinations: &[&str]) {
        let own = |r: &[&str]| r.iter().map(|r| r.to_string()).collect();
        self.world().bedrock.profiles.insert(
            id.to_string(),
            bedrock::InferenceProfile {
                sources: own(sources),
                destinations: own(destinations),
            },
        );
    }

    /// What was emulated so far: behaviour → how many times.
    pub fn emulated(&self) -> BTreeMap<String, u64> {
        self.world().counts.clone()
    }

    /// How many times one behaviour (a key of [`RealAws::emulated`]) happened.
    pub fn count(&self, behaviour: &str) -> u64 {
        self.world().counts.get(behaviour).copied().unwrap_or(0)
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn note(&self, behaviour: &str) {
        *self
            .world()
            .counts
            .entry(behaviour.to_string())
            .or_default() += 1;
    }

    /// A seeded pick in Lambda's settle range.
    fn settle(&self) -> Duration {
        let (lo, hi) = self.config().lambda_settle;
        let mut w = self.world();
        w.rng = w.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = w.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let span = hi.saturating_sub(lo).as_millis() as u64;
        lo + Duration::from_millis(if span == 0 { 0 } else { (z ^ (z >> 31)) % span })
    }

    /// Answers one request: from this layer where AWS would answer differently
    /// from moto, otherwise moto's answer, adjusted where AWS's differs.
    pub fn handle(&self, req: &Request, forward: Forward) -> io::Result<Vec<u8>> {
        if let Some(page) = pages::follow_up(self, req) {
            return Ok(self.serve(req, page).to_bytes());
        }
        let early = match tags::check(req) {
            Some(refusal) => {
                self.note("tags: a character the service does not accept");
                Some(refusal)
            }
            None => match req.service().as_str() {
                "lambda" => match response_stream::before(self, req) {
                    Some(r) => Some(r),
                    None => lambda::before(self, req, forward)?,
                },
                "iam" => iam::before(self, req),
                "sqs" => sqs::before(self, req),
                "apigateway" => apigw::before(self, req),
                "bedrock" => bedrock::before(self, req),
                _ => None,
            },
        };
        let response = match early {
            Some(r) => self.serve(req, r),
            None => {
                let raw = match monitoring::rewrite(self, req) {
                    Some(instead) => forward(&instead)?,
                    None => forward(req)?,
                };
                let Some(parsed) = Response::parse(&raw) else {
                    return Ok(raw);
                };
                match req.service().as_str() {
                    "lambda" => url_grants::after(self, req, lambda::after(self, req, parsed)),
                    "iam" => iam::after(self, req, parsed),
                    "sqs" => sqs::after(self, req, parsed),
                    "apigateway" => apigw::after(self, req, parsed),
                    _ => parsed,
                }
            }
        };
        Ok(pages::first(self, req, response).to_bytes())
    }
}
