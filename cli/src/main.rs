//! `kafka-sim`: the simulator without a browser, for documentation, CI and quick questions.

mod assign_input;

use clap::{Parser, Subcommand};
use kafka_sim::coordinator::{partition_for_group, DEFAULT_OFFSETS_PARTITIONS};
use kafka_sim::partitioner::partition_for_key;
use kafka_sim::scenario::Scenario;
use serde::Serialize;
use std::process::ExitCode;

// See the workspace's Cargo.toml: the simulator runs markedly faster on mimalloc than on glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        /// Which of the scenario's variants to run (required when it has any).
        #[arg(long)]
        variant: Option<String>,
    },
    /// Deterministic simulation testing: run random seeds (cluster, workload, faults), check the
    /// invariants after every event and the history at the end, and run each seed twice to
    /// compare trace hashes.
    Check {
        /// How many seeds to run.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 0)]
        start: u64,
        /// Worker threads; defaults to the number of cores.
        #[arg(long)]
        threads: Option<usize>,
        /// A cluster config set on every seed, as NAME=VALUE (repeatable), e.g.
        /// sim.legacy.follower.truncation=high-watermark.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Judge every seed as strong or weak instead of by its settings.
        #[arg(long, value_parser = ["strong", "weak"])]
        expect: Option<String>,
        /// Print each seed's verdict, and each failing seed's workload and timeline.
        #[arg(long)]
        verbose: bool,
        /// Print the narrated events of the run (with --seeds 1), to see how a failure came about.
        #[arg(long)]
        events: bool,
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
    /// Print the __consumer_offsets partition of a group, whose leader is the group's
    /// coordinator: abs(groupId.hashCode()) % partitions.
    Coordinator {
        /// The group id.
        #[arg(long)]
        group: String,
        /// offsets.topic.num.partitions.
        #[arg(long, default_value_t = DEFAULT_OFFSETS_PARTITIONS)]
        offsets_partitions: u32,
    },
    /// Run a consumer assignor as a group leader would, on a JSON file shaped like a case of
    /// tests/conformance/assignors.json, and print each member's partitions as JSON.
    Assign {
        /// The input file, or - for standard input.
        file: String,
    },
}

#[derive(Serialize)]
struct ReplicaReport {
    broker: i32,
    alive: bool,
    log_start_offset: u64,
    log_end_offset: u64,
    high_watermark: u64,
    leader_epoch: u32,
    /// (offset, leader epoch, value) of every record held.
    records: Vec<(u64, u32, String)>,
}

#[derive(Serialize)]
struct PartitionReport {
    partition: kafka_sim::view::PartitionView,
    replicas: Vec<ReplicaReport>,
}

#[derive(Serialize)]
struct Report {
    scenario: String,
    variant: Option<String>,
    seed: u64,
    end_ms: u64,
    trace_hash: String,
    passed: bool,
    events: Vec<String>,
    partitions: Vec<PartitionReport>,
    producers: Vec<(String, kafka_sim::producer::ProducerStats)>,
    consumers: Vec<(String, u64)>,
    acknowledged_sends: u64,
    distinct_values_read: u64,
    invariant_violations: Vec<String>,
    anomalies: Vec<String>,
    expectations: Vec<(String, Result<(), String>)>,
    action_errors: Vec<String>,
}

fn partition_reports(sim: &kafka_sim::Simulation) -> Vec<PartitionReport> {
    sim.partition_views()
        .into_iter()
        .map(|view| {
            let tp = view.tp.clone();
            let replicas = sim
                .brokers()
                .iter()
                .filter_map(|b| {
                    let r = b.replicas.get(&tp)?;
                    Some(ReplicaReport {
                        broker: b.id,
                        alive: b.alive,
                        log_start_offset: r.log.log_start_offset(),
                        log_end_offset: r.log.log_end_offset(),
                        high_watermark: r.log.high_watermark(),
                        leader_epoch: r.leader_epoch,
                        records: r
                            .log
                            .records()
                            .map(|x| (x.offset, x.leader_epoch, x.value.to_string()))
                            .collect(),
                    })
                })
                .collect();
            PartitionReport {
                partition: view,
                replicas,
            }
        })
        .collect()
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

/// `kafka-sim assign`: one assignor call; cooperative-sticky leaves out the partitions that
/// change owner, as the first of its two rebalances does.
fn assign(file: &str) -> Result<(), String> {
    let text = if file == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        text
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?
    };
    let input = assign_input::parse(&text).map_err(|e| format!("{file}: {e}"))?;
    let result = input
        .assignor
        .assign(&input.group)
        .map_err(|e| format!("{file}: {e}"))?;
    let output: std::collections::BTreeMap<&String, Vec<String>> = result
        .assignment
        .iter()
        .map(|(member, partitions)| (member, partitions.iter().map(|p| p.to_string()).collect()))
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&output).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn run(file: &str, seed: Option<u64>, variant: Option<String>, json: bool) -> Result<bool, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let mut scenario = Scenario::parse(&text).map_err(|e| format!("{file}: {e}"))?;
    if let Some(v) = &variant {
        scenario = scenario.variant(v).map_err(|e| format!("{file}: {e}"))?;
    } else if !scenario.variants.is_empty() {
        return Err(format!(
            "{file} has variants; choose one with --variant: {}",
            scenario
                .variants
                .iter()
                .map(|v| v.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let seed = scenario.seed_or(seed);
    let run = scenario.start(seed).map_err(|e| format!("{file}: {e}"))?;
    let (outcome, sim) = run.finish(&scenario);
    let violations: Vec<String> = outcome
        .violations
        .iter()
        .map(|(at, v)| format!("{at}: {}: {}", v.invariant, v.detail))
        .collect();
    let anomalies: Vec<String> = outcome
        .history
        .anomalies
        .iter()
        .map(|a| a.explain_named(&|v| sim.value_name(v), &|c| sim.consumer_name(c)))
        .collect();
    let passed = outcome.passed();
    if json {
        let report = Report {
            scenario: scenario.name.clone(),
            variant,
            seed,
            end_ms: sim.now().as_ms(),
            trace_hash: format!("{:016x}", sim.trace_hash()),
            passed,
            events: sim
                .events()
                .iter()
                .map(|e| format!("{} {}", e.time, e.narrate()))
                .collect(),
            partitions: partition_reports(&sim),
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
            acknowledged_sends: outcome.history.acknowledged_sends,
            distinct_values_read: outcome.history.distinct_values_read,
            invariant_violations: violations,
            anomalies,
            expectations: outcome.expectations,
            action_errors: outcome.action_errors,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
        return Ok(passed);
    }
    println!("Scenario: {} (seed {seed})", scenario.name);
    for event in sim.events() {
        println!("[{:>10}] {}", event.time.to_string(), event.narrate());
    }
    for e in &outcome.action_errors {
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
    for v in violations.iter().take(20) {
        println!("  {v}");
    }
    println!("history anomalies: {}", anomalies.len());
    for a in anomalies.iter().take(20) {
        println!("  {a}");
    }
    if !outcome.expectations.is_empty() {
        println!("expectations:");
        for (what, result) in &outcome.expectations {
            match result {
                Ok(()) => println!("  PASS {what}"),
                Err(found) => println!("  FAIL {what}: {found}"),
            }
        }
    }
    println!("trace hash: {:016x}", sim.trace_hash());
    Ok(passed)
}

/// Runs seeds `start..start + seeds` on `threads` threads, each taking every `threads`-th seed,
/// and prints the verdicts in seed order, so the output does not depend on scheduling.
fn check(
    seeds: u64,
    start: u64,
    threads: Option<usize>,
    set: Vec<String>,
    expect: Option<String>,
    verbose: bool,
    events: bool,
) -> Result<(), String> {
    if events && seeds != 1 {
        return Err("--events shows one run: give --seeds 1".to_string());
    }
    let mut options = kafka_sim::dst::CheckOptions::default();
    for s in &set {
        let (name, value) = s
            .split_once('=')
            .ok_or_else(|| format!("--set {s}: write NAME=VALUE"))?;
        // Checked once here so that a typo fails at once rather than in every seed.
        kafka_sim::config::BrokerConfig::default()
            .set(name, value)
            .map_err(|e| format!("--set {s}: {e}"))?;
        options
            .broker_config
            .push((name.to_string(), value.to_string()));
    }
    options.expect = match expect.as_deref() {
        Some("strong") => Some(kafka_sim::dst::Strength::Strong),
        Some("weak") => Some(kafka_sim::dst::Strength::Weak),
        _ => None,
    };
    let threads = threads
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
        .clamp(1, 64) as u64;
    if events {
        let workload = kafka_sim::dst::Workload::for_check(start, &options);
        print!("{}", workload.describe());
        kafka_sim::dst::run_observed(&workload, false, &mut |e| {
            println!("[{:>10}] {}", e.time.to_string(), e.narrate())
        })
        .map_err(|e| format!("seed {start}: {e}"))?;
    }
    let began = std::time::Instant::now();
    let mut reports: Vec<kafka_sim::dst::SeedReport> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(seeds.max(1)))
            .map(|k| {
                let options = &options;
                scope.spawn(move || {
                    (start + k..start + seeds)
                        .step_by(threads as usize)
                        .map(|seed| kafka_sim::dst::check_seed(seed, options))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a check thread panicked"))
            .collect()
    });
    reports.sort_by_key(|r| r.seed);
    let elapsed = began.elapsed().as_secs_f64();
    let mut extra = String::new();
    for s in &set {
        extra += &format!(" --set {s}");
    }
    if let Some(e) = &expect {
        extra += &format!(" --expect {e}");
    }
    let mut failures = 0;
    for r in &reports {
        if verbose {
            println!(
                "seed {} ({}): {}, {} events, trace {:016x}{}",
                r.seed,
                r.strength,
                if r.passed() { "ok" } else { "FAILED" },
                r.steps,
                r.trace_hashes.0,
                if r.weak_because.is_empty() {
                    String::new()
                } else {
                    format!(" [weak: {}]", r.weak_because.join("; "))
                }
            );
        }
        if r.passed() {
            continue;
        }
        failures += 1;
        println!("seed {} ({}) FAILED:", r.seed, r.strength);
        for f in &r.failures {
            println!("  {f}");
        }
        if verbose && !events {
            print!(
                "{}",
                kafka_sim::dst::Workload::for_check(r.seed, &options).describe()
            );
        }
        println!(
            "  reproduce: kafka-sim check --start {} --seeds 1{extra} --verbose --events",
            r.seed
        );
    }
    let strong = reports
        .iter()
        .filter(|r| r.strength == kafka_sim::dst::Strength::Strong)
        .count();
    let events: u64 = reports.iter().map(|r| r.steps).sum();
    // Weak settings are expected to break some invariants and lose data (RELIABILITY.md §B),
    // and eligible leader replicas to leave some partitions offline; counting the seeds that
    // did shows that the checker sees it, without failing the run.
    let mut findings: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for r in &reports {
        for f in &r.findings {
            *findings.entry(f.as_str()).or_default() += 1;
        }
    }
    if !findings.is_empty() {
        let list: Vec<String> = findings
            .iter()
            .map(|(name, seeds)| format!("{name} in {seeds}"))
            .collect();
        println!("findings the settings allow (seeds): {}", list.join(", "));
    }
    println!(
        "checked {} seeds: {strong} strong, {} weak, {failures} failures, {events} events, {elapsed:.1} s",
        reports.len(),
        reports.len() - strong,
    );
    if failures == 0 {
        Ok(())
    } else {
        Err(format!("{failures} seed(s) failed"))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            file,
            seed,
            json,
            variant,
        } => run(&file, seed, variant, json).and_then(|passed| {
            if passed {
                Ok(())
            } else {
                Err("some expectations of the scenario failed".to_string())
            }
        }),
        Command::Check {
            seeds,
            start,
            threads,
            set,
            expect,
            verbose,
            events,
        } => check(seeds, start, threads, set, expect, verbose, events),
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
        Command::Coordinator {
            group,
            offsets_partitions,
        } => partition_for_group(&group, offsets_partitions)
            .map(|p| println!("{p}"))
            .ok_or_else(|| "--offsets-partitions must be at least 1".to_string()),
        Command::Assign { file } => assign(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
