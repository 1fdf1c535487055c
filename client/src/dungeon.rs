//! The client's side of dungeon rooms: the doors, chests and rooms of the map as the
//! server last said ([`DungeonState`]), applied to the prediction's collision world so
//! the own avatar walks through a door the moment the server opened it, and the
//! server's word on doors that stay shut ([`DoorNotice`]). It decides nothing.

use std::collections::VecDeque;
use std::sync::Arc;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::combat::messages::{DoorNotice, DungeonState};
use tavern_shared::map::rooms::Rooms;

use crate::PlaySystems;
use crate::prediction::CurrentMap;

/// Notices kept for showing.
const KEEP: usize = 16;

/// The current map's rooms, doors and chests, and what the server last said of them.
#[derive(Resource, Debug, Default, Clone)]
pub struct Dungeon {
    /// Numbered as the server numbers them; `None` before a map arrived.
    pub rooms: Option<Arc<Rooms>>,
    /// The last state for the current map (empty vectors before one came).
    pub state: DungeonState,
    /// What the server said about doors the player walked into, newest last, with the
    /// time (seconds since start) it came.
    pub notices: VecDeque<(f64, DoorNotice)>,
    /// Rooms cleared since the map was entered, in order (for "The hall is cleared").
    pub cleared: VecDeque<(f64, String)>,
    /// The latest state received, waiting for its map to arrive.
    waiting: Option<DungeonState>,
}

impl Dungeon {
    pub fn door_open(&self, door: usize) -> bool {
        self.state.doors_open.get(door).copied().unwrap_or(false)
    }

    pub fn chest_open(&self, chest: usize) -> bool {
        self.state.chests_open.get(chest).copied().unwrap_or(false)
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Dungeon>()
        .add_systems(
            PreUpdate,
            receive
                .in_set(PlaySystems::Receive)
                .after(crate::prediction::enter_map),
        )
        .add_systems(OnExit(ClientState::Connected), forget);
}

/// Keeps the last state; once its map is the current one, opens and closes the
/// prediction's doors to match.
fn receive(
    time: Res<Time>,
    mut states: MessageReader<DungeonState>,
    mut notices: MessageReader<DoorNotice>,
    current: Option<Res<CurrentMap>>,
    mut dungeon: ResMut<Dungeon>,
) {
    let now = time.elapsed_secs_f64();
    for notice in notices.read() {
        if dungeon.notices.len() >= KEEP {
            dungeon.notices.pop_front();
        }
        dungeon.notices.push_back((now, notice.clone()));
    }
    if let Some(state) = states.read().last() {
        dungeon.bypass_change_detection().waiting = Some(state.clone());
    }
    let Some(current) = current else {
        return;
    };
    let new_map = current.is_changed();
    if new_map {
        dungeon.rooms = Some(Arc::new(Rooms::of(&current.data)));
        if dungeon.state.map != current.data.name {
            dungeon.state = DungeonState::default();
            dungeon.cleared.clear();
        }
    }
    let fresh = dungeon
        .bypass_change_detection()
        .waiting
        .take_if(|s| s.map == current.data.name);
    if let Some(state) = fresh {
        if state.map == dungeon.state.map {
            let newly: Vec<String> = state
                .rooms_cleared
                .iter()
                .enumerate()
                .filter(|(i, c)| {
                    **c && !dungeon.state.rooms_cleared.get(*i).copied().unwrap_or(true)
                })
                .filter_map(|(i, _)| dungeon.rooms.as_ref()?.rooms.get(i).map(|r| r.name.clone()))
                .collect();
            for room in newly {
                if dungeon.cleared.len() >= KEEP {
                    dungeon.cleared.pop_front();
                }
                dungeon.cleared.push_back((now, room));
            }
        }
        dungeon.state = state;
    } else if !new_map {
        return;
    }
    for door in 0..current.collision.door_count() {
        current
            .collision
            .set_door_open(door, dungeon.door_open(door));
    }
}

fn forget(mut dungeon: ResMut<Dungeon>) {
    *dungeon = Dungeon::default();
}
