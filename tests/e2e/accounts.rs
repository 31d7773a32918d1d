//! Commands that touch AWS check the credentials' account first, and `claw
//! secrets set` recovers a secret scheduled for deletion.

use std::io::Write as _;
use std::process::{Command, Stdio};

use aws_sdk_iam::config::Credentials;
use claw_testkit::fixtures::root_config;
use claw_testkit::moto::Moto;

const SECRET: &str = "production/ai-agent/anthropic-api-key";

struct World {
    moto: Moto,
    dir: tempfile::TempDir,
}

impl World {
    fn new(config: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("agent.yaml"), config).unwrap();
        World {
            moto: Moto::realistic(),
            dir,
        }
    }

    /// Runs claw with `stdin`; returns (exit code, stdout, stderr).
    fn claw(&self, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
        let mut c: Command = crate::support::claw(self.dir.path(), &self.moto.endpoint()).command();
        c.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(claw_testkit::REGION))
            .endpoint_url(self.moto.direct_endpoint())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await;
        aws_sdk_secretsmanager::Client::new(&conf)
    }
}

#[tokio::test]
async fn commands_that_touch_aws_refuse_credentials_for_another_account() {
    // moto's credentials belong to account 123456789012; agent.yaml names another.
    let text = root_config();
    assert!(
        text.contains("account: \"123456789012\""),
        "update this test"
    );
    let w = World::new(&text.replace("account: \"123456789012\"", "account: \"111122223333\""));
    for args in [
        &["secrets", "set", SECRET][..],
        &["logs", "--since", "1m"],
        &["invoke", "--message", "hi"],
        &["unlock"],
        &["plan"],
    ] {
        let (code, _, stderr) = w.claw(args, b"a-value");
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("agent.yaml says account 111122223333")
                && stderr.contains("credentials are for account 123456789012"),
            "{args:?} did not name both accounts:\n{stderr}"
        );
    }
    let found = w
        .secrets()
        .await
        .describe_secret()
        .secret_id(SECRET)
        .send()
        .await;
    assert!(
        found.is_err(),
        "a secret was written into the wrong account: {found:?}"
    );
}

#[tokio::test]
async fn secrets_set_restores_a_secret_scheduled_for_deletion() {
    let w = World::new(&root_config());
    let (code, _, stderr) = w.claw(&["secrets", "set", SECRET], b"first");
    assert_eq!(code, 0, "{stderr}");
    let sm = w.secrets().await;
    sm.delete_secret()
        .secret_id(SECRET)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    // AWS refuses PutSecretValue on a secret marked for deletion
    // (InvalidRequestException, see API_RestoreSecret); moto accepts it and leaves
    // the deletion scheduled. Either way the value must end up live: claw
    // restores the secret first.
    let (code, stdout, stderr) = w.claw(&["secrets", "set", SECRET], b"second");
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("restored secret"), "{stdout}");
    let d = sm.describe_secret().secret_id(SECRET).send().await.unwrap();
    assert!(d.deleted_date().is_none(), "still scheduled for deletion");
    let v = sm
        .get_secret_value()
        .secret_id(SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(v.secret_string(), Some("second"));
}
