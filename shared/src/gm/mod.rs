//! The game master's table (campaign rooms): the campaign's status and how GM commands
//! move it, what the table is told, and character sheets ([`sheet`]). The server
//! enforces every rule here; the client shows the result.

pub mod assets;
pub mod encounter;
pub mod sheet;

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

pub use sheet::{CharacterSheet, SheetError};

/// Where a campaign's session stands; everyone in the room sees it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[serde(rename_all = "lowercase")]
pub enum CampaignStatus {
    /// Made, and the GM has not started it: players gather.
    #[default]
    Waiting,
    /// The GM runs the session.
    Active,
    /// The GM paused it: nothing in the room moves, acts or counts down.
    Paused,
    /// The GM ended the session (a new one can be started).
    Completed,
}

impl CampaignStatus {
    pub const ALL: [CampaignStatus; 4] = [
        CampaignStatus::Waiting,
        CampaignStatus::Active,
        CampaignStatus::Paused,
        CampaignStatus::Completed,
    ];

    /// Its name in JSON and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Waiting => "waiting",
            CampaignStatus::Active => "active",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Completed => "completed",
        }
    }

    /// The status named `name` (as [`CampaignStatus::as_str`] gives it).
    pub fn parse(name: &str) -> Option<CampaignStatus> {
        CampaignStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// What the table's banner says, when the session is not simply running.
    pub fn banner(self) -> Option<&'static str> {
        match self {
            CampaignStatus::Waiting => Some("Waiting for the GM to start"),
            CampaignStatus::Active => None,
            CampaignStatus::Paused => Some("Paused by the GM"),
            CampaignStatus::Completed => Some("The session has ended"),
        }
    }

    /// Whether the room stands still: no one moves or acts, no timer runs.
    pub fn frozen(self) -> bool {
        self == CampaignStatus::Paused
    }

    /// The status `command` leads to from this one, or why it does not apply.
    pub fn after(self, command: GmCommand) -> Result<CampaignStatus, String> {
        use CampaignStatus::*;
        match (command, self) {
            (GmCommand::Start, Waiting | Completed) => Ok(Active),
            (GmCommand::Start, Active | Paused) => Err("the session is already running".into()),
            (GmCommand::Pause, Active) => Ok(Paused),
            (GmCommand::Pause, Paused) => Err("the session is already paused".into()),
            (GmCommand::Resume, Paused) => Ok(Active),
            (GmCommand::Resume, Active) => Err("the session is not paused".into()),
            (GmCommand::End, Active | Paused) => Ok(Completed),
            (GmCommand::Pause | GmCommand::Resume | GmCommand::End, Waiting | Completed) => {
                Err("the session is not running; start it first (/start)".into())
            }
        }
    }
}

impl std::fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `GET /api/rooms` shows of a campaign room.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct CampaignInfo {
    /// The GM's account id and name.
    pub gm_account: i64,
    pub gm: String,
    pub status: CampaignStatus,
}

/// Client → server, reliable: a GM command on the session (`/start`, `/pause`,
/// `/resume`, `/end` in the chat box, or the GM panel's buttons). Refused with a
/// [`TableNotice`] unless the sender is the room's GM.
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GmCommand {
    Start,
    Pause,
    Resume,
    End,
}

impl GmCommand {
    /// The chat command that sends it, without the slash.
    pub fn word(self) -> &'static str {
        match self {
            GmCommand::Start => "start",
            GmCommand::Pause => "pause",
            GmCommand::Resume => "resume",
            GmCommand::End => "end",
        }
    }

    /// The command typed as `/word`.
    pub fn from_word(word: &str) -> Option<GmCommand> {
        [
            GmCommand::Start,
            GmCommand::Pause,
            GmCommand::Resume,
            GmCommand::End,
        ]
        .into_iter()
        .find(|c| c.word() == word)
    }

    /// What a player who is not the GM is told: "only the GM can pause the game".
    pub fn refused(self) -> String {
        let what = match self {
            GmCommand::Start => "start the session",
            GmCommand::Pause => "pause the game",
            GmCommand::Resume => "resume the game",
            GmCommand::End => "end the session",
        };
        format!("only the GM can {what}")
    }

    /// What the table is told when the GM did it.
    pub fn announcement(self, gm: &str) -> String {
        match self {
            GmCommand::Start => format!("{gm} started the session"),
            GmCommand::Pause => format!("{gm} paused the game"),
            GmCommand::Resume => format!("{gm} resumed the game"),
            GmCommand::End => format!("{gm} ended the session"),
        }
    }
}

/// Where a teleport puts players: a point of the GM's map, in map pixels, or one of
/// its entry points by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Destination {
    Point { x: f32, y: f32 },
    Entry(String),
}

/// Client → server, reliable: what the GM does to players (by client id, as the room's
/// roster gives them) and to the scene. Refused with a [`TableNotice`] ("only the GM
/// can …") unless the sender is the room's GM.
#[derive(Message, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GmAction {
    /// Sends a player out of the room; it may come back.
    Kick { player: u64, reason: String },
    /// Sends a player out of the campaign for good (stored).
    Ban { player: u64, reason: String },
    /// Stops (or lets again) a player's chat lines in the room.
    Mute { player: u64, muted: bool },
    /// Moves one player (`None`: every player on the GM's map) to `to`.
    Teleport {
        player: Option<u64>,
        to: Destination,
    },
    /// Sets the scene shown to everyone (fields left empty are cleared).
    Scene(Scene),
    /// Hands the GM's seat to a player (a registered account) in the room.
    HandOver { player: u64 },
    /// Sets the result of the table's last roll, said to all as overridden.
    Override { total: i64, reason: String },
    /// Shows a shared image (by name or hash) to everyone in the room; `None` takes
    /// the one shown away.
    Show { asset: Option<String> },
    /// Plays a shared sound (by name or hash) for everyone in the room, in sync.
    Play { asset: String },
    /// Lets the AI game master (the server's `--gm-webhook`) run the table from the
    /// GM's seat, or takes the table back.
    AiGm { on: bool },
}

impl GmAction {
    /// What a player who is not the GM is told.
    pub fn refused(&self) -> String {
        let what = match self {
            GmAction::Kick { .. } => "kick players",
            GmAction::Ban { .. } => "ban players",
            GmAction::Mute { .. } => "mute players",
            GmAction::Teleport { .. } => "teleport players",
            GmAction::Scene(_) => "set the scene",
            GmAction::HandOver { .. } => "hand over the GM's seat",
            GmAction::Override { .. } => "override a roll",
            GmAction::Show { .. } => "show handouts",
            GmAction::Play { .. } => "play sounds for the table",
            GmAction::AiGm { .. } => "hand the table to the AI game master",
        };
        format!("only the GM can {what}")
    }
}

/// Client → server, reliable: running an encounter. `EndTurn` is for the combatant
/// whose turn it is (or the GM); the rest are the GM's ("only the GM can …").
#[derive(Message, Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum EncounterCommand {
    /// Rolls initiative for every player on the GM's map and every monster within
    /// `radius` pixels of the GM ([`DEFAULT_ENCOUNTER_RADIUS`] when `None`).
    Start {
        radius: Option<f32>,
    },
    /// Skips to the next turn.
    Next,
    /// Goes back to the turn before.
    Back,
    /// Adds a player (client id) where its initiative puts it.
    Add {
        player: u64,
    },
    /// Takes a player (client id) out.
    Remove {
        player: u64,
    },
    End,
    /// Sets the room's turn time limit, in seconds.
    Timer {
        secs: u32,
    },
    /// The combatant ends its own turn.
    EndTurn,
}

impl EncounterCommand {
    /// What a player who is not the GM is told.
    pub fn refused(&self) -> String {
        let what = match self {
            EncounterCommand::Start { .. } => "start an encounter",
            EncounterCommand::Next => "skip a turn",
            EncounterCommand::Back => "go back a turn",
            EncounterCommand::Add { .. } => "add someone to the encounter",
            EncounterCommand::Remove { .. } => "take someone out of the encounter",
            EncounterCommand::End => "end the encounter",
            EncounterCommand::Timer { .. } => "set the turn timer",
            EncounterCommand::EndTurn => "end someone else's turn",
        };
        format!("only the GM can {what}")
    }
}

/// Monsters within this many pixels of the GM join an encounter it starts.
pub const DEFAULT_ENCOUNTER_RADIUS: f32 = 320.0;

/// Server → client, reliable: the room's encounter (`None`: there is none), on every
/// change of turn, round, combatants or their standing, and on arrival.
#[derive(Message, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncounterState {
    pub encounter: Option<encounter::Encounter>,
    /// Seconds left in the current turn when this was sent.
    pub seconds_left: f32,
    /// The room's turn time limit, in seconds.
    pub turn_secs: u32,
}

/// Longest kick or ban reason, in characters.
pub const REASON_CHARS: usize = 200;
/// Longest scene field, in characters.
pub const SCENE_FIELD_CHARS: usize = 60;

/// Where and when the table is: shown in everyone's HUD and kept with the campaign.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub weather: String,
    #[serde(default)]
    pub time: String,
    #[serde(default)]
    pub mood: String,
}

impl Scene {
    const KEYS: [&'static str; 4] = ["location", "weather", "time", "mood"];

    fn field_mut(&mut self, key: &str) -> Option<&mut String> {
        match key {
            "location" => Some(&mut self.location),
            "weather" => Some(&mut self.weather),
            "time" => Some(&mut self.time),
            "mood" => Some(&mut self.mood),
            _ => None,
        }
    }

    /// Reads `location=Old mill weather=light rain time=dusk mood=tense`: each value
    /// runs to the next `key=`; keys left out stay empty. The problem otherwise.
    pub fn parse(text: &str) -> Result<Scene, String> {
        let mut scene = Scene::default();
        let mut current: Option<&str> = None;
        let mut seen: Vec<&str> = Vec::new();
        for word in text.split_whitespace() {
            if let Some((key, value)) = word.split_once('=') {
                let Some(field) = scene.field_mut(key) else {
                    return Err(format!(
                        "unknown scene field `{key}`; the fields are {}",
                        Scene::KEYS.join(", ")
                    ));
                };
                if seen.contains(&key) {
                    return Err(format!("`{key}` is given twice"));
                }
                *field = value.to_string();
                seen.push(Scene::KEYS.into_iter().find(|k| *k == key).unwrap_or(""));
                current = Some(key);
                continue;
            }
            let Some(key) = current else {
                return Err(format!(
                    "start with a field: /scene location=Old mill weather=rain (the fields are {})",
                    Scene::KEYS.join(", ")
                ));
            };
            if let Some(field) = scene.field_mut(key) {
                if !field.is_empty() {
                    field.push(' ');
                }
                field.push_str(word);
            }
        }
        scene.check()?;
        Ok(scene)
    }

    /// Whether every field is within its length, without control characters.
    pub fn check(&self) -> Result<(), String> {
        for (key, value) in
            Scene::KEYS
                .into_iter()
                .zip([&self.location, &self.weather, &self.time, &self.mood])
        {
            let count = value.chars().count();
            if count > SCENE_FIELD_CHARS {
                return Err(format!(
                    "{key} has {count} characters; at most {SCENE_FIELD_CHARS}"
                ));
            }
            if value.chars().any(char::is_control) {
                return Err(format!("{key} must not contain control characters"));
            }
        }
        Ok(())
    }

    /// The scene in one line for the HUD ("Old mill, light rain, dusk, tense"), empty
    /// when nothing is set.
    pub fn line(&self) -> String {
        [&self.location, &self.weather, &self.time, &self.mood]
            .into_iter()
            .filter(|v| !v.is_empty())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A kick or ban reason as the GM gave it, or what is wrong with it.
pub fn check_reason(reason: &str) -> Result<(), String> {
    if reason.chars().count() > REASON_CHARS || reason.chars().any(char::is_control) {
        return Err(format!(
            "the reason has at most {REASON_CHARS} characters, no control characters"
        ));
    }
    Ok(())
}

/// Server → client, reliable: the campaign of the player's room, on arrival and on
/// every change of status or GM. Never sent in rooms that are not campaigns.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableState {
    /// The room's id.
    pub room: String,
    pub status: CampaignStatus,
    /// The GM's account id and name.
    pub gm_account: i64,
    pub gm: String,
    /// The receiving player is the GM.
    pub you_are_gm: bool,
    /// The receiving player's account id (`None` for a guest): its sheet's key.
    pub your_account: Option<i64>,
    /// Players at most, besides the GM.
    pub max_players: u32,
    /// Where and when the table is.
    pub scene: Scene,
    /// The receiving player's chat lines are refused (the GM muted it).
    pub muted: bool,
}

/// Server → client, reliable: a GM command refused, and why ("only the GM can pause the
/// game", "the session is already paused").
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableNotice {
    pub text: String,
}

/// Server → client, reliable: the GM sent this player away (kick or ban): the
/// connection closes and the client does not log in again by itself.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentAway {
    pub reason: String,
}

/// Server → client, reliable: a character sheet of the campaign changed (or, on
/// arrival, every sheet there is).
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SheetsChanged {
    pub sheets: Vec<StoredSheet>,
}

/// A character sheet as the campaign keeps it: whose, which version.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct StoredSheet {
    /// The player's account id.
    pub account: i64,
    /// Counts accepted writes from 1; a write must name the version it was based on.
    pub version: i64,
    pub sheet: CharacterSheet,
    /// When it was last written (Unix milliseconds) and by whom (an account id).
    pub updated_at_ms: i64,
    pub updated_by: i64,
}

/// `PUT /api/campaigns/{room}/characters/{account}` body: the sheet, and the version it
/// was based on (0 for a new sheet).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PutSheet {
    pub version: i64,
    pub sheet: CharacterSheet,
}

/// The 409 answer to a write based on an old version: the sheet as it is now (`None`:
/// there is none yet, so write with version 0).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SheetConflict {
    pub error: String,
    pub current: Option<StoredSheet>,
}

/// Most players a campaign room may hold besides its GM, and how many it holds when
/// the request names none.
pub const MAX_CAMPAIGN_PLAYERS: u32 = 20;
pub const DEFAULT_CAMPAIGN_PLAYERS: u32 = 6;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_goes_waiting_active_paused_completed_and_can_start_again() {
        use CampaignStatus::*;
        let mut status = Waiting;
        for (command, next) in [
            (GmCommand::Start, Active),
            (GmCommand::Pause, Paused),
            (GmCommand::Resume, Active),
            (GmCommand::Pause, Paused),
            (GmCommand::End, Completed),
            (GmCommand::Start, Active),
            (GmCommand::End, Completed),
        ] {
            status = status.after(command).unwrap();
            assert_eq!(status, next);
        }
        assert_eq!(
            Waiting.after(GmCommand::Pause).unwrap_err(),
            "the session is not running; start it first (/start)"
        );
        assert!(Active.after(GmCommand::Start).is_err());
        assert!(Paused.after(GmCommand::Pause).is_err());
        assert!(Active.after(GmCommand::Resume).is_err());
        assert!(Completed.after(GmCommand::End).is_err());
        assert!(Paused.frozen() && !Active.frozen() && !Waiting.frozen());
    }

    #[test]
    fn a_scene_is_read_from_key_value_words() {
        let scene =
            Scene::parse("location=Old mill weather=light rain time=dusk mood=tense").unwrap();
        assert_eq!(
            scene,
            Scene {
                location: "Old mill".into(),
                weather: "light rain".into(),
                time: "dusk".into(),
                mood: "tense".into(),
            }
        );
        assert_eq!(scene.line(), "Old mill, light rain, dusk, tense");
        let partial = Scene::parse("mood=calm").unwrap();
        assert_eq!(
            (partial.line().as_str(), partial.location.as_str()),
            ("calm", "")
        );
        assert_eq!(Scene::parse("").unwrap(), Scene::default());
        assert_eq!(
            Scene::parse("place=mill").unwrap_err(),
            "unknown scene field `place`; the fields are location, weather, time, mood"
        );
        assert!(
            Scene::parse("Old mill")
                .unwrap_err()
                .starts_with("start with a field")
        );
        assert_eq!(
            Scene::parse("mood=a mood=b").unwrap_err(),
            "`mood` is given twice"
        );
        let long = format!("location={}", "x".repeat(61));
        assert_eq!(
            Scene::parse(&long).unwrap_err(),
            "location has 61 characters; at most 60"
        );
        assert!(check_reason("spoilers").is_ok());
        assert!(check_reason(&"x".repeat(201)).is_err());
    }

    #[test]
    fn statuses_and_commands_have_one_name() {
        for status in CampaignStatus::ALL {
            assert_eq!(CampaignStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{status}\""));
        }
        assert_eq!(CampaignStatus::parse("running"), None);
        for command in [
            GmCommand::Start,
            GmCommand::Pause,
            GmCommand::Resume,
            GmCommand::End,
        ] {
            assert_eq!(GmCommand::from_word(command.word()), Some(command));
        }
        assert_eq!(GmCommand::Pause.refused(), "only the GM can pause the game");
        assert_eq!(
            CampaignStatus::Waiting.banner(),
            Some("Waiting for the GM to start")
        );
    }
}
