//! Character sheets: what a campaign keeps of each player's character, and the rules a
//! sheet must keep (every field in its range, named when it is not).

use serde::{Deserialize, Serialize};

/// The six ability scores.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Abilities {
    pub strength: u8,
    pub dexterity: u8,
    pub constitution: u8,
    pub intelligence: u8,
    pub wisdom: u8,
    pub charisma: u8,
}

impl Default for Abilities {
    fn default() -> Self {
        Abilities {
            strength: 10,
            dexterity: 10,
            constitution: 10,
            intelligence: 10,
            wisdom: 10,
            charisma: 10,
        }
    }
}

impl Abilities {
    /// Each score with its name, in the usual order.
    pub fn named(&self) -> [(&'static str, u8); 6] {
        [
            ("strength", self.strength),
            ("dexterity", self.dexterity),
            ("constitution", self.constitution),
            ("intelligence", self.intelligence),
            ("wisdom", self.wisdom),
            ("charisma", self.charisma),
        ]
    }
}

/// The modifier a score gives: (score − 10) / 2, rounded down (8 → −1, 15 → +2).
pub fn modifier(score: u8) -> i32 {
    (i32::from(score) - 10).div_euclid(2)
}

/// One player's character in a campaign.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CharacterSheet {
    pub name: String,
    pub class: String,
    pub level: u8,
    pub abilities: Abilities,
    pub hit_points: i32,
    pub max_hit_points: i32,
    pub armor_class: u8,
    /// Walking speed in feet per turn (an encounter's movement budget).
    #[serde(default = "default_speed")]
    pub speed: u16,
    #[serde(default)]
    pub notes: String,
}

fn default_speed() -> u16 {
    30
}

/// Longest character name and class, and notes, in characters.
pub const SHEET_NAME_CHARS: usize = 40;
pub const SHEET_NOTES_CHARS: usize = 4000;

/// A sheet field out of its range: which, and what it may be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct SheetError {
    pub field: &'static str,
    pub problem: String,
}

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    field: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<(), SheetError> {
    if value < min || value > max {
        return Err(SheetError {
            field,
            problem: format!("must be {min} to {max}, not {value}"),
        });
    }
    Ok(())
}

fn text(field: &'static str, value: &str, max: usize, lines: bool) -> Result<(), SheetError> {
    let count = value.chars().count();
    if count > max {
        return Err(SheetError {
            field,
            problem: format!("has {count} characters; at most {max}"),
        });
    }
    if value
        .chars()
        .any(|c| c.is_control() && !(lines && (c == '\n' || c == '\t')))
    {
        return Err(SheetError {
            field,
            problem: "must not contain control characters".into(),
        });
    }
    Ok(())
}

impl CharacterSheet {
    /// A first-level character named `name`, every score 10.
    pub fn new(name: &str, class: &str) -> Self {
        CharacterSheet {
            name: name.to_string(),
            class: class.to_string(),
            level: 1,
            abilities: Abilities::default(),
            hit_points: 10,
            max_hit_points: 10,
            armor_class: 10,
            speed: default_speed(),
            notes: String::new(),
        }
    }

    /// Whether every field is in its range; the first that is not, otherwise.
    pub fn check(&self) -> Result<(), SheetError> {
        for (field, value) in [("name", &self.name), ("class", &self.class)] {
            if value.trim().is_empty() {
                return Err(SheetError {
                    field,
                    problem: "must not be empty".into(),
                });
            }
            text(field, value, SHEET_NAME_CHARS, false)?;
        }
        in_range("level", self.level, 1, 20)?;
        for (field, score) in self.abilities.named() {
            in_range(field, score, 1, 30)?;
        }
        in_range("max_hit_points", self.max_hit_points, 1, 999)?;
        in_range("hit_points", self.hit_points, 0, self.max_hit_points)?;
        in_range("armor_class", self.armor_class, 0, 40)?;
        in_range("speed", self.speed, 0, 120)?;
        text("notes", &self.notes, SHEET_NOTES_CHARS, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifiers_round_down() {
        for (score, m) in [
            (1, -5),
            (8, -1),
            (9, -1),
            (10, 0),
            (11, 0),
            (15, 2),
            (20, 5),
            (30, 10),
        ] {
            assert_eq!(modifier(score), m, "score {score}");
        }
    }

    #[test]
    fn a_sheet_out_of_range_names_the_field() {
        let good = CharacterSheet::new("Ada the Bold", "Fighter");
        assert_eq!(good.check(), Ok(()));
        let cases: [(fn(&mut CharacterSheet), &str); 9] = [
            (|s| s.name = " ".into(), "name: must not be empty"),
            (
                |s| s.class = "x".repeat(41),
                "class: has 41 characters; at most 40",
            ),
            (|s| s.level = 0, "level: must be 1 to 20, not 0"),
            (
                |s| s.abilities.dexterity = 31,
                "dexterity: must be 1 to 30, not 31",
            ),
            (|s| s.hit_points = 11, "hit_points: must be 0 to 10, not 11"),
            (
                |s| s.max_hit_points = 0,
                "max_hit_points: must be 1 to 999, not 0",
            ),
            (
                |s| s.armor_class = 41,
                "armor_class: must be 0 to 40, not 41",
            ),
            (|s| s.speed = 500, "speed: must be 0 to 120, not 500"),
            (
                |s| s.notes = "a\u{7}".into(),
                "notes: must not contain control characters",
            ),
        ];
        for (spoil, message) in cases {
            let mut sheet = good.clone();
            spoil(&mut sheet);
            assert_eq!(sheet.check().unwrap_err().to_string(), message);
        }
        let mut lines = good.clone();
        lines.notes = "owes Bram 3 gold\n\tand a favour".into();
        assert_eq!(lines.check(), Ok(()));
    }

    #[test]
    fn unknown_fields_are_refused_and_speed_and_notes_may_be_left_out() {
        let json = r#"{"name":"Ada","class":"Fighter","level":3,"abilities":{"strength":15,"dexterity":14,"constitution":13,"intelligence":10,"wisdom":12,"charisma":8},"hit_points":20,"max_hit_points":28,"armor_class":16}"#;
        let sheet: CharacterSheet = serde_json::from_str(json).unwrap();
        assert_eq!((sheet.speed, sheet.notes.as_str()), (30, ""));
        let extra = json.replace("\"level\"", "\"lvl\":1,\"level\"");
        let err = serde_json::from_str::<CharacterSheet>(&extra).unwrap_err();
        assert!(err.to_string().contains("unknown field `lvl`"), "{err}");
    }
}
