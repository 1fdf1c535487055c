//! The combat event log: every damage, death, loot drop, pickup and boss phase gets the
//! next sequence number of its map and is stored (a background task writes each
//! tick's events in one transaction, and forgets those older than `--event-retention`).
//! `GET /api/events/{map}?after=SEQ&limit=N` reads them back in order. Bodies are
//! named by identity (`guest:17`) or as monsters (`slime#42`), never by display name.

use std::time::Duration;

use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use tavern_shared::api::CombatLogEntry;

use super::CombatSystems;
use super::loot::PlayerKey;
use super::monsters::Monster;
use crate::interest::StreamTag;

/// How long events are kept unless configured (`--event-retention`).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Events waiting to be written, and the next number of each map.
#[derive(Resource, Default)]
pub struct EventLog {
    next: HashMap<String, i64>,
    pending: Vec<(String, CombatLogEntry)>,
    /// Events the rooms' streams tell players about (not every hit), until taken.
    notable: Vec<(String, CombatLogEntry)>,
    writer: Option<tokio::sync::mpsc::UnboundedSender<Vec<(String, CombatLogEntry)>>>,
}

/// What happened, for [`EventLog::record`].
pub struct Event<'a> {
    pub map: &'a str,
    pub tick: u32,
    pub kind: &'static str,
    pub actor: String,
    pub target: String,
    pub amount: i64,
    pub at: Vec2,
    pub detail: String,
}

impl EventLog {
    /// Numbers `event` on its map and queues it for writing.
    pub fn record(&mut self, event: Event) {
        if self.writer.is_none() {
            return; // no store (benchmarks)
        }
        let notable = event.kind != "damage" && event.kind != "drop";
        let seq = self.next.entry(event.map.to_string()).or_insert(1);
        let entry = CombatLogEntry {
            seq: *seq,
            at_ms: crate::chat::now_ms(),
            tick: i64::from(event.tick),
            kind: event.kind.to_string(),
            actor: event.actor,
            target: event.target,
            amount: event.amount,
            x: f64::from(event.at.x),
            y: f64::from(event.at.y),
            detail: event.detail,
        };
        *seq += 1;
        if notable {
            self.notable.push((event.map.to_string(), entry.clone()));
        }
        self.pending.push((event.map.to_string(), entry));
    }

    /// The notable events recorded since the last call.
    pub fn take_notable(&mut self) -> Vec<(String, CombatLogEntry)> {
        std::mem::take(&mut self.notable)
    }
}

/// A body's name in the log: a player's identity, or a monster's kind and number.
pub fn label(key: Option<&PlayerKey>, monster: Option<&Monster>, tag: &StreamTag) -> String {
    match (key, monster) {
        (Some(key), _) => key.0.clone(),
        (None, Some(m)) => format!("{}#{}", m.enemy, tag.0),
        (None, None) => format!("#{}", tag.0),
    }
}

/// Starts the writing task; maps number on from `last` (what the store already holds).
pub fn spawn_writer(
    runtime: &tokio::runtime::Handle,
    store: crate::store::ChatStore,
    last: Vec<(String, i64)>,
    retention: Duration,
) -> EventLog {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<(String, CombatLogEntry)>>();
    runtime.spawn(async move {
        let mut sweep = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                batch = rx.recv() => {
                    let Some(batch) = batch else { break };
                    if let Err(e) = store.append_events(&batch).await {
                        error!(events = batch.len(), "cannot store combat events: {e}");
                    }
                }
                _ = sweep.tick() => {
                    let before = crate::chat::now_ms() - retention.as_millis() as i64;
                    match store.forget_events_before(before).await {
                        Ok(0) => {}
                        Ok(n) => debug!(events = n, "forgot old combat events"),
                        Err(e) => warn!("cannot forget old combat events: {e}"),
                    }
                }
            }
        }
    });
    EventLog {
        next: last.into_iter().map(|(map, seq)| (map, seq + 1)).collect(),
        pending: Vec::new(),
        notable: Vec::new(),
        writer: Some(tx),
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<EventLog>()
        .add_systems(FixedUpdate, flush.in_set(CombatSystems::Record));
}

/// Hands this tick's events to the writer.
fn flush(mut log: ResMut<EventLog>) {
    if log.pending.is_empty() {
        return;
    }
    let batch = std::mem::take(&mut log.pending);
    if let Some(writer) = &log.writer
        && writer.send(batch).is_err()
    {
        error!("the combat event writer has stopped");
    }
}
