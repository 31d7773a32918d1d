//! The policy generator: a fold over agent.yaml. Nothing here looks at an account;
//! the same config always gives the same documents, byte for byte.

use serde_json::json;

pub use crate::policy_url::{API_GATEWAY_PRINCIPAL, INVOKE_PRINCIPALS, invoke};

use crate::ci::{self, GithubTrust, NeedsRepository};
use crate::iam::{PolicyDocument, Statement};
use crate::model::{ApiMode, Config, Tracing};
use crate::names::{API_ID_PLACEHOLDER, Names};
use crate::tools;

/// The documents claw generates for one app and stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyKind {
    /// The function's execution-role identity policy.
    Role,
    /// Who may assume the execution role: Lambda, for this account only.
    Trust,
    /// The function's resource-based policy: API Gateway may invoke it, per route.
    Invoke,
    /// What a CI role needs to run `claw deploy` and `claw destroy` for this stack.
    Deployer,
    /// The permissions boundary every execution role claw creates must carry.
    Boundary,
    /// What a read-only CI role needs to run `claw plan`, `claw validate` and
    /// `claw policy diff` for pull requests: the deployer's reads.
    Plan,
    /// Who may assume the deployer role: GitHub Actions' OIDC tokens of one
    /// repository (needs the repository: it is not in agent.yaml).
    CiTrust,
}

impl PolicyKind {
    /// The kinds agent.yaml alone determines (the policy lockfile's files).
    pub const ALL: [PolicyKind; 6] = [
        PolicyKind::Role,
        PolicyKind::Trust,
        PolicyKind::Invoke,
        PolicyKind::Deployer,
        PolicyKind::Boundary,
        PolicyKind::Plan,
    ];

    /// Every kind, those that need the GitHub repository included.
    pub const EVERY: [PolicyKind; 7] = [
        PolicyKind::Role,
        PolicyKind::Trust,
        PolicyKind::Invoke,
        PolicyKind::Deployer,
        PolicyKind::Boundary,
        PolicyKind::Plan,
        PolicyKind::CiTrust,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Role => "role",
            PolicyKind::Trust => "trust",
            PolicyKind::Invoke => "invoke",
            PolicyKind::Deployer => "deployer",
            PolicyKind::Boundary => "boundary",
            PolicyKind::Plan => "plan",
            PolicyKind::CiTrust => "ci-trust",
        }
    }

    pub fn from_name(name: &str) -> Option<PolicyKind> {
        PolicyKind::EVERY.into_iter().find(|k| k.name() == name)
    }

    /// Whether the document names a Principal (a trust or resource-based policy).
    pub fn is_resource_policy(self) -> bool {
        matches!(
            self,
            PolicyKind::Trust | PolicyKind::Invoke | PolicyKind::CiTrust
        )
    }

    /// The file name under `policies/<app>-<stage>/`.
    pub fn file_name(self) -> String {
        format!("{}.json", self.name())
    }
}

/// Generates one document; the CI trust needs the repository (`github`).
pub fn generate(
    kind: PolicyKind,
    config: &Config,
    github: Option<&GithubTrust>,
) -> Result<PolicyDocument, NeedsRepository> {
    let names = Names::new(config);
    Ok(match kind {
        PolicyKind::Role | PolicyKind::Boundary => role(config, &names),
        PolicyKind::Trust => trust(&names),
        PolicyKind::Invoke => invoke(config, &names, API_ID_PLACEHOLDER),
        PolicyKind::Deployer => deployer(config, &names),
        PolicyKind::Plan => ci::plan_policy(&deployer(config, &names)),
        PolicyKind::CiTrust => ci::trust(&names, github.ok_or(NeedsRepository)?),
    })
}

/// The execution role's identity policy.
pub fn role(config: &Config, names: &Names) -> PolicyDocument {
    let mut s = vec![Statement::allow(
        "WriteOwnLogs",
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        vec![format!("{}:*", names.log_group_arn(&names.log_group))],
    )];
    let secrets = config.secret_names();
    if !secrets.is_empty() {
        s.push(Statement::allow(
            "ReadDeclaredSecrets",
            &["secretsmanager:GetSecretValue"],
            secrets.iter().map(|n| names.secret_arn(n)).collect(),
        ));
    }
    s.extend(crate::bedrock::statements(config, names));
    for (name, tool) in &config.tools {
        s.extend(tools::statements(name, tool, names));
    }
    if let Some(sessions) = &config.sessions {
        s.push(Statement::allow(
            "SessionMemory",
            crate::storage::sessions_table_actions(config.limits.has_budget()),
            vec![names.table_arn(&sessions.table)],
        ));
    }
    if config.api.mode == ApiMode::Async {
        s.push(Statement::allow(
            "ConsumeJobQueue",
            &[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:SendMessage",
            ],
            vec![names.queue_arn(&names.queue)],
        ));
        s.push(Statement::allow(
            "JobResults",
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
            vec![names.table_arn(&names.jobs_table)],
        ));
    }
    if let Some(vpc) = &config.vpc {
        let ec2 = |kind: &str, id: &str| names.ec2_arn(kind, id);
        let eni = ec2("network-interface", "*");
        let mut create: Vec<String> = vpc.subnet_ids.iter().map(|id| ec2("subnet", id)).collect();
        create.extend(
            vpc.security_group_ids
                .iter()
                .map(|id| ec2("security-group", id)),
        );
        create.push(eni.clone());
        s.push(Statement::allow(
            "VpcCreateInterfaces",
            &["ec2:CreateNetworkInterface"],
            create,
        ));
        s.push(Statement::allow(
            "VpcManageInterfaces",
            &[
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            vec![eni],
        ));
        s.push(Statement::allow(
            "VpcDescribeInterfaces",
            &["ec2:DescribeNetworkInterfaces"],
            vec!["*".into()],
        ));
        // AWS's managed AWSLambdaVPCAccessExecutionRole grants it since version 3
        // (January 2024): Lambda reads the function's subnets with the role.
        s.push(Statement::allow(
            "VpcDescribeSubnets",
            &["ec2:DescribeSubnets"],
            vec!["*".into()],
        ));
    }
    if config.function.tracing == Tracing::Active {
        s.push(Statement::allow(
            "XRayWrite",
            &["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            vec!["*".into()],
        ));
    }
    PolicyDocument::new(s)
}

/// The execution role's trust policy.
pub fn trust(names: &Names) -> PolicyDocument {
    let mut st = Statement::allow("LambdaAssumeRole", &["sts:AssumeRole"], Vec::new())
        .principal(json!({"Service": "lambda.amazonaws.com"}))
        .when("StringEquals", "aws:SourceAccount", json!(names.account));
    st.resource.clear();
    PolicyDocument::new(vec![st])
}

/// What a CI role needs to deploy and destroy exactly this app and stage.
pub fn deployer(config: &Config, names: &Names) -> PolicyDocument {
    let role_arn = names.role_arn();
    let (fn_arns, mapped) = crate::rollout::deployer_resources(config.rollout.is_some(), names);
    let mut s = vec![
        Statement::allow(
            "ReadCallerIdentity",
            &["sts:GetCallerIdentity"],
            vec!["*".into()],
        ),
        // Who may assume the execution role is the administrator's: no condition
        // key constrains a trust policy, so a deployer that could create the
        // role, change its trust or delete it (and create it again) could name
        // itself or another account and use the role, secrets included, from
        // outside Lambda. The first deploy with administrator credentials creates
        // the role (as it creates the boundary); the deployer updates what it may
        // do, under the boundary.
        Statement::allow(
            "ManageExecutionRole",
            &[
                "iam:GetRole",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:ListRoleTags",
                "iam:GetRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:DetachRolePolicy",
            ],
            vec![role_arn.clone()],
        ),
        Statement::allow(
            "PutRolePolicyOnlyUnderBoundary",
            &["iam:PutRolePolicy"],
            vec![role_arn.clone()],
        )
        .when(
            "ArnEquals",
            "iam:PermissionsBoundary",
            json!(names.boundary_arn()),
        ),
        Statement::allow("PassRoleToLambdaOnly", &["iam:PassRole"], vec![role_arn]).when(
            "StringEquals",
            "iam:PassedToService",
            json!("lambda.amazonaws.com"),
        ),
        Statement::allow(
            "ReadBoundary",
            &["iam:GetPolicy", "iam:GetPolicyVersion"],
            vec![names.boundary_arn()],
        ),
        Statement::allow(
            "ManageFunction",
            &[
                "lambda:CreateFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                // Every deploy looks for an alias `live` a removed `rollout:` left.
                "lambda:GetAlias",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:DeleteFunction",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:ListTags",
                "lambda:RemovePermission",
                "lambda:GetPolicy",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                "lambda:GetFunctionConcurrency",
                "lambda:InvokeFunction",
            ],
            fn_arns.clone(),
        ),
        // Invoke permissions only for the principals claw grants: a stolen CI
        // credential cannot make the function invokable by another account.
        // lambda:Principal is the condition key AddPermission supports for this
        // (Service Authorization Reference, AWS Lambda).
        Statement::allow(
            "GrantInvokeToApiGatewayOnly",
            &["lambda:AddPermission"],
            fn_arns.clone(),
        )
        .when("StringEquals", "lambda:Principal", json!(INVOKE_PRINCIPALS)),
        crate::policy_url::read_and_remove(&fn_arns),
        Statement::allow(
            "ManageLogGroups",
            &[
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:ListTagsForResource",
                "logs:UntagResource",
                "logs:FilterLogEvents",
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
            ],
            vec![
                names.log_group_arn(&names.log_group),
                format!("{}:*", names.log_group_arn(&names.log_group)),
                names.log_group_arn(&names.api_log_group),
                format!("{}:*", names.log_group_arn(&names.api_log_group)),
                // Read and deleted once, when deploy moves the access logs off it.
                names.log_group_arn(&names.old_api_log_group),
                format!("{}:*", names.log_group_arn(&names.old_api_log_group)),
            ],
        ),
        Statement::allow(
            "DeployLock",
            &[
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:TagResource",
                "logs:CreateLogStream",
                "logs:DeleteLogStream",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
                "logs:GetLogEvents",
            ],
            vec![
                names.log_group_arn(&names.lock_group),
                format!("{}:*", names.log_group_arn(&names.lock_group)),
            ],
        ),
        Statement::allow(
            "FindLogGroups",
            &["logs:DescribeLogGroups"],
            vec!["*".into()],
        ),
        // Turning on an HTTP API's access logs (CreateStage/UpdateStage with
        // AccessLogSettings) needs these too, none with resource-level permissions
        // (API Gateway Developer Guide, "Configure logging for HTTP APIs",
        // permissions to activate logging); logs:CreateLogGroup from that list is
        // granted on the API's log group in ManageLogGroups.
        Statement::allow(
            "ApiAccessLogDelivery",
            &[
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
            ],
            vec!["*".into()],
        ),
    ];
    s.extend(crate::policy_apigw::deployer(names));
    s.push(Statement::allow(
        "ManageAlarms",
        &[
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
            "cloudwatch:ListTagsForResource",
        ],
        names.alarm_arns(),
    ));
    // The stack's dashboard, kept in sync by deploy and removed by destroy.
    s.push(Statement::allow(
        "ManageDashboard",
        &[
            "cloudwatch:GetDashboard",
            "cloudwatch:PutDashboard",
            "cloudwatch:DeleteDashboards",
        ],
        vec![names.dashboard_arn()],
    ));
    // `claw status` reads the stack's figures in one call. GetMetricData has no
    // resource-level permissions (Service Authorization Reference, Amazon
    // CloudWatch: no resource type for it), so `*`; it reads metrics only.
    s.push(Statement::allow(
        "ReadMetrics",
        &["cloudwatch:GetMetricData"],
        vec!["*".into()],
    ));
    s.extend(
        config
            .rollout
            .as_ref()
            .map(|_| crate::rollout::deployer_statement(&fn_arns)),
    );
    if config.function.reserved_concurrency.is_some() {
        // The plan checks a reservation against the account's unreserved
        // concurrency before any of the stack is created.
        s.push(Statement::allow(
            "ReadAccountConcurrency",
            &["lambda:GetAccountSettings"],
            vec!["*".into()],
        ));
    }
    let secrets = config.secret_names();
    if !secrets.is_empty() {
        s.push(Statement::allow(
            "CheckSecretsExist",
            &["secretsmanager:DescribeSecret"],
            secrets.iter().map(|n| names.secret_arn(n)).collect(),
        ));
    }
    let mut tables = Vec::new();
    if let Some(sessions) = &config.sessions {
        tables.push(names.table_arn(&sessions.table));
    }
    if config.api.mode == ApiMode::Async {
        tables.push(names.table_arn(&names.jobs_table));
        s.push(Statement::allow(
            "ManageJobQueues",
            &[
                "sqs:CreateQueue",
                "sqs:GetQueueUrl",
                "sqs:GetQueueAttributes",
                "sqs:SetQueueAttributes",
                "sqs:DeleteQueue",
                "sqs:TagQueue",
                "sqs:UntagQueue",
                "sqs:ListQueueTags",
            ],
            vec![names.queue_arn(&names.queue), names.queue_arn(&names.dlq)],
        ));
        s.push(
            Statement::allow(
                "CreateQueueMapping",
                &["lambda:CreateEventSourceMapping"],
                vec!["*".into()],
            )
            .when("ArnEquals", "lambda:FunctionArn", mapped.clone()),
        );
        s.push(Statement::allow(
            "FindQueueMapping",
            &["lambda:ListEventSourceMappings"],
            vec!["*".into()],
        ));
        s.push(
            Statement::allow(
                "ManageQueueMapping",
                &[
                    "lambda:GetEventSourceMapping",
                    "lambda:UpdateEventSourceMapping",
                    "lambda:DeleteEventSourceMapping",
                ],
                vec![names.event_source_mapping_arn_pattern()],
            )
            .when("ArnEquals", "lambda:FunctionArn", mapped.clone()),
        );
    }
    if !tables.is_empty() {
        s.push(Statement::allow(
            "ManageTables",
            &[
                "dynamodb:CreateTable",
                "dynamodb:DescribeTable",
                "dynamodb:DeleteTable",
                "dynamodb:UpdateTimeToLive",
                "dynamodb:DescribeTimeToLive",
                "dynamodb:TagResource",
                "dynamodb:UntagResource",
                "dynamodb:UpdateTable",
                "dynamodb:ListTagsOfResource",
            ],
            tables,
        ));
    }
    if config.vpc.is_some() {
        s.push(Statement::allow(
            "ValidateVpcConfig",
            &[
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            vec!["*".into()],
        ));
        // `claw plan` warns when subnets have no NAT route nor Secrets Manager endpoint.
        s.push(Statement::allow(
            "CheckVpcReachability",
            &["ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints"],
            vec!["*".into()],
        ));
    }
    s.extend(crate::bedrock::deployer_statements(config, names));
    s.extend(
        config
            .api
            .stream
            .iter()
            .flat_map(|st| crate::policy_url::deployer_statements(st, &fn_arns)),
    );
    PolicyDocument::new(s)
}
