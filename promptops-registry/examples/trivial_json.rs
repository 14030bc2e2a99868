//! The baseline for the resolve benchmark: a trivial axum JSON handler on the same stack
//! (axum, hyper, tokio multi-thread), answering every `GET` with a fixed small JSON object.
//!
//! `cargo run --release -p promptops-registry --example trivial_json -- 127.0.0.1:8091`

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

async fn answer() -> Json<Value> {
    Json(json!({"prompt_id": "bench.prompt", "version": "1", "status": "stable"}))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8091".to_owned());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    eprintln!(
        "trivial_json: listening on http://{}",
        listener.local_addr()?
    );
    let app = Router::new().route("/prompts/{id}", get(answer));
    axum::serve(listener, app).await?;
    Ok(())
}
