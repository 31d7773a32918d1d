//! Whether a VPC function can reach the model and its API key. "Connecting a
//! function to a public subnet doesn't give it internet access or a public IP
//! address" (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html):
//! it needs a NAT gateway on its subnets' default route, or VPC endpoints.
//! Without either, the deploy succeeds and the first invocation times out, so
//! `claw plan` and `claw deploy` read the subnets' route tables (a subnet without
//! an explicit association uses its VPC's main table) and the VPC's endpoints,
//! and warn. The check only reads; what it cannot read is a note, never a failure.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{Filter, RouteState, RouteTable, VpcEndpointType};
use claw_spec::model::Vpc;

use super::Aws;
use super::error::{AwsResultExt, is_access_denied};
use super::plan::Plan;
use super::target::Target;

/// Where one subnet's default route goes.
#[derive(Debug, Clone, PartialEq)]
pub struct SubnetRoute {
    pub subnet: String,
    pub vpc: String,
    /// Whether the route table that applies sends `0.0.0.0/0` to a NAT gateway.
    pub nat: bool,
}

/// What the read found about the function's network.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub subnets: Vec<SubnetRoute>,
    /// Whether one of the subnets' VPCs has a Secrets Manager interface endpoint.
    pub secrets_endpoint: bool,
}

/// The result of the check.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Found {
    /// agent.yaml has no `vpc:`: the function has Lambda's own internet access.
    #[default]
    NoVpc,
    Checked(Network),
    /// The check could not run; why.
    Unchecked(String),
}

pub async fn read(aws: &Aws, t: &Target) -> Found {
    let Some(vpc) = &t.config.vpc else {
        return Found::NoVpc;
    };
    match check(aws, t, vpc).await {
        Ok(n) => Found::Checked(n),
        Err(e) if is_access_denied(&e) => Found::Unchecked(format!(
            "{e:#} (the deployer needs ec2:DescribeSubnets, ec2:DescribeRouteTables and ec2:DescribeVpcEndpoints; `claw policy show --kind deployer` has them)"
        )),
        Err(e) => Found::Unchecked(format!("{e:#}")),
    }
}

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

async fn route_tables(aws: &Aws, f: Vec<Filter>, what: &str) -> anyhow::Result<Vec<RouteTable>> {
    Ok(aws
        .ec2
        .describe_route_tables()
        .set_filters(Some(f))
        .send()
        .await
        .ctx("DescribeRouteTables", what)?
        .route_tables
        .unwrap_or_default())
}

async fn check(aws: &Aws, t: &Target, vpc: &Vpc) -> anyhow::Result<Network> {
    let ids = vpc.subnet_ids.join(", ");
    let subnets: Vec<(String, String)> = aws
        .ec2
        .describe_subnets()
        .set_subnet_ids(Some(vpc.subnet_ids.clone()))
        .send()
        .await
        .ctx("DescribeSubnets", &ids)?
        .subnets
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| Some((s.subnet_id?, s.vpc_id?)))
        .collect();
    let vpcs: BTreeSet<String> = subnets.iter().map(|(_, v)| v.clone()).collect();
    let mains = format!("the main route tables of {}", join(&vpcs));
    let (explicit, main) = futures::try_join!(
        route_tables(
            aws,
            vec![filter("association.subnet-id", vpc.subnet_ids.clone())],
            &ids,
        ),
        route_tables(
            aws,
            vec![
                filter("vpc-id", vpcs.iter().cloned()),
                filter("association.main", ["true".to_string()]),
            ],
            &mains,
        ),
    )?;
    let mut endpoints = Vec::new();
    let mut pages = aws.ec2.describe_vpc_endpoints().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.ctx("DescribeVpcEndpoints", join(&vpcs))?;
        endpoints.extend(page.vpc_endpoints.unwrap_or_default());
    }
    let secrets_service = format!(".{}.secretsmanager", t.config.region);
    Ok(Network {
        subnets: subnets
            .into_iter()
            .map(|(subnet, vpc)| {
                let table = explicit
                    .iter()
                    .find(|rt| {
                        rt.associations()
                            .iter()
                            .any(|a| a.subnet_id.as_deref() == Some(subnet.as_str()))
                    })
                    .or_else(|| main.iter().find(|rt| rt.vpc_id.as_deref() == Some(&vpc)));
                SubnetRoute {
                    nat: table.is_some_and(routes_to_nat),
                    subnet,
                    vpc,
                }
            })
            .collect(),
        secrets_endpoint: endpoints.iter().any(|e| {
            e.vpc_endpoint_type == Some(VpcEndpointType::Interface)
                && e.vpc_id.as_ref().is_some_and(|v| vpcs.contains(v))
                && e.service_name
                    .as_deref()
                    .is_some_and(|s| s.ends_with(&secrets_service))
        }),
    })
}

/// Whether a route table sends `0.0.0.0/0` to a NAT gateway (and the route is
/// not a blackhole, as it is once the gateway is deleted).
fn routes_to_nat(rt: &RouteTable) -> bool {
    rt.routes().iter().any(|r| {
        r.destination_cidr_block.as_deref() == Some("0.0.0.0/0")
            && r.nat_gateway_id.is_some()
            && r.state != Some(RouteState::Blackhole)
    })
}

fn join<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The warning (or the note saying the check could not run) for the plan.
pub fn plan(found: &Found, plan: &mut Plan) {
    match found {
        Found::NoVpc => {}
        Found::Unchecked(why) => plan.notes.push(format!(
            "could not check whether the function's subnets reach the internet: {why}"
        )),
        Found::Checked(n) => {
            if n.subnets.iter().any(|s| s.nat) || n.secrets_endpoint {
                return;
            }
            let subnets = join(n.subnets.iter().map(|s| &s.subnet));
            let vpcs: BTreeSet<String> = n.subnets.iter().map(|s| s.vpc.clone()).collect();
            plan.warnings.push(format!(
                "agent.yaml vpc.subnet_ids ({subnets}): no subnet routes 0.0.0.0/0 to a NAT gateway and VPC {} has no Secrets Manager interface endpoint, so the function could reach neither the model's API nor its key, and would time out on its first invocation; route the subnets' 0.0.0.0/0 to a NAT gateway (an internet gateway gives a Lambda function no internet access), or remove `vpc:` from agent.yaml",
                join(&vpcs)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::{Route, RouteTableAssociation};

    use super::*;
    use crate::aws::resources::testing;

    fn network(nat: bool, secrets_endpoint: bool) -> Found {
        Found::Checked(Network {
            subnets: vec![
                SubnetRoute {
                    subnet: "subnet-a".into(),
                    vpc: "vpc-1".into(),
                    nat: false,
                },
                SubnetRoute {
                    subnet: "subnet-b".into(),
                    vpc: "vpc-1".into(),
                    nat,
                },
            ],
            secrets_endpoint,
        })
    }

    #[test]
    fn warns_without_a_nat_route_or_a_secrets_manager_endpoint() {
        let t = testing::target();
        let mut p = testing::plan(&t);
        plan(&network(false, false), &mut p);
        assert_eq!(p.warnings.len(), 1, "{p:?}");
        let w = &p.warnings[0];
        for part in [
            "subnet-a, subnet-b",
            "vpc-1",
            "NAT gateway",
            "remove `vpc:`",
        ] {
            assert!(w.contains(part), "{part} missing from {w}");
        }
        assert!(p.render().contains("warning: "), "{}", p.render());
        for ok in [network(true, false), network(false, true), Found::NoVpc] {
            let mut p = testing::plan(&t);
            plan(&ok, &mut p);
            assert!(p.warnings.is_empty() && p.notes.is_empty(), "{ok:?}: {p:?}");
        }
        let mut p = testing::plan(&t);
        plan(&Found::Unchecked("denied".into()), &mut p);
        assert!(p.warnings.is_empty());
        assert!(p.notes[0].contains("could not check"), "{:?}", p.notes);
    }

    #[test]
    fn only_an_active_default_route_to_a_nat_gateway_counts() {
        let table = |route: Route| {
            RouteTable::builder()
                .associations(
                    RouteTableAssociation::builder()
                        .subnet_id("subnet-a")
                        .build(),
                )
                .routes(route)
                .build()
        };
        let nat = Route::builder()
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id("nat-1")
            .state(RouteState::Active);
        assert!(routes_to_nat(&table(nat.clone().build())));
        assert!(!routes_to_nat(&table(
            nat.clone().state(RouteState::Blackhole).build()
        )));
        assert!(!routes_to_nat(&table(
            nat.destination_cidr_block("10.0.0.0/8").build()
        )));
        // An internet gateway gives a Lambda function no internet access.
        assert!(!routes_to_nat(&table(
            Route::builder()
                .destination_cidr_block("0.0.0.0/0")
                .gateway_id("igw-1")
                .build()
        )));
    }
}
