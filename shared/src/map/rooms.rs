//! Dungeon rooms, read from a map's zones: `room` areas group the monsters spawned in
//! them, the `door`s their clearing opens and the `lootChest`s that open then. Doors
//! are numbered in the order of the map's zones; the server, the client's prediction and
//! its drawing all number them the same way (ids, never names, go over the wire).

use bevy::math::Vec2;
use serde::{Deserialize, Serialize};

use super::zones::{Area, Door};
use super::{MapData, SolidShape};

/// A room: `room: hall` on an area.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Room {
    pub name: String,
    pub area: Area,
}

/// A door: a solid area until it opens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DoorSpot {
    /// The zone's name ("Lair door"), for what players read.
    pub name: String,
    pub area: Area,
    /// The room (index in [`Rooms::rooms`]) whose clearing opens it.
    pub room: Option<usize>,
    /// The item a player must carry to open it.
    pub key: Option<String>,
    pub consume_key: bool,
}

/// A chest: opens, dropping its loot table's roll, once each time its room is cleared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChestSpot {
    pub name: String,
    /// The loot table rolled when it opens.
    pub table: String,
    pub at: Vec2,
    /// The room it stands in; a chest in no room opens once.
    pub room: Option<usize>,
}

/// A map's rooms, doors and chests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rooms {
    pub rooms: Vec<Room>,
    pub doors: Vec<DoorSpot>,
    pub chests: Vec<ChestSpot>,
}

impl Rooms {
    /// The rooms, doors and chests of `map`. A door naming a room the map lacks belongs
    /// to none ([`problems`] reports it when the map loads).
    pub fn of(map: &MapData) -> Rooms {
        let mut rooms: Vec<Room> = Vec::new();
        for zone in &map.zones {
            if let Some(name) = &zone.effects.room
                && !rooms.iter().any(|r| &r.name == name)
            {
                rooms.push(Room {
                    name: name.clone(),
                    area: zone.area.clone(),
                });
            }
        }
        let room_named = |name: &str| rooms.iter().position(|r| r.name == name);
        let doors = door_zones(map)
            .map(|(zone, door)| DoorSpot {
                name: zone.name.clone(),
                area: zone.area.clone(),
                room: door.room.as_deref().and_then(room_named),
                key: door.key.clone(),
                consume_key: door.consume_key,
            })
            .collect();
        let mut found = Rooms {
            rooms,
            doors,
            chests: Vec::new(),
        };
        found.chests = map
            .zones
            .iter()
            .filter_map(|zone| {
                let table = zone.effects.loot_chest.as_ref()?;
                let at = zone.area.anchor();
                Some(ChestSpot {
                    name: zone.name.clone(),
                    table: table.clone(),
                    at,
                    room: found.room_at(at),
                })
            })
            .collect();
        found
    }

    /// The room `p` is in (the first one declared, where rooms overlap).
    pub fn room_at(&self, p: Vec2) -> Option<usize> {
        self.rooms.iter().position(|r| r.area.contains(p))
    }

    /// The doors `room`'s clearing opens.
    pub fn doors_of(&self, room: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.doors.len()).filter(move |d| self.doors[*d].room == Some(room))
    }

    /// The chests standing in `room`.
    pub fn chests_of(&self, room: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.chests.len()).filter(move |c| self.chests[*c].room == Some(room))
    }
}

/// The map's doors in order: every zone with a `door` property. Door numbers are
/// positions in this sequence.
pub fn door_zones(map: &MapData) -> impl Iterator<Item = (&super::Zone, &Door)> {
    map.zones
        .iter()
        .filter_map(|z| z.effects.door.as_ref().map(|d| (z, d)))
}

/// The solid shapes of a closed door drawn as `area`.
pub fn door_shapes(area: &Area) -> Vec<SolidShape> {
    match area {
        Area::Rect(r) => vec![SolidShape::Rect(*r)],
        Area::Rects(rects) => rects.iter().copied().map(SolidShape::Rect).collect(),
        Area::Polygon(points) => vec![SolidShape::Polygon(points.clone())],
        Area::Ellipse { center, radii } if (radii.x - radii.y).abs() < 1.0e-3 => {
            vec![SolidShape::Circle {
                center: *center,
                radius: radii.x,
            }]
        }
        Area::Ellipse { center, radii } => {
            let n = 24;
            vec![SolidShape::Polygon(
                (0..n)
                    .map(|i| {
                        let a = i as f32 / n as f32 * std::f32::consts::TAU;
                        *center + Vec2::new(a.cos(), a.sin()) * *radii
                    })
                    .collect(),
            )]
        }
        Area::Point(_) => Vec::new(),
    }
}

/// What is wrong with a map's rooms, as (place, problem): a door naming a room the map
/// does not have, a door that could never open, two rooms with one name.
pub fn problems(map: &MapData) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for zone in &map.zones {
        if let Some(name) = &zone.effects.room {
            if names.contains(&name.as_str()) {
                out.push((
                    zone.place.clone(),
                    format!("another zone is also room `{name}`; room names must differ in a map"),
                ));
            } else {
                names.push(name);
            }
        }
    }
    for (zone, door) in door_zones(map) {
        match &door.room {
            Some(room) if !names.contains(&room.as_str()) => out.push((
                zone.place.clone(),
                format!(
                    "`door` names room `{room}`, but no zone has `room: {room}` (rooms here: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            )),
            None if door.key.is_none() => out.push((
                zone.place.clone(),
                "this door could never open: give it `door: ROOM` (it opens when that room is cleared) or a `key` (it opens for a player carrying that item)"
                    .to_string(),
            )),
            _ => {}
        }
        if door.consume_key && door.key.is_none() {
            out.push((
                zone.place.clone(),
                "`consumeKey` is set but the door has no `key`".to_string(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::map::zones::{Effects, Zone};
    use bevy::math::Rect;

    fn zone(name: &str, area: Rect, effects: Effects) -> Zone {
        Zone {
            name: name.into(),
            place: format!("object `{name}`"),
            area: Area::Rect(area),
            effects,
        }
    }

    fn door(room: Option<&str>, key: Option<&str>) -> Effects {
        Effects {
            door: Some(Door {
                room: room.map(Into::into),
                key: key.map(Into::into),
                consume_key: false,
            }),
            ..Default::default()
        }
    }

    fn dungeon() -> MapData {
        let mut map = MapData::from_ascii("d", 32, &["S........", "........."]);
        map.zones = vec![
            zone(
                "Hall",
                Rect::new(0.0, 0.0, 128.0, 64.0),
                Effects {
                    room: Some("hall".into()),
                    ..Default::default()
                },
            ),
            zone(
                "Hall door",
                Rect::new(128.0, 0.0, 160.0, 64.0),
                door(Some("hall"), None),
            ),
            zone(
                "Chest",
                Rect::new(40.0, 20.0, 48.0, 28.0),
                Effects {
                    loot_chest: Some("store".into()),
                    ..Default::default()
                },
            ),
            zone(
                "Vault door",
                Rect::new(200.0, 0.0, 232.0, 64.0),
                door(None, Some("key")),
            ),
        ];
        map
    }

    #[test]
    fn doors_and_chests_know_their_rooms() {
        let rooms = Rooms::of(&dungeon());
        assert_eq!(rooms.rooms.len(), 1);
        assert_eq!(rooms.doors.len(), 2);
        assert_eq!(rooms.doors[0].room, Some(0));
        assert_eq!(rooms.doors[1].room, None);
        assert_eq!(rooms.doors[1].key.as_deref(), Some("key"));
        assert_eq!(rooms.chests[0].room, Some(0));
        assert_eq!(rooms.doors_of(0).collect::<Vec<_>>(), [0]);
        assert_eq!(rooms.chests_of(0).collect::<Vec<_>>(), [0]);
        assert_eq!(rooms.room_at(Vec2::new(300.0, 10.0)), None);
        assert!(problems(&dungeon()).is_empty());
    }

    #[test]
    fn doors_that_name_no_room_or_can_never_open_are_problems() {
        let mut map = dungeon();
        map.zones.push(zone(
            "Lost door",
            Rect::new(0.0, 0.0, 8.0, 8.0),
            door(Some("lair"), None),
        ));
        map.zones.push(zone(
            "Wall door",
            Rect::new(0.0, 0.0, 8.0, 8.0),
            door(None, None),
        ));
        map.zones.push(zone(
            "Hall again",
            Rect::new(0.0, 0.0, 8.0, 8.0),
            Effects {
                room: Some("hall".into()),
                ..Default::default()
            },
        ));
        let found = problems(&map);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].1.contains("room `hall`"), "{found:?}");
        assert!(
            found[1]
                .1
                .contains("no zone has `room: lair` (rooms here: hall)"),
            "{found:?}"
        );
        assert!(found[2].1.contains("could never open"), "{found:?}");
    }

    #[test]
    fn a_door_is_as_solid_as_its_area() {
        let shapes = door_shapes(&Area::Rect(Rect::new(0.0, 0.0, 32.0, 32.0)));
        assert_eq!(shapes, [SolidShape::Rect(Rect::new(0.0, 0.0, 32.0, 32.0))]);
        let oval = door_shapes(&Area::Ellipse {
            center: Vec2::ZERO,
            radii: Vec2::new(20.0, 10.0),
        });
        assert!(matches!(&oval[..], [SolidShape::Polygon(p)] if p.len() == 24));
        assert!(door_shapes(&Area::Point(Vec2::ZERO)).is_empty());
    }
}
