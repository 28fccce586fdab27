//! Entry point: installs the panic overlay and mounts the app.

use wasm_bindgen::JsCast;

/// Shows a panic as an overlay instead of leaving a frozen page.
fn install_panic_overlay() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let Ok(overlay) = document.create_element("div") else {
            return;
        };
        overlay.set_id("panic-overlay");
        overlay.set_attribute("role", "alert").ok();
        overlay.set_text_content(Some(&format!(
            "The simulator stopped because of an internal error. Reload the page to start again.\n\n{message}"
        )));
        if let Some(body) = document.body() {
            body.append_child(overlay.unchecked_ref()).ok();
        }
    }));
}

fn main() {
    install_panic_overlay();
    yew::Renderer::<kafka_playground::App>::new().render();
}
