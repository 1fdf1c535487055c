//! Headless bot clients: each is a full client app (login, netcode, prediction,
//! interpolation) with a brain instead of a keyboard. `tavern-bots` runs many of them
//! in one process; tests drive them one update at a time.

use std::collections::VecDeque;

use bevy::prelude::*;
use bevy::state::app::StatesPlugin;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tavern_shared::avatar::{AvatarState, InputAck, PlayerId};
use tavern_shared::input::{Buttons, InputFrame, Stick};

use crate::PlaySystems;
use crate::connection::{ConnectionStatus, LocalPlayer, ServerTarget};
use crate::interpolation::Interpolated;
use crate::prediction::{Confirmed, DesiredInput, OwnAvatar, OwnFlags, Prediction};

/// What a bot does with its stick.
#[derive(Resource, Debug)]
pub enum Brain {
    /// Stands still.
    Idle,
    /// Walks or runs in a random direction, changing every 0.5 to 2 s.
    Wander {
        rng: Box<ChaCha8Rng>,
        ticks_left: u32,
        current: InputFrame,
    },
    /// Plays a fixed list of (ticks, input) steps, then stands still.
    Script(VecDeque<(u32, InputFrame)>),
    /// Fights the nearest monster ([`crate::fight`]); the stick comes from there.
    Fight(Box<crate::fight::FightMind>),
}

impl Brain {
    pub fn wander(seed: u64) -> Brain {
        Brain::Wander {
            rng: Box::new(ChaCha8Rng::seed_from_u64(seed)),
            ticks_left: 0,
            current: InputFrame::default(),
        }
    }

    /// A fighter with the players' hotbar from `content` (`cheat`: trying cheats too).
    pub fn fight(content: &tavern_shared::content::Content, cheat: bool) -> Brain {
        Brain::Fight(Box::new(crate::fight::FightMind::new(
            crate::fight::Tactics::new(content, cheat),
        )))
    }

    pub(crate) fn next(&mut self) -> InputFrame {
        match self {
            Brain::Idle | Brain::Fight(_) => InputFrame::default(),
            Brain::Wander {
                rng,
                ticks_left,
                current,
            } => {
                if *ticks_left == 0 {
                    *ticks_left = rng.random_range(30..120);
                    let dir = Vec2::from_angle(rng.random_range(0.0..std::f32::consts::TAU));
                    let magnitude = rng.random_range(0.3..=1.0);
                    let run = rng.random_bool(0.3);
                    *current = InputFrame {
                        stick: Stick::from_vec(dir * magnitude),
                        buttons: if run { Buttons::RUN } else { Buttons::NONE },
                    };
                }
                *ticks_left -= 1;
                *current
            }
            Brain::Script(steps) => {
                let Some((ticks, frame)) = steps.front_mut() else {
                    return InputFrame::default();
                };
                let f = *frame;
                *ticks -= 1;
                if *ticks == 0 {
                    steps.pop_front();
                }
                f
            }
        }
    }

    /// Whether a script has run out (always true for other brains).
    pub fn is_done(&self) -> bool {
        match self {
            Brain::Script(steps) => steps.is_empty(),
            _ => true,
        }
    }
}

/// The brain only acts once the avatar is placed, so scripts start from the spawn point.
fn think(mut brain: ResMut<Brain>, mut desired: ResMut<DesiredInput>, prediction: Res<Prediction>) {
    if matches!(*brain, Brain::Fight(_)) {
        return; // crate::fight decides
    }
    desired.0 = if prediction.state.is_some() {
        brain.next()
    } else {
        InputFrame::default()
    };
}

/// One headless client.
pub struct Bot {
    pub app: App,
}

/// A bot that goes away says goodbye, so the server frees its place at once instead of
/// after the connection times out.
impl Drop for Bot {
    fn drop(&mut self) {
        disconnect(self.app.world_mut());
    }
}

/// Sends netcode's disconnect packet, if connected.
pub(crate) fn disconnect(world: &mut World) {
    if let Some(mut transport) =
        world.get_resource_mut::<bevy_replicon_renet2::netcode::NetcodeClientTransport>()
    {
        transport.disconnect();
    }
}

impl Bot {
    /// A bot that will log in at `url` as `name` on its first update.
    pub fn new(url: &str, name: &str, brain: Brain) -> Bot {
        Bot::with_session(url, name, brain, None)
    }

    /// A bot that logs in with a guest session from an earlier login: the same player.
    pub fn with_session(url: &str, name: &str, brain: Brain, session: Option<String>) -> Bot {
        Bot::with_target(
            ServerTarget {
                session,
                ..ServerTarget::guest(url, name)
            },
            brain,
        )
    }

    /// A bot that joins room `room` (with its password, if it has one).
    pub fn in_room(url: &str, name: &str, brain: Brain, room: &str, password: Option<&str>) -> Bot {
        Bot::with_target(
            ServerTarget {
                room: Some(room.to_string()),
                room_password: password.map(str::to_string),
                ..ServerTarget::guest(url, name)
            },
            brain,
        )
    }

    /// A bot that logs in as `target` says.
    pub fn with_target(target: ServerTarget, brain: Brain) -> Bot {
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, StatesPlugin))
            .add_plugins(crate::plugin)
            .insert_resource(target)
            .insert_resource(brain)
            .add_plugins(crate::fight::plugin)
            .add_systems(FixedUpdate, think.in_set(PlaySystems::Input));
        app.finish();
        app.cleanup();
        Bot { app }
    }

    /// The room's event stream as this bot got it.
    pub fn events(&self) -> &crate::events::EventStream {
        self.app.world().resource::<crate::events::EventStream>()
    }

    /// The room's players as the server last listed them.
    pub fn roster(&self) -> &tavern_shared::presence::RoomRoster {
        &self.app.world().resource::<crate::roster::Roster>().0
    }

    /// How many connections began with a new avatar, and how many back in the old one.
    pub fn arrivals(&self) -> crate::connection::Arrivals {
        *self.app.world().resource::<crate::connection::Arrivals>()
    }

    /// Leaves on purpose: says goodbye (the avatar goes at once) and waits, up to 2 s,
    /// for the server to close the connection.
    pub fn leave(&mut self) {
        crate::connection::say_goodbye(self.app.world_mut());
        let start = std::time::Instant::now();
        while self.is_connected() && start.elapsed() < std::time::Duration::from_secs(2) {
            self.update();
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Whether the bot said goodbye (it does not log in again).
    pub fn has_left(&self) -> bool {
        !self
            .app
            .world()
            .contains_resource::<crate::connection::ServerTarget>()
    }

    /// Cuts the connection as a broken network would; the bot logs in again (with its
    /// session, into its room) after the usual backoff.
    pub fn drop_connection(&mut self) {
        crate::connection::drop_link(self.app.world_mut(), "dropped on purpose");
    }

    /// Says goodbye to the server and closes the connection; the bot logs in again
    /// after the backoff unless `for_good`.
    pub fn disconnect(&mut self, for_good: bool) {
        if for_good {
            self.app
                .world_mut()
                .remove_resource::<crate::connection::ServerTarget>();
        }
        if let Some(mut client) = self
            .app
            .world_mut()
            .get_resource_mut::<bevy_replicon_renet2::renet2::RenetClient>()
        {
            client.disconnect();
        }
    }

    pub fn update(&mut self) {
        self.app.update();
    }

    pub fn status(&self) -> &ConnectionStatus {
        self.app.world().resource::<ConnectionStatus>()
    }

    pub fn is_connected(&self) -> bool {
        *self.status() == ConnectionStatus::Connected
    }

    pub fn client_id(&self) -> Option<u64> {
        self.app
            .world()
            .get_resource::<LocalPlayer>()
            .map(|l| l.client_id)
    }

    pub fn prediction(&self) -> &Prediction {
        self.app.world().resource::<Prediction>()
    }

    pub fn brain_mut(&mut self) -> Mut<'_, Brain> {
        self.app.world_mut().resource_mut::<Brain>()
    }

    /// The server's last word on the own avatar, if it has arrived.
    pub fn own_server_state(&mut self) -> Option<Confirmed> {
        let mut q = self
            .app
            .world_mut()
            .query_filtered::<(&AvatarState, &InputAck, Option<&OwnFlags>), With<OwnAvatar>>();
        q.single(self.app.world())
            .ok()
            .map(|(state, ack, warps)| Confirmed::from_own(state, ack, warps))
    }

    /// The own avatar's health, mana and stamina, as the server last sent them.
    pub fn own_vitals(&mut self) -> Option<tavern_shared::combat::Vitals> {
        let mut q = self
            .app
            .world_mut()
            .query_filtered::<&tavern_shared::combat::Vitals, With<OwnAvatar>>();
        q.single(self.app.world()).ok().copied()
    }

    /// Other avatars: id, last server state received, and where they are drawn.
    /// The look of the avatar of player `id`, as this bot received it.
    pub fn look_of(&mut self, id: u64) -> Option<tavern_shared::avatar::Look> {
        let mut q = self
            .app
            .world_mut()
            .query::<(&PlayerId, &tavern_shared::avatar::Look)>();
        q.iter(self.app.world())
            .find(|(p, _)| p.0 == id)
            .map(|(_, look)| *look)
    }

    pub fn others(&mut self) -> Vec<(u64, AvatarState, Option<Interpolated>)> {
        let mut q = self
            .app
            .world_mut()
            .query_filtered::<(&PlayerId, &AvatarState, Option<&Interpolated>), Without<OwnAvatar>>(
            );
        q.iter(self.app.world())
            .map(|(id, s, i)| (id.0, *s, i.copied()))
            .collect()
    }

    /// Sends a chat line.
    pub fn say(&mut self, channel: tavern_shared::chat::ChatChannel, text: &str) {
        crate::chat::say(self.app.world_mut(), channel, text);
    }

    /// Gives a GM command (the server refuses it unless this bot is the GM).
    pub fn gm(&mut self, command: tavern_shared::gm::GmCommand) {
        self.app.world_mut().write_message(command);
    }

    /// Does what the GM typed (`/kick Bram spoilers` as `("kick", "Bram spoilers")`),
    /// naming players as the room's roster does; why not, if it cannot be sent.
    pub fn gm_act(&mut self, word: &str, rest: &str) -> Result<(), String> {
        let request = crate::table::GmRequest::parse(word, rest)?;
        match request.resolve(&self.roster().clone())? {
            crate::table::GmSend::Action(action) => {
                self.app.world_mut().write_message(action);
            }
            crate::table::GmSend::Encounter(command) => {
                self.app.world_mut().write_message(command);
            }
        }
        Ok(())
    }

    /// The campaign's table as this bot knows it.
    pub fn table(&self) -> &crate::table::Table {
        self.app.world().resource::<crate::table::Table>()
    }

    /// The voice frames it received, by speaker.
    pub fn voices(&self) -> &crate::voice::Voices {
        self.app.world().resource::<crate::voice::Voices>()
    }

    /// Sends one frame of its voice (`None`: a frame left out as silent); returns its
    /// sequence number.
    pub fn speak(&mut self, opus: impl Into<Option<Vec<u8>>>) -> u16 {
        crate::voice::speak(self.app.world_mut(), opus.into())
    }

    /// The voice frames relayed to it since last taken.
    pub fn take_voice(&mut self) -> Vec<crate::voice::Heard> {
        let mut voices = self.app.world_mut().resource_mut::<crate::voice::Voices>();
        voices.frames.drain(..).collect()
    }

    /// The map it is on and the hearing radius there.
    pub fn map(&self) -> Option<(std::sync::Arc<tavern_shared::map::MapData>, f32)> {
        let world = self.app.world();
        let map = world.get_resource::<crate::prediction::CurrentMap>()?;
        Some((
            map.data.clone(),
            world.resource::<crate::voice::Voices>().hearing_radius,
        ))
    }

    /// Turns its microphone on or off, and deafens it or not.
    pub fn voice_status(&mut self, microphone: bool, deafened: bool) {
        let status = tavern_shared::voice::VoiceStatus {
            microphone,
            deafened,
        };
        crate::voice::set_status(self.app.world_mut(), status);
    }

    pub fn mute_voice(&mut self, speaker: tavern_shared::stream::StreamId, muted: bool) {
        crate::voice::mute(self.app.world_mut(), speaker, muted);
    }

    /// The files shared at its campaign's table, the handout shown, the sounds played.
    pub fn handouts(&self) -> &crate::handouts::Handouts {
        self.app.world().resource::<crate::handouts::Handouts>()
    }

    /// The files it downloaded from the server (map images, handouts, sounds) by URL.
    pub fn downloads(&self) -> &crate::assets::MapAssets {
        self.app.world().resource::<crate::assets::MapAssets>()
    }

    /// Shares the file at `path` with its campaign's table, as `/upload PATH` does.
    pub fn upload(&mut self, path: &str) {
        self.app
            .world_mut()
            .write_message(crate::handouts::UploadFile(path.to_string()));
    }

    /// Meetings the server invited this bot to.
    pub fn meetings(&self) -> &crate::meetings::Meetings {
        self.app.world().resource::<crate::meetings::Meetings>()
    }

    /// The chat this bot has seen.
    pub fn chat(&self) -> &crate::chat::ChatLog {
        self.app.world().resource::<crate::chat::ChatLog>()
    }

    /// The NPC conversation as this bot knows it.
    pub fn conversation(&self) -> &crate::agents::Conversation {
        self.app.world().resource::<crate::agents::Conversation>()
    }

    /// NPCs this bot has received.
    pub fn npcs(&mut self) -> Vec<tavern_shared::agent::Npc> {
        let mut q = self.app.world_mut().query::<&tavern_shared::agent::Npc>();
        q.iter(self.app.world()).cloned().collect()
    }

    /// Says goodbye to the NPC this bot is talking to.
    pub fn leave_conversation(&mut self) {
        crate::agents::leave(self.app.world_mut());
    }

    /// The token for the HTTP API, once logged in.
    pub fn api_token(&self) -> Option<String> {
        self.app
            .world()
            .get_resource::<LocalPlayer>()
            .map(|l| l.api_token.clone())
    }

    /// Players the server says are near this bot.
    pub fn nearby(&self) -> &crate::proximity::NearbyPlayers {
        self.app
            .world()
            .resource::<crate::proximity::NearbyPlayers>()
    }

    /// The zones (indices into the map's zone list) the server says the own avatar is in.
    pub fn own_zones(&mut self) -> Option<Vec<u16>> {
        let mut q = self
            .app
            .world_mut()
            .query_filtered::<&tavern_shared::avatar::InZones, With<OwnAvatar>>();
        q.single(self.app.world()).ok().map(|z| z.0.clone())
    }

    /// Uses `ability` aimed at `aim` (`None`: the nearest enemy in front).
    pub fn use_ability(
        &mut self,
        ability: &str,
        aim: Option<Vec2>,
    ) -> tavern_shared::combat::messages::UseAbility {
        crate::combat::use_ability(self.app.world_mut(), ability, aim)
    }

    /// Cheats a `--cheat` fighter tried, and how many the server let through.
    pub fn cheats(&self) -> &crate::fight::CheatBook {
        self.app.world().resource::<crate::fight::CheatBook>()
    }

    /// What the server said about fights.
    pub fn combat(&self) -> &crate::combat::CombatLog {
        self.app.world().resource::<crate::combat::CombatLog>()
    }

    /// Monsters in view: stream id, enemy type, last server state, where it is drawn.
    pub fn monsters(&mut self) -> Vec<(u32, String, AvatarState, Option<Interpolated>)> {
        let mut q = self.app.world_mut().query::<(
            &crate::stream::Streamed,
            &crate::stream::MonsterKind,
            &AvatarState,
            Option<&Interpolated>,
        )>();
        let mut all: Vec<_> = q
            .iter(self.app.world())
            .map(|(id, kind, s, i)| (id.0, kind.0.clone(), *s, i.copied()))
            .collect();
        all.sort_by_key(|m| m.0);
        all
    }

    /// The guest session the server gave at login (to come back as the same player).
    pub fn session(&self) -> Option<String> {
        self.app.world().resource::<ServerTarget>().session.clone()
    }

    /// Asks for the loot with stream id `loot`.
    pub fn pick_up(&mut self, loot: u32) -> tavern_shared::combat::messages::PickUp {
        crate::combat::pick_up(self.app.world_mut(), loot)
    }

    /// Uses one of an item held.
    pub fn use_item(&mut self, item: &str) {
        crate::combat::use_item(self.app.world_mut(), item);
    }

    /// What the player holds, as the server last said.
    pub fn inventory(&self) -> &tavern_shared::combat::messages::InventoryUpdate {
        &self.app.world().resource::<crate::combat::Inventory>().0
    }

    /// Loot in view: stream id, what it is, where it lies.
    pub fn loot(&mut self) -> Vec<(u32, crate::stream::LootKind, Vec2)> {
        let mut q = self.app.world_mut().query::<(
            &crate::stream::Streamed,
            &crate::stream::LootKind,
            &AvatarState,
        )>();
        let mut all: Vec<_> = q
            .iter(self.app.world())
            .map(|(id, kind, s)| (id.0, kind.clone(), s.motion.pos))
            .collect();
        all.sort_by_key(|l| l.0);
        all
    }

    /// The map's doors, chests and rooms as the server last said, and its notices.
    pub fn dungeon(&self) -> &crate::dungeon::Dungeon {
        self.app.world().resource::<crate::dungeon::Dungeon>()
    }

    /// The own avatar's stream id.
    pub fn own_stream_id(&self) -> Option<u32> {
        self.app
            .world()
            .resource::<crate::stream::StreamBook>()
            .own_id()
    }

    /// Round trip (s) and bytes per second down and up, once connected.
    pub fn network(&self) -> Option<(f64, f64, f64)> {
        crate::connection::link_figures(
            self.app
                .world()
                .get_resource::<bevy_replicon_renet2::renet2::RenetClient>()?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_play_in_order_then_stand_still() {
        let walk = InputFrame {
            stick: Stick::from_vec(Vec2::X),
            buttons: Buttons::NONE,
        };
        let mut brain = Brain::Script(VecDeque::from([(2, walk), (1, InputFrame::default())]));
        assert_eq!(brain.next(), walk);
        assert_eq!(brain.next(), walk);
        assert!(!brain.is_done());
        assert_eq!(brain.next(), InputFrame::default());
        assert!(brain.is_done());
        assert_eq!(brain.next(), InputFrame::default());
    }

    #[test]
    fn wandering_is_seeded() {
        let run = |seed| {
            let mut b = Brain::wander(seed);
            (0..300).map(|_| b.next()).collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        assert!(run(3).iter().all(|f| f.stick.is_valid()));
    }
}
