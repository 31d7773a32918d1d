//! A whole deployed stack read through the AWS SDK (never through claw), with
//! generated ids replaced, so two stacks built different ways (a clean deploy, a
//! deploy through faults, a deploy killed and re-run) compare equal exactly when
//! they are the same.

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use claw_spec::Names;
use serde_json::Value;

/// Stands for the generated API id in permission conditions.
const API: &str = "API";

/// Every resource claw manages for one app and stage. `None` (or empty) is a
/// resource that does not exist.
#[derive(Debug, Clone, PartialEq)]
pub struct StackSnapshot {
    pub role: Option<Role>,
    /// The permissions boundary's tags, `KEY=VALUE`.
    pub boundary_tags: Option<BTreeSet<String>>,
    pub function: Option<Function>,
    /// How many HTTP APIs carry the stack's name: more than one is a duplicate.
    pub apis_named_like_the_function: usize,
    pub api: Option<Api>,
    /// Invoke permission statements, `SID CONDITION` (the API id replaced), sorted.
    pub permissions: Vec<String>,
    /// `NAME THRESHOLD`, sorted.
    pub alarms: Vec<String>,
    /// Log groups whose name holds the function name, `NAME RETENTION`, sorted.
    pub log_groups: Vec<String>,
    /// The jobs queue and its DLQ when they exist, `NAME ATTR=VALUE ...`.
    pub queues: Vec<String>,
    /// Event source mappings of the function.
    pub mappings: usize,
    /// Every DynamoDB table, `NAME ttl=ATTRIBUTE`, sorted.
    pub tables: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub path: String,
    pub boundary: Option<String>,
    pub inline: Vec<String>,
    /// The execution policy (`names.role_policy`), decoded.
    pub policy: Option<Value>,
    /// `KEY=VALUE`.
    pub tags: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub memory: Option<i32>,
    pub timeout: Option<i32>,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub architectures: Vec<String>,
    pub env: Option<BTreeMap<String, String>>,
    /// Sorted; `None` without a VPC config.
    pub subnets: Option<Vec<String>>,
    pub role: Option<String>,
    pub code_sha256: Option<String>,
    pub tracing: Option<String>,
    pub concurrency: Option<i32>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    /// `ROUTE_KEY AUTHORIZATION_TYPE`, sorted.
    pub routes: Vec<String>,
    pub integrations: usize,
    pub stages: Vec<String>,
    /// The `$default` stage.
    pub stage: Option<Stage>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub auto_deploy: Option<bool>,
    pub burst: Option<i32>,
    pub access_log: Option<String>,
}

fn tag_set<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> BTreeSet<String> {
    tags.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

impl StackSnapshot {
    /// Reads the stack named by `names` through `sdk`. Panics when a list call
    /// fails; a resource that cannot be read counts as missing.
    pub async fn read(sdk: &SdkConfig, names: &Names) -> StackSnapshot {
        let apigw = aws_sdk_apigatewayv2::Client::new(sdk);
        let apis: Vec<String> = apigw
            .get_apis()
            .send()
            .await
            .expect("GetApis")
            .items()
            .iter()
            .filter(|a| a.name() == Some(names.api.as_str()))
            .filter_map(|a| a.api_id().map(str::to_string))
            .collect();
        let api = match apis.first() {
            Some(id) => Some(read_api(&apigw, id).await),
            None => None,
        };
        let api_id = apis.first().map(String::as_str);
        StackSnapshot {
            role: read_role(sdk, names).await,
            boundary_tags: aws_sdk_iam::Client::new(sdk)
                .get_policy()
                .policy_arn(names.boundary_arn())
                .send()
                .await
                .ok()
                .and_then(|p| p.policy)
                .map(|p| tag_set(p.tags().iter().map(|t| (t.key(), t.value())))),
            function: read_function(sdk, names).await,
            apis_named_like_the_function: apis.len(),
            api,
            permissions: read_permissions(sdk, names, api_id).await,
            alarms: read_alarms(sdk, names).await,
            log_groups: read_log_groups(sdk, names).await,
            queues: read_queues(sdk, names).await,
            mappings: aws_sdk_lambda::Client::new(sdk)
                .list_event_source_mappings()
                .function_name(&names.function)
                .send()
                .await
                .expect("ListEventSourceMappings")
                .event_source_mappings()
                .len(),
            tables: read_tables(sdk).await,
        }
    }
}

async fn read_role(sdk: &SdkConfig, n: &Names) -> Option<Role> {
    let iam = aws_sdk_iam::Client::new(sdk);
    let role = iam.get_role().role_name(&n.role).send().await.ok()?.role?;
    let inline = iam
        .list_role_policies()
        .role_name(&n.role)
        .send()
        .await
        .expect("ListRolePolicies")
        .policy_names;
    let policy = iam
        .get_role_policy()
        .role_name(&n.role)
        .policy_name(&n.role_policy)
        .send()
        .await
        .ok()
        .map(|p| crate::iam::parse(&p.policy_document));
    Some(Role {
        path: role.path.clone(),
        boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string),
        inline,
        policy,
        tags: tag_set(role.tags().iter().map(|t| (t.key(), t.value()))),
    })
}

async fn read_function(sdk: &SdkConfig, n: &Names) -> Option<Function> {
    let f = aws_sdk_lambda::Client::new(sdk)
        .get_function()
        .function_name(&n.function)
        .send()
        .await
        .ok()?;
    let c = f.configuration()?;
    Some(Function {
        memory: c.memory_size(),
        timeout: c.timeout(),
        runtime: c.runtime().map(|r| r.as_str().to_string()),
        handler: c.handler().map(str::to_string),
        architectures: c
            .architectures()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect(),
        env: c
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        subnets: c.vpc_config().map(|v| {
            let mut s = v.subnet_ids().to_vec();
            s.sort();
            s
        }),
        role: c.role().map(str::to_string),
        code_sha256: c.code_sha256().map(str::to_string),
        tracing: c
            .tracing_config()
            .and_then(|t| t.mode())
            .map(|m| m.as_str().to_string()),
        concurrency: f
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions()),
        tags: f
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    })
}

async fn read_api(apigw: &aws_sdk_apigatewayv2::Client, id: &str) -> Api {
    let mut routes: Vec<String> = apigw
        .get_routes()
        .api_id(id)
        .send()
        .await
        .expect("GetRoutes")
        .items()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.route_key().unwrap_or_default(),
                r.authorization_type()
                    .map(|t| t.as_str())
                    .unwrap_or_default()
            )
        })
        .collect();
    routes.sort();
    let integrations = apigw
        .get_integrations()
        .api_id(id)
        .send()
        .await
        .expect("GetIntegrations")
        .items()
        .len();
    let mut stages: Vec<String> = apigw
        .get_stages()
        .api_id(id)
        .send()
        .await
        .expect("GetStages")
        .items()
        .iter()
        .map(|s| s.stage_name().unwrap_or_default().to_string())
        .collect();
    stages.sort();
    let stage = apigw
        .get_stage()
        .api_id(id)
        .stage_name("$default")
        .send()
        .await
        .ok()
        .map(|s| Stage {
            auto_deploy: s.auto_deploy(),
            burst: s
                .default_route_settings()
                .and_then(|r| r.throttling_burst_limit()),
            access_log: s
                .access_log_settings()
                .and_then(|l| l.destination_arn())
                .map(str::to_string),
        });
    Api {
        routes,
        integrations,
        stages,
        stage,
    }
}

/// The function's resource policy statements (Lambda answers plain JSON).
pub async fn permission_statements(sdk: &SdkConfig, function: &str) -> Vec<Value> {
    match aws_sdk_lambda::Client::new(sdk)
        .get_policy()
        .function_name(function)
        .send()
        .await
    {
        Ok(o) => {
            let doc = crate::iam::parse(o.policy().unwrap_or("{}"));
            doc["Statement"].as_array().cloned().unwrap_or_default()
        }
        Err(_) => Vec::new(),
    }
}

async fn read_permissions(sdk: &SdkConfig, n: &Names, api_id: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = permission_statements(sdk, &n.function)
        .await
        .iter()
        .map(|s| {
            let condition = s["Condition"].to_string();
            let condition = match api_id {
                Some(id) => condition.replace(id, API),
                None => condition,
            };
            format!("{} {condition}", s["Sid"].as_str().unwrap_or_default())
        })
        .collect();
    out.sort();
    out
}

async fn read_alarms(sdk: &SdkConfig, n: &Names) -> Vec<String> {
    let mut out: Vec<String> = aws_sdk_cloudwatch::Client::new(sdk)
        .describe_alarms()
        .alarm_name_prefix(&n.alarm_prefix)
        .send()
        .await
        .expect("DescribeAlarms")
        .metric_alarms()
        .iter()
        .map(|a| format!("{} {:?}", a.alarm_name().unwrap_or_default(), a.threshold()))
        .collect();
    out.sort();
    out
}

async fn read_log_groups(sdk: &SdkConfig, n: &Names) -> Vec<String> {
    let mut out: Vec<String> = aws_sdk_cloudwatchlogs::Client::new(sdk)
        .describe_log_groups()
        .send()
        .await
        .expect("DescribeLogGroups")
        .log_groups()
        .iter()
        .filter(|g| {
            g.log_group_name()
                .is_some_and(|name| name.contains(n.function.as_str()))
        })
        .map(|g| {
            format!(
                "{} {:?}",
                g.log_group_name().unwrap_or_default(),
                g.retention_in_days()
            )
        })
        .collect();
    out.sort();
    out
}

async fn read_queues(sdk: &SdkConfig, n: &Names) -> Vec<String> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut out = Vec::new();
    for q in [&n.queue, &n.dlq] {
        let Ok(u) = sqs.get_queue_url().queue_name(q.as_str()).send().await else {
            continue;
        };
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(u.queue_url().unwrap_or_default())
            .attribute_names(QueueAttributeName::VisibilityTimeout)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .attribute_names(QueueAttributeName::MessageRetentionPeriod)
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes
            .unwrap_or_default();
        let mut attrs: Vec<String> = attrs
            .iter()
            .map(|(k, v)| format!("{}={v}", k.as_str()))
            .collect();
        attrs.sort();
        out.push(format!("{q} {}", attrs.join(" ")));
    }
    out
}

async fn read_tables(sdk: &SdkConfig) -> Vec<String> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let names = ddb
        .list_tables()
        .send()
        .await
        .expect("ListTables")
        .table_names()
        .to_vec();
    let mut out = Vec::new();
    for t in names {
        let ttl = ddb
            .describe_time_to_live()
            .table_name(&t)
            .send()
            .await
            .ok()
            .and_then(|d| d.time_to_live_description)
            .and_then(|d| d.attribute_name);
        out.push(format!("{t} ttl={ttl:?}"));
    }
    out.sort();
    out
}

/// Every attribute of the queue named `name`, by name; panics when it is missing.
pub async fn queue_attributes(sdk: &SdkConfig, name: &str) -> BTreeMap<String, String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let url = sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetQueueUrl {name}: {e:?}"))
        .queue_url
        .unwrap_or_default();
    sqs.get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetQueueAttributes {name}: {e:?}"))
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_string(), v))
        .collect()
}

/// The id of the one HTTP API named `name`, if there is one; panics on duplicates.
pub async fn api_id(sdk: &SdkConfig, name: &str) -> Option<String> {
    let apis = aws_sdk_apigatewayv2::Client::new(sdk)
        .get_apis()
        .send()
        .await
        .expect("GetApis");
    let matching: Vec<_> = apis
        .items()
        .iter()
        .filter(|a| a.name() == Some(name))
        .collect();
    assert!(matching.len() <= 1, "{} APIs named {name}", matching.len());
    matching
        .first()
        .and_then(|a| a.api_id().map(str::to_string))
}

/// The config in `path`, loaded and validated as claw loads it (no overrides, no
/// environment): for the names and tags a test expects.
pub fn load_config(path: &std::path::Path) -> claw_spec::Config {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    claw_spec::load("agent.yaml", &text, &Default::default(), &|_| None)
        .unwrap_or_else(|problems| panic!("{} is not valid: {problems:#?}", path.display()))
        .config
}

/// The tags claw must put on every resource it creates: the config's own tags,
/// plus `claw:app` and `claw:stage`, which mark the resource as claw's.
pub fn stack_tags(config: &claw_spec::Config) -> BTreeMap<String, String> {
    let mut t = config.tags.clone();
    t.insert("claw:app".into(), config.app.clone());
    t.insert("claw:stage".into(), config.stage.clone());
    t
}
