//! The page: header with time controls, the cluster diagram, tables and the event log.

use crate::components::{
    BrokerCardView, ConsumerView, ControllerCardView, Controls, EventLog, PartitionsTable,
    ProducerView,
};
use crate::state::{Action, Playground, TICK_MS};
use crate::view_model::Frame;
use gloo::timers::callback::Interval;
use yew::prelude::*;

/// Where the model is simpler than Kafka; shown on the page so that nobody learns it as fact.
pub const SIMPLIFICATIONS: &[&str] = &[
    "The controller quorum runs KRaft's Raft protocol, but the active controller pushes each committed metadata image to the brokers, where KRaft brokers fetch the metadata log as observers; a broker finds the active controller through NOT_CONTROLLER answers or by trying the next controller after an unanswered heartbeat.",
    "ZooKeeper mode (sim.metadata.mode=zookeeper, in scenarios) models the ensemble as one always-available node and applies the controller's writes to it at once.",
    "The metadata log has no snapshots, and a PartitionChangeRecord carries the whole partition state rather than only the changed fields.",
    "The producer's buffer is counted in records (20,000), not buffer.memory bytes; a message lost between a producer and a broker breaks their connection, which the producer notices at its request timeout.",
    "The page's consumers are assigned every partition directly (assign()), so their commits are kept by the simulator; consumer groups with their coordinator and __consumer_offsets run in scenarios (subscribe = true) and the CLI.",
    "The operating system writes the page cache to disk every 5 seconds, all at once; a crash (lossy kill) loses what was written since.",
    "A restarted broker registers at once and leaves every ISR and leadership, as if fenced; KRaft would first refuse the registration until the old session expired, then fence it, with the same outcome a few seconds later.",
];

/// Props of [`App`].
#[derive(Properties, PartialEq)]
pub struct AppProps {
    /// Whether the clock ticks by itself; tests turn it off and drive ticks themselves.
    #[prop_or(true)]
    pub autotick: bool,
}

impl Default for AppProps {
    fn default() -> Self {
        AppProps { autotick: true }
    }
}

/// The whole page.
#[component]
pub fn App(props: &AppProps) -> Html {
    let state = use_reducer(Playground::default_scenario);
    {
        let dispatcher = state.dispatcher();
        let autotick = props.autotick;
        use_effect_with(autotick, move |autotick| {
            let interval = autotick
                .then(|| Interval::new(TICK_MS as u32, move || dispatcher.dispatch(Action::Tick)));
            move || drop(interval)
        });
    }
    let frame = Frame::of(&state.run.borrow().sim);
    let dispatch = |action: Action| {
        let d = state.dispatcher();
        move |_| d.dispatch(action.clone())
    };
    let on_toggle = Callback::from(dispatch(Action::TogglePlay));
    let on_reset = Callback::from(dispatch(Action::Reset));
    let on_speed = {
        let d = state.dispatcher();
        Callback::from(move |s: u32| d.dispatch(Action::SetSpeed(s)))
    };
    let on_broker = {
        let d = state.dispatcher();
        Callback::from(move |(id, kill): (kafka_sim::BrokerId, bool)| {
            d.dispatch(if kill {
                Action::KillBroker(id)
            } else {
                Action::RestartBroker(id)
            })
        })
    };
    let on_controller = {
        let d = state.dispatcher();
        Callback::from(move |(id, kill): (kafka_sim::BrokerId, bool)| {
            d.dispatch(Action::Controller(id, kill))
        })
    };
    let on_fault = {
        let d = state.dispatcher();
        Callback::from(move |fault: crate::state::Fault| d.dispatch(Action::Fault(fault)))
    };
    html! {
        <div class="app">
            <header class="top">
                <h1>{ "Kafka Playground" }</h1>
                <p class="scenario">{ format!("{} — seed {}", state.scenario.name, state.seed) }</p>
                <Controls playing={state.playing} speed={state.speed} time_ms={frame.time_ms}
                    {on_toggle} {on_speed} {on_reset} />
            </header>
            if let Some(error) = &state.error {
                <p class="error" role="alert">{ error }</p>
            }
            <main>
                <section class="diagram" aria-label="Cluster">
                    <div class="row clients">
                        { for frame.producers.iter().map(|p| html! { <ProducerView panel={p.clone()} /> }) }
                        <section class="quorum" data-testid="quorum" aria-label="Controller quorum">
                            <h3>{ match (frame.zookeeper_mode, frame.controller_id) {
                                (false, Some(id)) => format!("KRaft quorum · active controller {id}"),
                                (false, None) => "KRaft quorum · no active controller (election under way)".to_string(),
                                (true, Some(id)) => format!("ZooKeeper mode · broker {id} holds /controller"),
                                (true, None) => "ZooKeeper mode · no controller until /controller is created again".to_string(),
                            } }</h3>
                            <p>{ "the active controller fences brokers after broker.session.timeout.ms and elects partition leaders; a change reaches brokers once a majority of controllers has it" }</p>
                            <div class="controllers">
                                { for frame.controllers.iter().map(|c| html! {
                                    <ControllerCardView key={c.id} card={c.clone()} on_action={on_controller.clone()} />
                                }) }
                            </div>
                            <p class="wire">{ "in flight: " }
                                { for frame.in_flight.iter().map(|(api, n)| html! { <span class="msg">{ format!("{api} ×{n}") }</span> }) }
                            </p>
                        </section>
                    </div>
                    <div class="row brokers">
                        { for frame.brokers.iter().map(|b| html! {
                            <BrokerCardView key={b.id} card={b.clone()} on_action={on_broker.clone()}
                                on_fault={on_fault.clone()} isolated={frame.isolated.contains(&b.id)} />
                        }) }
                    </div>
                    <div class="row clients">
                        { for frame.consumers.iter().map(|c| html! { <ConsumerView panel={c.clone()} /> }) }
                    </div>
                    if !frame.network_faults.is_empty() {
                        <section class="network" data-testid="network-faults" aria-label="Network faults">
                            <h3>{ "Network faults" }</h3>
                            <ul>{ for frame.network_faults.iter().map(|f| html! { <li>{ f.clone() }</li> }) }</ul>
                            <button data-testid="heal" onclick={on_fault.reform(|_: MouseEvent| crate::state::Fault::Heal)}
                                aria-label="Heal the network">{ "Heal network" }</button>
                        </section>
                    }
                    <p class="legend" aria-label="Legend">
                        { "★ leader · ● in-sync follower · ◐ out-of-sync follower · ✕ offline — LEO: log end offset, HW: high watermark (consumers read below it)" }
                    </p>
                </section>
                <PartitionsTable partitions={frame.partitions.clone()} />
                <EventLog events={frame.events.clone()} />
                <details class="simplifications">
                    <summary>{ "What this model simplifies" }</summary>
                    <ul>{ for SIMPLIFICATIONS.iter().map(|s| html! { <li>{ *s }</li> }) }</ul>
                </details>
            </main>
        </div>
    }
}
