//! Home of Tavern's end-to-end tests (`tests/`) and benchmarks (`benches/`); no code of its own.
