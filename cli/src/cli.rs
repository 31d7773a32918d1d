//! The command line. Doc comments on these structs are the `--help` text.

use clap::{CommandFactory as _, Parser, Subcommand};

use crate::args::GlobalArgs;
use crate::commands;
use crate::context::Context;
use crate::report::Report;

/// Deploy Claude agents to AWS Lambda from one agent.yaml.
///
/// claw packages the agent function it carries (or cross-builds it in a claw
/// checkout), generates its least-privilege IAM, and
/// provisions Lambda, API Gateway, concurrency limits and alarms through the AWS SDK.
/// Every command reads ./agent.yaml unless --config says otherwise.
///
/// Exit codes: 0 ok, 1 error, 2 difference found (policy diff, plan --detailed-exitcode).
#[derive(Debug, Parser)]
#[command(name = "claw", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a new agent's repository: agent.yaml, .gitignore, policies/ and CI.
    ///
    /// Writes into DIR (default: the current directory; created when missing) an
    /// annotated agent.yaml (one agent, one http tool; `claw validate` passes on it),
    /// a .gitignore for claw's build output (/.claw/), the policy lockfile
    /// (policies/<app>-<stage>/, as `claw policy write` writes it) and a GitHub
    /// Actions workflow (.github/workflows/claw.yml: validate, policy diff and plan
    /// on pull requests; deploy dev then prod on pushes to main, through GitHub's
    /// OIDC and the roles `claw bootstrap` creates).
    ///
    /// It never overwrites a file: one that exists is kept and reported as skipped
    /// (a .gitignore that lacks /.claw/ is named so), and an agent.yaml that exists
    /// is the one the lockfile and workflow follow. So running it again only adds
    /// what is missing, and exits 0.
    ///
    /// A new agent.yaml takes --app, --region (the global flag) and --account, and
    /// the stage from --stage (default dev), each checked as `claw validate` checks
    /// agent.yaml. On a terminal claw asks for a missing one; otherwise it is an error.
    ///
    /// Example: claw init my-agent --app my-agent --region ap-southeast-2 --account 123456789012
    Init(commands::init::Args),
    /// Set up an account and stage for deploys from GitHub Actions (an administrator,
    /// once).
    ///
    /// Creates the execution role and its permissions boundary, GitHub's OIDC
    /// provider if the account has none, and a deployer role (and with --plan-role a
    /// read-only plan role) that only --github-repo's workflows may assume. Shows the
    /// plan first; applies after approval on a terminal, or with --yes.
    Bootstrap(commands::bootstrap::Args),
    /// Check agent.yaml without touching the network.
    ///
    /// Reports every problem at once, each with file:line:column, the key path and,
    /// for a misspelled key, the nearest valid one. With `stages:` in agent.yaml,
    /// checks every stage (only `--stage` when given); a problem a stage's override
    /// causes is reported at the override.
    Validate(commands::validate::Args),
    /// Print the JSON Schema of agent.yaml, for editors' YAML language servers.
    ///
    /// Example: claw schema > agent.schema.json, then add
    /// `# yaml-language-server: $schema=./agent.schema.json` to agent.yaml.
    Schema(commands::schema::Args),
    /// Show, write, lint and diff the IAM policies claw generates.
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// Package the agent function with agent.yaml as a deterministic Lambda zip.
    ///
    /// The function is generic (it reads everything from agent.yaml), so a release
    /// claw carries it prebuilt for arm64 and x86_64 (`claw --version` names it):
    /// in your own repository, `claw build` writes .claw/build/<app>-<stage>/<arch>/
    /// function.zip beside agent.yaml in about a second, with no Rust toolchain.
    ///
    /// Inside a claw checkout (or with $CLAW_WORKSPACE, or --from-source) claw
    /// cross-builds agent-fn instead: `cargo zigbuild -p agent-fn --target
    /// <arch>-unknown-linux-gnu.2.17` (glibc pinned to 2.17, so the binary runs on every
    /// Amazon Linux Lambda runtime; cargo's home remapped, so the bytes do not depend on the
    /// checkout's location) with cargo's target directory
    /// ${CARGO_TARGET_DIR:-<workspace>/target}/lambda, and writes the package to
    /// ${CARGO_TARGET_DIR:-<workspace>/target}/claw/<app>-<stage>/<arch>/. That needs
    /// cargo-zigbuild and zig (`pip install cargo-zigbuild ziglang`, or `bash
    /// scripts/setup`, which also adds the arm64 Rust target).
    ///
    /// The zip holds `bootstrap` 0755 and `agent.json` (the resolved config, in which
    /// secrets appear only by name), with function.json, its manifest, beside it. It
    /// is deterministic: sorted entries, 1980-01-01 timestamps, fixed modes and
    /// compression. The same function and config give the same bytes and the same
    /// Lambda CodeSha256 on every machine; it is printed with the path and size.
    Build(commands::build::Args),
    /// Show what `claw deploy` would change, without changing anything.
    Plan(commands::plan::Args),
    /// Build, plan, and apply: create or update every resource of this app and stage.
    Deploy(commands::deploy::Args),
    /// Invoke the deployed function, or run the built package locally (--local).
    ///
    /// The event is --payload (JSON text, @FILE, or - for stdin), sent as-is, or
    /// --message TEXT, which sends the direct-invoke event {"agent": AGENT, "message":
    /// TEXT} to --agent (default: the first agent in alphabetical order). The response
    /// goes to stdout; a function error exits 1.
    ///
    /// With --local, claw packages the current agent.yaml as `claw build` does (or
    /// takes --zip) and runs it on this machine
    /// under an embedded Lambda Runtime API on 127.0.0.1: Lambda's environment
    /// variables, request headers and deadline, the configured timeout and memory size,
    /// and START/END/REPORT lines on stderr. The function's own output goes to stderr
    /// as written. An arm64 package runs through qemu-aarch64-static on x86_64 hosts.
    /// From claw's environment only AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_SESSION_TOKEN, AWS_ENDPOINT_URL[_*] and ANTHROPIC_BASE_URL reach the function
    /// (Lambda passes the role's credentials the same way).
    Invoke(commands::invoke::Args),
    /// Replay recorded agent conversations against the built function, and check them.
    ///
    /// Every tests/agents/NAME.json (made with `claw invoke --local --record
    /// tests/agents/NAME.json -m TEXT`) is a case. The current agent.yaml is packaged
    /// as `claw build` does and run under claw's Lambda Runtime API; its model requests
    /// are answered with the recorded responses while each request is the recorded one
    /// (same system prompt, tools and messages), and its tool calls with the recorded
    /// results. No token is spent, no tool runs, nothing reaches AWS (the function gets
    /// no credentials; sessions are off). When a prompt or tool change makes the
    /// function send another request, the case fails with the difference and where
    /// the conversation diverged; `--update` records it again with the live model.
    ///
    /// tests/agents/NAME.yaml adds checks to NAME.json: tools that must (or must not)
    /// be called, with input constraints, and the final answer (contains, matches, a
    /// JSON schema); see docs/testing.md. `--live` runs those checks on new
    /// conversations with the live model (costs tokens, and says how many).
    ///
    /// One line per case; exit 1 when any fails; --junit FILE for CI.
    ///
    /// Example: claw test --junit target/claw-test.xml
    Test(commands::test::Args),
    /// Print the function's log events.
    Logs(commands::logs::Args),
    /// Serve agent.yaml's API on this machine, run by the packaged function.
    ///
    /// Each request to http://127.0.0.1:PORT (--port, default 8787) that matches a
    /// route of agent.yaml (`api.routes`, and in async mode POST /jobs and GET
    /// /jobs/{id}) becomes the API Gateway payload 2.0 event the deployed function
    /// would receive; the function runs as `claw invoke --local` runs it (one warm
    /// process, the configured timeout and memory) and its answer goes back as API
    /// Gateway sends it. A path no route matches gets API Gateway's 404; a function
    /// that times out is stopped, the request gets API Gateway's error (500, or 503
    /// past the API's 30 s), and the next request starts it again.
    ///
    /// With `api.stream`, the function URL is served on --url-port (default PORT+1),
    /// any path: answers stream as server-sent events. In async mode the function
    /// queues POST /jobs to the jobs queue at AWS_ENDPOINT_URL, and claw drains the
    /// queue into the function as Lambda's SQS event source mapping does (with a
    /// local endpoint, claw creates the queue and table when missing).
    ///
    /// Auth: `iam` routes accept unsigned requests (claw says so at startup);
    /// `jwt` routes check the bearer token's RS256 signature against the issuer's
    /// JWKS, its `iss`, `aud` and `exp`, or accept exactly --dev-token. A missing or
    /// bad token gets API Gateway's 401 {"message":"Unauthorized"}.
    ///
    /// An edit to agent.yaml applies from the next request (repackaged, function
    /// restarted); an edit that does not validate is reported and the previous
    /// config kept. In a claw checkout a change under agent-fn/ rebuilds it (with
    /// --from-source). With --zip, an edit changes routes and auth, not the
    /// function's config.
    ///
    /// Each request prints one line: method, path, route, status, duration, and from
    /// the function's audit line its turns, tool calls, tokens and cost. With -v, the
    /// function's own output too, each model turn and tool call of the request (from
    /// its X-Ray subsegments, sent with `function.tracing: active`), and the tool
    /// calls of a streamed answer as they pass.
    /// --output json prints each line as a JSON object. Ctrl-C stops the server and
    /// the function.
    ///
    /// Example session:
    ///
    ///   $ claw dev                       # in the directory of agent.yaml
    ///   claw dev: crm-leads-dev (arm64 package, 256 MB, timeout 120 s), agent.yaml
    ///     API           http://127.0.0.1:8787
    ///                     POST /agents/{agent}
    ///   ...
    ///   POST /agents/scorer → POST /agents/{agent}  200  1.42 s  2 turns  1 tool  824→76 tokens  $0.0024
    ///
    ///   $ curl -s localhost:8787/agents/scorer -H 'content-type: application/json' \
    ///          -d '{"message": "Qualify lead L-42"}'
    ///   {"response":"...","session_id":"...","tool_calls":1,"usage":{...},"stop_reason":"end_turn"}
    ///
    /// The function needs what `claw invoke --local` needs: AWS credentials (or
    /// AWS_ENDPOINT_URL for a local emulator) for its secret and tools, and
    /// ANTHROPIC_BASE_URL to talk to another Messages API than Anthropic's.
    #[command(verbatim_doc_comment)]
    Dev(commands::dev::Args),
    /// One stage on one screen: resources in sync, alarms, figures, top tools.
    ///
    /// Reads the stack as `claw plan` does (in sync means a deploy would change
    /// nothing), every alarm's state, and from CloudWatch, in one GetMetricData:
    /// invocations, errors (Lambda's and the agents' own), throttles, p99
    /// duration, output tokens, cost, and the tools by calls with their average
    /// latency, each with a sparkline of about 24 points. All reads run at once;
    /// nothing is changed. `--output json` gives the same as one document.
    ///
    /// Example: claw status --since 7d
    Status(commands::status::Args),
    /// A stage's rollout (`rollout:`): where the alias `live` is, go on, or back.
    ///
    /// `status` reads the alias (its version, the version traffic moves to and
    /// its share, the step) and the gate alarms; `promote` goes on with a
    /// rollout under way, watching as `claw deploy` does (`--now`: all traffic
    /// at once); `abort` moves all traffic back. Example, in CI after
    /// `claw deploy --no-wait`: claw rollout status --output json
    #[command(subcommand)]
    Rollout(commands::rollout::RolloutCommand),
    /// Move the alias `live` back to the version before (`rollout:`).
    ///
    /// The version the last rollout started from, else the newest older one.
    /// Asks first on a terminal; `--yes` in CI. The next `claw deploy` rolls out
    /// what agent.yaml and the package say again.
    Rollback(commands::rollout::RollbackArgs),
    /// The async jobs (`api.mode: async`): list them, show one, and approve or
    /// reject the call a job waits on (`tools.NAME.approval: required`).
    #[command(subcommand)]
    Jobs(commands::jobs::JobsCommand),
    /// Delete every resource claw created for this app and stage.
    Destroy(commands::destroy::Args),
    /// Manage the Secrets Manager secrets agent.yaml names.
    #[command(subcommand)]
    Secrets(commands::secrets::SecretsCommand),
    /// Clear a stuck deploy lock (only when no claw command is running).
    Unlock(commands::unlock::Args),
    /// Print a shell completion script for claw to stdout.
    ///
    /// Install it where your shell looks for completions:
    ///
    ///   bash:        claw completions bash > ~/.local/share/bash-completion/completions/claw
    ///
    ///   zsh:         claw completions zsh > ~/.zfunc/_claw
    ///                (with `fpath=(~/.zfunc $fpath); autoload -Uz compinit; compinit` in ~/.zshrc)
    ///
    ///   fish:        claw completions fish > ~/.config/fish/completions/claw.fish
    ///
    ///   PowerShell:  claw completions powershell >> $PROFILE
    ///
    /// Then start a new shell.
    #[command(
        verbatim_doc_comment,
        about = "Print a shell completion script for claw to stdout"
    )]
    Completions(commands::completions::Args),
}

impl Command {
    /// Runs the command.
    pub async fn run(&self, ctx: &Context) -> anyhow::Result<Report> {
        match self {
            Command::Init(args) => commands::init::run(ctx, args),
            Command::Validate(args) => commands::validate::run(ctx, args),
            Command::Schema(args) => commands::schema::run(ctx, args),
            Command::Policy(cmd) => commands::policy::run(ctx, cmd).await,
            Command::Build(args) => commands::build::run(ctx, args).await,
            Command::Plan(args) => commands::plan::run(ctx, args).await,
            Command::Deploy(args) => commands::deploy::run(ctx, args).await,
            Command::Invoke(args) => commands::invoke::run(ctx, args).await,
            Command::Test(args) => commands::test::run(ctx, args).await,
            Command::Logs(args) => commands::logs::run(ctx, args).await,
            Command::Dev(args) => commands::dev::run(ctx, args).await,
            Command::Status(args) => commands::status::run(ctx, args).await,
            Command::Jobs(cmd) => commands::jobs::run(ctx, cmd).await,
            Command::Rollout(cmd) => commands::rollout::run(ctx, cmd).await,
            Command::Rollback(args) => commands::rollout::rollback(ctx, args).await,
            Command::Destroy(args) => commands::destroy::run(ctx, args).await,
            Command::Secrets(cmd) => commands::secrets::run(ctx, cmd).await,
            Command::Unlock(args) => commands::unlock::run(ctx, args).await,
            Command::Completions(args) => commands::completions::run(ctx, args, Cli::command()),
            Command::Bootstrap(args) => commands::bootstrap::run(ctx, args).await,
        }
    }
}
