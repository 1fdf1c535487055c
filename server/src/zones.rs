//! Which zones each avatar stands in, from the server's own positions (never the
//! client's word), sent to the avatar's owner as [`InZones`]; and who can see whom:
//! avatars (and NPCs) are only sent to players on the same map, and an avatar in a
//! `private` zone only to players in that same zone.

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{AvatarState, InZones};
use tavern_shared::map::MapData;

use crate::GameSystems;
use crate::world::{MapId, Maps, OnMap};

/// On an avatar: the connection that controls it.
#[derive(Component, Debug, Clone, Copy)]
pub struct Owner(pub Entity);

/// Where an avatar is, for visibility: on the avatar, and the same value on its owner's
/// connection (the viewer's side of the check).
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
#[component(immutable)]
pub struct Presence {
    pub map: MapId,
    /// The `private` zone the avatar is in (the first one, if zones overlap).
    pub private: Option<u16>,
}

impl VisibilityFilter for Presence {
    type ClientComponent = Presence;
    type Scope = Entity;

    fn is_visible(&self, _client: Entity, viewer: Option<&Presence>) -> bool {
        viewer.is_some_and(|v| can_see(v, self))
    }
}

/// The one rule of what a player may know about another: whether a player at `viewer`
/// may see (and hear) someone at `seen`. Replication, proximity and chat all ask it.
pub fn can_see(viewer: &Presence, seen: &Presence) -> bool {
    viewer.map == seen.map && (seen.private.is_none() || viewer.private == seen.private)
}

/// Whether two players see each other: the condition for talking (proximity, zone
/// chat), where each side learns of the other.
pub fn can_hear(a: &Presence, b: &Presence) -> bool {
    can_see(a, b) && can_see(b, a)
}

impl Presence {
    /// A number that two presences share exactly when they [`can_hear`] each other
    /// (same map, same private zone or none): the proximity grid keeps each such space
    /// apart.
    pub fn space(&self) -> u64 {
        ((self.map.0 as u64) << 32) | self.private.map_or(0, |z| u64::from(z) + 1)
    }
}

/// The zones of `map` that contain `pos`, and the first private one among them.
pub fn zones_at(map: &MapData, pos: Vec2) -> (Vec<u16>, Option<u16>) {
    let private = map
        .zones_at(pos)
        .find(|(_, z)| z.effects.private)
        .map(|(i, _)| i);
    (map.zones_at(pos).map(|(i, _)| i).collect(), private)
}

/// Gives an avatar and its owner's connection the same [`Presence`] (both sides of the
/// visibility check).
fn set_presence(commands: &mut Commands, avatar: Entity, owner: Entity, presence: Presence) {
    commands.entity(avatar).insert(presence);
    if let Ok(mut owner) = commands.get_entity(owner) {
        owner.insert(presence);
    }
}

/// An avatar entered or left a zone (server-side message, read by the zone effects).
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneChange {
    pub avatar: Entity,
    pub map: MapId,
    /// Index into the map's zones.
    pub zone: u16,
    pub entered: bool,
}

pub fn plugin(app: &mut App) {
    app.add_visibility_filter::<Presence>()
        .add_message::<ZoneChange>()
        .add_systems(
            FixedUpdate,
            (track_zones, send_zones).chain().in_set(GameSystems::Track),
        );
}

/// Moves an avatar's zones and visibility to a new place at once (after a map change),
/// without reporting the zones at the arrival point as entered.
pub fn place(
    commands: &mut Commands,
    avatar: Entity,
    owner: Entity,
    map: &MapData,
    id: MapId,
    pos: Vec2,
) {
    let (inside, private) = zones_at(map, pos);
    commands.entity(avatar).insert(InZones(inside));
    set_presence(commands, avatar, owner, Presence { map: id, private });
}

/// Recomputes each avatar's zones and visibility from its position.
pub fn track_zones(
    mut commands: Commands,
    maps: Res<Maps>,
    avatars: Query<(Entity, &AvatarState, &OnMap, &InZones, &Presence, &Owner)>,
    mut changes: MessageWriter<ZoneChange>,
) {
    for (avatar, state, on, zones, presence, owner) in &avatars {
        let map = &maps.get(on.0).data;
        let (inside, private) = zones_at(map, state.motion.pos);
        if inside != zones.0 {
            let entered = inside
                .iter()
                .filter(|i| !zones.0.contains(i))
                .map(|i| (*i, true));
            let left = zones
                .0
                .iter()
                .filter(|i| !inside.contains(i))
                .map(|i| (*i, false));
            for (zone, entered) in entered.chain(left) {
                // A zone left may be from before a reload: its index need not exist now.
                let name = map
                    .zones
                    .get(zone as usize)
                    .map_or("(removed)", |z| z.name.as_str());
                debug!(zone = %name, ?avatar, entered, "zone change");
                changes.write(ZoneChange {
                    avatar,
                    map: on.0,
                    zone,
                    entered,
                });
            }
            commands.entity(avatar).insert(InZones(inside));
        }
        let now = Presence { map: on.0, private };
        if now != *presence {
            set_presence(&mut commands, avatar, owner.0, now);
        }
    }
}

/// Tells each player the zones its avatar stands in, when they change.
fn send_zones(
    changed: Query<(&InZones, &Owner), Changed<InZones>>,
    mut writer: MessageWriter<ToClients<InZones>>,
) {
    for (zones, owner) in &changed {
        writer.write(crate::net::to_client(owner.0, zones.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_zones_hide_avatars_from_everyone_outside_them() {
        let at = |map, private| Presence {
            map: MapId(map),
            private,
        };
        assert!(can_see(&at(0, None), &at(0, None)));
        assert!(
            !can_see(&at(1, None), &at(0, None)),
            "other maps are not replicated"
        );
        assert!(
            !can_see(&at(0, None), &at(0, Some(3))),
            "outside looking in"
        );
        assert!(
            can_see(&at(0, Some(3)), &at(0, Some(3))),
            "inside the same booth"
        );
        assert!(!can_see(&at(0, Some(4)), &at(0, Some(3))), "another booth");
        assert!(can_see(&at(0, Some(3)), &at(0, None)), "inside looking out");
    }

    #[test]
    fn proximity_spaces_are_exactly_who_hears_whom() {
        let all: Vec<Presence> = (0..3)
            .flat_map(|map| {
                [None, Some(0), Some(1), Some(u16::MAX)].map(|private| Presence {
                    map: MapId(map),
                    private,
                })
            })
            .collect();
        for a in &all {
            for b in &all {
                assert_eq!(a.space() == b.space(), can_hear(a, b), "{a:?} {b:?}");
            }
        }
    }
}
