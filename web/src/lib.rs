//! Kafka Playground's web application: a Yew client that draws the simulator from `kafka-sim`
//! and turns clicks into simulator commands. It holds no Kafka logic (architecture invariant 7).
#![warn(missing_docs)]

pub mod app;
pub mod components;
pub mod state;
pub mod view_model;

pub use app::App;
