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
use tavern_shared::avatar::{AvatarState, DisplayName, InZones, InputAck, PlayerId};
use tavern_shared::stream::{
    AvatarIntro, AvatarRoster, AvatarStates, OwnState, StatesAck, StreamId,
};

use crate::PlaySystems;
use crate::connection::LocalPlayer;
use crate::prediction::OwnAvatar;

/// On every avatar the stream gave: its stream id.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streamed(pub StreamId);

/// States kept waiting for their roster at most; more means they will never be used.
const MAX_EARLY: usize = 4096;
/// Packets after which a waiting state is given up on.
const EARLY_PACKETS: u32 = 200;

/// What the client holds of the stream.
#[derive(Resource, Debug, Default)]
pub struct StreamBook {
    /// Avatars held: entity and the packet its state came in (or the roster's).
    avatars: HashMap<StreamId, (Entity, u32)>,
    own: Option<StreamId>,
    own_seq: u32,
    /// States that came before their roster, with their packet.
    early: HashMap<StreamId, (u32, AvatarState)>,
    early_own: Option<(u32, OwnState)>,
    /// The own avatar's zones, if they came before it.
    early_zones: Option<InZones>,
    ack: StatesAck,
}

impl StreamBook {
    /// Avatars held, besides the own one.
    pub fn others(&self) -> usize {
        self.avatars.len() - usize::from(self.own.is_some_and(|o| self.avatars.contains_key(&o)))
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<StreamBook>()
        .add_systems(
            PreUpdate,
            (receive_roster, receive_states, receive_zones)
                .chain()
                .in_set(PlaySystems::Stream),
        )
        .add_systems(OnExit(ClientState::Connected), forget_stream);
}

fn receive_roster(
    mut commands: Commands,
    mut rosters: MessageReader<AvatarRoster>,
    mut book: ResMut<StreamBook>,
    local: Option<Res<LocalPlayer>>,
) {
    let book = &mut *book;
    for roster in rosters.read() {
        for id in &roster.left {
            if let Some((entity, _)) = book.avatars.remove(id) {
                commands.entity(entity).despawn();
            }
            book.early.remove(id);
        }
        for AvatarIntro {
            id,
            player,
            name,
            state,
        } in &roster.entered
        {
            let mut state = *state;
            let mut seq = roster.seq;
            if let Some((early_seq, early)) = book.early.remove(id)
                && early_seq > roster.seq
            {
                (seq, state) = (early_seq, early);
            }
            let own = local.as_ref().is_some_and(|l| l.client_id == *player);
            if let Some((old, _)) = book.avatars.remove(id) {
                commands.entity(old).despawn();
            }
            let mut entity = commands.spawn((
                Streamed(*id),
                PlayerId(*player),
                DisplayName(name.clone()),
                state,
            ));
            if own {
                entity.insert(OwnAvatar);
                book.own = Some(*id);
                if let Some(zones) = book.early_zones.take() {
                    entity.insert(zones);
                }
            }
            book.avatars.insert(*id, (entity.id(), seq));
        }
    }
}

fn receive_states(
    mut commands: Commands,
    mut packets: MessageReader<AvatarStates>,
    mut book: ResMut<StreamBook>,
    mut avatars: Query<(&mut AvatarState, Option<&mut InputAck>)>,
    mut acks: MessageWriter<StatesAck>,
) {
    let book = &mut *book;
    // The own avatar's state that came before the avatar: taken once it is there.
    if let Some((seq, early)) = book.early_own
        && book.own.is_some_and(|id| book.avatars.contains_key(&id))
    {
        book.early_own = None;
        if seq > book.own_seq {
            apply_own(&mut commands, book, &mut avatars, seq, early);
        }
    }
    let mut received = false;
    for packet in packets.read() {
        received = true;
        book.ack.record(packet.seq);
        if let Some(own) = packet.own
            && packet.seq > book.own_seq
        {
            apply_own(&mut commands, book, &mut avatars, packet.seq, own);
        }
        for (id, state) in &packet.others {
            match book.avatars.get_mut(id) {
                Some((entity, seq)) => {
                    if packet.seq > *seq {
                        *seq = packet.seq;
                        if let Ok((mut shown, _)) = avatars.get_mut(*entity) {
                            shown.set_if_neq(*state);
                        }
                    }
                }
                None => {
                    let newer = book.early.get(id).is_none_or(|(s, _)| packet.seq > *s);
                    if newer && book.early.len() < MAX_EARLY {
                        book.early.insert(*id, (packet.seq, *state));
                    }
                }
            }
        }
    }
    if received {
        let newest = book.ack.newest;
        book.early
            .retain(|_, (seq, _)| seq.saturating_add(EARLY_PACKETS) > newest);
        acks.write(book.ack);
    }
}

/// Applies the own avatar's state, or keeps it until the roster brings the avatar.
fn apply_own(
    commands: &mut Commands,
    book: &mut StreamBook,
    avatars: &mut Query<(&mut AvatarState, Option<&mut InputAck>)>,
    seq: u32,
    own: OwnState,
) {
    let entity = book
        .own
        .and_then(|id| book.avatars.get(&id))
        .map(|(e, _)| *e);
    let Some(entity) = entity else {
        if book.early_own.is_none_or(|(s, _)| seq > s) {
            book.early_own = Some((seq, own));
        }
        return;
    };
    book.own_seq = seq;
    match avatars.get_mut(entity) {
        Ok((mut state, Some(mut ack))) => {
            state.set_if_neq(own.state);
            ack.set_if_neq(InputAck(own.last_input));
        }
        // Spawned this frame, or without an acknowledgement yet.
        _ => {
            commands
                .entity(entity)
                .insert((own.state, InputAck(own.last_input)));
        }
    }
}

fn receive_zones(
    mut commands: Commands,
    mut messages: MessageReader<InZones>,
    mut book: ResMut<StreamBook>,
) {
    let Some(zones) = messages.read().last() else {
        return;
    };
    match book.own.and_then(|id| book.avatars.get(&id)) {
        Some((entity, _)) => {
            commands.entity(*entity).insert(zones.clone());
        }
        None => book.early_zones = Some(zones.clone()),
    }
}

fn forget_stream(mut commands: Commands, mut book: ResMut<StreamBook>) {
    for (entity, _) in book.avatars.values() {
        commands.entity(*entity).despawn();
    }
    *book = StreamBook::default();
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
        AvatarState {
            motion: MoveState::at(Vec2::new(x, 0.0)),
        }
    }

    fn intro(id: StreamId, player: u64, x: f32) -> AvatarIntro {
        AvatarIntro {
            id,
            player,
            name: format!("p{player}"),
            state: state(x),
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
