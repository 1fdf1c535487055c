//! `tavern-server`: parse the command line and run.

/// mimalloc: freed memory goes back to the system (glibc's allocator kept about a third
/// of the map transfers and packet buffers of past players as resident memory).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tavern_server::cli::main()
}
