//! Leaf components: they receive data and callbacks only (Yew's contexts example).

use crate::state::SPEEDS;
use crate::view_model::{BrokerCard, ConsumerPanel, ProducerPanel};
use kafka_sim::view::{BrokerState, PartitionView};
use kafka_sim::BrokerId;
use wasm_bindgen::JsCast;
use yew::prelude::*;

fn ids(list: &[BrokerId]) -> String {
    list.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Props of [`Controls`].
#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    /// Whether time runs.
    pub playing: bool,
    /// Current speed.
    pub speed: u32,
    /// Simulated ms.
    pub time_ms: u64,
    /// Play/pause clicked.
    pub on_toggle: Callback<()>,
    /// Speed chosen.
    pub on_speed: Callback<u32>,
    /// Reset clicked.
    pub on_reset: Callback<()>,
}

/// Play/pause, speed, reset and the simulated clock.
#[component]
pub fn Controls(props: &ControlsProps) -> Html {
    let toggle = props.on_toggle.reform(|_: MouseEvent| ());
    let reset = props.on_reset.reform(|_: MouseEvent| ());
    let on_speed = props.on_speed.clone();
    let change = Callback::from(move |e: Event| {
        if let Some(select) = e
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
        {
            if let Ok(speed) = select.value().parse::<u32>() {
                on_speed.emit(speed);
            }
        }
    });
    let seconds = props.time_ms / 1000;
    let millis = props.time_ms % 1000;
    html! {
        <div class="controls" role="toolbar" aria-label="Time controls">
            <button data-testid="play-pause" aria-pressed={props.playing.to_string()} onclick={toggle}>
                { if props.playing { "Pause" } else { "Play" } }
            </button>
            <label>{ "Speed " }
                <select data-testid="speed" onchange={change} aria-label="Simulation speed">
                    { for SPEEDS.iter().map(|s| html! {
                        <option value={s.to_string()} selected={*s == props.speed}>{ format!("{s}×") }</option>
                    }) }
                </select>
            </label>
            <button onclick={reset} aria-label="Reset the scenario">{ "Reset" }</button>
            <span class="clock" data-testid="sim-time" data-ms={props.time_ms.to_string()}>
                { format!("t = {seconds}.{millis:03} s") }
            </span>
        </div>
    }
}

/// Props of [`BrokerCardView`].
#[derive(Properties, PartialEq)]
pub struct BrokerCardProps {
    /// The card.
    pub card: BrokerCard,
    /// Kill (when alive or fenced) or restart (when dead) this broker.
    pub on_action: Callback<(BrokerId, bool)>,
    /// Other faults on this broker: crash, clean shutdown, isolation.
    pub on_fault: Callback<crate::state::Fault>,
    /// Whether the network cuts this broker off from every node.
    pub isolated: bool,
}

/// One broker with its replicas and its kill/restart button.
#[component]
pub fn BrokerCardView(props: &BrokerCardProps) -> Html {
    let card = &props.card;
    let dead = card.state == BrokerState::Dead;
    let id = card.id;
    let onclick = props.on_action.reform(move |_: MouseEvent| (id, !dead));
    let state_label = match card.state {
        BrokerState::Alive => "running",
        BrokerState::Fenced => "fenced by the controller",
        BrokerState::Dead => "dead",
    };
    html! {
        <section class={classes!("broker", card.state.as_str())} data-testid="broker"
            data-broker-id={id.to_string()} data-state={card.state.as_str()}
            aria-label={format!("Broker {id}, {state_label}, leads {} partitions", card.leaders)}>
            <header>
                <h3>{ format!("Broker {id}") }</h3>
                <span class="badge">{ state_label }</span>
            </header>
            <ul class="replicas">
                { for card.replicas.iter().map(|r| html! {
                    <li class={classes!("replica", r.role.as_str())} data-testid="replica"
                        data-topic={r.topic.clone()} data-partition={r.partition.to_string()}
                        data-role={r.role.as_str()}
                        title={format!("{}-{}: {}, log end offset {}, high watermark {}", r.topic, r.partition, r.role_label(), r.log_end_offset, r.high_watermark)}>
                        <span class="glyph" aria-hidden="true">{ r.glyph() }</span>
                        <span class="name">{ format!("{}-{}", r.topic, r.partition) }</span>
                        <span class="role">{ r.role_label() }</span>
                        <span class="offsets">{ format!("LEO {} · HW {}", r.log_end_offset, r.high_watermark) }</span>
                    </li>
                }) }
            </ul>
            <div class="broker-actions">
                <button data-testid="broker-action" data-broker-id={id.to_string()} onclick={onclick}
                    title={if dead { "Start the broker again" } else { "kill -9: the process stops, the page cache survives" }}
                    aria-label={format!("{} broker {id}", if dead { "Restart" } else { "Kill" })}>
                    { if dead { "Restart" } else { "Kill" } }
                </button>
                if !dead {
                    <button data-testid="broker-crash" data-broker-id={id.to_string()}
                        onclick={props.on_fault.reform(move |_: MouseEvent| crate::state::Fault::Crash(id))}
                        title="Power loss: records not yet written back to disk are lost"
                        aria-label={format!("Crash broker {id}, losing unflushed records")}>{ "Crash" }</button>
                    <button data-testid="broker-shutdown" data-broker-id={id.to_string()}
                        onclick={props.on_fault.reform(move |_: MouseEvent| crate::state::Fault::Shutdown(id))}
                        title="Controlled shutdown: leaderships move away first, logs are flushed"
                        aria-label={format!("Shut down broker {id} cleanly")}>{ "Shut down" }</button>
                    if !props.isolated {
                        <button data-testid="broker-isolate" data-broker-id={id.to_string()}
                            onclick={props.on_fault.reform(move |_: MouseEvent| crate::state::Fault::Isolate(id))}
                            title="Network partition: cut this broker off from every other node"
                            aria-label={format!("Isolate broker {id} from the network")}>{ "Isolate" }</button>
                    }
                }
            </div>
        </section>
    }
}

/// Props of [`ControllerCardView`].
#[derive(Properties, PartialEq)]
pub struct ControllerCardProps {
    /// The card.
    pub card: crate::view_model::ControllerCard,
    /// Kill (`true`) or restart (`false`) this controller.
    pub on_action: Callback<(BrokerId, bool)>,
}

/// One voter of the KRaft controller quorum: its Raft role and epoch, its metadata log, and a
/// kill/restart button.
#[component]
pub fn ControllerCardView(props: &ControllerCardProps) -> Html {
    let card = &props.card;
    let id = card.id;
    let running = card.running;
    let onclick = props.on_action.reform(move |_: MouseEvent| (id, running));
    let state = if !running {
        "dead"
    } else if card.active {
        "active"
    } else {
        "standby"
    };
    let role = if running {
        format!("{} · epoch {}", card.role, card.epoch)
    } else {
        "stopped".to_string()
    };
    html! {
        <section class={classes!("controller", state)} data-testid="controller"
            data-controller-id={id.to_string()} data-state={state}
            aria-label={format!("Controller {id}, {state}, {role}")}>
            <header>
                <h3>{ format!("Controller {id}") }</h3>
                <span class="badge">{ if card.active { "active".to_string() } else { role.clone() } }</span>
            </header>
            <p class="raft" title="The metadata log: entries below the high watermark are on a majority of the voters and committed">
                { format!("{role} · metadata log end {} · HW {}", card.log_end_offset, card.high_watermark) }
            </p>
            <div class="broker-actions">
                <button data-testid="controller-action" data-controller-id={id.to_string()} onclick={onclick}
                    title={if running { "kill -9 the controller: if it is active, the quorum elects another" } else { "Start the controller again" }}
                    aria-label={format!("{} controller {id}", if running { "Kill" } else { "Restart" })}>
                    { if running { "Kill" } else { "Restart" } }
                </button>
            </div>
        </section>
    }
}

/// Props of [`PartitionsTable`].
#[derive(Properties, PartialEq)]
pub struct PartitionsProps {
    /// Every partition.
    pub partitions: Vec<PartitionView>,
}

/// The partitions table, with the columns of kafka-ui and Kafdrop.
#[component]
pub fn PartitionsTable(props: &PartitionsProps) -> Html {
    html! {
        <table class="partitions">
            <caption>{ "Partitions" }</caption>
            <thead><tr>
                <th>{ "Topic" }</th><th>{ "Partition" }</th><th>{ "Leader" }</th><th>{ "Leader epoch" }</th>
                <th>{ "Replicas" }</th><th>{ "In Sync Replicas" }</th><th>{ "First Offset" }</th>
                <th>{ "High Watermark" }</th><th>{ "Next Offset" }</th><th>{ "Under Replicated?" }</th>
            </tr></thead>
            <tbody>
                { for props.partitions.iter().map(|p| {
                    let leader = p.leader.map_or("none".to_string(), |l| l.to_string());
                    html! {
                        <tr data-testid="partition" data-topic={p.tp.topic.to_string()} data-partition={p.tp.partition.to_string()}
                            data-leader={leader.clone()} data-leo={p.log_end_offset.to_string()} data-hw={p.high_watermark.to_string()}>
                            <td>{ &p.tp.topic }</td>
                            <td>{ p.tp.partition }</td>
                            <td class={classes!(p.leader.is_none().then_some("offline"))}>{ leader }</td>
                            <td>{ p.leader_epoch }</td>
                            <td>{ ids(&p.replicas) }</td>
                            <td>{ ids(&p.isr) }</td>
                            <td>{ p.log_start_offset }</td>
                            <td>{ p.high_watermark }</td>
                            <td>{ p.log_end_offset }</td>
                            <td>{ if p.is_under_replicated() { "Yes" } else { "No" } }</td>
                        </tr>
                    }
                }) }
            </tbody>
        </table>
    }
}

/// Props of [`ProducerView`].
#[derive(Properties, PartialEq)]
pub struct ProducerProps {
    /// The panel.
    pub panel: ProducerPanel,
}

/// A producer and its counters.
#[component]
pub fn ProducerView(props: &ProducerProps) -> Html {
    let p = &props.panel;
    html! {
        <section class="client producer" data-testid="producer" aria-label={format!("Producer {}", p.client_id)}>
            <h3>{ format!("Producer {} → {}", p.client_id, p.topic) }</h3>
            <p class="settings">{ &p.settings }</p>
            <dl>
                <dt>{ "sent" }</dt><dd data-testid="producer-sent">{ p.stats.sent }</dd>
                <dt>{ "acknowledged" }</dt><dd>{ p.stats.acked }</dd>
                <dt>{ "waiting" }</dt><dd>{ p.pending }</dd>
                <dt>{ "failed" }</dt><dd>{ p.stats.failed }</dd>
                <dt>{ "last error" }</dt><dd>{ p.stats.last_error.clone().unwrap_or_else(|| "none".into()) }</dd>
            </dl>
        </section>
    }
}

/// Props of [`ConsumerView`].
#[derive(Properties, PartialEq)]
pub struct ConsumerProps {
    /// The panel.
    pub panel: ConsumerPanel,
}

/// A consumer: position, committed offset and lag per partition.
#[component]
pub fn ConsumerView(props: &ConsumerProps) -> Html {
    let c = &props.panel;
    let show = |o: Option<u64>| o.map_or("-".to_string(), |v| v.to_string());
    html! {
        <section class="client consumer" data-testid="consumer" aria-label={format!("Consumer {}", c.client_id)}>
            <h3>{ format!("Consumer {} ← {} (group {})", c.client_id, c.topic, c.group) }</h3>
            <table>
                <thead><tr><th>{ "PARTITION" }</th><th>{ "POSITION" }</th><th>{ "COMMITTED" }</th><th>{ "LAG" }</th></tr></thead>
                <tbody>
                    { for c.positions.iter().map(|p| html! {
                        <tr>
                            <td>{ p.partition }</td>
                            <td data-testid="consumer-position" data-partition={p.partition.to_string()}
                                data-offset={p.offset.unwrap_or(0).to_string()}>{ show(p.offset) }</td>
                            <td>{ show(p.committed) }</td>
                            <td>{ show(p.lag) }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
            <p class="consumed">{ format!("{} records consumed", c.consumed) }</p>
            <ul class="recent" aria-label="Latest records">
                { for c.recent.iter().map(|r| html! { <li><code>{ r }</code></li> }) }
            </ul>
        </section>
    }
}

/// Props of [`EventLog`].
#[derive(Properties, PartialEq)]
pub struct EventLogProps {
    /// Narrated events, newest first.
    pub events: Vec<String>,
}

/// The narrated event log.
#[component]
pub fn EventLog(props: &EventLogProps) -> Html {
    html! {
        <section class="events" aria-label="Event log">
            <h2>{ "What happened" }</h2>
            <ol data-testid="event-log" aria-live="polite">
                { for props.events.iter().map(|e| html! { <li>{ e }</li> }) }
            </ol>
        </section>
    }
}
