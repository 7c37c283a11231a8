//! Where a run's time goes: wall and CPU seconds per pipeline stage.
//!
//! Stages run one after another within a chunk (each one parallel inside), so the process CPU
//! time spent between a stage's start and end is that stage's CPU time, summed over threads.

use std::fmt::Write as _;
use std::time::Instant;

use serde::Serialize;

/// The stages of `extract`, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Reading and decompressing inputs, parsing records.
    Read,
    /// Markup hygiene and sentence splitting.
    Split,
    /// Word pieces, word shapes and lexicon features.
    Tokenize,
    /// The token classifier (batches through the backend).
    Model,
    /// Tags to spans: Viterbi, edge rules, window stitching, document consistency.
    Decode,
    /// Normalization and linking to the bundled lexicon.
    Link,
    /// The entity and co-occurrence tables.
    Aggregate,
    /// Writing rows, checkpoints and the final tables.
    Write,
}

impl Stage {
    pub const ALL: [Stage; 8] = [
        Stage::Read,
        Stage::Split,
        Stage::Tokenize,
        Stage::Model,
        Stage::Decode,
        Stage::Link,
        Stage::Aggregate,
        Stage::Write,
    ];

    fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        [
            "read",
            "split",
            "tokenize",
            "model",
            "decode",
            "link",
            "aggregate",
            "write",
        ][self.index()]
    }
}

/// A started measurement, charged to a stage when stopped (for stages that are not one
/// closure).
#[derive(Debug, Clone, Copy)]
pub struct Timer {
    wall: Instant,
    cpu: f64,
}

impl Timer {
    pub fn start() -> Self {
        Timer {
            wall: Instant::now(),
            cpu: process_cpu_seconds(),
        }
    }

    pub fn stop(self, times: &mut StageTimes, stage: Stage) {
        times.add_raw(
            stage,
            self.wall.elapsed().as_secs_f64(),
            process_cpu_seconds() - self.cpu,
        );
    }
}

/// One row of the manifest's `stages`.
#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    pub stage: Stage,
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
}

/// Accumulated time per stage.
#[derive(Debug, Clone, Default)]
pub struct StageTimes {
    wall: [f64; 8],
    cpu: [f64; 8],
}

impl StageTimes {
    /// Run `f`, charging its wall and process CPU time to `stage`.
    pub fn time<T>(&mut self, stage: Stage, f: impl FnOnce() -> T) -> T {
        let timer = Timer::start();
        let out = f();
        timer.stop(self, stage);
        out
    }

    /// Charge measured seconds to `stage`.
    pub fn add_raw(&mut self, stage: Stage, wall: f64, cpu: f64) {
        self.wall[stage.index()] += wall;
        self.cpu[stage.index()] += cpu;
    }

    pub fn wall(&self, stage: Stage) -> f64 {
        self.wall[stage.index()]
    }

    pub fn cpu(&self, stage: Stage) -> f64 {
        self.cpu[stage.index()]
    }

    pub fn add(&mut self, other: &StageTimes) {
        for i in 0..8 {
            self.wall[i] += other.wall[i];
            self.cpu[i] += other.cpu[i];
        }
    }

    /// Rows for the manifest, seconds rounded to milliseconds.
    pub fn rows(&self) -> Vec<StageRow> {
        let ms = |s: f64| (s * 1000.0).round() / 1000.0;
        Stage::ALL
            .iter()
            .map(|&stage| StageRow {
                stage,
                wall_seconds: ms(self.wall(stage)),
                cpu_seconds: ms(self.cpu(stage)),
            })
            .collect()
    }

    /// The table `--profile` prints: seconds and share of the staged wall time.
    pub fn table(&self) -> String {
        let total: f64 = self.wall.iter().sum();
        let mut out = String::from("stage        wall s    cpu s   wall %\n");
        for stage in Stage::ALL {
            let w = self.wall(stage);
            let share = if total > 0.0 { 100.0 * w / total } else { 0.0 };
            let _ = writeln!(
                out,
                "{:<10} {:>8.2} {:>8.2} {:>7.1}",
                stage.name(),
                w,
                self.cpu(stage),
                share
            );
        }
        let cpu: f64 = self.cpu.iter().sum();
        let _ = writeln!(
            out,
            "{:<10} {:>8.2} {:>8.2} {:>7.1}",
            "total", total, cpu, 100.0
        );
        out
    }
}

/// User + system CPU seconds of this process, all threads.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we pass; RUSAGE_SELF is always valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_charges_the_stage_it_names() {
        let mut t = StageTimes::default();
        let x = t.time(Stage::Decode, || {
            (0..200_000u64).map(|i| i * i % 7).sum::<u64>()
        });
        assert!(x > 0);
        assert!(t.wall(Stage::Decode) > 0.0);
        assert_eq!(t.wall(Stage::Model), 0.0);
        let rows = t.rows();
        assert_eq!(rows.len(), 8);
        assert_eq!(rows[4].stage, Stage::Decode);
        let table = t.table();
        assert!(table.lines().any(|l| l.starts_with("decode")), "{table}");
        assert!(table.lines().last().unwrap().starts_with("total"));
    }

    #[test]
    fn cpu_time_advances_with_work() {
        let before = process_cpu_seconds();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(std::hint::black_box(i) ^ (x >> 3));
        }
        std::hint::black_box(x);
        assert!(process_cpu_seconds() > before);
    }
}
