//! Malformed agent.yaml files: each must be refused with the right line, column,
//! key path and message. Positions are 1-based; the base document's lines are:
//!  1 app, 2 stage, 3 region, 4 account, 5 model, 6 id, 7 api_key_secret, 8 agents,
//!  9 a, 10 system, 11 tools, 12 tools:, 13 t, 14 kind, 15 description, 16 url.

use claw_spec::{Diagnostic, Overrides};

const BASE: &str = "app: demo
stage: dev
region: us-east-1
account: \"123456789012\"
model:
  id: claude-sonnet-5
  api_key_secret: demo/key
agents:
  a:
    system: hi
    tools: [t]
tools:
  t:
    kind: http
    description: d
    url: https://api.example.com/x/{id}
";

fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "case does not apply: {from}");
    BASE.replacen(from, to, 1)
}

fn plus(extra: &str) -> String {
    format!("{BASE}{extra}")
}

fn problems(doc: &str) -> Vec<Diagnostic> {
    let env = |name: &str| match name {
        "PRESENT" => Some("value".to_string()),
        // Key-shaped values are assembled at run time so no key-like literal sits in the repo.
        "LEAKY" => Some(format!(
            "{}{}",
            "sk-ant-", "api03-abcdefghijklmnopqrstuvwxyz"
        )),
        _ => None,
    };
    match claw_spec::load("agent.yaml", doc, &Overrides::default(), &env) {
        Ok(_) => Vec::new(),
        Err(p) => p,
    }
}

struct Case {
    name: &'static str,
    doc: String,
    line: usize,
    column: usize,
    path: &'static str,
    message: &'static str,
}

fn cases() -> Vec<Case> {
    let c = |name, doc: String, line, column, path, message| Case {
        name,
        doc,
        line,
        column,
        path,
        message,
    };
    vec![
        c(
            "typo at top level",
            plus("regoin: x\n"),
            17,
            1,
            "regoin",
            "unknown key `regoin` at the top level; did you mean `region`?",
        ),
        c(
            "typo in model",
            with("  id: claude", "  idd: claude"),
            6,
            3,
            "model.idd",
            "did you mean `id`?",
        ),
        c(
            "missing model id",
            with("  id: claude-sonnet-5\n", ""),
            5,
            1,
            "model",
            "missing required key `id`",
        ),
        c(
            "missing app",
            with("app: demo\n", ""),
            1,
            1,
            "",
            "missing required key `app`",
        ),
        c(
            "memory too small",
            plus("function:\n  memory_mb: 64\n"),
            18,
            14,
            "function.memory_mb",
            "must be from 128 to 10240 MB, found 64",
        ),
        c(
            "memory too large",
            plus("function:\n  memory_mb: 20000\n"),
            18,
            14,
            "function.memory_mb",
            "must be from 128 to 10240 MB, found 20000",
        ),
        c(
            "memory not a number",
            plus("function:\n  memory_mb: lots\n"),
            18,
            14,
            "function.memory_mb",
            "expected a whole number (0 or more), found the string `lots`",
        ),
        c(
            "negative memory",
            plus("function:\n  memory_mb: -1\n"),
            18,
            14,
            "function.memory_mb",
            "-1 is out of range",
        ),
        c(
            "timeout zero",
            plus("function:\n  timeout_s: 0\n"),
            18,
            14,
            "function.timeout_s",
            "must be from 1 to 900 seconds, found 0",
        ),
        c(
            "timeout too long",
            plus("function:\n  timeout_s: 901\n"),
            18,
            14,
            "function.timeout_s",
            "must be from 1 to 900 seconds",
        ),
        c(
            "bad retention",
            plus("function:\n  log_retention_days: 10\n"),
            18,
            23,
            "function.log_retention_days",
            "CloudWatch does not allow 10 days",
        ),
        c(
            "bad architecture",
            plus("function:\n  architecture: arm\n"),
            18,
            17,
            "function.architecture",
            "`arm` is not one of `arm64`, `x86_64`; did you mean `arm64`?",
        ),
        c(
            "bad tracing",
            plus("function:\n  tracing: on\n"),
            18,
            12,
            "function.tracing",
            "`on` is not one of `active`, `pass_through`",
        ),
        c(
            "zero concurrency",
            plus("function:\n  reserved_concurrency: 0\n"),
            18,
            25,
            "function.reserved_concurrency",
            "0 would reject every invocation",
        ),
        c(
            "secret in env value",
            plus(&format!(
                "function:\n  environment:\n    CRM: {}{}\n",
                "sk-ant-", "api03-abcdefghijklmnop"
            )),
            19,
            10,
            "function.environment.CRM",
            "looks like an Anthropic API key",
        ),
        c(
            "aws key in env",
            plus(&format!(
                "function:\n  environment:\n    ID: {}{}\n",
                "AKIA", "IOSFODNN7EXAMPLE"
            )),
            19,
            9,
            "function.environment.ID",
            "looks like an AWS access key id",
        ),
        c(
            "hex token in env",
            plus(
                "function:\n  environment:\n    SIG: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n",
            ),
            19,
            10,
            "function.environment.SIG",
            "long random-looking token",
        ),
        c(
            "secret-named env key",
            plus("function:\n  environment:\n    API_TOKEN: x\n"),
            19,
            5,
            "function.environment.API_TOKEN",
            "names a secret",
        ),
        c(
            "reserved env key",
            plus("function:\n  environment:\n    AWS_REGION: x\n"),
            19,
            5,
            "function.environment.AWS_REGION",
            "reserved by Lambda",
        ),
        c(
            "env list instead of map",
            plus("function:\n  environment: [A=1]\n"),
            18,
            16,
            "function.environment",
            "expected a mapping, found a list",
        ),
        c(
            "bad subnet",
            plus("vpc:\n  subnet_ids: [subnet-xyz]\n  security_group_ids: [sg-01234567]\n"),
            18,
            16,
            "vpc.subnet_ids[0]",
            "`subnet-xyz` is not a subnet id",
        ),
        c(
            "bad security group",
            plus("vpc:\n  subnet_ids: [subnet-01234567]\n  security_group_ids: [sg-1]\n"),
            19,
            24,
            "vpc.security_group_ids[0]",
            "`sg-1` is not a security group id",
        ),
        c(
            "vpc without groups",
            plus("vpc:\n  subnet_ids: [subnet-01234567]\n"),
            17,
            1,
            "vpc",
            "missing required key `security_group_ids`",
        ),
        c(
            "app with capitals",
            with("app: demo", "app: Demo"),
            1,
            6,
            "app",
            "`Demo` is not a valid app name",
        ),
        c(
            "name too long",
            with("app: demo", &format!("app: {}", "a".repeat(60))),
            1,
            6,
            "app",
            "the IAM role name `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-dev-exec` is 69 characters; AWS allows 64",
        ),
        c(
            // 52 + `-dev-exec` fits; 52 + `-dev-deployer` (65) does not.
            "CI role name too long",
            with("app: demo", &format!("app: {}", "a".repeat(52))),
            1,
            6,
            "app",
            "the IAM role name (`claw bootstrap`'s deployer role) `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-dev-deployer` is 65 characters; AWS allows 64",
        ),
        c(
            "bad region",
            with("region: us-east-1", "region: mars"),
            3,
            9,
            "region",
            "`mars` is not an AWS region name",
        ),
        c(
            "account not 12 digits",
            with("account: \"123456789012\"", "account: \"1234\""),
            4,
            10,
            "account",
            "`1234` is not an AWS account id",
        ),
        c(
            "account unquoted number",
            with("account: \"123456789012\"", "account: 123456789012"),
            4,
            10,
            "account",
            "expected text, found the integer 123456789012",
        ),
        c(
            "anthropic without key secret",
            with("  api_key_secret: demo/key\n", ""),
            5,
            1,
            "model",
            "missing required key `api_key_secret`",
        ),
        c(
            "max_tokens zero",
            with(
                "  api_key_secret: demo/key\n",
                "  api_key_secret: demo/key\n  max_tokens: 0\n",
            ),
            8,
            15,
            "model.max_tokens",
            "must be from 1 to 128000",
        ),
        c(
            "bad provider",
            with(
                "  api_key_secret: demo/key\n",
                "  api_key_secret: demo/key\n  provider: openai\n",
            ),
            8,
            13,
            "model.provider",
            "`openai` is not one of `anthropic`, `bedrock`",
        ),
        c(
            "bad secret name",
            with("api_key_secret: demo/key", "api_key_secret: \"demo key!\""),
            7,
            19,
            "model.api_key_secret",
            "is not a Secrets Manager name",
        ),
        c(
            "env interpolation in secret name",
            with("api_key_secret: demo/key", "api_key_secret: ${env:PRESENT}"),
            7,
            19,
            "model.api_key_secret",
            "not allowed in keys that name secrets",
        ),
        c(
            "unset env var",
            with("region: us-east-1", "region: ${env:NOPE_NOT_SET}"),
            3,
            9,
            "region",
            "the environment variable `NOPE_NOT_SET` is not set",
        ),
        c(
            "interpolated secret into env",
            plus("function:\n  environment:\n    KEYISH: ${env:LEAKY}\n"),
            19,
            13,
            "function.environment.KEYISH",
            "looks like an Anthropic API key",
        ),
        c(
            "unknown interpolation",
            with("region: us-east-1", "region: ${file:x}"),
            3,
            9,
            "region",
            "only `${env:NAME}` is",
        ),
        c(
            "agent uses unknown tool",
            with("tools: [t]", "tools: [t, tt]"),
            11,
            16,
            "agents.a.tools[1]",
            "no tool named `tt` is defined under `tools:`; did you mean `t`?",
        ),
        c(
            "agent lists a tool twice",
            with("tools: [t]", "tools: [t, t]"),
            11,
            16,
            "agents.a.tools[1]",
            "`t` is listed twice",
        ),
        c(
            "empty system prompt",
            with("system: hi", "system: \"  \""),
            10,
            13,
            "agents.a.system",
            "the system prompt is empty",
        ),
        c(
            "no agents",
            with(
                "agents:\n  a:\n    system: hi\n    tools: [t]\n",
                "agents: {}\n",
            ),
            8,
            9,
            "agents",
            "define at least one agent",
        ),
        c(
            "bad tool name",
            with("  t:\n    kind", "  bad.name:\n    kind").replace("tools: [t]", "tools: []"),
            13,
            3,
            "tools.bad.name",
            "is not a valid tool name",
        ),
        c(
            "unknown tool kind",
            with("kind: http", "kind: ftp"),
            14,
            11,
            "tools.t.kind",
            "`ftp` is not one of",
        ),
        c(
            "http tool not https",
            with("url: https://api", "url: http://api"),
            16,
            10,
            "tools.t.url",
            "http tools must use `https://`",
        ),
        c(
            "http tool to metadata IP",
            with("https://api.example.com", "https://169.254.169.254"),
            16,
            10,
            "tools.t.url",
            "the instance metadata service",
        ),
        c(
            "http tool to private IP",
            with("https://api.example.com", "https://10.0.0.5"),
            16,
            10,
            "tools.t.url",
            "a private address",
        ),
        c(
            "http tool to loopback as decimal",
            with("https://api.example.com", "https://2130706433"),
            16,
            10,
            "tools.t.url",
            "a loopback address",
        ),
        c(
            "http tool to localhost",
            with("https://api.example.com", "https://localhost"),
            16,
            10,
            "tools.t.url",
            "is loopback",
        ),
        c(
            "placeholder in host",
            with("https://api.example.com", "https://{host}.example.com"),
            16,
            10,
            "tools.t.url",
            "the host must be fixed",
        ),
        c(
            "http tool without url",
            with("    url: https://api.example.com/x/{id}\n", ""),
            13,
            3,
            "tools.t",
            "missing required key `url` for a `http` tool",
        ),
        c(
            "key not for this kind",
            plus("    table: Orders\n"),
            17,
            5,
            "tools.t.table",
            "`table` does not apply to a `http` tool",
        ),
        c(
            "input schema not object",
            plus("    input_schema: { type: string }\n"),
            17,
            19,
            "tools.t.input_schema",
            "must be a JSON Schema for an object",
        ),
        c(
            "placeholder missing from schema",
            plus("    input_schema: { type: object, properties: { other: { type: string } } }\n"),
            16,
            10,
            "tools.t.url",
            "the placeholder `{id}` is not a property of input_schema",
        ),
        c(
            "auth format without slot",
            plus("    auth: { secret: demo/crm, header: Authorization, format: Bearer }\n"),
            17,
            62,
            "tools.t.auth.format",
            "must contain `{}` exactly once",
        ),
        c(
            "dynamodb tool without table",
            plus("  d:\n    kind: dynamodb_get\n    description: x\n"),
            17,
            3,
            "tools.d",
            "missing required key `table`",
        ),
        c(
            "bad bucket",
            plus("  s:\n    kind: s3_get\n    description: x\n    bucket: Bad_Bucket\n"),
            20,
            13,
            "tools.s.bucket",
            "`Bad_Bucket` is not an S3 bucket name",
        ),
        c(
            "reserved event source",
            plus(
                "  e:\n    kind: eventbridge_put\n    description: x\n    source: aws.ec2\n    detail_type: X\n",
            ),
            20,
            13,
            "tools.e.source",
            "must not start with `aws.`",
        ),
        c(
            "bad route method",
            plus("api:\n  routes: [\"FETCH /x\"]\n"),
            18,
            12,
            "api.routes[0]",
            "`FETCH` is not an HTTP method",
        ),
        c(
            "route without slash",
            plus("api:\n  routes: [\"POST agents\"]\n"),
            18,
            12,
            "api.routes[0]",
            "must start with `/`",
        ),
        c(
            "route not METHOD path",
            plus("api:\n  routes: [\"/agents\"]\n"),
            18,
            12,
            "api.routes[0]",
            "is not a route: write `METHOD /path`",
        ),
        c(
            "duplicate route",
            plus("api:\n  routes: [\"POST /a\", \"POST /a\"]\n"),
            18,
            23,
            "api.routes[1]",
            "`POST /a` is listed twice",
        ),
        c(
            "jwt without block",
            plus("api:\n  auth: jwt\n"),
            17,
            1,
            "api",
            "`auth: jwt` needs a `jwt:` block",
        ),
        c(
            "jwt issuer not https",
            plus("api:\n  auth: jwt\n  jwt: { issuer: http://x, audience: [a] }\n"),
            19,
            18,
            "api.jwt.issuer",
            "the issuer must be an `https://` URL",
        ),
        c(
            "bad api mode",
            plus("api:\n  mode: batch\n"),
            18,
            9,
            "api.mode",
            "`batch` is not one of `sync`, `async`",
        ),
        c(
            "throttle rate zero",
            plus("api:\n  throttle: { rate: 0 }\n"),
            18,
            21,
            "api.throttle.rate",
            "must be above 0",
        ),
        c(
            "alarm ratio above one",
            plus("alarms:\n  duration_p99_ratio: 1.5\n"),
            18,
            23,
            "alarms.duration_p99_ratio",
            "must be above 0 and at most 1",
        ),
        c(
            "alarm topic other region",
            plus("alarms:\n  notify: arn:aws:sns:eu-west-1:123456789012:ops\n"),
            18,
            11,
            "alarms.notify",
            "alarms can only notify topics in us-east-1",
        ),
        c(
            "alarm topic not an arn",
            plus("alarms:\n  notify: ops-topic\n"),
            18,
            11,
            "alarms.notify",
            "is not an SNS topic ARN",
        ),
        c(
            "reserved tag prefix",
            plus("tags:\n  claw:app: x\n"),
            18,
            3,
            "tags.claw:app",
            "prefixes are reserved",
        ),
        c(
            "sessions bad ttl",
            plus("sessions:\n  table: Sessions\n  ttl_days: 0\n"),
            19,
            13,
            "sessions.ttl_days",
            "must be from 1 to 365 days",
        ),
        c(
            "limits typo",
            plus("limits:\n  max_tool_call: 5\n"),
            18,
            3,
            "limits.max_tool_call",
            "did you mean `max_tool_calls`?",
        ),
        c(
            "duplicate key",
            plus("app: again\n"),
            17,
            1,
            "",
            "duplicate key `app` (first defined at line 1)",
        ),
        c(
            "bad indentation",
            with(
                "  id: claude-sonnet-5\n",
                "  id: claude-sonnet-5\n   bad: indent\n",
            ),
            7,
            7,
            "",
            "invalid YAML",
        ),
        c(
            "top level is a list",
            "- a\n- b\n".to_string(),
            1,
            1,
            "",
            "the file holds a list",
        ),
        c("empty file", String::new(), 1, 1, "", "the file is empty"),
        c(
            "two documents",
            format!("{BASE}---\napp: x\n"),
            17,
            1,
            "",
            "exactly one YAML document",
        ),
        c(
            "an Anthropic API model id on bedrock",
            with("model:\n", "model:\n  provider: bedrock\n"),
            7,
            7,
            "model.id",
            "is not a Claude model on Bedrock",
        ),
        c(
            "stage with a hyphen (names would collide across apps)",
            with("stage: dev", "stage: leads-dev"),
            2,
            8,
            "stage",
            "no `-` (app `x` with stage `y-z` would name its resources like app `x-y` with stage `z`)",
        ),
        c(
            "routes whose invoke-permission statement ids collide",
            plus("api:\n  routes: [\"POST /a-b\", \"POST /a/b\"]\n"),
            18,
            25,
            "api.routes[1]",
            "`POST /a/b` and `POST /a-b` give the same invoke-permission statement id `claw-apigw-POST-a-b`",
        ),
        c(
            "route whose statement id is over Lambda's 100 characters",
            plus(
                "api:\n  routes: [\"POST /segment/segment/segment/segment/segment/segment/segment/segment/segment/segment/segment/segment\"]\n",
            ),
            18,
            12,
            "api.routes[0]",
            "Lambda allows 100: shorten the path",
        ),
        c(
            "tools whose IAM statement ids collide",
            plus(
                "  get_lead: {kind: http, description: d, url: https://api.example.com/a}\n  get-lead: {kind: http, description: d, url: https://api.example.com/b}\n",
            ),
            17,
            3,
            "tools.get_lead",
            "tools `get-lead` and `get_lead` give the same IAM statement id `ToolGetLead`",
        ),
    ]
}

fn show(p: &[Diagnostic]) -> String {
    p.iter()
        .map(|d| d.headline())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn each_malformed_case_is_located_and_explained() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let found = problems(&case.doc);
        let hit = found.iter().any(|d| {
            d.line == case.line
                && d.column == case.column
                && d.path == case.path
                && d.message.contains(case.message)
                && d.file == "agent.yaml"
        });
        if !hit {
            failures.push(format!(
                "{}: expected {}:{} `{}` ~ {:?}\n  got:\n{}",
                case.name,
                case.line,
                case.column,
                case.path,
                case.message,
                show(&found)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_base_document_is_valid() {
    assert!(problems(BASE).is_empty(), "{}", show(&problems(BASE)));
}

#[test]
fn all_problems_are_reported_in_one_run() {
    let doc = with("app: demo", "app: Demo")
        .replace("region: us-east-1", "regoin: us-east-1\nregion: mars")
        + "function:\n  memory_mb: 1\n  timeout_s: nope\n";
    let found = problems(&doc);
    let paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
    for p in [
        "app",
        "regoin",
        "region",
        "function.memory_mb",
        "function.timeout_s",
    ] {
        assert!(paths.contains(&p), "{p} not reported:\n{}", show(&found));
    }
}

#[test]
fn every_missing_key_of_a_mapping_is_reported_at_once() {
    let found = problems("app: demo\nstage: dev\n");
    let missing: Vec<(usize, usize, &str, &str)> = found
        .iter()
        .map(|d| (d.line, d.column, d.path.as_str(), d.message.as_str()))
        .collect();
    for key in ["region", "account", "model", "agents"] {
        let message = format!("missing required key `{key}`");
        assert!(
            missing
                .iter()
                .any(|(l, c, p, m)| (*l, *c, *p) == (1, 1, "") && m.contains(&message)),
            "{key} not reported:\n{}",
            show(&found)
        );
    }
    // Nested mappings too: both of vpc's keys, at the `vpc` key.
    let found = problems(&plus("vpc: {}\n"));
    for key in ["subnet_ids", "security_group_ids"] {
        assert!(
            found.iter().any(|d| d.path == "vpc"
                && (d.line, d.column) == (17, 1)
                && d.message.contains(&format!("missing required key `{key}`"))),
            "{key} not reported:\n{}",
            show(&found)
        );
    }
}

#[test]
fn keys_present_are_still_checked_when_others_are_missing() {
    let found = problems("app: Demo\nstage: dev\nfunction:\n  memory_mb: 1\n");
    let paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
    for p in ["", "app", "function.memory_mb"] {
        assert!(paths.contains(&p), "`{p}` not reported:\n{}", show(&found));
    }
    // Nothing is reported about the values that stand in for the missing keys.
    assert!(
        found.iter().all(
            |d| !d.message.contains("region name") && !d.message.contains("at least one agent")
        ),
        "{}",
        show(&found)
    );
    // A missing key inside a tool, beside a present but bad key.
    let found = problems(&plus("  d:\n    kind: dynamodb_get\n    table: x\n"));
    assert!(
        found.iter().any(
            |d| d.path == "tools.d" && d.message.contains("missing required key `description`")
        ),
        "{}",
        show(&found)
    );
    assert!(
        found
            .iter()
            .any(|d| d.path == "tools.d.table" && d.message.contains("not a DynamoDB table name")),
        "{}",
        show(&found)
    );
}

fn errors_of(doc: &str) -> Vec<Diagnostic> {
    problems(doc)
        .into_iter()
        .filter(|d| d.severity == claw_spec::Severity::Error)
        .collect()
}

/// Tag characters every tagged service accepts (DynamoDB refuses `@`, API Gateway
/// spaces in some APIs' docs): refused where they are written.
#[test]
fn tags_with_characters_a_service_refuses_are_located() {
    let found = errors_of(&plus("tags: {owner: a@b.com, \"cost,center\": x}\n"));
    let owner = found
        .iter()
        .find(|d| d.path == "tags.owner")
        .expect("owner");
    assert!(owner.message.contains("has `@`"), "{}", owner.message);
    assert_eq!((owner.line, owner.column), (17, 15));
    let key = found
        .iter()
        .find(|d| d.path == "tags.cost,center")
        .expect("key");
    assert!(
        key.message.contains("tag key `cost,center` has `,`"),
        "{}",
        key.message
    );
    assert!(errors_of(&plus("tags: {team: growth ops, cc: a/b=c+d}\n")).is_empty());
}

/// The base document with `n` more tools, each reading its own table.
fn with_table_tools(n: usize) -> String {
    let mut doc = BASE.to_string();
    for i in 0..n {
        doc.push_str(&format!(
            "  table_lookup_{i}: {{kind: dynamodb_get, description: d, table: Table{i}}}\n"
        ));
    }
    doc
}

/// The execution role's policy doubles as its boundary, a managed policy: past
/// IAM's 6,144 characters CreatePolicy would fail mid-deploy, so validation says so.
#[test]
fn a_role_policy_over_the_managed_policy_limit_is_refused() {
    let found = errors_of(&with_table_tools(70));
    assert!(
        found
            .iter()
            .any(|d| d.path == "tools" && d.line == 12 && d.message.contains("IAM caps at 6144")),
        "{}",
        show(&found)
    );
    // Twenty tools fit.
    let doc = with_table_tools(20);
    assert!(errors_of(&doc).is_empty(), "{}", show(&errors_of(&doc)));
}

/// Lambda allows 4 KB of environment variables in all.
#[test]
fn an_environment_over_four_kilobytes_is_refused() {
    let big = "x".repeat(1_500);
    let doc = plus(&format!(
        "function:\n  environment: {{A: {big}, B: {big}, C: {big}}}\n"
    ));
    let found = errors_of(&doc);
    assert!(
        found
            .iter()
            .any(|d| d.path == "function.environment" && d.message.contains("Lambda allows 4096")),
        "{}",
        show(&found)
    );
}

/// Alarms that notify no one are worth a warning, not an error.
#[test]
fn alarms_without_a_topic_warn() {
    let loaded = claw_spec::load("agent.yaml", BASE, &Overrides::default(), &|_| None).unwrap();
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.path == "alarms" && w.message.contains("tell no one")),
        "{:?}",
        loaded.warnings
    );
}

/// A key pasted into agent.yaml is refused, and the report does not print it again:
/// the source line under the message is masked, the caret still in place.
#[test]
fn a_secret_in_the_file_is_masked_in_the_report() {
    // Assembled at run time so no key-like literal sits in the repository.
    let key = format!("{}{}", "sk-ant-", "api03-ZyXwVuTsRqPoNmLkJiHg");
    let doc = plus(&format!("function:\n  environment:\n    LEAK: {key}\n"));
    let found = errors_of(&doc);
    let d = found
        .iter()
        .find(|d| d.path == "function.environment.LEAK")
        .expect("the secret is refused");
    let text = d.render(&doc);
    assert!(!text.contains(&key), "{text}");
    assert!(!text.contains("api03"), "{text}");
    let masked = "*".repeat(key.len());
    assert!(text.contains(&format!("LEAK: {masked}")), "{text}");
    // The caret still points at the value.
    assert_eq!(d.column, 11);
}
