//! Deterministic resource names. claw keeps no state file: it finds every resource
//! by these names (and checks the `claw:app` / `claw:stage` tags before touching it).

/// Every AWS name and ARN claw derives from one config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub app: String,
    pub stage: String,
    pub region: String,
    pub account: String,
    /// `{app}-{stage}`: the function, the API and the stem of everything else.
    pub function: String,
    pub role: String,
    /// The inline policy on the role.
    pub role_policy: String,
    /// The managed policy used as the role's permissions boundary.
    pub boundary: String,
    pub log_group: String,
    pub api: String,
    /// The API's access-log group, under `/aws/vendedlogs/`: vended log delivery
    /// adds each destination group to the account's CloudWatch Logs resource
    /// policy (5,120 characters at most); near that cap the policy only covers
    /// `/aws/vendedlogs/*`, and enabling logging to any other group fails
    /// (CloudWatch Logs User Guide, "Log group resource policy size limit
    /// considerations").
    pub api_log_group: String,
    /// Where earlier versions of claw put the access logs; deploy moves the stage
    /// off it and deletes it when claw's tags say it is claw's.
    pub old_api_log_group: String,
    /// The log group whose `lock` stream serializes deploys of this app and stage.
    pub lock_group: String,
    pub queue: String,
    pub dlq: String,
    pub jobs_table: String,
    pub alarm_prefix: String,
    /// `{app}-{stage}`: the CloudWatch dashboard. Dashboards are the account's,
    /// not a Region's (their ARN has no Region), so its body names the Region
    /// it is for.
    pub dashboard: String,
    /// The CI role that runs `claw deploy` (made by `claw bootstrap`).
    pub deployer_role: String,
    /// The read-only CI role that runs `claw plan` for pull requests.
    pub plan_role: String,
    /// With `rollout:`, the alias every caller invokes (`live`); `None` when
    /// callers invoke the function itself.
    pub alias: Option<String>,
}

/// The IAM path under which claw keeps its roles and boundary policies.
pub const IAM_PATH: &str = "/claw/";

impl Names {
    /// The names of one app and stage in one region and account. (`Names::new`
    /// takes them from a config.)
    pub fn for_stack(app: &str, stage: &str, region: &str, account: &str) -> Names {
        let stem = format!("{app}-{stage}");
        Names {
            app: app.to_string(),
            stage: stage.to_string(),
            region: region.to_string(),
            account: account.to_string(),
            function: stem.clone(),
            role: format!("{stem}-exec"),
            role_policy: "claw-execution".into(),
            boundary: format!("{stem}-boundary"),
            log_group: format!("/aws/lambda/{stem}"),
            api: stem.clone(),
            api_log_group: format!("/aws/vendedlogs/apigateway/{stem}"),
            old_api_log_group: format!("/aws/apigateway/{stem}"),
            lock_group: format!("/claw/locks/{stem}"),
            queue: format!("{stem}-jobs"),
            dlq: format!("{stem}-jobs-dlq"),
            jobs_table: format!("{stem}-jobs"),
            alarm_prefix: format!("{stem}-"),
            dashboard: stem.clone(),
            deployer_role: format!("{stem}-deployer"),
            plan_role: format!("{stem}-plan"),
            alias: None,
        }
    }

    /// (description, name, AWS limit) for every derived name, for validation.
    pub fn checked(&self) -> Vec<(&'static str, String, usize)> {
        vec![
            ("Lambda function name", self.function.clone(), 64),
            ("IAM role name", self.role.clone(), 64),
            (
                "IAM role name (`claw bootstrap`'s deployer role)",
                self.deployer_role.clone(),
                64,
            ),
            ("IAM policy name", self.boundary.clone(), 128),
            ("SQS queue name", self.dlq.clone(), 80),
            ("DynamoDB table name", self.jobs_table.clone(), 255),
            (
                "CloudWatch alarm name",
                format!("{}output-tokens-per-hour", self.alarm_prefix),
                255,
            ),
            ("log group name", self.api_log_group.clone(), 512),
        ]
    }

    /// The AWS partition of the region: `aws-cn` for China (`cn-*`), `aws-us-gov`
    /// for GovCloud (`us-gov-*`), else `aws`. Every ARN claw builds starts with it.
    pub fn partition(&self) -> &'static str {
        partition(&self.region)
    }

    /// `arn:{partition}:{service}:{region}:{account}:{rest}`.
    fn regional(&self, service: &str, rest: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{rest}",
            self.partition(),
            self.region,
            self.account
        )
    }

    /// The ARN of any Lambda function in this account and region (tools' targets).
    pub fn lambda_function_arn(&self, name: &str) -> String {
        self.regional("lambda", &format!("function:{name}"))
    }

    /// Every event source mapping in this account and region (the deployer's scope).
    pub fn event_source_mapping_arn_pattern(&self) -> String {
        self.regional("lambda", "event-source-mapping:*")
    }

    /// An EventBridge event bus in this account and region.
    pub fn event_bus_arn(&self, bus: &str) -> String {
        self.regional("events", &format!("event-bus/{bus}"))
    }

    /// An EC2 resource (`subnet`, `security-group`, `network-interface`) by id.
    pub fn ec2_arn(&self, kind: &str, id: &str) -> String {
        self.regional("ec2", &format!("{kind}/{id}"))
    }

    /// The objects under `prefix` in an S3 bucket (bucket ARNs name no region or account).
    pub fn s3_objects_arn(&self, bucket: &str, prefix: &str) -> String {
        format!("arn:{}:s3:::{bucket}/{prefix}*", self.partition())
    }

    /// An API Gateway management path, such as `/apis` or `/apis/{id}` (IAM's
    /// resource for `apigateway:GET` and the like; it names no account).
    pub fn apigateway_arn(&self, path: &str) -> String {
        format!(
            "arn:{}:apigateway:{}::{path}",
            self.partition(),
            self.region
        )
    }

    /// The ARN of an HTTP API by id (for tagging it).
    pub fn api_arn(&self, api_id: &str) -> String {
        self.apigateway_arn(&format!("/apis/{api_id}"))
    }

    /// The ARN of a stage of an HTTP API (for tagging it).
    pub fn api_stage_arn(&self, api_id: &str, stage: &str) -> String {
        self.apigateway_arn(&format!("/apis/{api_id}/stages/{stage}"))
    }

    /// The Lambda integration URI API Gateway calls: what callers invoke.
    pub fn integration_uri(&self) -> String {
        self.invoked_arn()
    }

    /// What every caller invokes: the alias's ARN (`function:NAME:live`) with
    /// `rollout:`, else the function's.
    pub fn invoked_arn(&self) -> String {
        match &self.alias {
            Some(a) => format!("{}:{a}", self.function_arn()),
            None => self.function_arn(),
        }
    }

    /// Every version and alias of the function (`function:NAME:*`): the
    /// resource of qualified calls (Service Authorization Reference, AWS
    /// Lambda: resource types `function alias` and `function version`).
    pub fn function_qualified_arns(&self) -> String {
        format!("{}:*", self.function_arn())
    }

    /// `arn:{partition}:cloudwatch::{account}:dashboard/{name}`: no Region
    /// (Service Authorization Reference, Amazon CloudWatch, resource type
    /// `dashboard`).
    pub fn dashboard_arn(&self) -> String {
        format!(
            "arn:{}:cloudwatch::{}:dashboard/{}",
            self.partition(),
            self.account,
            self.dashboard
        )
    }

    pub fn function_arn(&self) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{}",
            self.partition(),
            self.region,
            self.account,
            self.function
        )
    }

    pub fn role_arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:role{}{}",
            self.partition(),
            self.account,
            IAM_PATH,
            self.role
        )
    }

    /// A role under claw's path, by name (the CI roles `claw bootstrap` makes).
    pub fn iam_role_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:iam::{}:role{}{name}",
            self.partition(),
            self.account,
            IAM_PATH
        )
    }

    /// The account's IAM OpenID Connect identity provider for an issuer host
    /// (`token.actions.githubusercontent.com`): IAM names it by the issuer URL
    /// without `https://`.
    pub fn oidc_provider_arn(&self, host: &str) -> String {
        format!(
            "arn:{}:iam::{}:oidc-provider/{host}",
            self.partition(),
            self.account
        )
    }

    pub fn boundary_arn(&self) -> String {
        format!(
            "arn:{}:iam::{}:policy{}{}",
            self.partition(),
            self.account,
            IAM_PATH,
            self.boundary
        )
    }

    pub fn log_group_arn(&self, group: &str) -> String {
        format!(
            "arn:{}:logs:{}:{}:log-group:{}",
            self.partition(),
            self.region,
            self.account,
            group
        )
    }

    pub fn queue_arn(&self, name: &str) -> String {
        self.regional("sqs", name)
    }

    pub fn table_arn(&self, name: &str) -> String {
        self.regional("dynamodb", &format!("table/{name}"))
    }

    pub fn secret_arn(&self, name: &str) -> String {
        // Secrets Manager appends `-` and six random characters to every secret ARN.
        self.regional("secretsmanager", &format!("secret:{name}-??????"))
    }

    /// The name of one of claw's alarms (`suffix` from [`ALARM_SUFFIXES`]).
    pub fn alarm_name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.alarm_prefix)
    }

    /// The exact ARN of every alarm claw may create for this stack. Exact, not
    /// `{app}-{stage}-*`: a pattern would also match another stack whose app name
    /// extends this one's (`crm` + `leads` against `crm-leads` + `dev`).
    pub fn alarm_arns(&self) -> Vec<String> {
        ALARM_SUFFIXES.iter().map(|s| self.alarm_arn(s)).collect()
    }

    /// The ARN of one of claw's alarms.
    pub fn alarm_arn(&self, suffix: &str) -> String {
        self.regional("cloudwatch", &format!("alarm:{}", self.alarm_name(suffix)))
    }

    /// The execute-api ARN of a route, for an API id known at deploy time.
    /// Path parameters become `*`; `ANY` becomes `*`.
    pub fn execute_api_arn(&self, api_id: &str, route: &str) -> String {
        let (method, path) = route.split_once(' ').unwrap_or(("ANY", route));
        let method = if method == "ANY" { "*" } else { method };
        let path: Vec<String> = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') && seg.ends_with('}') {
                    "*".to_string()
                } else {
                    seg.to_string()
                }
            })
            .collect();
        self.regional(
            "execute-api",
            &format!("{api_id}/*/{method}{}", path.join("/")),
        )
    }

    /// The statement id claw uses for a route's invoke permission.
    pub fn permission_sid(route: &str) -> String {
        let mut sid = String::from("claw-apigw-");
        for c in route.chars() {
            match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' => sid.push(c),
                '{' | '}' => {}
                _ => {
                    if !sid.ends_with('-') {
                        sid.push('-')
                    }
                }
            }
        }
        sid.trim_end_matches('-').to_string()
    }
}

/// Every alarm claw may create, by name suffix (`{app}-{stage}-{suffix}`).
pub const ALARM_SUFFIXES: &[&str] = &[
    "errors",
    "agent-errors",
    "throttles",
    "duration-p99",
    "invocations-per-5min",
    "output-tokens-per-hour",
    "cost-per-day",
];

/// The AWS partition a region belongs to: `aws-cn` for `cn-*`, `aws-us-gov` for
/// `us-gov-*`, else `aws`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The placeholder for the API id in generated documents, filled in at deploy time.
pub const API_ID_PLACEHOLDER: &str = "${ApiId}";

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            app: "a".into(),
            stage: "dev".into(),
            region: "ap-southeast-2".into(),
            account: "123456789012".into(),
            function: "a-dev".into(),
            role: "a-dev-exec".into(),
            role_policy: "claw-execution".into(),
            boundary: "a-dev-boundary".into(),
            log_group: "/aws/lambda/a-dev".into(),
            api: "a-dev".into(),
            api_log_group: "/aws/vendedlogs/apigateway/a-dev".into(),
            old_api_log_group: "/aws/apigateway/a-dev".into(),
            lock_group: "/claw/locks/a-dev".into(),
            queue: "a-dev-jobs".into(),
            dlq: "a-dev-jobs-dlq".into(),
            jobs_table: "a-dev-jobs".into(),
            alarm_prefix: "a-dev-".into(),
            dashboard: "a-dev".into(),
            deployer_role: "a-dev-deployer".into(),
            plan_role: "a-dev-plan".into(),
            alias: None,
        }
    }

    #[test]
    fn the_access_log_group_is_under_vendedlogs() {
        // Only `/aws/vendedlogs/*` stays deliverable once the account's log
        // delivery resource policy nears its 5,120-character cap.
        assert_eq!(
            Names::for_stack("a", "dev", "ap-southeast-2", "123456789012"),
            names()
        );
        assert!(names().api_log_group.starts_with("/aws/vendedlogs/"));
    }

    #[test]
    fn execute_api_arns_wildcard_parameters_only() {
        let n = names();
        assert_eq!(
            n.execute_api_arn("abc123", "POST /agents/{agent}"),
            "arn:aws:execute-api:ap-southeast-2:123456789012:abc123/*/POST/agents/*"
        );
        assert_eq!(
            n.execute_api_arn("abc123", "ANY /x"),
            "arn:aws:execute-api:ap-southeast-2:123456789012:abc123/*/*/x"
        );
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("ap-southeast-2"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("cn-northwest-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-east-1"), "aws");
        let n = Names {
            region: "cn-north-1".into(),
            ..names()
        };
        assert_eq!(
            n.function_arn(),
            "arn:aws-cn:lambda:cn-north-1:123456789012:function:a-dev"
        );
        assert_eq!(
            n.role_arn(),
            "arn:aws-cn:iam::123456789012:role/claw/a-dev-exec"
        );
        assert_eq!(
            n.api_stage_arn("abc", "$default"),
            "arn:aws-cn:apigateway:cn-north-1::/apis/abc/stages/$default"
        );
        assert_eq!(n.s3_objects_arn("b", "p/"), "arn:aws-cn:s3:::b/p/*");
        assert_eq!(
            n.oidc_provider_arn("token.actions.githubusercontent.com"),
            "arn:aws-cn:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
        );
        assert_eq!(
            n.execute_api_arn("abc", "GET /x"),
            "arn:aws-cn:execute-api:cn-north-1:123456789012:abc/*/GET/x"
        );
    }

    #[test]
    fn permission_sids_are_stable_and_valid() {
        assert_eq!(
            Names::permission_sid("POST /agents/{agent}"),
            "claw-apigw-POST-agents-agent"
        );
        assert_eq!(
            Names::permission_sid("GET /jobs/{id}"),
            "claw-apigw-GET-jobs-id"
        );
    }
}
