//! A VPC function needs a NAT gateway (or VPC endpoints) to reach the model and
//! its key: "Connecting a function to a public subnet doesn't give it internet
//! access or a public IP address"
//! (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html).
//! `claw plan` reads the subnets' route tables and warns.

use aws_sdk_ec2::types::DomainType;

use crate::support::Env;

/// Subnets whose route tables (the VPC's main one, then an explicit one) have no
/// `0.0.0.0/0` to a NAT gateway get a warning naming them; once one subnet
/// routes through a NAT gateway, the warning is gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_vpc_without_a_nat_route_is_warned_about_and_one_with_it_is_not() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    let ec2 = aws_sdk_ec2::Client::new(&aws.sdk);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let subnet = |cidr: &'static str| {
        let (ec2, vpc) = (&ec2, &vpc);
        async move {
            ec2.create_subnet()
                .vpc_id(vpc)
                .cidr_block(cidr)
                .send()
                .await
                .unwrap()
                .subnet
                .unwrap()
                .subnet_id
                .unwrap()
        }
    };
    let (a, b) = (subnet("10.0.1.0/24").await, subnet("10.0.2.0/24").await);
    let sg = ec2
        .create_security_group()
        .group_name("fn")
        .description("the function")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    // A public route through an internet gateway, in b's own table: not enough.
    let igw = ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway
        .unwrap()
        .internet_gateway_id
        .unwrap();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let table = ec2
        .create_route_table()
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .route_table
        .unwrap()
        .route_table_id
        .unwrap();
    ec2.associate_route_table()
        .route_table_id(&table)
        .subnet_id(&b)
        .send()
        .await
        .unwrap();
    ec2.create_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();

    let text = claw_testkit::fixtures::edit(
        &env.config_text(),
        "subnet_ids: [subnet-0abc1234def567890, subnet-0def5678abc123456]",
        &format!("subnet_ids: [{a}, {b}]"),
    );
    env.set_config(&claw_testkit::fixtures::edit(
        &text,
        "security_group_ids: [sg-0123456789abcdef0]",
        &format!("security_group_ids: [{sg}]"),
    ));
    let plan = env.plan_json();
    let warnings = plan["plan"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{plan:#}");
    let w = warnings[0].as_str().unwrap();
    for part in [a.as_str(), b.as_str(), vpc.as_str(), "NAT gateway"] {
        assert!(w.contains(part), "{part} missing from {w}");
    }
    let text = env.claw(&["plan", "--zip", &env.zip_arg()]).ok();
    assert!(
        text.stdout.contains("warning: agent.yaml vpc.subnet_ids"),
        "{}",
        text.stdout
    );

    // b's default route through a NAT gateway: no warning.
    let eip = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .unwrap()
        .allocation_id
        .unwrap();
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&a)
        .allocation_id(eip)
        .send()
        .await
        .unwrap()
        .nat_gateway
        .unwrap()
        .nat_gateway_id
        .unwrap();
    ec2.replace_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(nat)
        .send()
        .await
        .unwrap();
    let plan = env.plan_json();
    let warnings = plan["plan"]["warnings"].as_array().unwrap();
    assert!(warnings.is_empty(), "{plan:#}");
    assert!(
        !plan["plan"]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("could not check")),
        "{plan:#}"
    );
}
