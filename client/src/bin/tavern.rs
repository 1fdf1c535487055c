//! `tavern`: the desktop game.

fn main() -> std::process::ExitCode {
    tavern_client::desktop::main()
}
