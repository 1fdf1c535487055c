//! The server's own rooms, always open: from a TOML file (`--rooms FILE`), else one
//! room on the start map.

use std::path::Path;

use serde::Deserialize;

/// One configured room (a `[[room]]` table of the rooms file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomSpec {
    /// What invite links and `--room` carry: lowercase letters, digits and `-`.
    pub id: String,
    /// Shown in the room list.
    pub name: String,
    /// The map players arrive on, by name; the start map when left out.
    #[serde(default)]
    pub map: Option<String>,
    /// Players at once, 1 to 1000.
    #[serde(default = "default_max_players")]
    pub max_players: u32,
    /// Left out of the list; joined by id only.
    #[serde(default)]
    pub private: bool,
    /// Asked of everyone joining.
    #[serde(default)]
    pub password: Option<String>,
}

fn default_max_players() -> u32 {
    MAX_CONFIGURED_PLAYERS
}

/// Most players a configured room may hold.
pub const MAX_CONFIGURED_PLAYERS: u32 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoomsFile {
    #[serde(default)]
    room: Vec<RoomSpec>,
}

/// The default: one public room on the start map, named after it.
pub fn default_rooms(start_map: &str) -> Vec<RoomSpec> {
    let name = tavern_shared::avatar::capitalized(start_map);
    let id: String = start_map
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    vec![RoomSpec {
        id: if id.is_empty() { "main".into() } else { id },
        name,
        map: Some(start_map.to_string()),
        max_players: MAX_CONFIGURED_PLAYERS,
        private: false,
        password: None,
    }]
}

/// Reads and checks a rooms file: every problem names the file and the room.
pub fn load(path: &Path, maps: &[String]) -> anyhow::Result<Vec<RoomSpec>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot read the rooms file (--rooms): {e}",
            path.display()
        )
    })?;
    parse(&text, maps).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Parses a rooms file's text and checks each room against the loaded `maps`.
pub fn parse(text: &str, maps: &[String]) -> anyhow::Result<Vec<RoomSpec>> {
    let file: RoomsFile = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    if file.room.is_empty() {
        anyhow::bail!(
            "the rooms file has no [[room]]; give at least one (the first is where players go by default)"
        );
    }
    let mut problems = Vec::new();
    let mut ids: Vec<&str> = Vec::new();
    for (i, room) in file.room.iter().enumerate() {
        let which = format!("room {} (`{}`)", i + 1, room.id);
        if !super::RoomId::is_valid(&room.id) {
            problems.push(format!(
                "{which}: the id must be 1 to 40 lowercase letters, digits and `-`"
            ));
        }
        if ids.contains(&room.id.as_str()) {
            problems.push(format!("{which}: another room has the same id"));
        }
        ids.push(&room.id);
        if let Err(e) = super::check_room_name(&room.name) {
            problems.push(format!("{which}: {e}"));
        }
        if let Some(map) = &room.map
            && !maps.contains(map)
        {
            problems.push(format!(
                "{which}: map `{map}` is not one of the loaded maps ({})",
                maps.join(", ")
            ));
        }
        if !(1..=MAX_CONFIGURED_PLAYERS).contains(&room.max_players) {
            problems.push(format!(
                "{which}: max_players must be 1 to {MAX_CONFIGURED_PLAYERS}, not {}",
                room.max_players
            ));
        }
        if room.password.as_ref().is_some_and(|p| p.is_empty()) {
            problems.push(format!(
                "{which}: the password is empty; leave it out for a room without one"
            ));
        }
    }
    if !problems.is_empty() {
        anyhow::bail!("{}", problems.join("\n"));
    }
    Ok(file.room)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps() -> Vec<String> {
        vec!["town".into(), "dungeon".into()]
    }

    #[test]
    fn a_rooms_file_is_read_with_defaults() {
        let rooms = parse(
            r#"
[[room]]
id = "town"
name = "Town square"

[[room]]
id = "guild-hall"
name = "Guild hall"
map = "dungeon"
max_players = 12
private = true
password = "sesame"
"#,
            &maps(),
        )
        .unwrap();
        assert_eq!(rooms.len(), 2);
        assert_eq!(rooms[0].max_players, MAX_CONFIGURED_PLAYERS);
        assert_eq!(rooms[0].map, None);
        assert_eq!(rooms[1].map.as_deref(), Some("dungeon"));
        assert!(rooms[1].private);
        assert_eq!(rooms[1].password.as_deref(), Some("sesame"));
    }

    #[test]
    fn every_problem_of_a_rooms_file_is_named() {
        let err = parse(
            r#"
[[room]]
id = "Town Square"
name = ""
map = "moon"
max_players = 0

[[room]]
id = "b"
name = "B"
[[room]]
id = "b"
name = "B again"
password = ""
"#,
            &maps(),
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "room 1 (`Town Square`): the id must be",
            "room 1 (`Town Square`): the room name",
            "map `moon` is not one of the loaded maps (town, dungeon)",
            "max_players must be 1 to 1000, not 0",
            "room 3 (`b`): another room has the same id",
            "room 3 (`b`): the password is empty",
        ] {
            assert!(err.contains(needle), "{needle} in {err}");
        }
        let err = parse("[[room]]\nid = \"a\"\nname = \"A\"\nseats = 3\n", &maps())
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `seats`"), "{err}");
        let err = parse("", &maps()).unwrap_err().to_string();
        assert!(err.contains("has no [[room]]"), "{err}");
    }

    #[test]
    fn the_default_room_is_the_start_map() {
        let rooms = default_rooms("town");
        assert_eq!(rooms[0].id, "town");
        assert_eq!(rooms[0].name, "Town");
        assert_eq!(rooms[0].map.as_deref(), Some("town"));
        assert_eq!(default_rooms("Old Keep")[0].id, "old-keep");
    }
}
