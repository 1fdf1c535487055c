//! Tavern's end-to-end and integration tests, built as one test binary (one link of the
//! whole game instead of one per file): real servers on loopback, real clients over UDP,
//! map fixtures in Tiled's formats, chat storage.

mod common;

mod accounts;
mod admin;
mod agents;
mod ai_gm;
mod assets;
mod browser;
mod campaign;
mod chat;
mod combat;
mod config;
mod content;
mod e2e;
mod exits;
mod fleet;
mod handouts;
mod instances;
mod inventory;
mod load;
mod maps;
mod reconciliation;
mod reconnect;
mod reload;
mod rooms;
mod security;
mod table;
mod voice;
mod web;
mod zones;
