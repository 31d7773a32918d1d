//! `stages:` in agent.yaml: dev and prod in different accounts, each deployed with
//! `--stage` by its own account's credentials, each stack only in its account, and
//! each stage's generated policies naming only its own account.

use claw_testkit::fixtures::{ROOT_SECRETS, root_config};
use claw_testkit::{Claw, Output};

use crate::support::{Aws, Env};

const DEV_ACCOUNT: &str = "123456789012";
const PROD_ACCOUNT: &str = "210987654321";

/// The root agent.yaml (dev in moto's default account) with a prod stage in
/// another account, with more memory and its own alarm topic.
fn staged_config() -> String {
    let text = root_config();
    // This test's own stages replace any the root config has.
    let text = match text.find("\nstages:") {
        Some(i) => text[..=i].to_string(),
        None => text,
    };
    // The test relies on the root config being dev, in the default account, with 256 MB.
    for base in [
        "stage: dev\n",
        &format!("account: \"{DEV_ACCOUNT}\"\n"),
        "  memory_mb: 256\n",
    ] {
        assert!(
            text.contains(base),
            "update this test: agent.yaml lacks {base}"
        );
    }
    format!(
        "{text}
stages:
  dev: {{}}
  prod:
    account: \"{PROD_ACCOUNT}\"
    function:
      memory_mb: 1024
    alarms:
      notify: arn:aws:sns:ap-southeast-2:{PROD_ACCOUNT}:ops
"
    )
}

/// Temporary credentials for `account`: moto files the access key STS hands out
/// for AssumeRole under the role's account (`moto/sts/models.py` stores the
/// assumed role's key in that account's IAM backend, and
/// `moto.iam.models.get_account_id_from` maps each request's key back to it).
async fn credentials_for(env: &Env, account: &str) -> (String, String, String) {
    let sdk = claw_testkit::sdk::config(&env.moto.direct_endpoint()).await;
    let sts = aws_sdk_sts::Client::new(&sdk);
    let c = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/claw-deployer"))
        .role_session_name("stages-e2e")
        .send()
        .await
        .expect("AssumeRole")
        .credentials
        .expect("AssumeRole returns credentials");
    (
        c.access_key_id().to_string(),
        c.secret_access_key().to_string(),
        c.session_token().to_string(),
    )
}

/// SDK clients in `account` (through those credentials), straight to moto.
async fn clients_as(env: &Env, key: &(String, String, String)) -> aws_sdk_lambda::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(claw_testkit::REGION))
        .endpoint_url(env.moto.direct_endpoint())
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            &key.0,
            &key.1,
            Some(key.2.clone()),
            None,
            "stages-e2e",
        ))
        .load()
        .await;
    let who = aws_sdk_sts::Client::new(&sdk)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(
        who.account(),
        Some(PROD_ACCOUNT),
        "moto does not map assumed-role keys to the role's account"
    );
    aws_sdk_lambda::Client::new(&sdk)
}

fn as_account(claw: Claw, key: &(String, String, String)) -> Claw {
    claw.env("AWS_ACCESS_KEY_ID", &key.0)
        .env("AWS_SECRET_ACCESS_KEY", &key.1)
        .env("AWS_SESSION_TOKEN", &key.2)
}

/// The function's memory, or None when the account has no such function.
async fn memory(lambda: &aws_sdk_lambda::Client, name: &str) -> Option<i32> {
    match lambda.get_function().function_name(name).send().await {
        Ok(f) => f.configuration.and_then(|c| c.memory_size),
        Err(e) => {
            let e = e.into_service_error();
            assert!(e.is_resource_not_found_exception(), "{e:?}");
            None
        }
    }
}

fn deploy(claw: Claw, stage: &str, zip: &str) -> Output {
    claw.args(["deploy", "--yes", "--stage", stage, "--zip", zip])
        .run()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_stage_deploys_to_its_own_account() {
    let env = Env::new();
    env.set_config(&staged_config());
    let prod_key = credentials_for(&env, PROD_ACCOUNT).await;
    let prod_lambda = clients_as(&env, &prod_key).await;
    let dev = Aws::new(&env.moto.direct_endpoint()).await;

    // Secrets live in each account.
    env.set_secrets();
    claw_testkit::claw::set_secrets(
        &as_account(env.command(), &prod_key).args(["--stage", "prod"]),
        ROOT_SECRETS,
        "dummy-value",
    );

    // prod with dev's credentials is refused before any change.
    deploy(env.command(), "prod", &env.zip_arg()).refused(&[PROD_ACCOUNT, DEV_ACCOUNT]);

    deploy(env.command(), "dev", &env.zip_arg()).ok();
    deploy(as_account(env.command(), &prod_key), "prod", &env.zip_arg()).ok();

    assert_eq!(memory(&dev.lambda, "crm-leads-dev").await, Some(256));
    assert_eq!(memory(&dev.lambda, "crm-leads-prod").await, None);
    assert_eq!(memory(&prod_lambda, "crm-leads-prod").await, Some(1024));
    assert_eq!(memory(&prod_lambda, "crm-leads-dev").await, None);

    // Deploying again changes nothing in either account.
    let again = deploy(as_account(env.command(), &prod_key), "prod", &env.zip_arg()).ok();
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);

    // One lockfile directory per stage, each naming only its own account.
    env.claw(&["policy", "write", "--dir", "locked"]).ok();
    for (stage, own, other) in [
        ("dev", DEV_ACCOUNT, PROD_ACCOUNT),
        ("prod", PROD_ACCOUNT, DEV_ACCOUNT),
    ] {
        let dir = env
            .dir
            .path()
            .join("locked")
            .join(format!("crm-leads-{stage}"));
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(!text.contains(other), "{} names {other}", path.display());
            files += 1;
            if path.file_name().is_some_and(|n| n == "role.json") {
                assert!(text.contains(own), "{} does not name {own}", path.display());
            }
        }
        assert_eq!(
            files,
            claw_spec::policy::PolicyKind::ALL.len(),
            "{}",
            dir.display()
        );
    }
    env.claw(&["policy", "diff", "--against", "locked"]).ok();
    // The deployed prod stack's policies are the generated ones.
    as_account(env.command(), &prod_key)
        .args(["--stage", "prod", "policy", "diff"])
        .run()
        .ok();
}

#[tokio::test]
async fn policy_diff_compares_every_stage() {
    let env = Env::new();
    env.set_config(&staged_config());
    env.claw(&["policy", "write", "--dir", "locked"]).ok();
    // Only prod's lockfile is stale: the whole comparison differs, and says where.
    let prod_role = env.dir.path().join("locked/crm-leads-prod/role.json");
    let stale = std::fs::read_to_string(&prod_role)
        .unwrap()
        .replace(PROD_ACCOUNT, DEV_ACCOUNT);
    std::fs::write(&prod_role, stale).unwrap();
    let out = env.claw(&["policy", "diff", "--against", "locked", "--output", "json"]);
    assert_eq!(out.code, 2, "{}", out.all());
    let doc = out.json();
    assert_eq!(doc["same"], false);
    assert_eq!(doc["stages"]["crm-leads-dev"]["same"], true);
    assert_eq!(doc["stages"]["crm-leads-prod"]["same"], false);
    // --stage compares just that one.
    env.claw(&["--stage", "dev", "policy", "diff", "--against", "locked"])
        .ok();
    let out = env.claw(&["--stage", "prod", "policy", "diff", "--against", "locked"]);
    assert_eq!(out.code, 2, "{}", out.all());
}
