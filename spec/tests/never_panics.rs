//! Arbitrary text never panics the loader or the validator: it either loads or
//! yields located problems. Three generators: any text, YAML-shaped token soup
//! built from the schema's own keys, and random edits of the real agent.yaml.

use claw_spec::Overrides;
use proptest::prelude::*;

fn check(text: &str) {
    let env = |name: &str| (name == "SET").then(|| "value".to_string());
    match claw_spec::load("agent.yaml", text, &Overrides::default(), &env) {
        Ok(_) => {}
        Err(problems) => {
            assert!(!problems.is_empty(), "an error must say what is wrong");
            for p in problems {
                assert!(p.line >= 1 && p.column >= 1, "unlocated: {p:?}");
                assert!(!p.message.is_empty());
            }
        }
    }
}

const ROOT: &str = include_str!("../../agent.yaml");

fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "app",
        "stage",
        "region",
        "account",
        "function",
        "memory_mb",
        "timeout_s",
        "vpc",
        "model",
        "id",
        "agents",
        "tools",
        "kind",
        "http",
        "url",
        "api",
        "routes",
        "alarms",
        "tags",
        "environment",
        "input_schema",
        "type",
        "object",
        ":",
        ": ",
        "- ",
        "\n",
        "\n  ",
        "\n    ",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&a ",
        "*a",
        "!!str ",
        "!!int ",
        "'",
        "\"",
        "|\n  ",
        ">\n  ",
        "#",
        "---\n",
        "...\n",
        "~",
        "null",
        "true",
        "1e309",
        "-0",
        "0x",
        "${env:SET}",
        "${env:",
        "${",
        "https://10.0.0.1/{x}",
        "\t",
        "? ",
        "<<: *a",
        "%YAML 1.2\n",
        "\u{feff}",
        "é",
        "\0",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_text(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn yaml_token_soup(tokens in prop::collection::vec(token(), 0..80)) {
        check(&tokens.concat());
    }

    #[test]
    fn edits_of_the_real_file(
        edits in prop::collection::vec((0usize..ROOT.len(), 0usize..8, token()), 1..6)
    ) {
        let mut text = ROOT.to_string();
        for (at, cut, insert) in edits {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + cut).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(at..end, insert);
        }
        check(&text);
    }
}

#[test]
fn deep_and_wide_documents_are_refused_quickly() {
    check(&"a:\n".repeat(50_000));
    check(&format!("{}x{}", "[".repeat(200_000), "]".repeat(200_000)));
    check(&format!("{}x", "- ".repeat(100_000)));
    check("x: &a [1,2,3,4,5,6,7,8,9,10]\ny: *a\n");
    let mut bomb = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..20 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 9].join(", ")
        ));
    }
    check(&bomb);
    check(&"k".repeat(2 * 1024 * 1024));
}
