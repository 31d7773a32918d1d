//! A small mutation fuzzer for parsers, dependency-free so every crate's tests can
//! use it without pulling in more than std.
//!
//! It starts from a committed seed corpus (`fuzz/corpus/<target>/`), applies random
//! byte- and token-level mutations (flips, inserts, deletes, duplications, splices
//! between seeds, dictionary tokens), and calls the target on each input, catching
//! panics. A panic saves the input under `$CARGO_TARGET_DIR/fuzz-crashes/` and
//! fails with its path. Runs are reproducible from `seed`; `CLAW_FUZZ_SECONDS`
//! stretches the time budget for a longer local session.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct Report {
    pub target: String,
    pub executions: u64,
    pub seeds: usize,
    pub elapsed: Duration,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fuzz {}: {} executions from {} seeds in {:.1} s, 0 panics",
            self.target,
            self.executions,
            self.seeds,
            self.elapsed.as_secs_f64()
        )
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Loads every file in `dir` as a seed.
pub fn corpus(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("fuzz corpus {} is missing: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(!seeds.is_empty(), "fuzz corpus {} is empty", dir.display());
    seeds
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], dict: &[&[u8]], input: &mut Vec<u8>) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next() as u8);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(32));
                input.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let chunk = input[i..i + n].to_vec();
                let at = rng.below(input.len() + 1);
                input.splice(at..at, chunk);
            }
            5 if !dict.is_empty() => {
                let token = dict[rng.below(dict.len())];
                let at = rng.below(len + 1);
                input.splice(at..at, token.iter().copied());
            }
            6 => {
                // Splice: our head with another seed's tail.
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            _ if len > 1 => {
                let cut = rng.below(len);
                input.truncate(cut);
            }
            _ => input.push(b'{'),
        }
    }
    input.truncate(256 * 1024);
}

/// Fuzzes `target` for `budget` (or `CLAW_FUZZ_SECONDS`), at most `max_runs` inputs.
pub fn run(
    name: &str,
    corpus_dir: &Path,
    dict: &[&[u8]],
    seed: u64,
    budget: Duration,
    max_runs: u64,
    target: impl Fn(&[u8]),
) -> Report {
    let budget = std::env::var("CLAW_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(budget);
    let seeds = corpus(corpus_dir);
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut executions = 0u64;
    // Panics are expected to be caught here; keep their messages off the output
    // unless one is the verdict.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut failure = None;
    for s in &seeds {
        executions += 1;
        if catch_unwind(AssertUnwindSafe(|| target(s))).is_err() {
            failure = Some(s.clone());
            break;
        }
    }
    while failure.is_none() && started.elapsed() < budget && executions < max_runs {
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &seeds, dict, &mut input);
        executions += 1;
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            failure = Some(input);
        }
    }
    std::panic::set_hook(previous);
    if let Some(input) = failure {
        let dir =
            PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
                .join("fuzz-crashes");
        std::fs::create_dir_all(&dir).ok();
        let path = dir.join(format!("{name}-{:016x}", rng.next()));
        std::fs::write(&path, &input).ok();
        // Re-run outside catch_unwind's silence to show the panic itself.
        panic!(
            "fuzz {name}: the target panicked after {executions} executions; input saved to {} ({} bytes): {:?}",
            path.display(),
            input.len(),
            String::from_utf8_lossy(&input[..input.len().min(200)])
        );
    }
    Report {
        target: name.to_string(),
        executions,
        seeds: seeds.len(),
        elapsed: started.elapsed(),
    }
}
