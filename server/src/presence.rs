//! Presence: each player is online, away (no input for [`AWAY_AFTER_SECS`]) or
//! reconnecting (its connection dropped; see `reconnect`), shown in the player lists
//! of the API and sent to everyone in the room as the room's roster when it changes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::api::{AWAY_AFTER_SECS, PlayerStatus};
use tavern_shared::avatar::{InputAck, PlayerId};
use tavern_shared::presence::{RoomRoster, RosterEntry};

use crate::net::to_client;
use crate::players::{Controls, InRoom, PlayerDirectory};
use crate::reconnect::Away;
use crate::rooms::{RoomDirectory, RoomId};

/// On an avatar: the last input it had and since when, and the status shown.
#[derive(Component, Debug, Clone, Copy)]
pub struct Activity {
    last_input: u32,
    since: Instant,
    pub status: PlayerStatus,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            last_input: 0,
            since: Instant::now(),
            status: PlayerStatus::Online,
        }
    }
}

/// How often statuses and rosters are brought up to date.
const EVERY: Duration = Duration::from_secs(1);

/// The status of a player whose last input was at `since` (`now` now).
pub fn status_of(away: bool, since: Instant, now: Instant) -> PlayerStatus {
    if away {
        PlayerStatus::Reconnecting
    } else if now.duration_since(since) >= Duration::from_secs(AWAY_AFTER_SECS) {
        PlayerStatus::Away
    } else {
        PlayerStatus::Online
    }
}

#[derive(Resource, Debug, Default)]
struct Rosters {
    last: Option<Instant>,
    /// What each room's players were last sent.
    sent: HashMap<RoomId, Vec<RosterEntry>>,
    /// Connections that arrived since, owed the current roster.
    newcomers: Vec<Entity>,
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Rosters>()
        .add_systems(Last, (track_activity, send_rosters).chain());
}

/// Takes note of inputs, and moves players between online, away and reconnecting.
fn track_activity(
    mut avatars: Query<(&PlayerId, &InputAck, Has<Away>, &mut Activity)>,
    directory: Res<PlayerDirectory>,
) {
    let now = Instant::now();
    for (id, ack, away, mut activity) in &mut avatars {
        if ack.0 != activity.last_input {
            activity.last_input = ack.0;
            activity.since = now;
        }
        let status = status_of(away, activity.since, now);
        if status != activity.status {
            activity.status = status;
            directory.set_status(id.0, status);
        }
    }
}

/// Once a second: each room whose players changed (someone came, left, moved to another
/// map or changed status) is sent its roster; a player who just arrived gets its room's.
fn send_rosters(
    mut rosters: ResMut<Rosters>,
    added: Query<Entity, Added<Controls>>,
    clients: Query<(Entity, &InRoom), With<Controls>>,
    directory: Res<PlayerDirectory>,
    rooms: Res<RoomDirectory>,
    mut out: MessageWriter<ToClients<RoomRoster>>,
) {
    rosters.newcomers.extend(added.iter());
    let now = Instant::now();
    if rosters.last.is_some_and(|t| now.duration_since(t) < EVERY) {
        return;
    }
    rosters.last = Some(now);
    let mut by_room: HashMap<RoomId, Vec<Entity>> = HashMap::new();
    for (client, room) in &clients {
        by_room.entry(room.0.clone()).or_default().push(client);
    }
    let newcomers = std::mem::take(&mut rosters.newcomers);
    rosters.sent.retain(|room, _| by_room.contains_key(room));
    for (room, members) in by_room {
        let mut players: Vec<RosterEntry> = directory
            .in_room(&room)
            .into_iter()
            .map(|(p, _)| RosterEntry {
                client_id: p.client_id,
                name: p.name,
                map: p.map,
                status: p.status,
            })
            .collect();
        players.sort_by(|a, b| a.name.cmp(&b.name).then(a.client_id.cmp(&b.client_id)));
        let changed = rosters.sent.get(&room) != Some(&players);
        let to: Vec<Entity> = if changed {
            members
        } else {
            members
                .into_iter()
                .filter(|m| newcomers.contains(m))
                .collect()
        };
        if to.is_empty() {
            continue;
        }
        let roster = RoomRoster {
            room: room.0.to_string(),
            room_name: rooms.get(&room.0).map(|r| r.name).unwrap_or_default(),
            players: players.clone(),
        };
        for client in to {
            out.write(to_client(client, roster.clone()));
        }
        rosters.sent.insert(room, players);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_player_is_away_after_five_minutes_without_input() {
        let now = Instant::now();
        let ago = |secs| now - Duration::from_secs(secs);
        assert_eq!(status_of(false, ago(10), now), PlayerStatus::Online);
        assert_eq!(status_of(false, ago(299), now), PlayerStatus::Online);
        assert_eq!(status_of(false, ago(300), now), PlayerStatus::Away);
        assert_eq!(status_of(true, ago(1), now), PlayerStatus::Reconnecting);
        assert_eq!(status_of(true, ago(900), now), PlayerStatus::Reconnecting);
    }
}
