//! What every command shares: the global options and the printer.

use claw_spec::{Loaded, Overrides, Severity};

use crate::args::GlobalArgs;
use crate::report::Printer;

pub struct Context {
    pub global: GlobalArgs,
    pub out: Printer,
}

impl Context {
    pub fn new(global: &GlobalArgs) -> Self {
        Context {
            global: global.clone(),
            out: Printer::new(global.output),
        }
    }

    pub fn json(&self) -> bool {
        self.out.is_json()
    }

    pub fn verbose(&self) -> u8 {
        self.global.verbose
    }

    /// Reads agent.yaml (once: call this once per command and pass the result
    /// down) with the command line's overrides and `${env:…}` look-ups; prints
    /// the warnings in text mode (notes only `claw validate` prints).
    pub fn load(&self) -> anyhow::Result<Loaded> {
        let loaded = crate::ops::load::load_config(&self.global.config, &self.overrides())?;
        for w in loaded
            .warnings
            .iter()
            .filter(|w| w.severity != Severity::Note)
        {
            self.out.note(w.headline());
        }
        Ok(loaded)
    }

    /// Like [`Context::load`], for commands that cover the whole file: every stage
    /// under `stages:` (the default first), or only `--stage` when it is given.
    /// Each warning is printed once.
    pub fn load_stages(&self) -> anyhow::Result<Vec<Loaded>> {
        let all = crate::ops::load::load_config_stages(&self.global.config, &self.overrides())?;
        for w in all
            .iter()
            .flat_map(|l| &l.warnings)
            .filter(|w| w.severity != Severity::Note)
        {
            self.out.note(w.headline());
        }
        Ok(all)
    }

    fn overrides(&self) -> Overrides {
        Overrides {
            stage: self.global.stage.clone(),
            region: self.global.region.clone(),
        }
    }
}
