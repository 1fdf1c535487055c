//! Takes in the avatar stream ([`tavern_shared::stream`]): spawns the avatars that came
//! into view (the own one marked [`OwnAvatar`]), despawns those that left, applies the
//! newest states (the own avatar's with the last input the server applied, for
//! prediction), and acknowledges every packet of states that arrived.
//!
//! The roster is reliable and the states are not, so a state can arrive before the
//! roster that introduces its avatar: it waits, and is applied if it is newer than the
//! state the roster brings. A state older than one already applied is dropped.

use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{AvatarState, DisplayName, InZones, InputAck, Look, PlayerId};
use tavern_shared::stream::{
    Actor, AvatarIntro, AvatarRoster, AvatarStates, OwnState, StatesAck, StreamId,
};

use crate::PlaySystems;
use crate::connection::LocalPlayer;
use crate::prediction::{OwnAvatar, OwnFlags};

/// On every avatar (and monster) the stream gave: its stream id.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streamed(pub StreamId);

/// On a monster the stream gave: its enemy type's id.
#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct MonsterKind(pub String);

/// On loot the stream gave: `count` of an item (its id), or of gold (`None`).
#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct LootKind {
    pub item: Option<String>,
    pub count: u32,
}

/// States kept waiting for their roster at most; more means they will never be used.
const MAX_EARLY: usize = 4096;
/// Packets after which a waiting state is given up on.
const EARLY_PACKETS: u32 = 200;

/// Where the stream's decisions go: the game's world, or a light bot's counters.
pub trait StreamSink<H> {
    /// An avatar came into view (the own one with `own`), with `state`.
    fn spawn(&mut self, intro: &AvatarIntro, state: AvatarState, own: bool) -> H;
    /// An avatar left view.
    fn despawn(&mut self, avatar: H);
    /// A newer state of another avatar.
    fn state(&mut self, avatar: H, state: AvatarState);
    /// A newer state of the own avatar, with the last input the server applied.
    fn own(&mut self, avatar: H, own: OwnState);
}

/// What the client holds of the stream, and the rules for taking in more; `H` is how
/// the sink names an avatar (an entity in the game).
#[derive(Resource, Debug)]
pub struct StreamBook<H: Send + Sync + 'static = Entity> {
    /// Avatars held: handle and the packet their state came in (or the roster's).
    avatars: HashMap<StreamId, (H, u32)>,
    own: Option<StreamId>,
    own_seq: u32,
    /// States that came before their roster, with their packet.
    early: HashMap<StreamId, (u32, AvatarState)>,
    early_own: Option<(u32, OwnState)>,
    ack: StatesAck,
}

impl<H: Send + Sync + 'static> Default for StreamBook<H> {
    fn default() -> Self {
        StreamBook {
            avatars: HashMap::new(),
            own: None,
            own_seq: 0,
            early: HashMap::new(),
            early_own: None,
            ack: StatesAck::default(),
        }
    }
}

impl<H: Copy + Send + Sync + 'static> StreamBook<H> {
    /// Avatars held, besides the own one.
    pub fn others(&self) -> usize {
        self.avatars.len() - usize::from(self.own_avatar().is_some())
    }

    /// The own avatar, once the roster brought it.
    pub fn own_avatar(&self) -> Option<H> {
        self.own
            .and_then(|id| self.avatars.get(&id))
            .map(|(h, _)| *h)
    }

    /// The own avatar's stream id, once the roster brought it.
    pub fn own_id(&self) -> Option<StreamId> {
        self.own
    }

    /// What to acknowledge: every packet of states received.
    pub fn ack(&self) -> StatesAck {
        self.ack
    }

    /// Takes a roster: who left, who came into view (the own avatar is the one whose
    /// player is `me`).
    pub fn roster(
        &mut self,
        roster: &AvatarRoster,
        me: Option<u64>,
        sink: &mut impl StreamSink<H>,
    ) {
        for id in &roster.left {
            if let Some((avatar, _)) = self.avatars.remove(id) {
                sink.despawn(avatar);
            }
            self.early.remove(id);
        }
        for intro in &roster.entered {
            let (mut seq, mut state) = (roster.seq, intro.state);
            if let Some((early_seq, early)) = self.early.remove(&intro.id)
                && early_seq > roster.seq
            {
                (seq, state) = (early_seq, early);
            }
            if let Some((old, _)) = self.avatars.remove(&intro.id) {
                sink.despawn(old);
            }
            let own = me.is_some() && me == intro.player();
            let avatar = sink.spawn(intro, state, own);
            self.avatars.insert(intro.id, (avatar, seq));
            if own {
                self.own = Some(intro.id);
                if let Some((seq, early)) = self.early_own.take()
                    && seq > self.own_seq
                {
                    self.own_seq = seq;
                    sink.own(avatar, early);
                }
            }
        }
    }

    /// Takes a packet of states: applies those newer than what is held, keeps those of
    /// avatars not introduced yet, and records the packet for the acknowledgement.
    pub fn states(&mut self, packet: &AvatarStates, sink: &mut impl StreamSink<H>) {
        self.ack.record(packet.seq);
        if let Some(own) = packet.own
            && packet.seq > self.own_seq
        {
            match self.own_avatar() {
                Some(avatar) => {
                    self.own_seq = packet.seq;
                    sink.own(avatar, own);
                }
                None => {
                    if self.early_own.is_none_or(|(s, _)| packet.seq > s) {
                        self.early_own = Some((packet.seq, own));
                    }
                }
            }
        }
        for (id, state) in &packet.others {
            match self.avatars.get_mut(id) {
                Some((avatar, seq)) => {
                    if packet.seq > *seq {
                        *seq = packet.seq;
                        sink.state(*avatar, *state);
                    }
                }
                None => {
                    let newer = self.early.get(id).is_none_or(|(s, _)| packet.seq > *s);
                    if newer && self.early.len() < MAX_EARLY {
                        self.early.insert(*id, (packet.seq, *state));
                    }
                }
            }
        }
        let newest = self.ack.newest;
        self.early
            .retain(|_, (seq, _)| seq.saturating_add(EARLY_PACKETS) > newest);
    }

    /// Forgets everything (the connection ended); returns the avatars held.
    pub fn clear(&mut self) -> Vec<H> {
        let held = self.avatars.values().map(|(h, _)| *h).collect();
        *self = StreamBook::default();
        held
    }
}

/// The own avatar's zones, when they came before the avatar.
#[derive(Resource, Debug, Default)]
struct EarlyZones(Option<InZones>);

pub fn plugin(app: &mut App) {
    app.init_resource::<StreamBook>()
        .init_resource::<EarlyZones>()
        .add_systems(
            PreUpdate,
            (receive_stream, receive_zones)
                .chain()
                .in_set(PlaySystems::Stream),
        )
        .add_systems(OnExit(ClientState::Connected), forget_stream);
}

/// The game's sink: avatars are entities.
type Shown = (&'static mut AvatarState, Option<&'static mut InputAck>);

struct WorldSink<'a, 'cw, 'cs, 'qw, 'qs> {
    commands: &'a mut Commands<'cw, 'cs>,
    avatars: &'a mut Query<'qw, 'qs, Shown>,
    zones: &'a mut EarlyZones,
}

impl StreamSink<Entity> for WorldSink<'_, '_, '_, '_, '_> {
    fn spawn(&mut self, intro: &AvatarIntro, state: AvatarState, own: bool) -> Entity {
        let mut entity =
            self.commands
                .spawn((Streamed(intro.id), DisplayName(intro.name.clone()), state));
        match &intro.actor {
            Actor::Player(id) => entity.insert((PlayerId(*id), Look(intro.look))),
            Actor::Monster(enemy) => entity.insert(MonsterKind(enemy.clone())),
            Actor::Loot { item, count } => entity.insert(LootKind {
                item: item.clone(),
                count: *count,
            }),
        };
        if own {
            entity.insert(OwnAvatar);
            if let Some(zones) = self.zones.0.take() {
                entity.insert(zones);
            }
        }
        entity.id()
    }

    fn despawn(&mut self, avatar: Entity) {
        self.commands.entity(avatar).despawn();
    }

    fn state(&mut self, avatar: Entity, state: AvatarState) {
        if let Ok((mut shown, _)) = self.avatars.get_mut(avatar) {
            shown.set_if_neq(state);
        }
    }

    fn own(&mut self, avatar: Entity, own: OwnState) {
        self.commands.entity(avatar).insert((
            own.vitals,
            OwnFlags {
                warps: own.warps,
                held: own.held,
            },
        ));
        match self.avatars.get_mut(avatar) {
            Ok((mut state, Some(mut ack))) => {
                state.set_if_neq(own.state);
                ack.set_if_neq(InputAck(own.last_input));
            }
            // Spawned this frame, or without an acknowledgement yet.
            _ => {
                self.commands
                    .entity(avatar)
                    .insert((own.state, InputAck(own.last_input)));
            }
        }
    }
}

fn receive_stream(
    mut commands: Commands,
    mut rosters: MessageReader<AvatarRoster>,
    mut packets: MessageReader<AvatarStates>,
    mut book: ResMut<StreamBook>,
    mut avatars: Query<Shown>,
    mut zones: ResMut<EarlyZones>,
    mut acks: MessageWriter<StatesAck>,
    local: Option<Res<LocalPlayer>>,
) {
    let me = local.map(|l| l.client_id);
    let mut sink = WorldSink {
        commands: &mut commands,
        avatars: &mut avatars,
        zones: &mut zones,
    };
    for roster in rosters.read() {
        book.roster(roster, me, &mut sink);
    }
    let mut received = false;
    for packet in packets.read() {
        received = true;
        book.states(packet, &mut sink);
    }
    if received {
        acks.write(book.ack());
    }
}

fn receive_zones(
    mut commands: Commands,
    mut messages: MessageReader<InZones>,
    book: Res<StreamBook>,
    mut early: ResMut<EarlyZones>,
) {
    let Some(zones) = messages.read().last() else {
        return;
    };
    match book.own_avatar() {
        Some(avatar) => {
            commands.entity(avatar).insert(zones.clone());
        }
        None => early.0 = Some(zones.clone()),
    }
}

fn forget_stream(
    mut commands: Commands,
    mut book: ResMut<StreamBook>,
    mut early: ResMut<EarlyZones>,
) {
    for avatar in book.clear() {
        commands.entity(avatar).despawn();
    }
    early.0 = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy::state::app::StatesPlugin;
    use tavern_shared::movement::MoveState;

    fn app() -> App {
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, StatesPlugin))
            .add_message::<AvatarRoster>()
            .add_message::<AvatarStates>()
            .add_message::<StatesAck>()
            .add_message::<InZones>()
            .init_state::<ClientState>()
            .insert_resource(LocalPlayer {
                client_id: 7,
                name: "Me".into(),
                api_token: String::new(),
            })
            .add_plugins(plugin);
        app
    }

    fn state(x: f32) -> AvatarState {
        AvatarState::new(MoveState::at(Vec2::new(x, 0.0)))
    }

    fn intro(id: StreamId, player: u64, x: f32) -> AvatarIntro {
        AvatarIntro {
            id,
            actor: Actor::Player(player),
            name: format!("p{player}"),
            state: state(x),
            look: 0,
        }
    }

    fn send<M: Message>(app: &mut App, message: M) {
        app.world_mut().write_message(message);
    }

    fn held(app: &mut App) -> Vec<(u64, f32, Option<u32>, bool)> {
        let world = app.world_mut();
        let mut q = world.query::<(&PlayerId, &AvatarState, Option<&InputAck>, Has<OwnAvatar>)>();
        let mut all: Vec<_> = q
            .iter(world)
            .map(|(p, s, a, own)| (p.0, s.motion.pos.x, a.map(|a| a.0), own))
            .collect();
        all.sort_by_key(|h| h.0);
        all
    }

    fn acks(app: &mut App) -> Vec<StatesAck> {
        let messages = app.world().resource::<Messages<StatesAck>>();
        messages.iter_current_update_messages().copied().collect()
    }

    #[test]
    fn states_before_their_roster_wait_and_stale_ones_are_dropped() {
        let mut app = app();
        // The states of send 1 overtake the roster of that send.
        send(
            &mut app,
            AvatarStates {
                seq: 1,
                own: Some(OwnState {
                    state: state(5.0),
                    last_input: 3,
                    vitals: Default::default(),
                    warps: 0,
                    held: false,
                }),
                others: vec![(2, state(20.0))],
            },
        );
        app.update();
        assert!(held(&mut app).is_empty());
        assert_eq!(
            acks(&mut app).last().unwrap().newest,
            1,
            "acknowledged anyway"
        );
        send(
            &mut app,
            AvatarRoster {
                seq: 0,
                entered: vec![intro(1, 7, 0.0), intro(2, 9, 10.0)],
                left: vec![],
            },
        );
        send(&mut app, InZones(vec![4]));
        app.update();
        assert_eq!(
            held(&mut app),
            vec![(7, 5.0, Some(3), true), (9, 20.0, None, false)],
            "the waiting states are newer than the roster's"
        );
        let world = app.world_mut();
        let mut zones = world.query_filtered::<&InZones, With<OwnAvatar>>();
        assert_eq!(zones.single(world).unwrap().0, vec![4]);

        // Packet 3 arrives before packet 2: 2 is stale and changes nothing.
        for (seq, x) in [(3, 40.0), (2, 30.0)] {
            send(
                &mut app,
                AvatarStates {
                    seq,
                    own: None,
                    others: vec![(2, state(x))],
                },
            );
        }
        app.update();
        assert_eq!(held(&mut app)[1].1, 40.0);
        let ack = *acks(&mut app).last().unwrap();
        assert!(ack.covers(1) && ack.covers(2) && ack.covers(3));

        // Avatar 2 leaves; a late state of it is not shown, nor kept past a new roster.
        send(
            &mut app,
            AvatarRoster {
                seq: 3,
                entered: vec![],
                left: vec![2],
            },
        );
        send(
            &mut app,
            AvatarStates {
                seq: 2,
                own: None,
                others: vec![(2, state(99.0))],
            },
        );
        app.update();
        assert_eq!(held(&mut app).len(), 1);
        send(
            &mut app,
            AvatarRoster {
                seq: 5,
                entered: vec![intro(2, 9, 50.0)],
                left: vec![],
            },
        );
        app.update();
        assert_eq!(
            held(&mut app)[1].1,
            50.0,
            "the roster's state, not the stale one"
        );
    }

    #[test]
    fn leaving_the_server_forgets_every_avatar() {
        let mut app = app();
        app.world_mut()
            .resource_mut::<NextState<ClientState>>()
            .set(ClientState::Connected);
        app.update();
        send(
            &mut app,
            AvatarRoster {
                seq: 0,
                entered: vec![intro(1, 7, 0.0), intro(2, 9, 10.0)],
                left: vec![],
            },
        );
        app.update();
        assert_eq!(held(&mut app).len(), 2);
        app.world_mut()
            .resource_mut::<NextState<ClientState>>()
            .set(ClientState::Disconnected);
        app.update();
        assert!(held(&mut app).is_empty());
        assert_eq!(app.world().resource::<StreamBook>().others(), 0);
    }
}
