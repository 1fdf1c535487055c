//! Telling players what happened in fights: each combat event names the bodies it is
//! about, and goes (batched, at the next send) to every player whose avatar is one of
//! them or who has one of them in view. Who has what in view is the avatar stream's
//! own record, so these follow the same `can_see` rule as the bodies themselves.

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::combat::messages::{CombatEvent, CombatEvents};
use tavern_shared::stream::StreamId;

use crate::interest::Viewer;
use crate::net::rate::send_due;
use crate::net::to_client;
use crate::zones::{Presence, can_see};

/// Combat events since the last send, in order; those for a whole map carry where
/// they happened.
#[derive(Resource, Debug, Default)]
pub struct Happenings(Vec<(CombatEvent, Option<Presence>)>);

impl Happenings {
    /// An event for whoever sees the bodies it names.
    pub fn push(&mut self, event: CombatEvent) {
        self.0.push((event, None));
    }

    /// An event for everyone on the map of `at` who may see there (`can_see`).
    pub fn push_to_map(&mut self, event: CombatEvent, at: Presence) {
        self.0.push((event, Some(at)));
    }
}

/// The bodies an event is about: whoever sees one of them is told.
pub fn concerns(event: &CombatEvent) -> impl Iterator<Item = StreamId> + '_ {
    let (a, b) = match event {
        CombatEvent::Cast { who, .. } => (Some(*who), None),
        CombatEvent::Hit {
            attacker, target, ..
        } => (Some(*target), *attacker),
        CombatEvent::Died { who, .. } => (Some(*who), None),
        CombatEvent::Respawned { who, .. } => (Some(*who), None),
        CombatEvent::Phase { who, .. } => (Some(*who), None),
    };
    a.into_iter().chain(b)
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Happenings>().add_systems(
        PostUpdate,
        send_events
            .after(crate::interest::send_avatars)
            .before(ServerSystems::Send)
            .run_if(send_due),
    );
}

/// Sends each player the events about bodies it sees, after the stream planned this
/// send (so a body that came into view now counts).
fn send_events(
    mut happenings: ResMut<Happenings>,
    viewers: Query<(Entity, &Viewer, &Presence)>,
    mut out: MessageWriter<ToClients<CombatEvents>>,
) {
    if happenings.0.is_empty() {
        return;
    }
    let events = std::mem::take(&mut happenings.0);
    for (client, viewer, presence) in &viewers {
        let mine: Vec<CombatEvent> = events
            .iter()
            .filter(|(e, at)| match at {
                Some(at) => can_see(presence, at),
                None => concerns(e).any(|id| viewer.sees(id)),
            })
            .map(|(e, _)| e.clone())
            .collect();
        if !mine.is_empty() {
            out.write(to_client(client, CombatEvents { events: mine }));
        }
    }
}
