//! The AI game master (`--gm-webhook URL`): a GM lets an HTTP service run the table
//! from its seat (`/aigm on`, `/aigm off`). The service is POSTed what the GM would
//! hear (players' lines to the GM and at the table, dice, arrivals, deaths) and answers
//! with narration, a scene, a session command, a roll or an encounter command in a
//! small JSON schema ([`AiAnswer`]). Each answer is carried out as if the GM had typed
//! it: it goes in as a message from the GM's own connection, through the very checks a
//! GM's commands meet (so with the GM gone, or the seat handed over, nothing the
//! service says is done). While it thinks the table reads "The game master is
//! thinking..."; a timeout or an answer that does not fit the schema is said to the table
//! as a failure, never a hang. One call at a time per room; what happens meanwhile
//! waits for the next.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use serde::{Deserialize, Serialize};
use tavern_shared::chat::{ChatChannel, ChatSend};
use tavern_shared::gm::{EncounterCommand, GmAction, GmCommand, Scene};

use super::session::Table;
use crate::journal::{Audience, Journal};
use crate::rooms::RoomId;

/// Events kept for one call, at most (the oldest are dropped first).
pub const MAX_EVENTS: usize = 50;
/// What the table reads while the service thinks.
pub const THINKING: &str = "The game master is thinking...";

/// Where the AI game master is and how long it may think (`--gm-webhook`,
/// `--gm-webhook-timeout`).
#[derive(Resource, Debug, Clone)]
pub struct AiGmConfig {
    pub url: String,
    pub timeout: Duration,
}

/// One thing that happened at the table, as the service reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiEvent {
    /// `chat`, `joined`, `left`, `death`, `table` (what the GM did), …
    pub kind: String,
    /// For a chat line: its channel (`to_gm`, `dice`, `gm_roll`, `map`, `near`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// For a chat line: who said it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub text: String,
}

/// What the service is POSTed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AiRequest {
    pub room: String,
    pub campaign: AiCampaign,
    /// The players at the table now (the GM aside), by name.
    pub players: Vec<String>,
    /// What happened since the last call, oldest first.
    pub events: Vec<AiEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AiCampaign {
    pub name: String,
    pub status: String,
    pub scene: Scene,
    /// The GM whose seat the service sits in.
    pub gm: String,
}

/// What the service answers; every field may be left out (`{}`: nothing to do).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiAnswer {
    /// Told to the table as the GM's narration.
    #[serde(default)]
    pub narrate: Option<String>,
    /// The scene (fields left out are cleared).
    #[serde(default)]
    pub scene: Option<Scene>,
    /// `start`, `pause`, `resume` or `end` the session.
    #[serde(default)]
    pub session: Option<String>,
    /// Dice rolled for the table, as `/roll` takes them.
    #[serde(default)]
    pub roll: Option<String>,
    /// `start`, `next`, `back` or `end` an encounter.
    #[serde(default)]
    pub encounter: Option<String>,
}

/// An answer turned into what the GM would send.
#[derive(Debug, Clone, PartialEq)]
pub enum AiDeed {
    Say(ChatSend),
    Command(GmCommand),
    Act(GmAction),
    Encounter(EncounterCommand),
}

impl AiAnswer {
    /// Reads the service's answer body; why it does not fit otherwise.
    pub fn parse(body: &str) -> Result<AiAnswer, String> {
        serde_json::from_str(body)
            .map_err(|e| format!("its answer is not JSON like {{\"narrate\": \"...\"}} ({e})"))
    }

    /// The GM's messages this answer stands for, in order: scene, session, narration,
    /// roll, encounter; or what in it is not a command.
    pub fn deeds(self) -> Result<Vec<AiDeed>, String> {
        let mut deeds = Vec::new();
        if let Some(scene) = self.scene {
            deeds.push(AiDeed::Act(GmAction::Scene(scene)));
        }
        if let Some(word) = self.session {
            let command = GmCommand::from_word(&word).ok_or_else(|| {
                format!("\"session\": \"{word}\" is none of start, pause, resume, end")
            })?;
            deeds.push(AiDeed::Command(command));
        }
        if let Some(text) = self.narrate {
            deeds.push(AiDeed::Say(ChatSend {
                channel: ChatChannel::Narration,
                text,
            }));
        }
        if let Some(dice) = self.roll {
            deeds.push(AiDeed::Say(ChatSend {
                channel: ChatChannel::Dice,
                text: dice,
            }));
        }
        if let Some(word) = self.encounter {
            let command = match word.as_str() {
                "start" => EncounterCommand::Start { radius: None },
                "next" => EncounterCommand::Next,
                "back" => EncounterCommand::Back,
                "end" => EncounterCommand::End,
                _ => {
                    return Err(format!(
                        "\"encounter\": \"{word}\" is none of start, next, back, end"
                    ));
                }
            };
            deeds.push(AiDeed::Encounter(command));
        }
        Ok(deeds)
    }
}

/// How a channel is named to the service.
fn channel_name(channel: &ChatChannel) -> &'static str {
    match channel {
        ChatChannel::Proximity => "near",
        ChatChannel::Zone => "zone",
        ChatChannel::Map => "map",
        ChatChannel::Whisper(_) => "whisper",
        ChatChannel::System => "system",
        ChatChannel::Agent(_) => "npc",
        ChatChannel::Dice => "dice",
        ChatChannel::Narration => "narration",
        ChatChannel::GmRoll => "gm_roll",
        ChatChannel::ToGm => "to_gm",
    }
}

/// A room the AI runs: what happened since its last call, whether any of it calls for
/// an answer, and whether a call is out.
#[derive(Debug, Default)]
struct AiRoom {
    events: VecDeque<AiEvent>,
    /// Something a player did or said since the last call.
    due: bool,
    calling: bool,
}

/// The rooms whose GM let the AI run the table, and the calls on their way.
#[derive(Resource)]
pub struct AiTables {
    rooms: HashMap<RoomId, AiRoom>,
    runtime: tokio::runtime::Handle,
    answers: Mutex<Receiver<(RoomId, Result<String, String>)>>,
    send: Sender<(RoomId, Result<String, String>)>,
}

impl AiTables {
    pub fn new(runtime: tokio::runtime::Handle) -> Self {
        let (send, answers) = channel();
        AiTables {
            rooms: HashMap::new(),
            runtime,
            answers: Mutex::new(answers),
            send,
        }
    }

    /// Whether the AI runs `room`'s table.
    pub fn runs(&self, room: &RoomId) -> bool {
        self.rooms.contains_key(room)
    }

    /// The GM turns the AI on or off in `room`.
    pub fn set(&mut self, room: &RoomId, on: bool) {
        if on {
            let ai = self.rooms.entry(room.clone()).or_default();
            // It starts by hearing where the table stands.
            ai.due = true;
        } else {
            self.rooms.remove(room);
        }
    }

    /// Forgets a campaign that is gone.
    pub fn forget(&mut self, room: &RoomId) {
        self.rooms.remove(room);
    }
}

pub fn plugin(app: &mut App) {
    app.add_systems(
        PreUpdate,
        carry_out
            .run_if(resource_exists::<AiTables>)
            .before(crate::GameSystems::ReceiveInputs),
    )
    .add_systems(
        PostUpdate,
        (listen, call)
            .chain()
            .run_if(resource_exists::<AiTables>)
            .before(crate::journal::send_events),
    );
}

/// Takes in what happened this frame in the rooms the AI runs, as the GM hears it.
fn listen(
    journal: Res<Journal>,
    rooms: Res<crate::rooms::RoomDirectory>,
    mut ai: ResMut<AiTables>,
) {
    for happening in journal.incoming() {
        let Some(room) = ai.rooms.get_mut(&happening.room) else {
            continue;
        };
        let Some(campaign) = rooms.get(&happening.room.0).and_then(|r| r.campaign) else {
            continue;
        };
        let gm = campaign.gm_identity();
        let heard = match &happening.audience {
            Audience::Room | Audience::Map(_) => true,
            Audience::Only(who) => who.contains(&gm),
        };
        if !heard {
            continue;
        }
        let event = match &happening.line {
            Some(line) => AiEvent {
                kind: "chat".into(),
                channel: Some(channel_name(&line.channel).into()),
                from: Some(line.from.clone()),
                text: line.text.clone(),
            },
            None => AiEvent {
                kind: happening.kind.clone(),
                channel: None,
                from: None,
                text: happening.text.clone(),
            },
        };
        // What the GM's seat itself did (the service's own deeds) calls for no answer.
        let by_the_gm =
            event.kind == "table" || event.from.as_deref() == Some(campaign.gm_name.as_str());
        room.due |= !by_the_gm;
        room.events.push_back(event);
        if room.events.len() > MAX_EVENTS {
            room.events.pop_front();
        }
    }
}

/// Calls the service for each room with something to answer and no call out.
fn call(mut table: Table, mut ai: ResMut<AiTables>, config: Option<Res<AiGmConfig>>) {
    let Some(config) = config else {
        return;
    };
    let ai = &mut *ai;
    for (room, state) in &mut ai.rooms {
        if !state.due || state.calling {
            continue;
        }
        let Some(info) = table.rooms.get(&room.0) else {
            continue;
        };
        let Some(campaign) = info.campaign.clone() else {
            continue;
        };
        let status = table
            .tables
            .status
            .get(room)
            .copied()
            .unwrap_or(campaign.status);
        let gm = campaign.gm_identity();
        let members = table.members(room);
        let players = members
            .iter()
            .filter_map(|c| table.who(*c))
            .filter(|(_, identity, _)| *identity != gm)
            .map(|(_, _, name)| name)
            .collect();
        let request = AiRequest {
            room: room.0.to_string(),
            campaign: AiCampaign {
                name: info.name.clone(),
                status: status.as_str().into(),
                scene: campaign.scene.clone(),
                gm: campaign.gm_name.clone(),
            },
            players,
            events: state.events.drain(..).collect(),
        };
        state.due = false;
        state.calling = true;
        for client in members {
            table.notice(client, THINKING);
        }
        let (url, timeout, send, room) = (
            config.url.clone(),
            config.timeout,
            ai.send.clone(),
            room.clone(),
        );
        ai.runtime.spawn_blocking(move || {
            let answer = crate::agents::webhook::post_json(
                &url,
                timeout,
                &request,
                "the game master service",
            );
            let _ = send.send((room, answer));
        });
    }
}

/// Carries out the service's answers as the GM's own messages, or tells the table why
/// not.
#[allow(clippy::too_many_arguments)]
fn carry_out(
    mut ai: ResMut<AiTables>,
    mut table: Table,
    mut says: MessageWriter<FromClient<ChatSend>>,
    mut commands: MessageWriter<FromClient<GmCommand>>,
    mut acts: MessageWriter<FromClient<GmAction>>,
    mut encounters: MessageWriter<FromClient<EncounterCommand>>,
) {
    let answers: Vec<_> = ai
        .answers
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .try_iter()
        .collect();
    for (room, answer) in answers {
        let Some(state) = ai.rooms.get_mut(&room) else {
            continue;
        };
        state.calling = false;
        let deeds = answer.and_then(|body| AiAnswer::parse(&body)?.deeds());
        let deeds = match deeds {
            Ok(deeds) => deeds,
            Err(why) => {
                warn!(%room, "the AI game master failed: {why}");
                table.announce(&room, &format!("The game master could not answer: {why}"));
                continue;
            }
        };
        // Done from the GM's own connection, as if typed there.
        let gm = table
            .rooms
            .get(&room.0)
            .and_then(|r| r.campaign)
            .map(|c| c.gm_identity());
        let seat = gm.and_then(|gm| {
            table
                .members(&room)
                .into_iter()
                .find(|c| table.who(*c).is_some_and(|(_, identity, _)| identity == gm))
        });
        let Some(seat) = seat else {
            if !deeds.is_empty() {
                table.announce(
                    &room,
                    "The game master could not answer: the GM's seat is empty (the GM is not at the table)",
                );
            }
            continue;
        };
        info!(%room, deeds = deeds.len(), "the AI game master answered");
        let client_id = ClientId::Client(seat);
        for deed in deeds {
            match deed {
                AiDeed::Say(message) => {
                    says.write(FromClient { client_id, message });
                }
                AiDeed::Command(message) => {
                    commands.write(FromClient { client_id, message });
                }
                AiDeed::Act(message) => {
                    acts.write(FromClient { client_id, message });
                }
                AiDeed::Encounter(message) => {
                    encounters.write(FromClient { client_id, message });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_the_gms_commands_or_say_what_is_wrong() {
        let answer = AiAnswer::parse(
            r#"{"narrate": "A cold wind.", "scene": {"location": "Crypt"}, "session": "start",
                "roll": "1d20+2", "encounter": "start"}"#,
        )
        .unwrap();
        assert_eq!(
            answer.deeds().unwrap(),
            vec![
                AiDeed::Act(GmAction::Scene(Scene {
                    location: "Crypt".into(),
                    ..Scene::default()
                })),
                AiDeed::Command(GmCommand::Start),
                AiDeed::Say(ChatSend {
                    channel: ChatChannel::Narration,
                    text: "A cold wind.".into()
                }),
                AiDeed::Say(ChatSend {
                    channel: ChatChannel::Dice,
                    text: "1d20+2".into()
                }),
                AiDeed::Encounter(EncounterCommand::Start { radius: None }),
            ]
        );
        assert_eq!(AiAnswer::parse("{}").unwrap().deeds().unwrap(), vec![]);
        let unknown = AiAnswer::parse(r#"{"narration": "typo"}"#).unwrap_err();
        assert!(unknown.contains("unknown field `narration`"), "{unknown}");
        assert!(AiAnswer::parse("the GM says hi").is_err());
        let bad = AiAnswer::parse(r#"{"session": "nap"}"#).unwrap().deeds();
        assert_eq!(
            bad.unwrap_err(),
            "\"session\": \"nap\" is none of start, pause, resume, end"
        );
        assert!(
            AiAnswer::parse(r#"{"encounter": "flee"}"#)
                .unwrap()
                .deeds()
                .is_err()
        );
        assert!(AiAnswer::parse(r#"{"scene": {"colour": "red"}}"#).is_err());
    }
}
