//! `tavern`: the desktop game, and in a browser (Trunk) the web game.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    tavern_client::desktop::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {
    tavern_client::web::main()
}
