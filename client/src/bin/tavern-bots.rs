//! `tavern-bots`: headless bot players for load and connection tests.

fn main() -> std::process::ExitCode {
    tavern_client::cli::bots_main()
}
