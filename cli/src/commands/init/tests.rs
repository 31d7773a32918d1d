//! What `claw init` writes: an agent.yaml that validates, and a workflow whose
//! every `claw` command parses with this claw's own command line.

use clap::Parser as _;
use claw_spec::yaml::{self, Node, Value};

use super::files::{self, Answers, Field};
use crate::cli::Cli;

fn answers() -> Answers {
    Answers {
        app: "support-bot".into(),
        stage: "dev".into(),
        region: "eu-west-1".into(),
        account: "210987654321".into(),
    }
}

fn config() -> claw_spec::Config {
    files::check(&answers())
        .unwrap_or_else(|r| panic!("the template does not load: {r:?}"))
        .config
}

#[test]
fn the_agent_yaml_validates_without_warnings() {
    let text = files::agent_yaml(&answers());
    assert!(!text.contains("__"), "a placeholder is left:\n{text}");
    let loaded = claw_spec::load(
        "agent.yaml",
        &text,
        &claw_spec::Overrides::default(),
        &|_| None,
    )
    .unwrap_or_else(|p| panic!("{p:#?}"));
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    let c = &loaded.config;
    assert_eq!(
        (c.app.as_str(), c.stage.as_str(), c.region.as_str()),
        ("support-bot", "dev", "eu-west-1")
    );
    assert_eq!(c.account, "210987654321");
    assert_eq!(c.agents.len(), 1);
    assert_eq!(c.tools.len(), 1);
    let tool = c.tools.values().next().unwrap();
    assert!(
        matches!(tool.spec, claw_spec::tools::ToolSpec::Http(_)),
        "{tool:?}"
    );
    // Secrets appear by name only.
    assert_eq!(c.secret_names(), vec!["support-bot/anthropic-api-key"]);
    assert!(
        text.contains("docs/agent-yaml.md"),
        "points at the reference"
    );
}

#[test]
fn every_answer_is_checked_as_agent_yaml_is() {
    let wrong = |f: Field, value: &str| {
        let mut a = answers();
        match f {
            Field::App => a.app = value.into(),
            Field::Stage => a.stage = value.into(),
            Field::Region => a.region = value.into(),
            Field::Account => a.account = value.into(),
        }
        let files::Rejected { fields, others } = files::check(&a).expect_err(value);
        assert!(others.is_empty(), "{others:?}");
        assert_eq!(fields.iter().map(|(f, _)| *f).collect::<Vec<_>>(), [f]);
        fields[0].1.clone()
    };
    assert!(wrong(Field::Account, "12345").contains("not an AWS account id"));
    assert!(wrong(Field::Account, "12345678901a").contains("not an AWS account id"));
    assert!(wrong(Field::Region, "europe").contains("not an AWS region"));
    assert!(wrong(Field::App, "Support_Bot").contains("not a valid app name"));
    assert!(wrong(Field::Stage, "pre-prod").contains("not a valid stage name"));
    // Values that would change the YAML around them never reach the file.
    for bad in ["x\ntags: {a: b}", "x # c", "\"x\"", "x: y"] {
        wrong(Field::App, bad);
    }
    wrong(Field::Account, "123456789012\"\nfoo: \"");
}

#[test]
fn gitignore_coverage() {
    assert!(files::gitignore_covers(&files::gitignore()));
    assert!(files::gitignore_covers("target/\n.claw/\n"));
    assert!(!files::gitignore_covers("target/\n"));
    assert!(!files::gitignore_covers("# /.claw/\n"));
}

#[test]
fn the_lockfile_is_what_policy_write_writes() {
    let c = config();
    let files = files::lockfile(&c);
    assert_eq!(files.len(), claw_spec::policy::PolicyKind::ALL.len());
    for (rel, text) in &files {
        assert!(rel.starts_with("policies/support-bot-dev"), "{rel:?}");
        assert!(text.ends_with('\n'));
    }
    let from_ops = crate::ops::lockfile::files(&c);
    assert_eq!(
        files.iter().map(|(_, t)| t).collect::<Vec<_>>(),
        from_ops.iter().map(|(_, t)| t).collect::<Vec<_>>()
    );
}

// ---- the workflow ----

fn workflow() -> (String, Node) {
    let text = files::workflow(&config());
    let tree = yaml::load(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    (text, tree)
}

fn str_of(n: &Node) -> &str {
    match &n.value {
        Value::Str(s) => s,
        other => panic!("expected a string at {}, got {other:?}", n.mark),
    }
}

fn at<'a>(n: &'a Node, path: &[&str]) -> &'a Node {
    path.iter().fold(n, |n, k| {
        n.get(k)
            .unwrap_or_else(|| panic!("no `{k}` under {} ({:?})", n.mark, path))
    })
}

fn seq(n: &Node) -> &[Node] {
    match &n.value {
        Value::Seq(items) => items,
        other => panic!("expected a list at {}, got {other:?}", n.mark),
    }
}

fn entries(n: &Node) -> Vec<(&str, &Node)> {
    match &n.value {
        Value::Map(m) => m.iter().map(|(k, v)| (str_of(k), v)).collect(),
        other => panic!("expected a mapping at {}, got {other:?}", n.mark),
    }
}

/// Replaces each GitHub expression `${{ … }}` with one word, as the runner puts
/// one value there.
fn without_expressions(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .unwrap_or_else(|| panic!("unclosed expression in {line}"));
        out.push_str("EXPR");
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// Shell words of one line: quotes removed, operators (`&&`, `||`, `;`, `|`,
/// redirections) as words of their own, a comment dropped.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c == '#' && !in_word => break,
            None if c.is_whitespace() || ";|&<>".contains(c) => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                if !c.is_whitespace() {
                    let mut op = c.to_string();
                    while let Some(&n) = chars.peek().filter(|n| ";|&<>".contains(**n)) {
                        op.push(n);
                        chars.next();
                    }
                    words.push(op);
                }
            }
            None => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Every `claw …` command in a `run:` script: line continuations joined, GitHub
/// expressions as one word, a command ending at a shell operator.
fn claw_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let mut current: Option<Vec<String>> = None;
        let mut command_position = true;
        for w in shell_words(&without_expressions(line)) {
            let operator = w.chars().all(|c| ";|&<>".contains(c));
            if operator {
                out.extend(current.take());
                command_position = true;
                continue;
            }
            if let Some(c) = &mut current {
                c.push(w);
                continue;
            }
            if command_position && w == "claw" {
                current = Some(vec![w]);
                continue;
            }
            // A command word after a keyword (`then claw …`) is still in command position.
            command_position = matches!(w.as_str(), "then" | "do" | "else" | "!" | "if");
        }
        out.extend(current);
    }
    out
}

/// Parses one command line with claw's own definition; `--version` and `--help`
/// count as parsed.
fn parses(words: &[String]) -> Result<(), String> {
    match Cli::try_parse_from(words) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(format!("`{}`: {e}", words.join(" "))),
    }
}

/// Each job's `run:` scripts and its claw commands.
fn jobs_commands(tree: &Node) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (job, body) in entries(at(tree, &["jobs"])) {
        for step in seq(at(body, &["steps"])) {
            if let Some(run) = step.get("run") {
                for c in claw_commands(str_of(run)) {
                    out.push((job.to_string(), c));
                }
            }
        }
    }
    out
}

#[test]
fn the_command_extractor_reads_shell_as_the_runner_does() {
    let got = claw_commands(
        "status=0\nclaw --stage \"${{ matrix.stage }}\" plan --detailed-exitcode || status=$?\n\
         claw deploy --yes \\\n  --require-approval never # done\nif true; then claw validate; fi\n\
         echo claw is not run here\n./bin/claw --version",
    );
    let got: Vec<String> = got.iter().map(|c| c.join(" ")).collect();
    assert_eq!(
        got,
        [
            "claw --stage EXPR plan --detailed-exitcode",
            "claw deploy --yes --require-approval never",
            "claw validate",
        ]
    );
    // A flag or command claw lacks fails to parse.
    for bad in [
        "claw deploy --yes --no-such-flag",
        "claw no-such-command",
        "claw plan --require-approval never",
    ] {
        let words = &claw_commands(bad)[0];
        assert!(parses(words).is_err(), "{bad} parsed");
    }
}

#[test]
fn every_claw_command_in_the_workflow_parses() {
    let (text, tree) = workflow();
    assert!(!text.contains("__"), "a placeholder is left:\n{text}");
    let commands = jobs_commands(&tree);
    let problems: Vec<String> = commands
        .iter()
        .filter_map(|(job, words)| parses(words).err().map(|e| format!("{job}: {e}")))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let lines: Vec<String> = commands
        .iter()
        .map(|(job, c)| format!("{job}: {}", c.join(" ")))
        .collect();
    assert_eq!(
        lines,
        [
            "check: claw validate",
            "check: claw policy diff --against policies",
            "check: claw test --arch x86_64 --junit claw-test.xml",
            "plan: claw --stage EXPR plan --detailed-exitcode",
            "deploy-dev: claw --stage dev deploy --yes --require-approval never",
            "deploy-prod: claw --stage prod deploy --yes --require-approval never",
        ]
    );
}

#[test]
fn the_workflow_runs_on_pull_requests_and_pushes_to_main() {
    let (_, tree) = workflow();
    let on = at(&tree, &["on"]);
    assert!(on.get("pull_request").is_some());
    let branches: Vec<&str> = seq(at(on, &["push", "branches"]))
        .iter()
        .map(str_of)
        .collect();
    assert_eq!(branches, ["main"]);
    // Nothing but reading the repository unless a job asks for more.
    let top = entries(at(&tree, &["permissions"]));
    assert_eq!(
        top.iter().map(|(k, v)| (*k, str_of(v))).collect::<Vec<_>>(),
        [("contents", "read")]
    );
    let jobs = at(&tree, &["jobs"]);
    let cond = |job: &str| str_of(at(jobs, &[job, "if"])).to_string();
    assert!(cond("plan").contains("github.event_name == 'pull_request'"));
    for job in ["deploy-dev", "deploy-prod"] {
        assert!(cond(job).contains("github.event_name == 'push'"), "{job}");
        assert!(
            cond(job).contains("github.ref == 'refs/heads/main'"),
            "{job}"
        );
    }
    // One deploy job per stage, each in its GitHub environment, prod after dev.
    assert_eq!(str_of(at(jobs, &["deploy-dev", "environment"])), "dev");
    assert_eq!(str_of(at(jobs, &["deploy-prod", "environment"])), "prod");
    assert_eq!(str_of(at(jobs, &["deploy-prod", "needs"])), "deploy-dev");
}

#[test]
fn aws_credentials_come_from_oidc_roles_named_by_variables() {
    let (_, tree) = workflow();
    let mut roles = Vec::new();
    for (job, body) in entries(at(&tree, &["jobs"])) {
        let steps = seq(at(body, &["steps"]));
        let aws: Vec<&Node> = steps
            .iter()
            .filter(|s| {
                s.get("uses").is_some_and(|u| {
                    str_of(u).starts_with("aws-actions/configure-aws-credentials@")
                })
            })
            .collect();
        let runs_claw_on_aws = steps.iter().any(|s| {
            s.get("run").is_some_and(|r| {
                claw_commands(str_of(r))
                    .iter()
                    .any(|c| c.iter().any(|w| w == "plan" || w == "deploy"))
            })
        });
        assert_eq!(
            aws.len(),
            usize::from(runs_claw_on_aws),
            "{job}: one credentials step where claw reaches AWS"
        );
        let Some(step) = aws.first() else {
            assert!(body.get("permissions").is_none(), "{job}");
            continue;
        };
        let perms = entries(at(body, &["permissions"]));
        let perms: Vec<(&str, &str)> = perms.iter().map(|(k, v)| (*k, str_of(v))).collect();
        assert_eq!(
            perms,
            [("id-token", "write"), ("contents", "read")],
            "{job}"
        );
        let with = at(step, &["with"]);
        let role = str_of(at(with, &["role-to-assume"]));
        assert!(
            role.starts_with("${{") && role.ends_with("}}"),
            "{job}: {role}"
        );
        assert_eq!(str_of(at(with, &["aws-region"])), "eu-west-1", "{job}");
        for key in entries(with).iter().map(|(k, _)| *k) {
            assert!(
                [
                    "role-to-assume",
                    "role-session-name",
                    "aws-region",
                    "audience"
                ]
                .contains(&key),
                "{job}: {key}: no long-lived keys"
            );
        }
        roles.push((job.to_string(), role.to_string()));
    }
    assert_eq!(
        roles,
        [
            ("plan".to_string(), "${{ matrix.role }}".to_string()),
            (
                "deploy-dev".into(),
                "${{ vars.CLAW_DEPLOY_ROLE_ARN }}".into()
            ),
            (
                "deploy-prod".into(),
                "${{ vars.CLAW_DEPLOY_ROLE_ARN }}".into()
            ),
        ]
    );
    let matrix = seq(at(
        &tree,
        &["jobs", "plan", "strategy", "matrix", "include"],
    ));
    let plan_roles: Vec<(&str, &str)> = matrix
        .iter()
        .map(|m| (str_of(at(m, &["stage"])), str_of(at(m, &["role"]))))
        .collect();
    assert_eq!(
        plan_roles,
        [
            ("dev", "${{ vars.CLAW_PLAN_ROLE_ARN_DEV }}"),
            ("prod", "${{ vars.CLAW_PLAN_ROLE_ARN_PROD }}")
        ]
    );
}

#[test]
fn claw_is_installed_from_the_pinned_release_and_checked() {
    let (_, tree) = workflow();
    assert_eq!(
        str_of(at(&tree, &["env", "CLAW_VERSION"])),
        env!("CARGO_PKG_VERSION")
    );
    for (job, body) in entries(at(&tree, &["jobs"])) {
        let install = seq(at(body, &["steps"]))
            .iter()
            .find(|s| s.get("name").is_some_and(|n| str_of(n) == "Install claw"))
            .unwrap_or_else(|| panic!("{job}: no install step"));
        let env = at(install, &["env"]);
        assert_eq!(
            str_of(at(env, &["CLAW_RELEASE_URL"])),
            "${{ vars.CLAW_RELEASE_URL }}"
        );
        assert_eq!(
            str_of(at(env, &["CLAW_RELEASE_SHA256"])),
            "${{ vars.CLAW_RELEASE_SHA256 }}"
        );
        let script = str_of(at(install, &["run"]));
        assert!(
            script.contains("claw-$CLAW_VERSION-x86_64-unknown-linux-gnu"),
            "{job}"
        );
        assert!(script.contains("sha256sum --check"), "{job}");
        assert!(script.contains("$GITHUB_PATH"), "{job}");
    }
}
