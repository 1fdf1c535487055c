//! `tavern-server`: parse the command line and run.

fn main() -> std::process::ExitCode {
    tavern_server::cli::main()
}
