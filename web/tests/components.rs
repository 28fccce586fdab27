//! Browser tests of the page's components, in headless Chromium (wasm-bindgen-test).
#![cfg(target_arch = "wasm32")]

use kafka_playground::app::{App, AppProps};
use kafka_sim::scenario::Scenario;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

fn mount() -> Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    yew::Renderer::<App>::with_root_and_props(root.clone(), AppProps { autotick: false }).render();
    root
}

fn attr(root: &Element, selector: &str, name: &str) -> String {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("{selector} missing"))
        .get_attribute(name)
        .unwrap()
}

#[wasm_bindgen_test]
async fn kill_and_restart_buttons_change_the_broker_card() {
    let root = mount();
    yew::scheduler::flush().await;
    let brokers = root.query_selector_all("[data-testid=broker]").unwrap();
    assert_eq!(brokers.length(), 3);
    assert_eq!(
        attr(
            &root,
            "[data-testid=broker][data-broker-id='2']",
            "data-state"
        ),
        "alive"
    );
    let replicas = root
        .query_selector_all("[data-testid=broker][data-broker-id='2'] [data-testid=replica]")
        .unwrap();
    assert_eq!(
        replicas.length(),
        3,
        "RF 3 over 3 brokers puts a replica of every partition on each"
    );

    let button: HtmlElement = root
        .query_selector("[data-testid=broker-action][data-broker-id='2']")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    assert_eq!(button.text_content().unwrap(), "Kill");
    button.click();
    yew::scheduler::flush().await;
    assert_eq!(
        attr(
            &root,
            "[data-testid=broker][data-broker-id='2']",
            "data-state"
        ),
        "dead"
    );
    assert_eq!(button.text_content().unwrap(), "Restart");
    let log = root
        .query_selector("[data-testid=event-log]")
        .unwrap()
        .unwrap()
        .text_content()
        .unwrap();
    assert!(log.contains("Broker 2 was killed"), "{log}");

    button.click();
    yew::scheduler::flush().await;
    assert_ne!(
        attr(
            &root,
            "[data-testid=broker][data-broker-id='2']",
            "data-state"
        ),
        "dead"
    );
    assert_eq!(button.text_content().unwrap(), "Kill");
}

#[wasm_bindgen_test]
async fn play_button_toggles_and_speed_options_are_offered() {
    let root = mount();
    yew::scheduler::flush().await;
    assert_eq!(
        attr(&root, "[data-testid=play-pause]", "aria-pressed"),
        "false"
    );
    let play: HtmlElement = root
        .query_selector("[data-testid=play-pause]")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    play.click();
    yew::scheduler::flush().await;
    assert_eq!(
        attr(&root, "[data-testid=play-pause]", "aria-pressed"),
        "true"
    );
    assert_eq!(play.text_content().unwrap(), "Pause");
    let options = root
        .query_selector_all("[data-testid=speed] option")
        .unwrap();
    assert_eq!(options.length(), 5);
    assert_eq!(attr(&root, "[data-testid=sim-time]", "data-ms"), "0");
}

/// The same seed gives the same trace in wasm as natively: both compare against the hash that
/// `cargo test -p kafka-sim --test determinism` checks on the host.
#[wasm_bindgen_test]
fn wasm_trace_matches_the_native_golden_hash() {
    let scenario = Scenario::parse(include_str!("../../scenarios/quickstart.toml")).unwrap();
    let mut run = scenario.start(42).unwrap();
    run.advance_to(scenario.duration());
    let golden = include_str!("../../tests/golden/quickstart-seed42.hash").trim();
    assert_eq!(format!("{:016x}", run.sim.trace_hash()), golden);
}

fn click(root: &Element, selector: &str) {
    let button: HtmlElement = root
        .query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("{selector} missing"))
        .dyn_into()
        .unwrap();
    button.click();
}

fn event_log(root: &Element) -> String {
    root.query_selector("[data-testid=event-log]")
        .unwrap()
        .unwrap()
        .text_content()
        .unwrap()
}

#[wasm_bindgen_test]
async fn crash_isolate_and_heal_buttons_apply_faults() {
    let root = mount();
    yew::scheduler::flush().await;
    assert!(root
        .query_selector("[data-testid=network-faults]")
        .unwrap()
        .is_none());

    click(&root, "[data-testid=broker-isolate][data-broker-id='3']");
    yew::scheduler::flush().await;
    let panel = root
        .query_selector("[data-testid=network-faults]")
        .unwrap()
        .expect("the network faults panel appears")
        .text_content()
        .unwrap();
    assert!(
        panel.contains("broker 3 is cut off from every node"),
        "{panel}"
    );
    assert!(
        root.query_selector("[data-testid=broker-isolate][data-broker-id='3']")
            .unwrap()
            .is_none(),
        "an isolated broker offers no second isolation"
    );

    click(&root, "[data-testid=heal]");
    yew::scheduler::flush().await;
    assert!(root
        .query_selector("[data-testid=network-faults]")
        .unwrap()
        .is_none());
    assert!(event_log(&root).contains("The network was healed"));

    click(&root, "[data-testid=broker-crash][data-broker-id='1']");
    yew::scheduler::flush().await;
    assert_eq!(
        attr(
            &root,
            "[data-testid=broker][data-broker-id='1']",
            "data-state"
        ),
        "dead"
    );
    assert!(
        event_log(&root).contains("Broker 1's machine crashed"),
        "{}",
        event_log(&root)
    );
    assert!(root
        .query_selector("[data-testid=broker-crash][data-broker-id='1']")
        .unwrap()
        .is_none());
}
