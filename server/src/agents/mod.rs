//! NPC agents: an NPC stands at every `agentId` zone or object. A player who presses the
//! action key near one (or walks into its zone, with `agentTrigger: onenter`) opens a
//! conversation; while it lasts the NPC shows as busy to everyone else. The player's
//! lines and the NPC's replies are stored as an `agent` chat session. Replies come from
//! the agent webhook when one is configured, else from the scripted lines in the content
//! file. Each turn runs on the async runtime, so a slow webhook never stalls the game.

pub mod script;
pub mod stub;
pub mod webhook;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::agent::{
    AgentClosed, AgentLeave, AgentNotice, AgentOpened, LEAVE_SLACK, Npc, in_reach,
};
use tavern_shared::avatar::{AvatarState, DisplayName, PlayerId};
use tavern_shared::chat::{ChatChannel, ChatDelivery, ChatLine, ChatRejected};
use tavern_shared::map::Trigger;

pub use script::Scripts;

use crate::GameSystems;
use crate::chat::{now_ms, receive_chat, rejection};
use crate::combat::loot::PlayerKey;
use crate::movement::ActionPressed;
use crate::net::to_client;
use crate::store::{ChatStore, NewMessage, SessionScope};
use crate::world::{MapId, Maps, OnMap};
use crate::zones::{Owner, Presence, ZoneChange, track_zones, zones_at};

/// A conversation nobody has said anything in for this long ends (the default of
/// [`AgentConfig::idle`]).
pub const IDLE_SECS: u64 = 120;
/// Earlier lines sent to the webhook with each message.
pub const HISTORY_LINES: i64 = 20;

/// Where NPC replies come from (`--agent-webhook`, `--agent-timeout`, `--agents`).
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// POSTed `{agent_id, user, message, history}`; answers `{reply}`.
    pub webhook: Option<String>,
    /// How long the webhook may take.
    pub timeout: Duration,
    /// A conversation with nothing said for this long ends.
    pub idle: Duration,
    /// Scripted lines, used without a webhook (and for greetings and names with one).
    pub scripts: Scripts,
    /// The file the scripts came from, for messages.
    pub scripts_file: Option<PathBuf>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            webhook: None,
            timeout: Duration::from_secs(5),
            idle: Duration::from_secs(IDLE_SECS),
            scripts: Scripts::default(),
            scripts_file: None,
        }
    }
}

/// The NPC scripts used when `--agents` is not given: `assets/agents.toml`.
pub fn default_scripts_path() -> PathBuf {
    crate::config::repo_path("assets/agents.toml")
}

impl AgentConfig {
    /// No webhook and the sample scripts (for tests and the desktop client's embedded
    /// server); no scripts if they cannot be read.
    pub fn sample() -> AgentConfig {
        let path = default_scripts_path();
        match Scripts::load(&path) {
            Ok(scripts) => AgentConfig {
                scripts,
                scripts_file: Some(path),
                ..AgentConfig::default()
            },
            Err(e) => {
                warn!("{e}; NPCs will not talk");
                AgentConfig::default()
            }
        }
    }

    /// Why `agent` cannot talk, if it cannot: no webhook and no script for it.
    pub fn mute_reason(&self, agent: &str) -> Option<String> {
        if self.webhook.is_some() || self.scripts.get(agent).is_some() {
            return None;
        }
        Some(match &self.scripts_file {
            Some(file) => format!(
                "the server has no --agent-webhook and {} has no lines for `{agent}`",
                file.display()
            ),
            None => format!(
                "the server has no --agent-webhook and no NPC scripts (--agents) for `{agent}`"
            ),
        })
    }
}

/// On an NPC (server side): the zone that placed it.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpcHome {
    pub map: MapId,
    pub zone: u16,
}

/// One open conversation.
#[derive(Debug, Clone)]
struct Talk {
    client: Entity,
    avatar: Entity,
    player: String,
    /// What the conversation is kept under (`account:7`, `guest:12`).
    player_key: String,
    /// When something was last said (game clock, seconds).
    last_active: f64,
    /// A turn is running; the player waits for the reply before saying more.
    pending: bool,
}

/// Open conversations, by NPC entity.
#[derive(Resource, Debug, Default)]
struct Conversations(HashMap<Entity, Talk>);

/// From the chat: a player said something to an NPC (`ChatChannel::Agent`), already
/// checked against the chat rules.
#[derive(Message, Debug, Clone)]
pub struct AgentSay {
    pub client: Entity,
    pub agent: String,
    pub text: String,
}

/// What a turn reports back to the game.
#[derive(Debug)]
enum Done {
    /// A stored line for the player (their own or the NPC's).
    Line { client: Entity, line: ChatLine },
    /// The NPC could not answer; tell the player why.
    Failed {
        client: Entity,
        agent: String,
        text: String,
    },
    /// The turn is over; the player may speak again.
    TurnOver { npc: Entity },
}

/// Runs conversation turns on the async runtime.
#[derive(Resource)]
pub struct AgentWorker {
    runtime: tokio::runtime::Handle,
    store: ChatStore,
    done_tx: Sender<Done>,
    done_rx: Mutex<Receiver<Done>>,
}

impl AgentWorker {
    pub fn new(runtime: &tokio::runtime::Handle, store: ChatStore) -> AgentWorker {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        AgentWorker {
            runtime: runtime.clone(),
            store,
            done_tx,
            done_rx: Mutex::new(done_rx),
        }
    }

    fn spawn(&self, config: &Arc<AgentConfig>, turn: Turn) {
        let (store, tx, config) = (self.store.clone(), self.done_tx.clone(), config.clone());
        self.runtime.spawn(async move {
            let npc = turn.npc;
            for done in run_turn(&store, config, turn).await {
                let _ = tx.send(done);
            }
            let _ = tx.send(Done::TurnOver { npc });
        });
    }
}

/// One exchange: the greeting when `said` is `None`, else the player's line and the reply.
#[derive(Debug, Clone)]
struct Turn {
    npc: Entity,
    client: Entity,
    agent: String,
    npc_name: String,
    player: String,
    player_key: String,
    said: Option<String>,
}

impl Turn {
    /// A line of this talk, said by the NPC (`npc`) or the player.
    fn message(&self, npc: bool, text: String) -> NewMessage {
        let (sender, sender_name) = if npc {
            (format!("npc:{}", self.agent), self.npc_name.clone())
        } else {
            (self.player_key.clone(), self.player.clone())
        };
        NewMessage {
            channel: ChatChannel::Agent(self.agent.clone()),
            scope: SessionScope::Agent {
                agent: self.agent.clone(),
            },
            title: self.npc_name.clone(),
            sender,
            sender_name,
            participants: vec![self.player_key.clone()],
            text,
            at_ms: now_ms(),
        }
    }

    fn failed(&self, text: String) -> Done {
        Done::Failed {
            client: self.client,
            agent: self.agent.clone(),
            text,
        }
    }
}

/// Stores the player's line, gets the reply, stores it; returns what to tell the player.
async fn run_turn(store: &ChatStore, config: Arc<AgentConfig>, turn: Turn) -> Vec<Done> {
    let client = turn.client;
    let script = config.scripts.get(&turn.agent);
    let Some(said) = turn.said.clone() else {
        let Some(greeting) = script.and_then(|s| s.greeting.clone()) else {
            return Vec::new();
        };
        return match store.store(&turn.message(true, greeting)).await {
            Ok(line) => vec![Done::Line { client, line }],
            Err(e) => {
                error!(agent = %turn.agent, "cannot store an NPC greeting: {e}");
                Vec::new()
            }
        };
    };
    let mine = match store.store(&turn.message(false, said.clone())).await {
        Ok(line) => line,
        Err(e) => {
            error!(agent = %turn.agent, "cannot store a line to an NPC: {e}");
            return vec![turn.failed(format!(
                "your line could not be saved, so {} did not hear it; try again later",
                turn.npc_name
            ))];
        }
    };
    let mut out = vec![Done::Line {
        client,
        line: mine.clone(),
    }];
    let history = match store
        .messages(mine.session, &turn.player_key, Some(mine.id), HISTORY_LINES)
        .await
    {
        Ok(lines) => lines.unwrap_or_default(),
        Err(e) => {
            warn!(agent = %turn.agent, "cannot read the conversation so far: {e}");
            Vec::new()
        }
    };
    let reply = match (&config.webhook, script) {
        (Some(url), _) => {
            let request = webhook::AgentRequest {
                agent_id: turn.agent.clone(),
                user: turn.player.clone(),
                message: said,
                history: history
                    .into_iter()
                    .map(|l| webhook::HistoryLine {
                        from: l.from,
                        text: l.text,
                        at_ms: l.at_ms,
                    })
                    .collect(),
            };
            let (url, timeout) = (url.clone(), config.timeout);
            tokio::task::spawn_blocking(move || webhook::ask(&url, timeout, &request))
                .await
                .unwrap_or_else(|e| Err(format!("the agent call failed ({e})")))
        }
        (None, Some(script)) => {
            let turns = history.iter().filter(|l| l.from == turn.player).count();
            Ok(script.reply(&said, turns).to_string())
        }
        (None, None) => Err(config.mute_reason(&turn.agent).unwrap_or_default()),
    };
    match reply {
        Ok(text) => match store.store(&turn.message(true, text)).await {
            Ok(line) => out.push(Done::Line { client, line }),
            Err(e) => {
                error!(agent = %turn.agent, "cannot store an NPC reply: {e}");
                out.push(turn.failed(format!(
                    "{}'s reply could not be saved; try again later",
                    turn.npc_name
                )));
            }
        },
        Err(reason) => {
            warn!(agent = %turn.agent, user = %turn.player, "NPC could not answer: {reason}");
            out.push(turn.failed(format!("{} could not answer: {reason}", turn.npc_name)));
        }
    }
    out
}

/// The agent settings of this server, shared with the async turns.
#[derive(Resource, Debug, Clone, Default)]
pub struct Agents(pub Arc<AgentConfig>);

pub fn plugin(app: &mut App) {
    app.init_resource::<Agents>()
        .init_resource::<Conversations>()
        .add_message::<AgentSay>()
        .add_systems(
            FixedUpdate,
            (sync_npcs, start_talks, end_talks)
                .chain()
                .in_set(GameSystems::Track)
                .after(track_zones),
        )
        .add_systems(
            PreUpdate,
            (hear, finish_turns)
                .chain()
                .after(receive_chat)
                .after(GameSystems::ReceiveInputs),
        );
}

/// The display name of the NPC at `zone`.
fn npc_name(config: &AgentConfig, agent: &str, zone_name: &str) -> String {
    config
        .scripts
        .get(agent)
        .and_then(|s| s.name.clone())
        .or_else(|| (!zone_name.trim().is_empty()).then(|| zone_name.to_string()))
        .unwrap_or_else(|| agent.to_string())
}

/// Keeps one NPC per `agentId` zone of every map, also after a map is edited: an NPC
/// whose zone is still there keeps its conversation; one whose zone went away leaves.
fn sync_npcs(
    mut commands: Commands,
    maps: Res<Maps>,
    agents: Res<Agents>,
    mut npcs: Query<(Entity, &mut NpcHome, &mut Npc)>,
    mut talks: ResMut<Conversations>,
    mut closed: MessageWriter<ToClients<AgentClosed>>,
) {
    let config = &agents.0;
    if !maps.is_changed() {
        return;
    }
    let mut wanted: Vec<(MapId, u16, Npc)> = Vec::new();
    for (m, loaded) in maps.places() {
        for (i, zone) in loaded.data.zones.iter().enumerate() {
            if let Some(agent) = &zone.effects.agent {
                wanted.push((
                    m,
                    i as u16,
                    Npc {
                        agent: agent.id.clone(),
                        name: npc_name(config, &agent.id, &zone.name),
                        pos: zone.area.anchor(),
                        busy_with: None,
                    },
                ));
            }
        }
    }
    for (entity, mut home, mut npc) in &mut npcs {
        let found = wanted
            .iter()
            .position(|(m, _, w)| *m == home.map && w.agent == npc.agent);
        match found {
            Some(i) => {
                let (_, zone, w) = wanted.swap_remove(i);
                home.zone = zone;
                if npc.pos != w.pos || npc.name != w.name {
                    npc.pos = w.pos;
                    npc.name = w.name;
                }
            }
            None => {
                if let Some(talk) = talks.0.remove(&entity) {
                    closed.write(to_client(
                        talk.client,
                        AgentClosed {
                            agent: npc.agent.clone(),
                            reason: format!("{} is no longer here (the map changed)", npc.name),
                        },
                    ));
                }
                commands.entity(entity).despawn();
            }
        }
    }
    for (map, zone, npc) in wanted {
        if let Some(reason) = config.mute_reason(&npc.agent) {
            warn!(map = %maps.get(map).data.name, agent = %npc.agent, "NPC {} will not talk: {reason}", npc.name);
        }
        let private = zones_at(&maps.get(map).data, npc.pos).1;
        commands.spawn((npc, NpcHome { map, zone }, Presence { map, private }));
    }
}

/// Tells one client something about an NPC.
fn notice(client: Entity, agent: &str, text: String) -> ToClients<AgentNotice> {
    to_client(
        client,
        AgentNotice {
            agent: agent.to_string(),
            text,
        },
    )
}

fn close(
    talks: &mut Conversations,
    npcs: &mut Query<(Entity, &NpcHome, &mut Npc)>,
    npc: Entity,
    reason: Option<String>,
    closed: &mut MessageWriter<ToClients<AgentClosed>>,
) {
    let Some(talk) = talks.0.remove(&npc) else {
        return;
    };
    if let Ok((_, _, mut n)) = npcs.get_mut(npc) {
        n.busy_with = None;
        if let Some(reason) = reason {
            closed.write(to_client(
                talk.client,
                AgentClosed {
                    agent: n.agent.clone(),
                    reason,
                },
            ));
        }
    }
}

/// Opens conversations: the action key near an NPC, or walking into an `onenter` NPC zone.
fn start_talks(
    mut actions: MessageReader<ActionPressed>,
    mut changes: MessageReader<ZoneChange>,
    avatars: Query<(
        &OnMap,
        &AvatarState,
        &Owner,
        &DisplayName,
        &PlayerId,
        Option<&PlayerKey>,
    )>,
    mut npcs: Query<(Entity, &NpcHome, &mut Npc)>,
    maps: Res<Maps>,
    agents: Res<Agents>,
    worker: Option<Res<AgentWorker>>,
    time: Res<Time<Real>>,
    mut talks: ResMut<Conversations>,
    mut opened: MessageWriter<ToClients<AgentOpened>>,
    mut closed: MessageWriter<ToClients<AgentClosed>>,
    mut notices: MessageWriter<ToClients<AgentNotice>>,
) {
    let mut wanted: Vec<(Entity, Entity)> = Vec::new();
    for action in actions.read() {
        let Ok((on, state, ..)) = avatars.get(action.avatar) else {
            continue;
        };
        let pos = state.motion.pos;
        let nearest = npcs
            .iter()
            .filter(|(_, home, _)| home.map == on.0)
            .filter(|(_, home, _)| {
                maps.get(home.map)
                    .data
                    .zones
                    .get(home.zone as usize)
                    .is_some_and(|z| in_reach(&z.area, pos, 0.0))
            })
            .min_by(|a, b| a.2.pos.distance(pos).total_cmp(&b.2.pos.distance(pos)));
        if let Some((npc, ..)) = nearest {
            wanted.push((action.avatar, npc));
        }
    }
    for change in changes.read().filter(|c| c.entered) {
        let on_enter = maps
            .get(change.map)
            .data
            .zones
            .get(change.zone as usize)
            .and_then(|z| z.effects.agent.as_ref())
            .is_some_and(|a| a.trigger == Trigger::OnEnter);
        if let Some((npc, ..)) = npcs
            .iter()
            .find(|(_, home, _)| on_enter && home.map == change.map && home.zone == change.zone)
        {
            wanted.push((change.avatar, npc));
        }
    }
    for (avatar, npc) in wanted {
        let Ok((_, _, owner, player, id, key)) = avatars.get(avatar) else {
            continue;
        };
        let player_key = crate::chat::identity(key, id.0);
        let client = owner.0;
        let Ok((_, _, n)) = npcs.get(npc) else {
            continue;
        };
        let (agent, name) = (n.agent.clone(), n.name.clone());
        match &n.busy_with {
            Some(other) if *other == player.0 => continue, // already talking
            Some(other) => {
                notices.write(notice(
                    client,
                    &agent,
                    format!("{name} is talking to {other} right now; try again in a moment"),
                ));
                continue;
            }
            None => {}
        }
        if let Some(reason) = agents.0.mute_reason(&agent) {
            notices.write(notice(
                client,
                &agent,
                format!("{name} has nothing to say: {reason}"),
            ));
            continue;
        }
        let Some(worker) = worker.as_deref() else {
            notices.write(notice(
                client,
                &agent,
                format!("{name} cannot talk: chat storage is not running on this server"),
            ));
            continue;
        };
        // One conversation at a time: turning to this NPC ends the one before.
        let before: Vec<Entity> = talks
            .0
            .iter()
            .filter(|(_, t)| t.client == client)
            .map(|(e, _)| *e)
            .collect();
        for old in before {
            close(
                &mut talks,
                &mut npcs,
                old,
                Some(format!("you turned to {name}")),
                &mut closed,
            );
        }
        if let Ok((_, _, mut n)) = npcs.get_mut(npc) {
            n.busy_with = Some(player.0.clone());
        }
        talks.0.insert(
            npc,
            Talk {
                client,
                avatar,
                player: player.0.clone(),
                player_key: player_key.clone(),
                last_active: time.elapsed_secs_f64(),
                pending: true,
            },
        );
        opened.write(to_client(
            client,
            AgentOpened {
                agent: agent.clone(),
                name: name.clone(),
            },
        ));
        worker.spawn(
            &agents.0,
            Turn {
                npc,
                client,
                agent,
                npc_name: name,
                player: player.0.clone(),
                player_key,
                said: None,
            },
        );
    }
}

/// Ends conversations: the player said goodbye, walked away, left the map or the game,
/// or nothing was said for [`AgentConfig::idle`].
fn end_talks(
    mut leaves: MessageReader<FromClient<AgentLeave>>,
    avatars: Query<(&OnMap, &AvatarState)>,
    mut npcs: Query<(Entity, &NpcHome, &mut Npc)>,
    connected: Query<(), With<ConnectedClient>>,
    maps: Res<Maps>,
    agents: Res<Agents>,
    time: Res<Time<Real>>,
    mut talks: ResMut<Conversations>,
    mut closed: MessageWriter<ToClients<AgentClosed>>,
) {
    let now = time.elapsed_secs_f64();
    let idle = agents.0.idle.as_secs_f64();
    let mut ending: Vec<(Entity, Option<String>)> = Vec::new();
    for (npc, talk) in &talks.0 {
        let Ok((_, home, n)) = npcs.get(*npc) else {
            ending.push((*npc, None));
            continue;
        };
        let avatar = avatars.get(talk.avatar).ok();
        let reason = match avatar {
            _ if !connected.contains(talk.client) => None,
            None => None,
            Some((on, _)) if on.0 != home.map => Some(format!("you left {}", n.name)),
            Some((_, state)) => {
                let area = maps
                    .get(home.map)
                    .data
                    .zones
                    .get(home.zone as usize)
                    .map(|z| z.area.clone());
                if area.is_some_and(|a| !in_reach(&a, state.motion.pos, LEAVE_SLACK)) {
                    Some(format!("you walked away from {}", n.name))
                } else if !talk.pending && now - talk.last_active > idle {
                    Some(format!(
                        "{} went back to work after {idle:.0} s of silence",
                        n.name
                    ))
                } else {
                    continue;
                }
            }
        };
        ending.push((*npc, reason));
    }
    for FromClient { client_id, message } in leaves.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        if let Some((npc, _)) = talks.0.iter().find(|(npc, t)| {
            t.client == client
                && npcs
                    .get(**npc)
                    .is_ok_and(|(_, _, n)| n.agent == message.agent)
        }) {
            ending.push((*npc, Some("you said goodbye".into())));
        }
    }
    for (npc, reason) in ending {
        close(&mut talks, &mut npcs, npc, reason, &mut closed);
    }
}

/// Lines the player says to an NPC start a turn, one at a time.
fn hear(
    mut says: MessageReader<AgentSay>,
    npcs: Query<&Npc>,
    agents: Res<Agents>,
    worker: Option<Res<AgentWorker>>,
    time: Res<Time<Real>>,
    mut talks: ResMut<Conversations>,
    mut rejected: MessageWriter<ToClients<ChatRejected>>,
) {
    for say in says.read() {
        let found = talks.0.iter_mut().find(|(npc, t)| {
            t.client == say.client && npcs.get(**npc).is_ok_and(|n| n.agent == say.agent)
        });
        let Some((npc, talk)) = found else {
            rejected.write(rejection(
                say.client,
                &say.text,
                format!(
                    "you are not talking to `{}`; walk up to the NPC and press E first",
                    say.agent
                ),
            ));
            continue;
        };
        let Ok(n) = npcs.get(*npc) else {
            continue;
        };
        if talk.pending {
            rejected.write(rejection(
                say.client,
                &say.text,
                format!("{} is still answering your last line", n.name),
            ));
            continue;
        }
        let Some(worker) = worker.as_deref() else {
            continue;
        };
        talk.pending = true;
        talk.last_active = time.elapsed_secs_f64();
        worker.spawn(
            &agents.0,
            Turn {
                npc: *npc,
                client: say.client,
                agent: n.agent.clone(),
                npc_name: n.name.clone(),
                player: talk.player.clone(),
                player_key: talk.player_key.clone(),
                said: Some(say.text.clone()),
            },
        );
    }
}

/// Delivers what finished turns produced.
fn finish_turns(
    worker: Option<Res<AgentWorker>>,
    connected: Query<(), With<ConnectedClient>>,
    time: Res<Time<Real>>,
    mut talks: ResMut<Conversations>,
    mut delivery: MessageWriter<ToClients<ChatDelivery>>,
    mut notices: MessageWriter<ToClients<AgentNotice>>,
) {
    let Some(worker) = worker else {
        return;
    };
    let done: Vec<Done> = match worker.done_rx.lock() {
        Ok(rx) => rx.try_iter().collect(),
        Err(_) => return,
    };
    for d in done {
        match d {
            Done::Line { client, line } if connected.contains(client) => {
                delivery.write(to_client(
                    client,
                    ChatDelivery {
                        lines: vec![line],
                        history: false,
                    },
                ));
            }
            Done::Failed {
                client,
                agent,
                text,
            } if connected.contains(client) => {
                notices.write(notice(client, &agent, text));
            }
            Done::TurnOver { npc } => {
                if let Some(talk) = talks.0.get_mut(&npc) {
                    talk.pending = false;
                    talk.last_active = time.elapsed_secs_f64();
                }
            }
            _ => {}
        }
    }
}
