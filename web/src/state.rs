//! The page's state: the running scenario and the time controls, changed only through
//! [`Action`]s (the `Reducible` pattern of Yew's todomvc example).

use kafka_sim::scenario::{Scenario, ScenarioRun};
use kafka_sim::{BrokerId, Command};
use std::cell::RefCell;
use std::rc::Rc;
use yew::Reducible;

/// Simulated milliseconds per wall-clock tick at speed 1.
pub const TICK_MS: u64 = 50;
/// The speeds offered, in simulated seconds per wall second.
pub const SPEEDS: [u32; 5] = [1, 2, 5, 10, 20];

/// The faults the page offers besides kill and restart. A closed list rather than any
/// `Command`, so that the page links only the simulator code these need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Power loss of a broker's machine: unflushed records are lost.
    Crash(BrokerId),
    /// Controlled shutdown of a broker.
    Shutdown(BrokerId),
    /// Cut a broker off from every node.
    Isolate(BrokerId),
    /// Remove every network cut.
    Heal,
}

/// A user intent.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// One wall-clock tick elapsed while playing.
    Tick,
    /// Play or pause.
    TogglePlay,
    /// Choose a speed.
    SetSpeed(u32),
    /// Kill a broker.
    KillBroker(BrokerId),
    /// Restart a broker.
    RestartBroker(BrokerId),
    /// Kill a controller (`true`) or start it again (`false`).
    Controller(BrokerId, bool),
    /// A fault or its repair.
    Fault(Fault),
    /// Start the scenario again with the same seed.
    Reset,
}

/// Everything the page shows comes from here.
pub struct Playground {
    /// The scenario and its simulation. Interior mutability lets a tick advance the world without
    /// cloning it; `version` tells Yew that it changed.
    pub run: Rc<RefCell<ScenarioRun>>,
    /// The scenario being played.
    pub scenario: Rc<Scenario>,
    /// Its seed.
    pub seed: u64,
    /// Whether time runs.
    pub playing: bool,
    /// Simulated seconds per wall second.
    pub speed: u32,
    /// Bumped on every change of the simulation.
    pub version: u64,
    /// The last command error, shown to the learner.
    pub error: Option<String>,
}

impl PartialEq for Playground {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
            && self.playing == other.playing
            && self.speed == other.speed
            && self.error == other.error
    }
}

impl Playground {
    /// Starts `scenario` with `seed`.
    pub fn new(scenario: Scenario, seed: u64) -> Result<Playground, kafka_sim::Error> {
        let run = scenario.start(seed)?;
        Ok(Playground {
            run: Rc::new(RefCell::new(run)),
            scenario: Rc::new(scenario),
            seed,
            playing: false,
            speed: 1,
            version: 0,
            error: None,
        })
    }

    /// The page's default: the quickstart scenario with its own seed.
    pub fn default_scenario() -> Playground {
        // A value rather than the parsed file: the TOML parser would dominate the download.
        let scenario = kafka_sim::builtin::quickstart();
        let seed = scenario.seed_or(None);
        Playground::new(scenario, seed).expect("the built-in scenario builds")
    }

    fn changed(&self, playing: bool, speed: u32, error: Option<String>) -> Rc<Playground> {
        Rc::new(Playground {
            run: self.run.clone(),
            scenario: self.scenario.clone(),
            seed: self.seed,
            playing,
            speed,
            version: self.version + 1,
            error,
        })
    }

    fn command(&self, command: Command) -> Rc<Playground> {
        let result = self.run.borrow_mut().sim.apply(command);
        self.changed(
            self.playing,
            self.speed,
            result.err().map(|e| e.to_string()),
        )
    }
}

impl Reducible for Playground {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        match action {
            Action::Tick => {
                if !self.playing {
                    return self;
                }
                {
                    let mut run = self.run.borrow_mut();
                    let until = run.sim.now().plus_ms(TICK_MS * u64::from(self.speed));
                    // Timeline actions that cannot apply (e.g. a broker the learner already
                    // killed) are skipped; the learner's own action stands.
                    run.advance_to(until);
                }
                self.changed(self.playing, self.speed, self.error.clone())
            }
            Action::TogglePlay => self.changed(!self.playing, self.speed, self.error.clone()),
            Action::SetSpeed(speed) if SPEEDS.contains(&speed) => {
                self.changed(self.playing, speed, self.error.clone())
            }
            Action::SetSpeed(speed) => self.changed(
                self.playing,
                self.speed,
                Some(format!("Speed {speed}× is not offered.")),
            ),
            Action::KillBroker(id) => self.command(Command::KillBroker(id)),
            Action::RestartBroker(id) => self.command(Command::RestartBroker(id)),
            Action::Controller(id, true) => self.command(Command::KillController(id)),
            Action::Controller(id, false) => self.command(Command::RestartController(id)),
            Action::Fault(Fault::Crash(id)) => self.command(Command::CrashBroker(id)),
            Action::Fault(Fault::Shutdown(id)) => self.command(Command::ShutdownBroker(id)),
            Action::Fault(Fault::Isolate(id)) => {
                self.command(Command::Isolate(kafka_sim::network::NodeId::Broker(id)))
            }
            Action::Fault(Fault::Heal) => self.command(Command::HealNetwork),
            Action::Reset => match Playground::new((*self.scenario).clone(), self.seed) {
                Ok(fresh) => Rc::new(Playground {
                    version: self.version + 1,
                    speed: self.speed,
                    ..fresh
                }),
                Err(e) => self.changed(false, self.speed, Some(e.to_string())),
            },
        }
    }
}
