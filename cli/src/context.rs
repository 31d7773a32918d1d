//! What every command shares: the global options and the printer.

use claw_spec::{Loaded, Overrides};

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
    /// the warnings in text mode.
    pub fn load(&self) -> anyhow::Result<Loaded> {
        let loaded = crate::ops::load::load_config(
            &self.global.config,
            &Overrides {
                stage: self.global.stage.clone(),
                region: self.global.region.clone(),
            },
        )?;
        for w in &loaded.warnings {
            self.out.note(w.headline());
        }
        Ok(loaded)
    }
}
