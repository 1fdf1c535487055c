//! Interest management and the avatar stream ([`tavern_shared::stream`]): at each send,
//! every player gets the avatars within its view radius that it may see (`can_see`),
//! as a roster of who came into view and who left, and the states it does not have
//! yet, with its own avatar's state and last applied input.
//!
//! An avatar comes into view within the view radius of the player's avatar and leaves
//! it only once an eighth of the radius further ([`LEAVE_FACTOR`]), so one walking
//! along the edge does not appear and vanish. The avatars are found through a uniform
//! grid, built once per send, of cells as wide as that leaving distance: a player's
//! candidates are in the 3×3 cells around its own. The work per send is one pass over
//! the avatars plus, per player, the avatars near it: nothing grows with players
//! times avatars.

use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use bevy_replicon::prelude::*;
use bevy_replicon::shared::backend::connected_client::NetworkId;
use bevy_replicon_renet2::renet2::RenetServer;
use tavern_shared::avatar::{AvatarState, DisplayName, InputAck, Look};
use tavern_shared::combat::Vitals;
use tavern_shared::stream::{
    Actor, AvatarIntro, AvatarRoster, AvatarStates, OwnState, STATES_PER_PACKET, StatesAck,
    StreamId,
};

use crate::GameSystems;
use crate::combat::Warps;
use crate::net::rate::{SendRate, send_due};
use crate::net::to_client;
use crate::world::MapId;
use crate::zones::{Presence, can_see};

/// Default view radius in pixels: a little more than a desktop screen at 1x zoom.
pub const DEFAULT_VIEW_RADIUS: f32 = 800.0;

/// An avatar in view leaves it this many view radii away.
pub const LEAVE_FACTOR: f32 = 1.125;

/// The view radius (`--view-radius`).
#[derive(Resource, Debug, Clone, Copy)]
pub struct ViewRadius(pub f32);

impl Default for ViewRadius {
    fn default() -> Self {
        ViewRadius(DEFAULT_VIEW_RADIUS)
    }
}

/// On an avatar: its id in the avatar stream.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamTag(pub StreamId);

/// Hands out stream ids: one per avatar, not used again for four billion joins.
#[derive(Resource, Debug, Default)]
pub struct StreamIds {
    last: StreamId,
}

impl StreamIds {
    pub fn issue(&mut self) -> StreamTag {
        self.last = self.last.wrapping_add(1).max(1);
        StreamTag(self.last)
    }
}

/// One avatar (or monster) as it is at this send.
#[derive(Debug, Clone)]
pub struct Seen<'a> {
    pub id: StreamId,
    pub actor: &'a Actor,
    pub name: &'a str,
    pub state: AvatarState,
    /// For a player's avatar: the last input applied, health, mana and stamina, and
    /// the times the server placed it, which only its owner is told.
    pub last_input: u32,
    pub vitals: Vitals,
    pub warps: u8,
    /// It stands still whatever its inputs say (its room is paused).
    pub held: bool,
    pub presence: Presence,
    /// A player's avatar's look ([`tavern_shared::avatar::LOOKS`]).
    pub look: u8,
}

impl Seen<'_> {
    fn intro(&self) -> AvatarIntro {
        AvatarIntro {
            id: self.id,
            actor: self.actor.clone(),
            name: self.name.to_string(),
            state: self.state,
            look: self.look,
        }
    }
}

/// Every avatar at this send, and a grid to find those near a point.
pub struct Snapshot<'a> {
    avatars: Vec<Seen<'a>>,
    by_id: HashMap<StreamId, u32>,
    grid: HashMap<(MapId, IVec2), Vec<u32>>,
    cell: f32,
    /// Squared distances: coming into view, leaving it.
    enter: f32,
    leave: f32,
}

impl<'a> Snapshot<'a> {
    pub fn new(radius: f32, avatars: Vec<Seen<'a>>) -> Self {
        let radius = radius.max(1.0);
        let cell = radius * LEAVE_FACTOR;
        let mut snapshot = Snapshot {
            by_id: HashMap::with_capacity(avatars.len()),
            grid: HashMap::new(),
            cell,
            enter: radius * radius,
            leave: cell * cell,
            avatars,
        };
        for (i, seen) in snapshot.avatars.iter().enumerate() {
            let key = (seen.presence.map, cell_of(seen.state.motion.pos, cell));
            snapshot.grid.entry(key).or_default().push(i as u32);
            snapshot.by_id.insert(seen.id, i as u32);
        }
        snapshot
    }

    fn get(&self, id: StreamId) -> Option<&Seen<'a>> {
        self.by_id.get(&id).map(|&i| &self.avatars[i as usize])
    }

    /// Avatars on the same map within a cell of `pos`'s cell: all those within the
    /// leaving distance, and some further.
    fn near(&self, map: MapId, pos: Vec2) -> impl Iterator<Item = &Seen<'a>> {
        let center = cell_of(pos, self.cell);
        (-1..=1)
            .flat_map(move |dy| (-1..=1).map(move |dx| center + IVec2::new(dx, dy)))
            .filter_map(move |cell| self.grid.get(&(map, cell)))
            .flatten()
            .map(|&i| &self.avatars[i as usize])
    }
}

/// The grid cell of `pos` for cells of `size`.
pub fn cell_of(pos: Vec2, size: f32) -> IVec2 {
    (pos / size).floor().as_ivec2()
}

/// What one player holds of another avatar, as far as the server knows.
#[derive(Debug, Clone, Copy)]
struct Known {
    /// The last state sent, in the packet numbered `sent_seq` at the send `sent_pass`.
    sent: AvatarState,
    sent_seq: u32,
    sent_pass: u32,
    /// Whether the player acknowledged that packet (or had the state reliably).
    confirmed: bool,
    /// The last send at which the avatar was in view.
    stamp: u32,
}

/// The same for the player's own avatar.
#[derive(Debug, Clone, Copy)]
struct KnownOwn {
    sent: OwnState,
    sent_seq: u32,
    sent_pass: u32,
    confirmed: bool,
}

/// Whether a state goes out: it is not the last one sent, or that one has gone
/// unacknowledged for `resend_after` sends.
fn due<S: PartialEq>(
    now: S,
    sent: S,
    confirmed: bool,
    sent_pass: u32,
    pass: u32,
    resend_after: u32,
) -> bool {
    now != sent || (!confirmed && pass.wrapping_sub(sent_pass) >= resend_after)
}

/// On a player's connection: what the avatar stream has told that player.
#[derive(Component, Debug)]
pub struct Viewer {
    /// The player's own avatar.
    own: StreamId,
    introduced: bool,
    own_known: Option<KnownOwn>,
    known: HashMap<StreamId, Known>,
    /// The last packet of states sent (they are numbered from 1).
    seq: u32,
    /// Sends planned so far.
    pass: u32,
}

/// What one send carries to one player.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub roster: Option<AvatarRoster>,
    pub states: Vec<AvatarStates>,
}

impl Viewer {
    pub fn new(own: StreamTag) -> Self {
        Viewer {
            own: own.0,
            introduced: false,
            own_known: None,
            known: HashMap::new(),
            seq: 0,
            pass: 0,
        }
    }

    /// Avatars the player holds, besides its own.
    pub fn in_view(&self) -> usize {
        self.known.len()
    }

    /// Whether the player holds this body: its own avatar or one in view.
    pub fn sees(&self, id: StreamId) -> bool {
        id == self.own || self.known.contains_key(&id)
    }

    /// Works out one send: who came into view and who left, and the states the player
    /// lacks. A state left unacknowledged is sent again after `resend_after` sends
    /// (about a round trip).
    pub fn plan(&mut self, snapshot: &Snapshot, resend_after: u32) -> Plan {
        let Some(own) = snapshot.get(self.own) else {
            return Plan::default(); // the avatar is being removed
        };
        self.pass = self.pass.wrapping_add(1);
        let pass = self.pass;
        let resend_after = resend_after.max(1);
        let base = self.seq;
        let mut entered = Vec::new();
        if !self.introduced {
            self.introduced = true;
            entered.push(own.intro());
        }
        let mut others: Vec<(StreamId, AvatarState)> = Vec::new();
        let pos = own.state.motion.pos;
        for seen in snapshot.near(own.presence.map, pos) {
            if seen.id == self.own || !can_see(&own.presence, &seen.presence) {
                continue;
            }
            let d2 = pos.distance_squared(seen.state.motion.pos);
            match self.known.get_mut(&seen.id) {
                Some(known) if d2 <= snapshot.leave => {
                    known.stamp = pass;
                    if due(
                        seen.state,
                        known.sent,
                        known.confirmed,
                        known.sent_pass,
                        pass,
                        resend_after,
                    ) {
                        // Packets of this send are numbered base + 1, base + 2, ...
                        let packet = (others.len() / STATES_PER_PACKET) as u32 + 1;
                        *known = Known {
                            sent: seen.state,
                            sent_seq: base + packet,
                            sent_pass: pass,
                            confirmed: false,
                            stamp: pass,
                        };
                        others.push((seen.id, seen.state));
                    }
                }
                None if d2 <= snapshot.enter => {
                    // The roster is reliable: the player will have this state.
                    self.known.insert(
                        seen.id,
                        Known {
                            sent: seen.state,
                            sent_seq: base,
                            sent_pass: pass,
                            confirmed: true,
                            stamp: pass,
                        },
                    );
                    entered.push(seen.intro());
                }
                _ => {}
            }
        }
        let mut left = Vec::new();
        self.known.retain(|id, known| {
            let keep = known.stamp == pass;
            if !keep {
                left.push(*id);
            }
            keep
        });
        left.sort_unstable();

        let own_now = OwnState {
            state: own.state,
            last_input: own.last_input,
            vitals: own.vitals,
            warps: own.warps,
            held: own.held,
        };
        let own_due = self.own_known.is_none_or(|k| {
            due(
                own_now,
                k.sent,
                k.confirmed,
                k.sent_pass,
                pass,
                resend_after,
            )
        });
        if own_due {
            self.own_known = Some(KnownOwn {
                sent: own_now,
                sent_seq: base + 1,
                sent_pass: pass,
                confirmed: false,
            });
        }

        let mut states = Vec::new();
        let mut own_state = own_due.then_some(own_now);
        let mut chunks = others.chunks(STATES_PER_PACKET);
        loop {
            let chunk = chunks.next().unwrap_or_default();
            if chunk.is_empty() && own_state.is_none() {
                break;
            }
            self.seq += 1;
            states.push(AvatarStates {
                seq: self.seq,
                own: own_state.take(),
                others: chunk.to_vec(),
            });
        }
        let roster = (!entered.is_empty() || !left.is_empty()).then_some(AvatarRoster {
            seq: base,
            entered,
            left,
        });
        Plan { roster, states }
    }

    /// Takes the player's acknowledgement: states in the packets it covers arrived.
    pub fn acknowledge(&mut self, ack: &StatesAck) {
        if ack.newest > self.seq {
            return; // acknowledges packets never sent: not a real client's
        }
        for known in self.known.values_mut() {
            if !known.confirmed && ack.covers(known.sent_seq) {
                known.confirmed = true;
            }
        }
        if let Some(own) = &mut self.own_known
            && !own.confirmed
            && ack.covers(own.sent_seq)
        {
            own.confirmed = true;
        }
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<ViewRadius>()
        .init_resource::<StreamIds>()
        .add_systems(PreUpdate, receive_acks.in_set(GameSystems::ReceiveInputs))
        .add_systems(
            PostUpdate,
            send_avatars.before(ServerSystems::Send).run_if(send_due),
        );
}

/// Most acknowledgements taken from one player per frame (a client sends one per
/// frame; more is a flood, and the newest are the ones that count).
const ACKS_PER_FRAME: usize = 8;

fn receive_acks(
    mut acks: MessageReader<FromClient<StatesAck>>,
    mut viewers: Query<&mut Viewer>,
    mut taken: Local<HashMap<Entity, usize>>,
) {
    taken.clear();
    for ack in acks.read() {
        let Some(client) = ack.client_id.entity() else {
            continue;
        };
        let count = taken.entry(client).or_default();
        *count += 1;
        if *count > ACKS_PER_FRAME {
            continue;
        }
        if let Ok(mut viewer) = viewers.get_mut(client) {
            viewer.acknowledge(&ack.message);
        }
    }
}

/// Sends, for each player, what came into view, what left it, and the states it lacks.
pub fn send_avatars(
    radius: Res<ViewRadius>,
    rate: Res<SendRate>,
    server: Option<Res<RenetServer>>,
    avatars: Query<(
        &StreamTag,
        &Actor,
        &DisplayName,
        &AvatarState,
        Option<&InputAck>,
        Option<&Vitals>,
        Option<&Warps>,
        &Presence,
        Option<&Look>,
        Has<crate::gm::Frozen>,
    )>,
    mut viewers: Query<(Entity, &mut Viewer, Option<&NetworkId>)>,
    mut rosters: MessageWriter<ToClients<AvatarRoster>>,
    mut states: MessageWriter<ToClients<AvatarStates>>,
) {
    if viewers.is_empty() {
        return;
    }
    let seen = avatars
        .iter()
        .map(
            |(tag, actor, name, state, ack, vitals, warps, presence, look, held)| Seen {
                id: tag.0,
                actor,
                name: &name.0,
                state: *state,
                last_input: ack.map_or(0, |a| a.0),
                vitals: vitals.copied().unwrap_or_default(),
                warps: warps.map_or(0, |w| w.0),
                held,
                presence: *presence,
                look: look.map_or(0, |l| l.0),
            },
        )
        .collect();
    let snapshot = Snapshot::new(radius.0, seen);
    for (client, mut viewer, network_id) in &mut viewers {
        let rtt = match (&server, network_id) {
            (Some(server), Some(id)) => server.rtt(id.get()),
            _ => 0.0,
        };
        let plan = viewer.plan(&snapshot, resend_after(rtt, rate.hz));
        if let Some(roster) = plan.roster {
            rosters.write(to_client(client, roster));
        }
        for packet in plan.states {
            states.write(to_client(client, packet));
        }
    }
}

/// Sends to wait for an acknowledgement before sending a state again: a round trip
/// and one send interval.
pub fn resend_after(rtt_secs: f64, send_hz: u8) -> u32 {
    let sends = (rtt_secs.max(0.0) * f64::from(send_hz)).ceil();
    (sends.min(100.0) as u32) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presence(map: usize) -> Presence {
        Presence {
            map: MapId(map),
            private: None,
        }
    }

    fn at(id: StreamId, x: f32, y: f32) -> Seen<'static> {
        Seen {
            id,
            actor: Box::leak(Box::new(Actor::Player(u64::from(id) * 100))),
            name: "x",
            state: AvatarState::at(Vec2::new(x, y)),
            last_input: 0,
            vitals: Vitals::default(),
            warps: 0,
            held: false,
            presence: presence(0),
            look: 0,
        }
    }

    fn ids(list: &[(StreamId, AvatarState)]) -> Vec<StreamId> {
        let mut ids: Vec<_> = list.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids
    }

    fn entered(plan: &Plan) -> Vec<StreamId> {
        let mut ids: Vec<_> = plan
            .roster
            .iter()
            .flat_map(|r| r.entered.iter().map(|i| i.id))
            .collect();
        ids.sort_unstable();
        ids
    }

    fn others(plan: &Plan) -> Vec<StreamId> {
        let all: Vec<_> = plan
            .states
            .iter()
            .flat_map(|s| s.others.iter().copied())
            .collect();
        ids(&all)
    }

    fn ack_all(viewer: &mut Viewer, plan: &Plan) {
        let mut ack = StatesAck::default();
        for s in &plan.states {
            ack.record(s.seq);
        }
        viewer.acknowledge(&ack);
    }

    #[test]
    fn a_player_gets_the_avatars_within_its_radius_and_loses_them_past_the_margin() {
        let r = 800.0;
        let mut viewer = Viewer::new(StreamTag(1));
        let snapshot = Snapshot::new(
            r,
            vec![
                at(1, 1000.0, 1000.0),
                at(2, 1700.0, 1000.0), // 700 px: in view
                at(3, 1000.0, 1850.0), // 850 px: not yet
                at(4, 5000.0, 5000.0), // far away
                Seen {
                    presence: presence(1),
                    ..at(5, 1000.0, 1000.0) // same place, another map
                },
            ],
        );
        let plan = viewer.plan(&snapshot, 2);
        // The own avatar is introduced first, with the one in view.
        assert_eq!(entered(&plan), vec![1, 2]);
        assert_eq!(plan.roster.as_ref().unwrap().entered[0].id, 1);
        assert_eq!(plan.states.len(), 1);
        assert!(plan.states[0].own.is_some());
        assert!(
            plan.states[0].others.is_empty(),
            "the roster had their states"
        );
        assert_eq!(viewer.in_view(), 1);

        // 2 walks to 880 px (past the radius, within the margin) and 3 to 790 px.
        let snapshot = Snapshot::new(
            r,
            vec![
                at(1, 1000.0, 1000.0),
                at(2, 1880.0, 1000.0),
                at(3, 1000.0, 1790.0),
            ],
        );
        let plan = viewer.plan(&snapshot, 2);
        assert_eq!(entered(&plan), vec![3]);
        assert!(plan.roster.as_ref().unwrap().left.is_empty());
        assert_eq!(others(&plan), vec![2]);
        // 2 goes past 900 px: it leaves.
        let snapshot = Snapshot::new(
            r,
            vec![
                at(1, 1000.0, 1000.0),
                at(2, 1901.0, 1000.0),
                at(3, 1000.0, 1790.0),
            ],
        );
        let plan = viewer.plan(&snapshot, 2);
        assert_eq!(plan.roster.unwrap().left, vec![2]);
        assert_eq!(viewer.in_view(), 1);
    }

    #[test]
    fn private_zones_and_leaving_players_are_honoured() {
        let mut viewer = Viewer::new(StreamTag(1));
        let booth = Presence {
            map: MapId(0),
            private: Some(3),
        };
        let snapshot = Snapshot::new(
            800.0,
            vec![
                at(1, 0.0, 0.0),
                Seen {
                    presence: booth,
                    ..at(2, 10.0, 0.0)
                },
                at(3, 20.0, 0.0),
            ],
        );
        let plan = viewer.plan(&snapshot, 2);
        assert_eq!(entered(&plan), vec![1, 3], "outside looking into a booth");
        // 3 disconnects: its avatar is gone from the world, so it leaves the view.
        let snapshot = Snapshot::new(800.0, vec![at(1, 0.0, 0.0)]);
        let plan = viewer.plan(&snapshot, 2);
        assert_eq!(plan.roster.unwrap().left, vec![3]);
    }

    #[test]
    fn a_state_is_sent_until_acknowledged_and_standing_still_costs_nothing() {
        let mut viewer = Viewer::new(StreamTag(1));
        let world = |x: f32| Snapshot::new(800.0, vec![at(1, 0.0, 0.0), at(2, x, 0.0)]);
        let first = viewer.plan(&world(100.0), 2);
        ack_all(&mut viewer, &first);
        // Nothing moved and everything arrived: nothing to send.
        assert_eq!(viewer.plan(&world(100.0), 2), Plan::default());
        // 2 moves: sent. The packet is lost (no acknowledgement).
        let moved = viewer.plan(&world(110.0), 2);
        assert_eq!(others(&moved), vec![2]);
        // Next send: not yet given up on (resend after 2 sends).
        assert_eq!(viewer.plan(&world(110.0), 2), Plan::default());
        let again = viewer.plan(&world(110.0), 2);
        assert_eq!(others(&again), vec![2], "resent after a round trip");
        assert!(again.states[0].seq > moved.states[0].seq);
        // Acknowledging the older packet does not confirm the newer send.
        let mut old = StatesAck::default();
        old.record(moved.states[0].seq);
        viewer.acknowledge(&old);
        assert!(viewer.plan(&world(110.0), 1).states.len() == 1);
        let last = viewer.plan(&world(110.0), 1);
        ack_all(&mut viewer, &last);
        assert_eq!(viewer.plan(&world(110.0), 1), Plan::default());
        // A moving avatar is sent every send, whatever was acknowledged.
        for x in [120.0, 130.0, 140.0] {
            assert_eq!(others(&viewer.plan(&world(x), 2)), vec![2]);
        }
    }

    #[test]
    fn the_own_state_carries_the_last_input_and_is_resent_like_the_others() {
        let mut viewer = Viewer::new(StreamTag(1));
        let world = |input: u32| {
            Snapshot::new(
                800.0,
                vec![Seen {
                    last_input: input,
                    ..at(1, 0.0, 0.0)
                }],
            )
        };
        let first = viewer.plan(&world(0), 1);
        assert_eq!(first.states[0].own.unwrap().last_input, 0);
        ack_all(&mut viewer, &first);
        assert!(viewer.plan(&world(0), 1).states.is_empty());
        // An idle input applied: same state, new acknowledgement, sent.
        let plan = viewer.plan(&world(7), 1);
        assert_eq!(plan.states[0].own.unwrap().last_input, 7);
        assert!(plan.roster.is_none());
    }

    #[test]
    fn many_avatars_in_view_are_split_into_packets_numbered_in_order() {
        let mut viewer = Viewer::new(StreamTag(1));
        let crowd = |dx: f32| {
            let mut all = vec![at(1, 0.0, 0.0)];
            all.extend((0..150).map(|i| at(i + 2, dx + (i % 15) as f32 * 10.0, i as f32)));
            Snapshot::new(800.0, all)
        };
        let first = viewer.plan(&crowd(0.0), 2);
        ack_all(&mut viewer, &first);
        let plan = viewer.plan(&crowd(1.0), 2);
        assert_eq!(plan.states.len(), 3);
        assert!(
            plan.states
                .iter()
                .all(|s| s.others.len() <= STATES_PER_PACKET)
        );
        assert_eq!(others(&plan).len(), 150);
        let seqs: Vec<u32> = plan.states.iter().map(|s| s.seq).collect();
        assert_eq!(seqs, vec![2, 3, 4]);
        assert_eq!(plan.roster, None);
        // Only the second packet arrives: its avatars are confirmed, the others resent.
        let mut ack = StatesAck::default();
        ack.record(3);
        viewer.acknowledge(&ack);
        let resent = viewer.plan(&crowd(1.0), 1);
        assert_eq!(others(&resent).len(), 150 - STATES_PER_PACKET);
    }

    #[test]
    fn acknowledgements_of_packets_never_sent_are_ignored() {
        let mut viewer = Viewer::new(StreamTag(1));
        let world = |x| Snapshot::new(800.0, vec![at(1, 0.0, 0.0), at(2, x, 0.0)]);
        viewer.plan(&world(1.0), 1);
        viewer.plan(&world(2.0), 1);
        let forged = StatesAck {
            newest: 1000,
            earlier: u64::MAX,
        };
        viewer.acknowledge(&forged);
        assert_eq!(others(&viewer.plan(&world(2.0), 1)), vec![2]);
    }

    #[test]
    fn resends_wait_about_a_round_trip() {
        assert_eq!(resend_after(0.0, 20), 1);
        assert_eq!(resend_after(0.049, 20), 2);
        assert_eq!(resend_after(0.2, 20), 5);
        assert_eq!(resend_after(1e9, 20), 101);
    }
}
