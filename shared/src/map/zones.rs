//! Zones: areas of a map that change what happens to whoever stands in them, read from
//! WorkAdventure's property names (so its maps load unchanged) plus our combat additions.

use bevy::math::{Rect, Vec2};
use serde::{Deserialize, Serialize};

use super::doc::{Prop, Props};

/// Where a zone is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Area {
    Rect(Rect),
    Ellipse {
        center: Vec2,
        radii: Vec2,
    },
    /// A closed polygon (possibly concave) in map pixels.
    Polygon(Vec<Vec2>),
    /// The union of rectangles (a tile layer's non-empty tiles, merged).
    Rects(Vec<Rect>),
    /// A spot with no extent: allowed for NPCs, enemy spawns, chests and bosses.
    Point(Vec2),
}

impl Area {
    /// Whether `p` (map pixels) is inside. Points contain nothing.
    pub fn contains(&self, p: Vec2) -> bool {
        match self {
            Area::Rect(r) => r.contains(p),
            Area::Ellipse { center, radii } => {
                if radii.x <= 0.0 || radii.y <= 0.0 {
                    return false;
                }
                let d = (p - *center) / *radii;
                d.length_squared() <= 1.0
            }
            Area::Polygon(points) => polygon_contains(points, p),
            Area::Rects(rects) => rects.iter().any(|r| r.contains(p)),
            Area::Point(_) => false,
        }
    }

    /// The smallest rectangle around the area.
    pub fn bounds(&self) -> Rect {
        match self {
            Area::Rect(r) => *r,
            Area::Ellipse { center, radii } => Rect::from_center_half_size(*center, *radii),
            Area::Polygon(points) => bounds_of(points.iter().copied()),
            Area::Rects(rects) => rects
                .iter()
                .copied()
                .reduce(|a, b| a.union(b))
                .unwrap_or_default(),
            Area::Point(p) => Rect::from_center_half_size(*p, Vec2::ZERO),
        }
    }

    /// A point inside (or at) the area, where an NPC or a chest is placed.
    pub fn anchor(&self) -> Vec2 {
        match self {
            Area::Point(p) => *p,
            other => other.bounds().center(),
        }
    }

    /// Whether the area has any extent at all.
    pub fn has_extent(&self) -> bool {
        let size = self.bounds().size();
        !matches!(self, Area::Point(_)) && size.x > 0.0 && size.y > 0.0
    }
}

/// The bounding rectangle of some points (empty rectangle at the origin for none).
pub fn bounds_of(points: impl Iterator<Item = Vec2>) -> Rect {
    let mut points = points.peekable();
    let Some(&first) = points.peek() else {
        return Rect::default();
    };
    points.fold(Rect::from_corners(first, first), |r, p| r.union_point(p))
}

/// Even-odd rule, the one Tiled draws polygons with.
pub fn polygon_contains(points: &[Vec2], p: Vec2) -> bool {
    let mut inside = false;
    let n = points.len();
    for i in 0..n {
        let (a, b) = (points[i], points[(i + n - 1) % n]);
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
    }
    inside
}

/// When an effect starts: as soon as the player enters, or when they press the action key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    OnEnter,
    OnAction,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Jitsi {
    pub room: String,
    pub trigger: Trigger,
    /// Another Jitsi server than the configured one.
    pub url: Option<String>,
    /// Jitsi config overrides, as JSON text.
    pub config: Option<String>,
    pub message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Audio {
    /// URL or path (relative to the map) of the track.
    pub track: String,
    /// 0.0 to 1.0.
    pub volume: f32,
    pub looping: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Website {
    pub url: String,
    pub trigger: Trigger,
    pub message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub trigger: Trigger,
    pub message: Option<String>,
}

/// A way to another map: `other.tmj#entry`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exit {
    /// The target map file as written, relative to this map's file.
    pub file: String,
    /// The target map's name (its file name without extension).
    pub map: String,
    /// The named entry point in the target map; its default spawns when `None`.
    pub entry: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnemySpawn {
    pub enemy: String,
    pub count: u32,
    pub respawn_secs: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Door {
    /// The room whose clearing opens it (`door: hall`); `door: true` names none.
    pub room: Option<String>,
    /// The item a player must carry to open it (`key`).
    pub key: Option<String>,
    /// Whether opening it uses the key up (`consumeKey`, default false).
    pub consume_key: bool,
}

/// Everything a zone does. A zone may do several things at once.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Effects {
    pub jitsi: Option<Jitsi>,
    pub silent: bool,
    pub audio: Option<Audio>,
    pub website: Option<Website>,
    pub agent: Option<Agent>,
    pub exit: Option<Exit>,
    pub private: bool,
    pub focusable: bool,
    pub enemy_spawn: Option<EnemySpawn>,
    pub room: Option<String>,
    pub door: Option<Door>,
    pub loot_chest: Option<String>,
    pub boss: Option<String>,
}

impl Effects {
    /// Short names of what the zone does, for reports.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k = Vec::new();
        let flags = [
            (self.jitsi.is_some(), "jitsi"),
            (self.silent, "silent"),
            (self.audio.is_some(), "audio"),
            (self.website.is_some(), "website"),
            (self.agent.is_some(), "agent"),
            (self.exit.is_some(), "exit"),
            (self.private, "private"),
            (self.focusable, "focusable"),
            (self.enemy_spawn.is_some(), "enemySpawn"),
            (self.room.is_some(), "room"),
            (self.door.is_some(), "door"),
            (self.loot_chest.is_some(), "lootChest"),
            (self.boss.is_some(), "boss"),
        ];
        for (on, name) in flags {
            if on {
                k.push(name);
            }
        }
        k
    }

    pub fn is_empty(&self) -> bool {
        self.kinds().is_empty()
    }

    /// Whether every effect makes sense at a single spot (no area needed).
    pub fn point_ok(&self) -> bool {
        self.kinds()
            .iter()
            .all(|k| matches!(*k, "agent" | "enemySpawn" | "lootChest" | "boss"))
    }
}

/// One zone of a map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    /// The object's name, or the layer's for tile-layer zones.
    pub name: String,
    /// Where it was defined, for messages: "layer `zones`, object `meeting` (id 4)".
    pub place: String,
    pub area: Area,
    pub effects: Effects,
}

/// Properties that make something a zone; anything carrying one of them is a zone.
pub const ZONE_PROPERTIES: &[&str] = &[
    "jitsiRoom",
    "silent",
    "playAudio",
    "openWebsite",
    "agentId",
    "exitUrl",
    "exitMap",
    "private",
    "focusable",
    "enemySpawn",
    "room",
    "door",
    "lootChest",
    "boss",
];

/// Whether these properties make a zone.
pub fn is_zone(props: &Props) -> bool {
    ZONE_PROPERTIES.iter().any(|k| props.contains_key(*k))
}

/// Reads typed properties, collecting a message for each one of the wrong type.
pub struct PropReader<'a> {
    props: &'a Props,
    pub errors: Vec<String>,
}

impl<'a> PropReader<'a> {
    pub fn new(props: &'a Props) -> Self {
        PropReader {
            props,
            errors: Vec::new(),
        }
    }

    fn wrong(&mut self, name: &str, expected: &str, found: &Prop) {
        self.errors.push(format!(
            "property `{name}` should be {expected}, but it is a {} ({})",
            found.type_name(),
            show(found)
        ));
    }

    /// A string (or file) property.
    pub fn string(&mut self, name: &str) -> Option<String> {
        match self.props.get(name)? {
            Prop::String(s) | Prop::File(s) => Some(s.clone()),
            other => {
                self.wrong(name, "a string", other);
                None
            }
        }
    }

    /// A non-empty string property: empty counts as wrong, since ids and URLs need content.
    pub fn text(&mut self, name: &str) -> Option<String> {
        let s = self.string(name)?;
        if s.trim().is_empty() {
            self.errors.push(format!("property `{name}` is empty"));
            return None;
        }
        Some(s)
    }

    pub fn bool(&mut self, name: &str) -> Option<bool> {
        match self.props.get(name)? {
            Prop::Bool(b) => Some(*b),
            other => {
                self.wrong(name, "a bool", other);
                None
            }
        }
    }

    /// A float property; ints are accepted, as Tiled users often type `1` for `1.0`.
    pub fn float(&mut self, name: &str) -> Option<f64> {
        match self.props.get(name)? {
            Prop::Float(f) => Some(*f),
            Prop::Int(i) => Some(*i as f64),
            other => {
                self.wrong(name, "a float", other);
                None
            }
        }
    }

    pub fn int(&mut self, name: &str) -> Option<i64> {
        match self.props.get(name)? {
            Prop::Int(i) => Some(*i),
            other => {
                self.wrong(name, "an int", other);
                None
            }
        }
    }

    pub fn trigger(&mut self, name: &str, default: Trigger) -> Trigger {
        match self.string(name).as_deref() {
            None => default,
            Some("onenter") => Trigger::OnEnter,
            Some("onaction") => Trigger::OnAction,
            Some(other) => {
                self.errors.push(format!(
                    "property `{name}` should be `onenter` or `onaction`, not `{other}`"
                ));
                default
            }
        }
    }
}

fn show(p: &Prop) -> String {
    match p {
        Prop::String(s) | Prop::File(s) | Prop::Color(s) => format!("\"{s}\""),
        Prop::Int(i) => i.to_string(),
        Prop::Float(f) => f.to_string(),
        Prop::Bool(b) => b.to_string(),
        Prop::Object(id) => format!("object {id}"),
        Prop::Class { class, .. } => format!("class {class}"),
        Prop::List(items) => format!("{} items", items.len()),
    }
}

/// Reads a zone's effects from its properties. Type errors are returned as messages.
pub fn effects(props: &Props) -> (Effects, Vec<String>) {
    let mut r = PropReader::new(props);
    let jitsi = r.text("jitsiRoom").map(|room| Jitsi {
        room,
        trigger: Trigger::OnEnter,
        url: None,
        config: None,
        message: None,
    });
    let jitsi = jitsi.map(|j| Jitsi {
        trigger: r.trigger("jitsiTrigger", Trigger::OnEnter),
        url: r.text("jitsiUrl"),
        config: r.string("jitsiConfig"),
        message: r.string("jitsiTriggerMessage"),
        ..j
    });
    if let Some(config) = jitsi.as_ref().and_then(|j| j.config.as_deref())
        && serde_json::from_str::<serde_json::Value>(config).is_err()
    {
        r.errors.push(
            "property `jitsiConfig` should be JSON text, like {\"startWithAudioMuted\": true}"
                .into(),
        );
    }
    let audio = r.text("playAudio").map(|track| {
        let volume = r.float("audioVolume").unwrap_or(1.0);
        if !(0.0..=1.0).contains(&volume) {
            r.errors.push(format!(
                "property `audioVolume` should be between 0 and 1, not {volume}"
            ));
        }
        Audio {
            track,
            volume: volume.clamp(0.0, 1.0) as f32,
            looping: r.bool("audioLoop").unwrap_or(true),
        }
    });
    let website = r.text("openWebsite").map(|url| Website {
        url,
        trigger: r.trigger("openWebsiteTrigger", Trigger::OnEnter),
        message: r.string("openWebsiteTriggerMessage"),
    });
    let agent = r.text("agentId").map(|id| Agent {
        id,
        trigger: r.trigger("agentTrigger", Trigger::OnAction),
        message: r.string("triggerMessage"),
    });
    let exit_text = match r.text("exitUrl") {
        Some(url) => Some(url),
        None => r.text("exitMap"),
    };
    let exit = exit_text.and_then(|text| match parse_exit(&text) {
        Ok(exit) => Some(exit),
        Err(e) => {
            r.errors.push(e);
            None
        }
    });
    let enemy_spawn = r.text("enemySpawn").map(|enemy| {
        let count = r.int("count").unwrap_or(1);
        if count < 1 {
            r.errors.push(format!(
                "property `count` should be at least 1, not {count}"
            ));
        }
        let respawn = r.float("respawnSecs").unwrap_or(30.0);
        if respawn < 0.0 {
            r.errors.push(format!(
                "property `respawnSecs` should not be negative, not {respawn}"
            ));
        }
        EnemySpawn {
            enemy,
            count: count.clamp(1, 1000) as u32,
            respawn_secs: respawn.max(0.0) as f32,
        }
    });
    let door = props.get("door").map(|_| {
        let room = match props.get("door") {
            Some(Prop::Bool(_)) => None,
            _ => r.text("door"),
        };
        Door {
            room,
            key: r.text("key"),
            consume_key: r.bool("consumeKey").unwrap_or(false),
        }
    });
    let effects = Effects {
        jitsi,
        silent: r.bool("silent").unwrap_or(false),
        audio,
        website,
        agent,
        exit,
        private: r.bool("private").unwrap_or(false),
        focusable: r.bool("focusable").unwrap_or(false),
        enemy_spawn,
        room: r.text("room"),
        door,
        loot_chest: r.text("lootChest"),
        boss: r.text("boss"),
    };
    (effects, r.errors)
}

/// Parses `other.tmj#entry` (the entry part optional). Links to other servers are refused:
/// an exit leads to a map this server runs.
pub fn parse_exit(text: &str) -> Result<Exit, String> {
    let text = text.trim();
    if text.contains("://") || text.starts_with("//") {
        return Err(format!(
            "exit `{text}` points to another server; exits lead to map files next to this one, like `dungeon.tmj#entrance`"
        ));
    }
    let (file, entry) = match text.split_once('#') {
        Some((f, e)) => (f, Some(e.to_string()).filter(|e| !e.is_empty())),
        None => (text, None),
    };
    if file.is_empty() {
        return Err(format!(
            "exit `{text}` names no map file; write it as `other.tmj#entryName`"
        ));
    }
    let map = std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Exit {
        file: file.to_string(),
        map,
        entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(list: &[(&str, Prop)]) -> Props {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn workadventure_properties_become_effects() {
        let (e, errors) = effects(&props(&[
            ("jitsiRoom", Prop::String("standup".into())),
            ("jitsiTrigger", Prop::String("onaction".into())),
            ("playAudio", Prop::String("rain.ogg".into())),
            ("audioVolume", Prop::Float(0.4)),
            ("audioLoop", Prop::Bool(false)),
            ("silent", Prop::Bool(true)),
            ("exitUrl", Prop::String("dungeon.tmj#gate".into())),
            ("unrelated", Prop::Int(3)),
        ]));
        assert!(errors.is_empty(), "{errors:?}");
        let j = e.jitsi.unwrap();
        assert_eq!((j.room.as_str(), j.trigger), ("standup", Trigger::OnAction));
        let a = e.audio.unwrap();
        assert_eq!((a.volume, a.looping), (0.4, false));
        assert!(e.silent);
        let x = e.exit.unwrap();
        assert_eq!(
            (x.file.as_str(), x.map.as_str(), x.entry.as_deref()),
            ("dungeon.tmj", "dungeon", Some("gate"))
        );
    }

    #[test]
    fn wrong_types_are_named_with_what_was_expected() {
        let (_, errors) = effects(&props(&[
            ("playAudio", Prop::String("a.ogg".into())),
            ("audioVolume", Prop::String("loud".into())),
            ("silent", Prop::String("yes".into())),
            ("agentId", Prop::String("bob".into())),
            ("agentTrigger", Prop::String("sometimes".into())),
        ]));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(
            errors[0].contains("`audioVolume` should be a float, but it is a string (\"loud\")")
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("`agentTrigger` should be `onenter` or `onaction`"))
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("`silent` should be a bool"))
        );
    }

    #[test]
    fn exits_to_other_servers_are_refused() {
        assert!(parse_exit("https://play.example.org/map.tmj").is_err());
        assert!(parse_exit("#entry").is_err());
        let plain = parse_exit("sub/town.tmx").unwrap();
        assert_eq!((plain.map.as_str(), plain.entry), ("town", None));
    }

    #[test]
    fn areas_contain_what_they_cover() {
        let tri = Area::Polygon(vec![Vec2::ZERO, Vec2::new(10.0, 0.0), Vec2::new(0.0, 10.0)]);
        assert!(tri.contains(Vec2::new(2.0, 2.0)));
        assert!(!tri.contains(Vec2::new(8.0, 8.0)));
        let ell = Area::Ellipse {
            center: Vec2::new(10.0, 10.0),
            radii: Vec2::new(10.0, 5.0),
        };
        assert!(ell.contains(Vec2::new(18.0, 10.0)));
        assert!(!ell.contains(Vec2::new(10.0, 16.0)));
        assert!(!Area::Point(Vec2::ONE).contains(Vec2::ONE));
        assert_eq!(tri.bounds(), Rect::new(0.0, 0.0, 10.0, 10.0));
    }
}
