//! What every command shares: global options, config loading and output.

use std::path::Path;

use anyhow::Context as _;
use claw_spec::{Diagnostic, Loaded, Overrides};

use crate::cli::{GlobalArgs, Output};

/// The config failed to load; each problem is located in the file.
#[derive(Debug)]
pub struct ConfigError {
    pub file: String,
    pub source_text: String,
    pub problems: Vec<Diagnostic>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{} has {n} problem{}",
            self.file,
            if n == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ConfigError {}

pub struct Context {
    pub global: GlobalArgs,
}

impl Context {
    pub fn new(global: &GlobalArgs) -> Self {
        Context {
            global: global.clone(),
        }
    }

    pub fn json(&self) -> bool {
        self.global.output == Output::Json
    }

    pub fn verbose(&self) -> u8 {
        self.global.verbose
    }

    /// Reads agent.yaml with overrides and `${env:…}` look-ups; prints warnings.
    pub fn load(&self) -> anyhow::Result<Loaded> {
        let loaded = self.load_quiet()?;
        if !self.json() {
            for w in &loaded.warnings {
                eprintln!("{}", w.headline());
            }
        }
        Ok(loaded)
    }

    /// Like [`Context::load`], without printing warnings.
    pub fn load_quiet(&self) -> anyhow::Result<Loaded> {
        load_config(
            &self.global.config,
            &Overrides {
                stage: self.global.stage.clone(),
                region: self.global.region.clone(),
            },
        )
    }

    /// Prints an error the way the output format asks: a located report for config
    /// problems, the cause chain otherwise.
    pub fn report_error(&self, err: &anyhow::Error) {
        if let Some(cfg) = err.downcast_ref::<ConfigError>() {
            if self.json() {
                let v = serde_json::json!({"ok": false, "error": cfg.to_string(), "problems": cfg.problems});
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                for p in &cfg.problems {
                    eprintln!("{}\n", p.render(&cfg.source_text));
                }
                eprintln!("error: {cfg}");
            }
            return;
        }
        let chain: Vec<String> = err.chain().map(|c| c.to_string()).collect();
        if self.json() {
            let v = serde_json::json!({"ok": false, "error": chain.join(": ")});
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        } else {
            eprintln!("error: {}", chain[0]);
            for c in &chain[1..] {
                eprintln!("  caused by: {c}");
            }
        }
    }
}

/// Largest agent.yaml read from disk; larger files are refused before reading.
const MAX_FILE_BYTES: u64 = claw_spec::yaml::MAX_INPUT_BYTES as u64;

/// Loads and validates an agent.yaml from disk.
pub fn load_config(path: &Path, overrides: &Overrides) -> anyhow::Result<Loaded> {
    let file = path.display().to_string();
    let meta = std::fs::metadata(path).with_context(|| {
        format!("cannot read {file}: pass --config PATH, or run claw where agent.yaml is")
    })?;
    if meta.is_dir() {
        anyhow::bail!("{file} is a directory; --config takes the path of agent.yaml");
    }
    if meta.len() > MAX_FILE_BYTES {
        anyhow::bail!(
            "{file} is {} bytes; agent.yaml may be at most {} bytes (is this the right file?)",
            meta.len(),
            MAX_FILE_BYTES
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {file}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{file} is not UTF-8 text (invalid byte at offset {}); is it a binary file?",
            e.utf8_error().valid_up_to()
        )
    })?;
    if text.contains('\0') {
        anyhow::bail!("{file} contains NUL bytes; is it a binary file?");
    }
    let env = |name: &str| std::env::var(name).ok();
    claw_spec::load(&file, &text, overrides, &env).map_err(|problems| {
        ConfigError {
            file: file.clone(),
            source_text: text.clone(),
            problems,
        }
        .into()
    })
}
