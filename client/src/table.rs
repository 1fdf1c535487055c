//! The client's side of the game master's table: the campaign's state as the server
//! last said ([`TableState`]), what it said about GM commands ([`TableNotice`]), and
//! the campaign's character sheets, kept by account. It decides nothing.

use std::collections::{BTreeMap, VecDeque};

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::gm::{
    Destination, EncounterCommand, EncounterState, GmAction, GmCommand, Scene, SentAway,
    SheetsChanged, StoredSheet, TableNotice, TableState, check_reason,
};
use tavern_shared::presence::RoomRoster;

use crate::PlaySystems;

/// Notices kept for showing.
const KEEP: usize = 32;

/// The campaign of the player's room; empty in rooms that are not campaigns.
#[derive(Resource, Debug, Default, Clone)]
pub struct Table {
    pub state: Option<TableState>,
    /// What the server said about the table, newest last, with the time (seconds
    /// since start) it came.
    pub notices: VecDeque<(f64, String)>,
    /// The campaign's sheets by account id, at their newest version.
    pub sheets: BTreeMap<i64, StoredSheet>,
    /// The room's encounter as last sent, with when it came (seconds since start).
    pub encounter: Option<(EncounterState, f64)>,
}

impl Table {
    /// What the banner at the top says now ("Paused by the GM"), if anything.
    pub fn banner(&self) -> Option<&'static str> {
        self.state.as_ref().and_then(|s| s.status.banner())
    }

    /// The encounter running in the room, if any.
    pub fn encounter(&self) -> Option<&tavern_shared::gm::encounter::Encounter> {
        self.encounter.as_ref()?.0.encounter.as_ref()
    }

    /// Seconds left in the current turn at `now` (seconds since start).
    pub fn seconds_left(&self, now: f64) -> f32 {
        self.encounter.as_ref().map_or(0.0, |(state, at)| {
            (state.seconds_left - (now - at) as f32).max(0.0)
        })
    }
}

/// A GM action as typed, naming players by name (`/kick Bram spoilers`).
#[derive(Debug, Clone, PartialEq)]
pub enum GmRequest {
    Kick {
        name: String,
        reason: String,
    },
    Ban {
        name: String,
        reason: String,
    },
    Mute {
        name: String,
        muted: bool,
    },
    /// `who` `None`: everyone on the GM's map.
    Teleport {
        who: Option<String>,
        to: Destination,
    },
    Scene(Scene),
    HandOver {
        name: String,
    },
    /// `/encounter add NAME` and `/encounter remove NAME`.
    EncounterAdd {
        name: String,
    },
    EncounterRemove {
        name: String,
    },
    /// The other encounter commands, which name nobody.
    Encounter(EncounterCommand),
    /// `/override TOTAL reason`: the table's last roll.
    Override {
        total: i64,
        reason: String,
    },
    /// `/show NAME` (a shared image, to everyone), `/hide` (`None`).
    Show(Option<String>),
    /// `/play NAME`: a shared sound, for everyone.
    Play(String),
    /// `/aigm on|off`: the AI game master runs the table, or no longer.
    AiGm(bool),
}

/// What a typed GM request becomes once its names are found.
#[derive(Debug, Clone, PartialEq)]
pub enum GmSend {
    Action(GmAction),
    Encounter(EncounterCommand),
}

impl GmRequest {
    /// Reads the rest of `/word ...` (`word` one of kick, ban, mute, unmute, teleport or
    /// tp, scene, encounter, endturn, override, show, hide, play, handover); the problem
    /// otherwise, with how it is written.
    pub fn parse(word: &str, rest: &str) -> Result<GmRequest, String> {
        let (name, tail) = crate::chat::split_name(rest)?;
        let named = |usage: &str| -> Result<String, String> {
            if name.is_empty() {
                Err(format!("whom? /{word} {usage}"))
            } else {
                Ok(name.to_string())
            }
        };
        Ok(match word {
            "kick" | "ban" => {
                let name = named("NAME reason")?;
                check_reason(tail)?;
                let reason = tail.to_string();
                if word == "kick" {
                    GmRequest::Kick { name, reason }
                } else {
                    GmRequest::Ban { name, reason }
                }
            }
            "mute" | "unmute" => {
                if !tail.is_empty() {
                    return Err(format!(
                        "/{word} takes a name only (\"quote\" names with spaces)"
                    ));
                }
                GmRequest::Mute {
                    name: named("NAME")?,
                    muted: word == "mute",
                }
            }
            "teleport" | "tp" => {
                let usage = "NAME|all X Y, or NAME|all ENTRY";
                let who = named(usage)?;
                let words: Vec<&str> = tail.split_whitespace().collect();
                let to = match words[..] {
                    [x, y] => match (x.parse::<f32>(), y.parse::<f32>()) {
                        (Ok(x), Ok(y)) if x.is_finite() && y.is_finite() => {
                            Destination::Point { x, y }
                        }
                        _ => return Err(format!("`{x} {y}` is not a point; /{word} {usage}")),
                    },
                    [entry] => Destination::Entry(entry.to_string()),
                    _ => return Err(format!("where to? /{word} {usage}")),
                };
                let who = (!who.eq_ignore_ascii_case("all")).then_some(who);
                GmRequest::Teleport { who, to }
            }
            "scene" => GmRequest::Scene(Scene::parse(rest)?),
            "encounter" | "enc" => {
                let usage =
                    "/encounter start [RADIUS], next, back, add NAME, remove NAME, end, timer SECS";
                let (sub, rest) = rest.split_once(' ').unwrap_or((rest, ""));
                let rest = rest.trim();
                let command = match (sub, rest) {
                    ("start", "") => EncounterCommand::Start { radius: None },
                    ("start", r) => match r.parse::<f32>() {
                        Ok(radius) if radius.is_finite() && radius > 0.0 => {
                            EncounterCommand::Start {
                                radius: Some(radius),
                            }
                        }
                        _ => return Err(format!("`{r}` is not a radius in pixels; {usage}")),
                    },
                    ("next" | "skip", "") => EncounterCommand::Next,
                    ("back", "") => EncounterCommand::Back,
                    ("end", "") => EncounterCommand::End,
                    ("timer", r) => match r.parse::<u32>() {
                        Ok(secs) => EncounterCommand::Timer { secs },
                        Err(_) => return Err(format!("`{r}` is not a number of seconds; {usage}")),
                    },
                    ("add" | "remove", r) => {
                        let (name, tail) = crate::chat::split_name(r)?;
                        if name.is_empty() || !tail.is_empty() {
                            return Err(format!("whom? /encounter {sub} NAME"));
                        }
                        return Ok(if sub == "add" {
                            GmRequest::EncounterAdd { name: name.into() }
                        } else {
                            GmRequest::EncounterRemove { name: name.into() }
                        });
                    }
                    _ => return Err(usage.to_string()),
                };
                GmRequest::Encounter(command)
            }
            "endturn" | "done" => {
                if !rest.is_empty() {
                    return Err(format!("/{word} takes nothing after it"));
                }
                GmRequest::Encounter(EncounterCommand::EndTurn)
            }
            "override" => {
                let (total, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                let total = total
                    .parse::<i64>()
                    .map_err(|_| format!("`{total}` is not a total; /override TOTAL reason"))?;
                check_reason(reason.trim())?;
                GmRequest::Override {
                    total,
                    reason: reason.trim().to_string(),
                }
            }
            "show" if rest.is_empty() => GmRequest::Show(None),
            "show" => GmRequest::Show(Some(rest.trim_matches('"').to_string())),
            "hide" => {
                if !rest.is_empty() {
                    return Err("/hide takes nothing after it".into());
                }
                GmRequest::Show(None)
            }
            "play" if rest.is_empty() => {
                return Err("play what? /play NAME (a shared sound)".into());
            }
            "play" => GmRequest::Play(rest.trim_matches('"').to_string()),
            "aigm" => match rest {
                "on" => GmRequest::AiGm(true),
                "off" => GmRequest::AiGm(false),
                _ => return Err("/aigm on or /aigm off".into()),
            },
            "handover" => {
                if !tail.is_empty() {
                    return Err(format!("/{word} takes a name only"));
                }
                GmRequest::HandOver {
                    name: named("NAME")?,
                }
            }
            other => return Err(format!("unknown GM command /{other}")),
        })
    }

    /// The action with its players' names found in the room's roster (by client id);
    /// "nobody called Bo is in this room" otherwise.
    pub fn resolve(self, roster: &RoomRoster) -> Result<GmSend, String> {
        let id = |name: &str| {
            roster
                .players
                .iter()
                .find(|p| p.name == name)
                .or_else(|| {
                    roster
                        .players
                        .iter()
                        .find(|p| p.name.eq_ignore_ascii_case(name))
                })
                .map(|p| p.client_id)
                .ok_or_else(|| format!("nobody called {name} is in this room"))
        };
        Ok(GmSend::Action(match self {
            GmRequest::EncounterAdd { name } => {
                return Ok(GmSend::Encounter(EncounterCommand::Add {
                    player: id(&name)?,
                }));
            }
            GmRequest::EncounterRemove { name } => {
                return Ok(GmSend::Encounter(EncounterCommand::Remove {
                    player: id(&name)?,
                }));
            }
            GmRequest::Encounter(command) => return Ok(GmSend::Encounter(command)),
            GmRequest::Override { total, reason } => GmAction::Override { total, reason },
            GmRequest::Kick { name, reason } => GmAction::Kick {
                player: id(&name)?,
                reason,
            },
            GmRequest::Ban { name, reason } => GmAction::Ban {
                player: id(&name)?,
                reason,
            },
            GmRequest::Mute { name, muted } => GmAction::Mute {
                player: id(&name)?,
                muted,
            },
            GmRequest::Teleport { who, to } => GmAction::Teleport {
                player: who.map(|n| id(&n)).transpose()?,
                to,
            },
            GmRequest::Scene(scene) => GmAction::Scene(scene),
            GmRequest::HandOver { name } => GmAction::HandOver { player: id(&name)? },
            GmRequest::Show(asset) => GmAction::Show { asset },
            GmRequest::Play(asset) => GmAction::Play { asset },
            GmRequest::AiGm(on) => GmAction::AiGm { on },
        }))
    }
}

/// What sends GM commands and actions (the chat box, the GM panel, bots).
#[derive(SystemParam)]
pub struct GmOut<'w> {
    commands: MessageWriter<'w, GmCommand>,
    actions: MessageWriter<'w, GmAction>,
    encounter: MessageWriter<'w, EncounterCommand>,
    uploads: MessageWriter<'w, crate::handouts::UploadFile>,
    roster: Res<'w, crate::roster::Roster>,
}

impl GmOut<'_> {
    pub fn command(&mut self, command: GmCommand) {
        self.commands.write(command);
    }

    /// Sends a GM action as it is (the GM panel's buttons).
    pub fn act(&mut self, action: GmAction) {
        self.actions.write(action);
    }

    /// Sends an encounter command.
    pub fn encounter(&mut self, command: EncounterCommand) {
        self.encounter.write(command);
    }

    /// Shares the file at `path` with the table (`/upload PATH`).
    pub fn upload(&mut self, path: String) {
        self.uploads.write(crate::handouts::UploadFile(path));
    }

    /// Sends a typed action once its names are found; why not otherwise.
    pub fn request(&mut self, request: GmRequest) -> Result<(), String> {
        match request.resolve(&self.roster.0)? {
            GmSend::Action(action) => {
                self.actions.write(action);
            }
            GmSend::Encounter(command) => {
                self.encounter.write(command);
            }
        }
        Ok(())
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Table>()
        .add_systems(PreUpdate, (receive, sent_away).in_set(PlaySystems::Receive))
        .add_systems(
            OnExit(ClientState::Connected),
            |mut table: ResMut<Table>| {
                table.state = None;
                table.encounter = None;
            },
        );
}

fn receive(
    time: Res<Time>,
    mut states: MessageReader<TableState>,
    mut notices: MessageReader<TableNotice>,
    mut sheets: MessageReader<SheetsChanged>,
    mut encounters: MessageReader<EncounterState>,
    mut table: ResMut<Table>,
) {
    let now = time.elapsed_secs_f64();
    if let Some(state) = encounters.read().last() {
        table.encounter = Some((state.clone(), now));
    }
    for state in states.read() {
        table.state = Some(state.clone());
    }
    for notice in notices.read() {
        info!(text = %notice.text, "table");
        table.notices.push_back((now, notice.text.clone()));
        if table.notices.len() > KEEP {
            table.notices.pop_front();
        }
    }
    for changed in sheets.read() {
        for sheet in &changed.sheets {
            let newer = table
                .sheets
                .get(&sheet.account)
                .is_none_or(|s| s.version < sheet.version);
            if newer {
                table.sheets.insert(sheet.account, sheet.clone());
            }
        }
    }
}

/// The GM sent this player away: the client stops, and does not log in again by itself
/// (which a kicked player may do by hand).
fn sent_away(
    mut farewells: MessageReader<SentAway>,
    mut status: ResMut<crate::connection::ConnectionStatus>,
    mut commands: Commands,
) {
    if let Some(farewell) = farewells.read().last() {
        warn!(reason = %farewell.reason, "sent away from the table");
        commands.remove_resource::<crate::connection::ServerTarget>();
        *status = crate::connection::ConnectionStatus::Failed(farewell.reason.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tavern_shared::api::PlayerStatus;
    use tavern_shared::chat::ChatChannel;
    use tavern_shared::presence::RosterEntry;

    fn roster() -> RoomRoster {
        let entry = |client_id, name: &str| RosterEntry {
            client_id,
            name: name.into(),
            map: "town".into(),
            status: PlayerStatus::Online,
        };
        RoomRoster {
            room: "t".into(),
            room_name: "Table".into(),
            players: vec![entry(7, "Bram"), entry(9, "Zoë the Bard")],
        }
    }

    #[test]
    fn typed_gm_actions_name_players_by_their_client_ids() {
        let act = |word: &str, rest: &str| match GmRequest::parse(word, rest)?.resolve(&roster())? {
            GmSend::Action(action) => Ok(action),
            GmSend::Encounter(command) => Err(format!("{command:?}")),
        };
        let encounter = |rest: &str| GmRequest::parse("encounter", rest)?.resolve(&roster());
        // Shared files go by name, spaces and all.
        assert_eq!(
            act("show", "Keep map.png"),
            Ok(GmAction::Show {
                asset: Some("Keep map.png".into())
            })
        );
        assert_eq!(act("show", ""), Ok(GmAction::Show { asset: None }));
        assert_eq!(act("hide", ""), Ok(GmAction::Show { asset: None }));
        assert!(act("hide", "now").is_err());
        assert_eq!(
            act("play", "\"rain.ogg\""),
            Ok(GmAction::Play {
                asset: "rain.ogg".into()
            })
        );
        assert_eq!(act("aigm", "on"), Ok(GmAction::AiGm { on: true }));
        assert_eq!(act("aigm", "maybe"), Err("/aigm on or /aigm off".into()));
        assert_eq!(
            act("play", ""),
            Err("play what? /play NAME (a shared sound)".into())
        );
        assert_eq!(
            crate::chat::parse_typed("/upload /tmp/keep map.png", &ChatChannel::Map),
            crate::chat::Typed::Upload("/tmp/keep map.png".into())
        );
        assert_eq!(
            encounter("start 400"),
            Ok(GmSend::Encounter(EncounterCommand::Start {
                radius: Some(400.0)
            }))
        );
        assert_eq!(
            encounter("add Bram"),
            Ok(GmSend::Encounter(EncounterCommand::Add { player: 7 }))
        );
        assert_eq!(
            encounter("timer 90"),
            Ok(GmSend::Encounter(EncounterCommand::Timer { secs: 90 }))
        );
        assert!(
            encounter("dance")
                .unwrap_err()
                .starts_with("/encounter start")
        );
        assert_eq!(
            GmRequest::parse("endturn", ""),
            Ok(GmRequest::Encounter(EncounterCommand::EndTurn))
        );
        assert_eq!(
            act("kick", "Bram too many spoilers"),
            Ok(GmAction::Kick {
                player: 7,
                reason: "too many spoilers".into()
            })
        );
        assert_eq!(
            act("ban", "\"Zoë the Bard\""),
            Ok(GmAction::Ban {
                player: 9,
                reason: String::new()
            })
        );
        assert_eq!(
            act("unmute", "bram"),
            Ok(GmAction::Mute {
                player: 7,
                muted: false
            })
        );
        assert_eq!(
            act("teleport", "all 320 200"),
            Ok(GmAction::Teleport {
                player: None,
                to: Destination::Point { x: 320.0, y: 200.0 }
            })
        );
        assert_eq!(
            act("tp", "Bram from-dungeon"),
            Ok(GmAction::Teleport {
                player: Some(7),
                to: Destination::Entry("from-dungeon".into())
            })
        );
        assert_eq!(
            act("handover", "Bram"),
            Ok(GmAction::HandOver { player: 7 })
        );
        assert_eq!(
            act("kick", "Cy rude"),
            Err("nobody called Cy is in this room".into())
        );
        assert_eq!(act("mute", ""), Err("whom? /mute NAME".into()));
        assert_eq!(
            act("teleport", "Bram"),
            Err("where to? /teleport NAME|all X Y, or NAME|all ENTRY".into())
        );
        assert!(
            act("teleport", "all x 3")
                .unwrap_err()
                .contains("is not a point")
        );
        assert_eq!(
            act("scene", "location=Old mill mood=grim"),
            Ok(GmAction::Scene(Scene {
                location: "Old mill".into(),
                mood: "grim".into(),
                ..Scene::default()
            }))
        );
    }
}
