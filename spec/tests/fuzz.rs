//! Bounded fuzzing of agent.yaml loading and validation from the committed corpus
//! (`fuzz/corpus/agent_yaml`). Zero panics allowed; the executions are printed
//! (`cargo test -p claw-spec --test fuzz -- --nocapture`).

use std::path::PathBuf;
use std::time::Duration;

use claw_testkit::fuzz;

#[test]
fn agent_yaml_loader_and_validator() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/agent_yaml");
    let dict: &[&[u8]] = &[
        b": ",
        b"\n  ",
        b"- ",
        b"[",
        b"]",
        b"{",
        b"}",
        b"&a ",
        b"*a",
        b"!!str ",
        b"'",
        b"\"",
        b"${env:HOME}",
        b"${",
        b"~",
        b"null",
        b"0x7f000001",
        b"1e400",
        b"kind: ",
        b"url: ",
        b"https://10.0.0.1/",
        b"tools",
        b"agents",
        b"---\n",
        b"? ",
        b"<<: *a",
        b"|\n  ",
        b"\t",
        b"\xef\xbb\xbf",
        b"\xff",
    ];
    let report = fuzz::run(
        "agent_yaml",
        &corpus,
        dict,
        0x00c1_a3f0,
        Duration::from_secs(12),
        200_000,
        |bytes| {
            if let Ok(text) = std::str::from_utf8(bytes) {
                let env = |n: &str| (n == "HOME").then(|| "/root".to_string());
                let _ = claw_spec::load("agent.yaml", text, &Default::default(), &env);
            }
        },
    );
    println!("{report}");
    assert!(report.executions > report.seeds as u64);
}
