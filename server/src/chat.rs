//! Chat on the server: every line is checked (rate, length, spam, word filter), its
//! recipients are worked out from the server's own state (proximity sets, silent zones,
//! meeting zones, maps, names), it is stored, and only then delivered. A line that cannot
//! be stored reaches nobody and the sender is told why. Storage runs on the async
//! runtime, so the game loop never waits for the database.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender};

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{DisplayName, InZones, PlayerId};
use tavern_shared::chat::{
    ChatChannel, ChatDelivery, ChatLine, ChatRejected, ChatSend, RateLimiter, check_text,
};
use tavern_shared::map::MapData;

use crate::GameSystems;
use crate::agents::AgentSay;
use crate::combat::loot::PlayerKey;
use crate::journal::{Audience, Happening, Journal};
use crate::metrics::Metrics;
use crate::net::to_client;
use crate::players::Controls;
use crate::proximity::NearSets;
use crate::rooms::RoomId;
use crate::store::{ChatStore, NewMessage, SessionScope};
use crate::world::{MapId, Maps, OnMap};
use crate::zones::{Presence, can_hear, can_see};

/// Lines of history sent on joining: this many sessions, this many lines each.
pub const HISTORY_SESSIONS: usize = 5;
pub const HISTORY_LINES: i64 = 20;

/// The configured word filter (`--chat-filter`).
#[derive(Resource, Debug, Clone, Default)]
pub struct ChatFilter(pub Vec<String>);

/// Work for the storage task.
#[derive(Debug)]
pub enum Job {
    Store {
        sender: Entity,
        /// The sender's room, and who hears the line (identities).
        room: RoomId,
        audience: Vec<String>,
        message: Box<NewMessage>,
    },
    History {
        client: Entity,
        user: String,
    },
}

/// What the storage task answers.
#[derive(Debug)]
pub enum Done {
    Stored {
        sender: Entity,
        room: RoomId,
        audience: Vec<String>,
        text: String,
        result: Result<ChatLine, String>,
    },
    History {
        client: Entity,
        lines: Vec<ChatLine>,
    },
}

/// The game side of the storage task.
#[derive(Resource)]
pub struct ChatWorker {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    done: Mutex<Receiver<Done>>,
}

/// Starts the storage task on `runtime` and returns the game's handle to it.
pub fn spawn_worker(runtime: &tokio::runtime::Handle, store: ChatStore) -> ChatWorker {
    let (jobs, mut incoming) = tokio::sync::mpsc::unbounded_channel::<Job>();
    let (done_tx, done_rx): (Sender<Done>, Receiver<Done>) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        while let Some(job) = incoming.recv().await {
            let done = match job {
                Job::Store {
                    sender,
                    room,
                    audience,
                    message,
                } => Done::Stored {
                    sender,
                    room,
                    audience,
                    text: message.text.clone(),
                    result: store.store(&message).await.map_err(|e| e.to_string()),
                },
                Job::History { client, user } => Done::History {
                    client,
                    lines: match store.recent(&user, HISTORY_SESSIONS, HISTORY_LINES).await {
                        Ok(lines) => lines,
                        Err(e) => {
                            error!(%user, "cannot read chat history: {e}");
                            Vec::new()
                        }
                    },
                },
            };
            if done_tx.send(done).is_err() {
                break; // the game has stopped
            }
        }
    });
    ChatWorker {
        jobs,
        done: Mutex::new(done_rx),
    }
}

impl ChatWorker {
    /// Stores a line the table's rules say for someone (a roll made for them: initiative,
    /// a death save) on the dice channel, under `who` (identity, name); it reaches
    /// `audience` (identities) once stored. False when the storage task has stopped.
    pub(crate) fn table_line(
        &self,
        sender: Entity,
        room: &RoomId,
        (identity, name): (&str, &str),
        mut audience: Vec<String>,
        text: String,
    ) -> bool {
        if !audience.iter().any(|a| a == identity) {
            audience.push(identity.to_string());
        }
        let message = NewMessage {
            channel: ChatChannel::Dice,
            scope: SessionScope::Table {
                room: room.0.to_string(),
            },
            title: "Table".into(),
            sender: identity.to_string(),
            sender_name: name.to_string(),
            participants: audience.clone(),
            text,
            at_ms: now_ms(),
        };
        self.jobs
            .send(Job::Store {
                sender,
                room: room.clone(),
                audience,
                message: Box::new(message),
            })
            .is_ok()
    }
}

/// On a connection: its chat rate limit.
#[derive(Component, Debug, Default)]
pub struct ChatLimiter(pub RateLimiter);

pub fn plugin(app: &mut App) {
    app.init_resource::<ChatFilter>()
        .add_observer(send_history)
        .add_systems(
            PreUpdate,
            (receive_chat, deliver_chat)
                .chain()
                .after(GameSystems::ReceiveInputs),
        );
}

/// What the chat needs to know about one avatar.
struct Speaker {
    name: String,
    /// What the conversations are kept under (`account:7`, `guest:12`).
    identity: String,
    map: MapId,
    zones: Vec<u16>,
    presence: Presence,
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The silent zones among `zones`: proximity chat only crosses between equal sets.
fn silent(map: &MapData, zones: &[u16]) -> Vec<u16> {
    zones
        .iter()
        .copied()
        .filter(|z| map.zones.get(*z as usize).is_some_and(|z| z.effects.silent))
        .collect()
}

/// Who hears a line on `channel` from `from` (the sender included), and the session it
/// is stored under with its title, or why it goes nowhere. Nobody receives a line from
/// someone they may not see (`can_see`); proximity and zone talk go only between people
/// who see each other.
fn route(
    channel: &ChatChannel,
    from: &Speaker,
    from_id: u64,
    speakers: &HashMap<u64, Speaker>,
    near: &NearSets,
    maps: &Maps,
) -> Result<(Vec<u64>, SessionScope, String), String> {
    let place = maps.get(from.map);
    let map = &place.data;
    let mut to: Vec<u64> = match channel {
        ChatChannel::Proximity => {
            let quiet = silent(map, &from.zones);
            // Only people who may see each other count as near at all.
            let near: Vec<&u64> = near
                .of(from_id)
                .iter()
                .filter(|id| {
                    speakers
                        .get(id)
                        .is_some_and(|s| can_hear(&s.presence, &from.presence))
                })
                .collect();
            let heard: Vec<u64> = near
                .iter()
                .copied()
                .filter(|id| {
                    speakers
                        .get(id)
                        .is_some_and(|s| silent(map, &s.zones) == quiet)
                })
                .copied()
                .collect();
            if heard.is_empty() {
                return Err(if quiet.is_empty() && !near.is_empty() {
                    "the people near you are in a quiet zone and cannot hear you".into()
                } else if !quiet.is_empty() && !near.is_empty() {
                    "you are in a quiet zone: only people in it can hear you, and none is near"
                        .into()
                } else {
                    "nobody is near enough to hear you".into()
                });
            }
            heard
        }
        ChatChannel::Zone => {
            let Some(zone) = from.zones.iter().find(|z| {
                map.zones
                    .get(**z as usize)
                    .is_some_and(|z| z.effects.jitsi.is_some())
            }) else {
                return Err("you are not in a meeting zone".into());
            };
            speakers
                .iter()
                .filter(|(_, s)| {
                    s.map == from.map
                        && s.zones.contains(zone)
                        && can_hear(&s.presence, &from.presence)
                })
                .map(|(id, _)| *id)
                .collect()
        }
        ChatChannel::Map => speakers
            .iter()
            .filter(|(_, s)| s.map == from.map && can_see(&s.presence, &from.presence))
            .map(|(id, _)| *id)
            .collect(),
        ChatChannel::Whisper(name) => {
            // Only someone in the same room hears a whisper.
            let Some((id, _)) = speakers.iter().find(|(_, s)| {
                s.name == *name && maps.try_get(s.map).is_some_and(|p| p.room == place.room)
            }) else {
                return Err(format!("nobody called {name} is here"));
            };
            if *id == from_id {
                return Err("whispering to yourself reaches nobody".into());
            }
            vec![*id]
        }
        // Everyone at the table: the whole room, on any of its maps.
        ChatChannel::Dice | ChatChannel::Narration => speakers
            .iter()
            .filter(|(_, s)| {
                maps.try_get(s.map).is_some_and(|p| p.room == place.room)
                    && can_see(&s.presence, &from.presence)
            })
            .map(|(id, _)| *id)
            .collect(),
        ChatChannel::GmRoll | ChatChannel::ToGm => {
            return Err("this goes to the GM only".into());
        }
        ChatChannel::System => return Err("only the server speaks on the system channel".into()),
        ChatChannel::Agent(_) => return Err("lines to an NPC go to its conversation".into()),
    };
    to.push(from_id);
    to.sort_unstable();
    to.dedup();
    let mut names: Vec<&str> = to
        .iter()
        .filter_map(|id| speakers.get(id))
        .map(|s| s.name.as_str())
        .collect();
    names.sort_unstable();
    // Stored conversations are the room's own: kept under `ROOM/MAP`.
    let map_name = place.log.to_string();
    let (scope, title) = match channel {
        ChatChannel::Proximity => (
            SessionScope::Group { map: map_name },
            format!("Near {}: {}", map.name, names.join(", ")),
        ),
        ChatChannel::Zone => {
            let zone = from
                .zones
                .iter()
                .filter_map(|z| map.zones.get(*z as usize))
                .find(|z| z.effects.jitsi.is_some())
                .map_or("meeting", |z| z.name.as_str());
            (
                SessionScope::Zone {
                    map: map_name,
                    zone: zone.to_string(),
                },
                zone.to_string(),
            )
        }
        ChatChannel::Map => (SessionScope::Map { map: map_name }, map.name.clone()),
        ChatChannel::Dice | ChatChannel::Narration => (
            SessionScope::Table {
                room: place.room.0.to_string(),
            },
            "Table".to_string(),
        ),
        _ => (SessionScope::Whisper, names.join(" and ")),
    };
    Ok((to, scope, title))
}

/// Who hears a roll made for the GM's eyes or a line to the GM: the player and the GM
/// of its room (`gm`, an identity; `None` when the room is not a campaign).
fn gm_route(
    channel: &ChatChannel,
    from: &Speaker,
    from_id: u64,
    speakers: &HashMap<u64, Speaker>,
    gm: Option<&str>,
    room: &RoomId,
    maps: &Maps,
) -> Result<(Vec<u64>, SessionScope, String), String> {
    let gm = gm.ok_or("this is for a campaign's table, where there is a GM")?;
    if *channel == ChatChannel::ToGm && from.identity == gm {
        return Err("you are the GM; whisper to a player with /w NAME text".into());
    }
    let (gm_id, _) = speakers
        .iter()
        .find(|(_, s)| s.identity == gm && maps.try_get(s.map).is_some_and(|p| p.room == *room))
        .ok_or("the GM is not at the table now")?;
    let mut to = vec![from_id, *gm_id];
    to.sort_unstable();
    to.dedup();
    Ok((
        to,
        SessionScope::WithGm {
            room: room.0.to_string(),
        },
        "With the GM".to_string(),
    ))
}

/// Tells `client` why its line (quoted, shortened) went nowhere.
pub(crate) fn rejection(client: Entity, text: &str, reason: String) -> ToClients<ChatRejected> {
    to_client(
        client,
        ChatRejected {
            text: text.chars().take(80).collect(),
            reason,
        },
    )
}

pub(crate) fn receive_chat(
    mut commands: Commands,
    mut incoming: MessageReader<FromClient<ChatSend>>,
    mut limiters: Query<(&Controls, Option<&mut ChatLimiter>)>,
    // Every avatar, those waiting for their player to reconnect included: what they
    // would have heard reaches them when they are back.
    avatars: Query<(
        &PlayerId,
        &DisplayName,
        &OnMap,
        &InZones,
        &Presence,
        Option<&PlayerKey>,
    )>,
    near: Res<NearSets>,
    maps: Res<Maps>,
    filter: Res<ChatFilter>,
    worker: Option<Res<ChatWorker>>,
    time: Res<Time<Real>>,
    mut rejected: MessageWriter<ToClients<ChatRejected>>,
    mut to_agents: MessageWriter<AgentSay>,
    metrics: Res<Metrics>,
    (rooms, mut tables): (
        Option<Res<crate::rooms::RoomDirectory>>,
        Option<ResMut<crate::gm::Tables>>,
    ),
) {
    let refused = metrics.chat_lines.with_label_values(&["refused"]);
    let Some(worker) = worker else {
        return;
    };
    let mut speakers: Option<HashMap<u64, Speaker>> = None;
    for FromClient { client_id, message } in incoming.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        let reject = |rejected: &mut MessageWriter<ToClients<ChatRejected>>, reason: String| {
            refused.inc();
            rejected.write(rejection(client, &message.text, reason));
        };
        let Ok((controls, limiter)) = limiters.get_mut(client) else {
            continue;
        };
        let allowed = match limiter {
            Some(mut l) => l.0.allow(time.elapsed_secs_f64()),
            None => {
                let mut l = RateLimiter::default();
                let first = l.allow(time.elapsed_secs_f64());
                commands.entity(client).insert(ChatLimiter(l));
                first
            }
        };
        let text = match allowed.and_then(|()| check_text(&message.text, &filter.0)) {
            Ok(text) => text,
            Err(e) => {
                reject(&mut rejected, e.to_string());
                continue;
            }
        };
        // A roll: the server rolls what was asked, and the line says every die.
        let text = match message.channel {
            ChatChannel::Dice | ChatChannel::GmRoll => match tavern_shared::dice::parse(&text) {
                Ok(expression) => {
                    let outcome = expression.roll(|sides| rand::random_range(1..=sides));
                    format!("rolls {}", outcome.shown())
                }
                Err(e) => {
                    reject(&mut rejected, e.to_string());
                    continue;
                }
            },
            _ => text,
        };
        if let ChatChannel::Agent(agent) = &message.channel {
            metrics.chat_lines.with_label_values(&["accepted"]).inc();
            to_agents.write(AgentSay {
                client,
                agent: agent.clone(),
                text,
            });
            continue;
        }
        let Ok((id, ..)) = avatars.get(controls.0) else {
            continue;
        };
        let speakers = speakers.get_or_insert_with(|| {
            avatars
                .iter()
                .map(|(id, name, on, zones, presence, key)| {
                    (
                        id.0,
                        Speaker {
                            name: name.0.clone(),
                            identity: identity(key, id.0),
                            map: on.0,
                            zones: zones.0.clone(),
                            presence: *presence,
                        },
                    )
                })
                .collect()
        });
        let Some(me) = speakers.get(&id.0) else {
            continue;
        };
        let room = &maps.get(me.map).room;
        if tables
            .as_ref()
            .is_some_and(|t| t.is_muted(room, &me.identity))
        {
            reject(&mut rejected, "the GM muted you".into());
            continue;
        }
        if message.channel == ChatChannel::Narration
            && !rooms
                .as_ref()
                .and_then(|r| r.get(&room.0))
                .is_some_and(|r| r.is_gm(&me.identity))
        {
            reject(&mut rejected, "only the GM can narrate".into());
            continue;
        }
        let routed = if matches!(message.channel, ChatChannel::GmRoll | ChatChannel::ToGm) {
            let gm = rooms
                .as_ref()
                .and_then(|r| r.get(&room.0))
                .and_then(|r| r.campaign.map(|c| c.gm_identity()));
            gm_route(
                &message.channel,
                me,
                id.0,
                speakers,
                gm.as_deref(),
                room,
                &maps,
            )
        } else {
            route(&message.channel, me, id.0, speakers, &near, &maps)
        };
        if message.channel == ChatChannel::Dice
            && let Ok((_, SessionScope::Table { .. }, _)) = &routed
            && let Some(tables) = &mut tables
        {
            tables.note_roll(room, &me.name, &text);
        }
        match routed {
            Ok((to, scope, title)) => {
                let participants: Vec<String> = to
                    .iter()
                    .filter_map(|id| speakers.get(id))
                    .map(|s| s.identity.clone())
                    .collect();
                let audience = participants.clone();
                let job = Job::Store {
                    sender: client,
                    room: maps.get(me.map).room.clone(),
                    audience,
                    message: Box::new(NewMessage {
                        channel: message.channel.clone(),
                        scope,
                        title,
                        sender: me.identity.clone(),
                        sender_name: me.name.clone(),
                        participants,
                        text,
                        at_ms: now_ms(),
                    }),
                };
                if worker.jobs.send(job).is_err() {
                    reject(
                        &mut rejected,
                        "chat storage is not running; nobody received the message".into(),
                    );
                }
            }
            Err(reason) => reject(&mut rejected, reason),
        }
    }
}

fn deliver_chat(
    worker: Option<Res<ChatWorker>>,
    connected: Query<(), With<ConnectedClient>>,
    mut delivery: MessageWriter<ToClients<ChatDelivery>>,
    mut rejected: MessageWriter<ToClients<ChatRejected>>,
    mut journal: ResMut<Journal>,
    metrics: Res<Metrics>,
) {
    let Some(worker) = worker else {
        return;
    };
    let done: Vec<Done> = match worker.done.lock() {
        Ok(rx) => rx.try_iter().collect(),
        Err(_) => return,
    };
    for d in done {
        match d {
            Done::Stored {
                room,
                audience,
                result: Ok(line),
                ..
            } => {
                metrics.chat_lines.with_label_values(&["accepted"]).inc();
                // Stored first, then it goes out in the room's event stream.
                journal.push(Happening {
                    room,
                    audience: Audience::Only(audience),
                    kind: "chat".into(),
                    text: format!("{}: {}", line.from, line.text),
                    line: Some(line),
                });
            }
            Done::Stored {
                sender,
                text,
                result: Err(e),
                ..
            } => {
                error!("a chat line could not be stored, so it was not delivered: {e}");
                metrics.chat_lines.with_label_values(&["refused"]).inc();
                if connected.contains(sender) {
                    rejected.write(rejection(
                        sender,
                        &text,
                        "the message could not be saved, so nobody received it; try again later"
                            .into(),
                    ));
                }
            }
            Done::History { client, lines } => {
                if connected.contains(client) && !lines.is_empty() {
                    delivery.write(to_client(
                        client,
                        ChatDelivery {
                            lines,
                            history: true,
                        },
                    ));
                }
            }
        }
    }
}

/// A player (re)joined: send them the recent lines of their conversations.
fn send_history(
    add: On<Add, Controls>,
    controls: Query<&Controls, Without<crate::journal::CameBack>>,
    players: Query<(&PlayerId, Option<&PlayerKey>)>,
    worker: Option<Res<ChatWorker>>,
) {
    // A player back from a dropped connection has its chat already, and gets what it
    // missed in its catch-up.
    let (Some(worker), Ok(c)) = (worker, controls.get(add.entity)) else {
        return;
    };
    if let Ok((id, key)) = players.get(c.0) {
        let _ = worker.jobs.send(Job::History {
            client: add.entity,
            user: identity(key, id.0),
        });
    }
}

/// What a player's conversations are kept under: its identity (the connection's, for
/// an avatar made without one).
pub(crate) fn identity(key: Option<&PlayerKey>, client_id: u64) -> String {
    key.map_or_else(|| format!("client:{client_id}"), |k| k.0.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy::math::Rect;
    use tavern_shared::map::zones::Jitsi;
    use tavern_shared::map::{Area, Effects, Trigger, Zone};

    fn zone(name: &str, effects: Effects) -> Zone {
        Zone {
            name: name.into(),
            place: String::new(),
            area: Area::Rect(Rect::new(0.0, 0.0, 10.0, 10.0)),
            effects,
        }
    }

    /// A map with a silent library (zone 0), a meeting room (zone 1) and a second silent
    /// room (zone 2); positions don't matter, speakers say which zones they are in.
    fn world() -> Maps {
        let mut map = MapData::from_ascii("town", 32, &["S..."]);
        map.zones = vec![
            zone(
                "library",
                Effects {
                    silent: true,
                    ..Default::default()
                },
            ),
            zone(
                "meeting",
                Effects {
                    jitsi: Some(Jitsi {
                        room: "m".into(),
                        trigger: Trigger::OnEnter,
                        url: None,
                        config: None,
                        message: None,
                    }),
                    ..Default::default()
                },
            ),
            zone(
                "study",
                Effects {
                    silent: true,
                    ..Default::default()
                },
            ),
        ];
        let mut maps = Maps::new(
            vec![crate::world::LoadedMap::in_memory(map)],
            crate::world::FileId(0),
        );
        assert_eq!(
            maps.open(&crate::rooms::RoomId::from("town"), maps.start),
            MapId(0)
        );
        maps
    }

    fn speakers(list: &[(u64, &str, &[u16])]) -> HashMap<u64, Speaker> {
        list.iter()
            .map(|(id, name, zones)| {
                (
                    *id,
                    Speaker {
                        name: name.to_string(),
                        identity: format!("guest:{id}"),
                        map: MapId(0),
                        zones: zones.to_vec(),
                        presence: Presence {
                            map: MapId(0),
                            private: None,
                        },
                    },
                )
            })
            .collect()
    }

    fn near_all(ids: &[u64]) -> NearSets {
        NearSets(
            ids.iter()
                .map(|id| (*id, ids.iter().copied().filter(|o| o != id).collect()))
                .collect(),
        )
    }

    #[test]
    fn proximity_chat_does_not_cross_a_silent_zone_boundary() {
        let maps = world();
        // 1 and 2 in the library, 3 outside, 4 in the other silent room; all near.
        let s = speakers(&[
            (1, "Ada", &[0]),
            (2, "Bo", &[0]),
            (3, "Cy", &[]),
            (4, "Di", &[2]),
        ]);
        let near = near_all(&[1, 2, 3, 4]);
        let heard = |from: u64| route(&ChatChannel::Proximity, &s[&from], from, &s, &near, &maps);
        assert_eq!(
            heard(1).unwrap().0,
            vec![1, 2],
            "inside the library, only the library hears"
        );
        let outside = heard(3).unwrap_err();
        assert!(outside.contains("quiet zone"), "{outside}");
        assert_eq!(
            heard(4).unwrap_err(),
            "you are in a quiet zone: only people in it can hear you, and none is near"
        );
        let (_, scope, title) = heard(2).unwrap();
        assert_eq!(
            scope,
            SessionScope::Group {
                map: "town/town".into()
            },
            "stored under the room's own copy of the map"
        );
        assert_eq!(title, "Near town: Ada, Bo");
    }

    #[test]
    fn zone_map_and_whisper_recipients() {
        let maps = world();
        let s = speakers(&[(1, "Ada", &[1]), (2, "Bo", &[1, 0]), (3, "Cy", &[])]);
        let near = near_all(&[]);
        let go = |from: u64, ch: ChatChannel| route(&ch, &s[&from], from, &s, &near, &maps);
        let (to, scope, title) = go(1, ChatChannel::Zone).unwrap();
        assert_eq!((to, title.as_str()), (vec![1, 2], "meeting"));
        assert_eq!(
            scope,
            SessionScope::Zone {
                map: "town/town".into(),
                zone: "meeting".into()
            }
        );
        assert_eq!(
            go(3, ChatChannel::Zone).unwrap_err(),
            "you are not in a meeting zone"
        );
        assert_eq!(go(3, ChatChannel::Map).unwrap().0, vec![1, 2, 3]);
        let (to, scope, title) = go(3, ChatChannel::Whisper("Ada".into())).unwrap();
        assert_eq!(
            (to, scope, title.as_str()),
            (vec![1, 3], SessionScope::Whisper, "Ada and Cy")
        );
        assert!(go(3, ChatChannel::Whisper("Cy".into())).is_err());
        assert_eq!(
            go(3, ChatChannel::Proximity).unwrap_err(),
            "nobody is near enough to hear you"
        );
        assert!(go(3, ChatChannel::System).is_err());
    }

    #[test]
    fn nothing_said_in_one_room_reaches_another() {
        let mut maps = world();
        let other = maps.open(&crate::rooms::RoomId::from("guild"), maps.start);
        let mut s = speakers(&[(1, "Ada", &[1]), (2, "Bo", &[1]), (3, "Cy", &[1])]);
        for id in [2, 3] {
            let speaker = s.get_mut(&id).unwrap();
            speaker.map = other;
            speaker.presence.map = other;
        }
        let near = near_all(&[1, 2, 3]);
        let go = |from: u64, ch: ChatChannel| route(&ch, &s[&from], from, &s, &near, &maps);
        assert_eq!(go(2, ChatChannel::Map).unwrap().0, vec![2, 3]);
        assert_eq!(go(2, ChatChannel::Zone).unwrap().0, vec![2, 3]);
        assert_eq!(go(2, ChatChannel::Proximity).unwrap().0, vec![2, 3]);
        assert_eq!(go(1, ChatChannel::Map).unwrap().0, vec![1]);
        assert_eq!(
            go(2, ChatChannel::Whisper("Ada".into())).unwrap_err(),
            "nobody called Ada is here"
        );
        let (_, scope, _) = go(2, ChatChannel::Map).unwrap();
        assert_eq!(
            scope,
            SessionScope::Map {
                map: "guild/town".into()
            }
        );
    }

    #[test]
    fn nobody_outside_a_private_zone_hears_anyone_in_it() {
        let maps = world();
        // 1 and 2 inside private zone 7 (both in the meeting zone too), 3 outside it.
        let mut s = speakers(&[(1, "Ada", &[1]), (2, "Bo", &[1]), (3, "Cy", &[1])]);
        for id in [1, 2] {
            s.get_mut(&id).unwrap().presence.private = Some(7);
        }
        let near = near_all(&[1, 2, 3]);
        let go = |from: u64, ch: ChatChannel| route(&ch, &s[&from], from, &s, &near, &maps);
        assert_eq!(go(1, ChatChannel::Proximity).unwrap().0, vec![1, 2]);
        let (_, _, title) = go(1, ChatChannel::Proximity).unwrap();
        assert!(!title.contains("Cy"), "{title}");
        assert_eq!(
            go(3, ChatChannel::Proximity).unwrap_err(),
            "nobody is near enough to hear you"
        );
        assert_eq!(go(1, ChatChannel::Zone).unwrap().0, vec![1, 2]);
        assert_eq!(go(3, ChatChannel::Zone).unwrap().0, vec![3]);
        assert_eq!(
            go(1, ChatChannel::Map).unwrap().0,
            vec![1, 2],
            "the map does not hear the booth"
        );
        assert_eq!(
            go(3, ChatChannel::Map).unwrap().0,
            vec![1, 2, 3],
            "the booth hears the map"
        );
    }
}
