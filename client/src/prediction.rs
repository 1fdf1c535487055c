//! Client-side prediction: the own avatar moves at once from local input through the
//! shared movement function; when the server's state arrives with the last input it
//! applied, the client resets to it and replays the inputs the server has not seen yet.

use std::collections::VecDeque;
use std::sync::Arc;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{AvatarState, InputAck};
use tavern_shared::collision::CollisionWorld;
use tavern_shared::input::{InputBatch, InputFrame, MAX_FRAMES_PER_BATCH};
use tavern_shared::map::MapData;
use tavern_shared::movement::{MoveState, TICK_DT, step};
use tavern_shared::protocol::EnterMap;

use crate::PlaySystems;

/// A replayed prediction further than this from the server's state counts as a correction.
pub const CORRECTION_THRESHOLD: f32 = 1.0;
/// A visual error larger than this is snapped instead of smoothed.
pub const SNAP_DISTANCE: f32 = 64.0;
/// Most inputs kept unacknowledged (10 s); past that the avatar stops until the server answers.
const MAX_PENDING: usize = 600;

/// The map the client is on, with its collision shapes.
#[derive(Resource, Clone, Debug)]
pub struct CurrentMap {
    pub data: Arc<MapData>,
    pub collision: Arc<CollisionWorld>,
}

/// Marks the avatar this client controls (the avatar stream puts it on).
#[derive(Component, Debug)]
pub struct OwnAvatar;

/// What the player (keyboard, gamepad, bot) wants this tick. Read every fixed tick.
#[derive(Resource, Default, Debug, Clone, Copy)]
pub struct DesiredInput(pub InputFrame);

/// The server's state of the own avatar with the last input it includes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confirmed {
    pub motion: MoveState,
    pub last_input: u32,
    /// The avatar is dead, or the GM paused the game: the server applies inputs
    /// without moving it.
    pub held: bool,
    /// Times the server placed the avatar itself ([`tavern_shared::stream::OwnState::warps`]).
    pub warps: u8,
}

impl Confirmed {
    /// What the own avatar's components say the server last sent.
    pub fn from_own(state: &AvatarState, ack: &InputAck, flags: Option<&OwnFlags>) -> Self {
        Confirmed {
            motion: state.motion,
            last_input: ack.0,
            held: state.health == 0 || flags.is_some_and(|f| f.held),
            warps: flags.map_or(0, |f| f.warps),
        }
    }
}

/// On the own avatar: what the server last said of it besides its state: the times it
/// placed it ([`Confirmed::warps`]) and whether it holds it still.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnFlags {
    pub warps: u8,
    pub held: bool,
}

/// What an input does to the own avatar: nothing while it is held (dead, paused).
fn effective(frame: InputFrame, held: bool) -> InputFrame {
    if held { InputFrame::default() } else { frame }
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    seq: u32,
    frame: InputFrame,
    /// Predicted state after applying this input.
    after: MoveState,
}

/// The predicted own avatar and the inputs the server has not acknowledged.
#[derive(Resource, Debug, Default)]
pub struct Prediction {
    /// Predicted state now; `None` until the server has placed the avatar.
    pub state: Option<MoveState>,
    /// State one tick earlier, for drawing between ticks.
    pub previous: MoveState,
    /// Last server state and the input it includes.
    confirmed: Option<Confirmed>,
    next_seq: u32,
    pending: VecDeque<Pending>,
    last_sent_idle: bool,
    /// Times a replayed prediction missed the server by more than [`CORRECTION_THRESHOLD`].
    pub corrections: u32,
    /// Largest miss seen, in pixels.
    pub worst_correction: f32,
    /// Visual offset left by a correction, decaying to zero.
    pub visual_offset: Vec2,
}

impl Prediction {
    fn reset(&mut self) {
        let corrections = self.corrections;
        let worst = self.worst_correction;
        *self = Prediction {
            corrections,
            worst_correction: worst,
            ..Default::default()
        };
    }

    /// The avatar was moved to another map: drop the inputs predicted on the old one and
    /// go on from `at`, numbering on [`ARRIVAL_SEQ_GAP`] further, so the server can tell
    /// new inputs from old-map ones still in flight.
    pub fn arrive(&mut self, at: Vec2) {
        let next_seq = self.next_seq();
        self.reset();
        self.next_seq = next_seq + tavern_shared::input::ARRIVAL_SEQ_GAP;
        self.state = Some(MoveState::at(at));
        self.previous = MoveState::at(at);
    }

    /// Inputs sent but not yet acknowledged by the server.
    pub fn unacknowledged(&self) -> usize {
        self.pending.len()
    }

    /// Sequence number of the next input.
    pub fn next_seq(&self) -> u32 {
        self.next_seq.max(1)
    }

    /// Predicts one tick from `frame`. Returns false if the input was not needed (standing
    /// still with nothing pressed) or the backlog is full.
    pub fn predict(&mut self, frame: InputFrame, world: &CollisionWorld) -> bool {
        let Some(state) = self.state else {
            return false;
        };
        let idle = frame.is_idle();
        if idle && self.last_sent_idle && !state.moving {
            return false;
        }
        if self.pending.len() >= MAX_PENDING {
            return false;
        }
        let seq = self.next_seq();
        let held = self.confirmed.is_some_and(|c| c.held);
        let after = step(state, effective(frame, held), TICK_DT, world);
        self.previous = state;
        self.state = Some(after);
        self.pending.push_back(Pending { seq, frame, after });
        self.next_seq = seq + 1;
        self.last_sent_idle = idle;
        true
    }

    /// The oldest unacknowledged inputs, as one packet.
    pub fn batch(&self) -> Option<InputBatch> {
        let first = self.pending.front()?;
        Some(InputBatch {
            first_seq: first.seq,
            frames: self
                .pending
                .iter()
                .take(MAX_FRAMES_PER_BATCH)
                .map(|p| p.frame)
                .collect(),
        })
    }

    /// Takes the server's state of the own avatar: drops acknowledged inputs and, if the
    /// server disagrees with what was predicted for that input, resets and replays.
    pub fn reconcile(&mut self, server: Confirmed, world: &CollisionWorld) {
        if self
            .confirmed
            .is_some_and(|c| server.last_input < c.last_input)
        {
            return; // older than what we already have
        }
        // Placed by the server (died, came back): start over from its state; not a miss.
        let warped = self.confirmed.is_some_and(|c| c.warps != server.warps);
        let expected = match self.confirmed {
            _ if warped => None,
            Some(c) if c.last_input == server.last_input => Some(c.motion),
            _ => self
                .pending
                .iter()
                .find(|p| p.seq == server.last_input)
                .map(|p| p.after),
        };
        self.confirmed = Some(server);
        while self
            .pending
            .front()
            .is_some_and(|p| p.seq <= server.last_input)
        {
            self.pending.pop_front();
        }
        let Some(current) = self.state else {
            // First word from the server: start predicting from here.
            self.state = Some(server.motion);
            self.previous = server.motion;
            self.next_seq = server.last_input + 1;
            return;
        };
        if expected == Some(server.motion) {
            return; // the prediction was exact
        }
        if let Some(expected) = expected {
            let miss = expected.pos.distance(server.motion.pos);
            if miss > CORRECTION_THRESHOLD {
                self.corrections += 1;
                self.worst_correction = self.worst_correction.max(miss);
                debug!(miss, seq = server.last_input, "prediction corrected");
            }
        }
        let mut state = server.motion;
        for p in self.pending.iter_mut() {
            state = step(state, effective(p.frame, server.held), TICK_DT, world);
            p.after = state;
        }
        self.state = Some(state);
        self.previous = state;
        let jump = current.pos - state.pos;
        self.visual_offset = if warped || (self.visual_offset + jump).length() > SNAP_DISTANCE {
            Vec2::ZERO
        } else {
            self.visual_offset + jump
        };
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Prediction>()
        .init_resource::<DesiredInput>()
        .add_systems(
            PreUpdate,
            (enter_map, reconcile).chain().in_set(PlaySystems::Receive),
        )
        .add_systems(FixedUpdate, predict.in_set(PlaySystems::Predict))
        .add_systems(PostUpdate, send_inputs.in_set(PlaySystems::Send))
        .add_systems(Update, decay_visual_offset)
        .add_systems(OnExit(ClientState::Connected), forget_prediction);
}

pub(crate) fn enter_map(
    mut commands: Commands,
    mut entered: MessageReader<EnterMap>,
    mut prediction: ResMut<Prediction>,
    current: Option<Res<CurrentMap>>,
) {
    let Some(EnterMap { map, arrival, .. }) = entered.read().last() else {
        return;
    };
    // The same map again is a new version of it (the server reloaded the file): keep
    // predicting; the server moves the avatar if the edit walled it in.
    let current_exists = current.is_some();
    let reloaded = current.is_some_and(|c| c.data.name == map.name);
    info!(map = %map.name, width = map.width, height = map.height, reloaded, "entered map");
    commands.insert_resource(CurrentMap {
        collision: Arc::new(CollisionWorld::from_map(map)),
        data: Arc::new(map.clone()),
    });
    match (reloaded, arrival, current_exists) {
        (true, _, _) => {}
        // Through an exit: carry on predicting from the arrival point, numbering inputs on.
        (false, Some(at), true) => prediction.arrive(*at),
        _ => prediction.reset(),
    }
}

/// Takes a new server state of the own avatar; also the one already there when
/// prediction starts over (a new connection, or the map came after the state).
fn reconcile(
    own: Query<(Ref<AvatarState>, Ref<InputAck>, Option<Ref<OwnFlags>>), With<OwnAvatar>>,
    map: Option<Res<CurrentMap>>,
    mut prediction: ResMut<Prediction>,
) {
    let (Ok((state, ack, flags)), Some(map)) = (own.single(), map) else {
        return;
    };
    // Held or let go without a new input (the GM paused while the player stood).
    let flagged = flags.as_ref().is_some_and(Ref::is_changed);
    let fresh = state.is_changed() || ack.is_changed() || flagged;
    if !fresh && prediction.state.is_some() {
        return;
    }
    prediction.reconcile(
        Confirmed::from_own(&state, &ack, flags.as_deref()),
        &map.collision,
    );
}

fn predict(
    desired: Res<DesiredInput>,
    map: Option<Res<CurrentMap>>,
    mut prediction: ResMut<Prediction>,
) {
    if let Some(map) = map {
        prediction.predict(desired.0, &map.collision);
    }
}

/// When inputs were last sent: they go out about 30 times a second, two ticks' worth
/// at a time, with the unacknowledged ones repeated.
#[derive(Debug, Default)]
struct InputPacing {
    newest_sent: u32,
    sent_at: f64,
}

/// Sends after two new inputs, or one that waited a 30 Hz interval; resends the
/// unacknowledged ones every 100 ms while nothing new comes.
pub fn input_due(newest: u32, newest_sent: u32, since_sent: f64) -> bool {
    let fresh = newest.saturating_sub(newest_sent);
    fresh >= 2 || (fresh == 1 && since_sent >= 1.0 / 30.0) || since_sent >= 0.1
}

fn send_inputs(
    prediction: Res<Prediction>,
    mut pacing: Local<InputPacing>,
    time: Res<Time<Real>>,
    mut writer: MessageWriter<InputBatch>,
) {
    let Some(batch) = prediction.batch() else {
        return;
    };
    let newest = batch.first_seq + batch.frames.len() as u32 - 1;
    let now = time.elapsed_secs_f64();
    if newest < pacing.newest_sent {
        *pacing = InputPacing::default(); // numbering restarted (a new connection)
    }
    if input_due(newest, pacing.newest_sent, now - pacing.sent_at) {
        pacing.newest_sent = newest;
        pacing.sent_at = now;
        writer.write(batch);
    }
}

fn decay_visual_offset(time: Res<Time>, mut prediction: ResMut<Prediction>) {
    // Halve the leftover error every 50 ms.
    let keep = 0.5f32.powf(time.delta_secs() / 0.05);
    prediction.visual_offset *= keep;
    if prediction.visual_offset.length() < 0.01 {
        prediction.visual_offset = Vec2::ZERO;
    }
}

fn forget_prediction(mut commands: Commands, mut prediction: ResMut<Prediction>) {
    prediction.reset();
    commands.remove_resource::<CurrentMap>();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tavern_shared::input::{Buttons, Stick};

    fn world() -> (CollisionWorld, Vec2) {
        let map = MapData::from_ascii("t", 32, &["########", "#S.....#", "#......#", "########"]);
        (CollisionWorld::from_map(&map), map.spawns[0])
    }

    fn right() -> InputFrame {
        InputFrame {
            stick: Stick::from_vec(Vec2::X),
            buttons: Buttons::NONE,
        }
    }

    /// A prediction the server has just placed at `spawn`.
    fn placed_at(spawn: Vec2, world: &CollisionWorld) -> Prediction {
        let mut p = Prediction::default();
        let first = Confirmed {
            motion: MoveState::at(spawn),
            last_input: 0,
            held: false,
            warps: 0,
        };
        p.reconcile(first, world);
        p
    }

    /// The server's side of the exchange: applies inputs exactly as the server does.
    fn server_after(start: Vec2, frames: &[InputFrame], world: &CollisionWorld) -> Confirmed {
        let motion = frames
            .iter()
            .fold(MoveState::at(start), |s, f| step(s, *f, TICK_DT, world));
        Confirmed {
            motion,
            last_input: frames.len() as u32,
            held: false,
            warps: 0,
        }
    }

    #[test]
    fn exact_acknowledgements_cause_no_correction() {
        let (world, spawn) = world();
        let mut p = placed_at(spawn, &world);
        let frames = vec![right(); 10];
        for f in &frames {
            assert!(p.predict(*f, &world));
        }
        p.reconcile(server_after(spawn, &frames[..4], &world), &world);
        assert_eq!(p.unacknowledged(), 6);
        assert_eq!(p.corrections, 0);
        assert_eq!(
            p.state.unwrap(),
            server_after(spawn, &frames, &world).motion
        );
        let batch = p.batch().unwrap();
        assert_eq!(batch.first_seq, 5);
        assert_eq!(batch.frames.len(), 6);
    }

    #[test]
    fn a_server_side_push_is_corrected_and_replayed() {
        let (world, spawn) = world();
        let mut p = placed_at(spawn, &world);
        for _ in 0..10 {
            p.predict(right(), &world);
        }
        // The server moved the avatar 20 px down (something the client could not know).
        let mut server = server_after(spawn, &[right(); 4], &world);
        server.motion.pos.y += 20.0;
        p.reconcile(server, &world);
        assert_eq!(p.corrections, 1);
        let replayed = (0..6).fold(server.motion, |s, _| step(s, right(), TICK_DT, &world));
        assert_eq!(p.state.unwrap(), replayed);
        assert!(
            p.visual_offset.length() > 19.0,
            "the jump is smoothed, not shown"
        );
    }

    #[test]
    fn dying_and_coming_back_are_not_corrections_and_the_dead_stand_still() {
        let (world, spawn) = world();
        let mut p = placed_at(spawn, &world);
        for _ in 0..10 {
            p.predict(right(), &world);
        }
        // Killed after input 3: the server stops the avatar and counts a warp.
        let mut dead = server_after(spawn, &[right(); 3], &world);
        dead.motion.moving = false;
        dead.held = true;
        dead.warps = 1;
        p.reconcile(dead, &world);
        assert_eq!(p.corrections, 0);
        // Inputs 4..10 move nothing while dead, nor do new ones.
        assert_eq!(p.state.unwrap().pos, dead.motion.pos);
        p.predict(right(), &world);
        assert_eq!(p.state.unwrap().pos, dead.motion.pos);
        // Back at the entry, far away: snapped, not smoothed, not counted.
        let back = Confirmed {
            motion: MoveState::at(spawn + Vec2::new(96.0, 32.0)),
            last_input: 11,
            held: false,
            warps: 2,
        };
        p.reconcile(back, &world);
        assert_eq!(p.corrections, 0);
        assert_eq!(p.state.unwrap().pos, back.motion.pos);
        assert_eq!(p.visual_offset, Vec2::ZERO);
        p.predict(right(), &world);
        assert!(p.state.unwrap().pos.x > back.motion.pos.x);
    }

    #[test]
    fn standing_still_sends_nothing_after_one_idle_input() {
        let (world, spawn) = world();
        let mut p = placed_at(spawn, &world);
        assert!(p.predict(right(), &world));
        assert!(
            p.predict(InputFrame::default(), &world),
            "the stop itself is sent"
        );
        assert!(!p.predict(InputFrame::default(), &world));
        assert_eq!(p.unacknowledged(), 2);
    }

    #[test]
    fn inputs_go_out_two_ticks_at_a_time_and_are_resent_while_unanswered() {
        // Two new inputs: at once.
        assert!(input_due(12, 10, 0.0));
        // One new input: after a 30 Hz interval.
        assert!(!input_due(11, 10, 0.01));
        assert!(input_due(11, 10, 0.034));
        // Nothing new: the unacknowledged ones again after 100 ms.
        assert!(!input_due(10, 10, 0.05));
        assert!(input_due(10, 10, 0.1));
    }

    #[test]
    fn stale_server_states_are_ignored() {
        let (world, spawn) = world();
        let mut p = placed_at(spawn, &world);
        let frames = vec![right(); 6];
        for f in &frames {
            p.predict(*f, &world);
        }
        p.reconcile(server_after(spawn, &frames[..5], &world), &world);
        p.reconcile(server_after(spawn, &frames[..2], &world), &world);
        assert_eq!(p.unacknowledged(), 1);
        assert_eq!(p.corrections, 0);
    }
}
