//! `kafka-sim`: the simulator without a browser, for documentation, CI and quick questions.

use clap::{Parser, Subcommand};
use kafka_sim::invariants::InvariantChecker;
use kafka_sim::partitioner::partition_for_key;
use kafka_sim::scenario::Scenario;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kafka-sim",
    version,
    about = "A deterministic Apache Kafka cluster simulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario file and print its narrated timeline.
    Run {
        /// The scenario file (TOML, format version 1).
        file: String,
        /// Seed; defaults to the file's `seed`, else 1.
        #[arg(long)]
        seed: Option<u64>,
        /// Print a JSON report instead of the timeline.
        #[arg(long)]
        json: bool,
    },
    /// Print the partition a key goes to: toPositive(murmur2(key)) % partitions.
    Partition {
        /// Number of partitions of the topic.
        #[arg(long)]
        partitions: u32,
        /// The key as UTF-8 text.
        #[arg(long, conflicts_with = "key_hex", required_unless_present = "key_hex")]
        key: Option<String>,
        /// The key as hexadecimal bytes.
        #[arg(long)]
        key_hex: Option<String>,
    },
}

#[derive(Serialize)]
struct Report {
    scenario: String,
    seed: u64,
    end_ms: u64,
    trace_hash: String,
    events: Vec<String>,
    partitions: Vec<kafka_sim::view::PartitionView>,
    producers: Vec<(String, kafka_sim::producer::ProducerStats)>,
    consumers: Vec<(String, u64)>,
    invariant_violations: Vec<String>,
    action_errors: Vec<String>,
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err("--key-hex needs an even number of hex digits".into());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16)
                .map_err(|_| format!("--key-hex: '{}' is not a hex byte", &text[i..i + 2]))
        })
        .collect()
}

fn run(file: &str, seed: Option<u64>, json: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let scenario = Scenario::parse(&text).map_err(|e| format!("{file}: {e}"))?;
    let seed = scenario.seed_or(seed);
    let mut run = scenario.start(seed).map_err(|e| format!("{file}: {e}"))?;
    let end = scenario.duration();
    let mut checker = InvariantChecker::new();
    let mut violations = Vec::new();
    let mut action_errors = Vec::new();
    // Step one simulated millisecond at a time so that invariants are checked throughout.
    let mut t = kafka_sim::SimTime::ZERO;
    while t < end {
        t = t.plus_ms(100).min(end);
        for (at, e) in run.advance_to(t) {
            action_errors.push(format!("{at}: {e}"));
        }
        for v in checker.check(&run.sim) {
            if violations.len() < 100 {
                violations.push(format!("{}: {}: {}", run.sim.now(), v.invariant, v.detail));
            }
        }
    }
    let sim = &run.sim;
    if json {
        let report = Report {
            scenario: scenario.name.clone(),
            seed,
            end_ms: sim.now().as_ms(),
            trace_hash: format!("{:016x}", sim.trace_hash()),
            events: sim
                .events()
                .iter()
                .map(|e| format!("{} {}", e.time, e.narrate()))
                .collect(),
            partitions: sim.partition_views(),
            producers: sim
                .producers()
                .iter()
                .map(|p| (p.spec.client_id.clone(), p.stats.clone()))
                .collect(),
            consumers: sim
                .consumers()
                .iter()
                .map(|c| (c.spec.client_id.clone(), c.consumed))
                .collect(),
            invariant_violations: violations,
            action_errors,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    println!("Scenario: {} (seed {seed})", scenario.name);
    for event in sim.events() {
        println!("[{:>10}] {}", event.time.to_string(), event.narrate());
    }
    for e in &action_errors {
        println!("action failed: {e}");
    }
    println!();
    for topic in sim.metadata().topics.keys() {
        if let Some(text) = sim.describe_topic(topic) {
            print!("{text}");
        }
    }
    println!();
    for p in sim.producers() {
        println!(
            "{}: sent {}, acknowledged {}, failed {}, errors {}",
            p.spec.client_id, p.stats.sent, p.stats.acked, p.stats.failed, p.stats.errors
        );
    }
    for c in sim.consumers() {
        println!("{}: consumed {}", c.spec.client_id, c.consumed);
    }
    println!("invariant violations: {}", violations.len());
    for v in &violations {
        println!("  {v}");
    }
    println!("trace hash: {:016x}", sim.trace_hash());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { file, seed, json } => run(&file, seed, json),
        Command::Partition {
            partitions,
            key,
            key_hex,
        } => {
            let bytes = match (key, key_hex) {
                (Some(k), _) => Ok(k.into_bytes()),
                (None, Some(h)) => parse_hex(&h),
                (None, None) => Err("give --key or --key-hex".to_string()),
            };
            bytes.and_then(|b| {
                partition_for_key(&b, partitions)
                    .map(|p| println!("{p}"))
                    .ok_or_else(|| "--partitions must be at least 1".to_string())
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
