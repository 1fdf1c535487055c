//! Applying players' inputs: each connection's inputs are buffered by sequence number and
//! applied in order, one per tick (two while catching up), never guessed or repeated.

use std::collections::BTreeMap;

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{AvatarState, InputAck};
use tavern_shared::input::{
    ARRIVAL_SEQ_GAP, Buttons, InputBatch, InputError, InputFrame, MAX_SEQ_AHEAD,
};
use tavern_shared::movement::{TICK_DT, step};

use crate::GameSystems;
use crate::combat::Dead;
use crate::metrics::Metrics;
use crate::players::Controls;
use crate::world::{Maps, OnMap};

/// With more than this many inputs ready, a player is behind and gets two per tick.
const CATCH_UP_AFTER: usize = 3;
/// Ticks of waiting a player can bank for catching up later. Each tick earns one
/// credit and each applied input spends one, so a client that sends inputs faster than
/// real time cannot move faster than real time (beyond this small bank).
const MAX_CREDITS: u32 = 20;

/// One connection's inputs waiting to be applied.
#[derive(Component, Debug)]
pub struct InputQueue {
    next_seq: u32,
    pending: BTreeMap<u32, InputFrame>,
    credits: u32,
    /// Batches refused as malformed.
    pub rejected: u64,
    /// Batches that held nothing new (late duplicates of already applied inputs).
    pub stale: u64,
    /// Highest sequence number received in a valid batch.
    highest_seen: u32,
    /// Whether the action key was held in the last applied input.
    action_held: bool,
    /// After a map change: inputs below this were meant for the old map and are dropped;
    /// the first one at or above it restarts the sequence.
    resync_from: Option<u32>,
}

impl Default for InputQueue {
    fn default() -> Self {
        InputQueue {
            next_seq: 1,
            pending: BTreeMap::new(),
            credits: 0,
            rejected: 0,
            stale: 0,
            highest_seen: 0,
            action_held: false,
            resync_from: None,
        }
    }
}

impl InputQueue {
    /// Takes a batch from the network. Inputs already applied are skipped (they arrive
    /// again by design, and out of order); malformed batches are refused whole.
    /// Returns how many new inputs were queued.
    pub fn push(&mut self, batch: &InputBatch) -> Result<usize, InputError> {
        let expected = self.resync_from.unwrap_or(self.next_seq);
        let ahead = if self.resync_from.is_some() {
            ARRIVAL_SEQ_GAP
        } else {
            MAX_SEQ_AHEAD
        };
        let checked = batch.validate().and_then(|()| {
            let last = batch.first_seq + (batch.frames.len() as u32 - 1);
            if last > expected.saturating_add(ahead) {
                Err(InputError::TooFarAhead {
                    seq: last,
                    expected,
                })
            } else {
                Ok(())
            }
        });
        if let Err(e) = checked {
            self.rejected += 1;
            return Err(e);
        }
        let last = batch.first_seq + (batch.frames.len() as u32 - 1);
        self.highest_seen = self.highest_seen.max(last);
        if let Some(from) = self.resync_from {
            if last < from {
                self.stale += 1;
                return Ok(0); // meant for the map the avatar has left
            }
            self.next_seq = batch.first_seq.max(from);
            self.resync_from = None;
        }
        let mut added = 0;
        for (seq, frame) in batch.iter().filter(|(seq, _)| *seq >= self.next_seq) {
            if let std::collections::btree_map::Entry::Vacant(v) = self.pending.entry(seq) {
                v.insert(frame);
                added += 1;
            }
        }
        if added == 0 {
            self.stale += 1;
        }
        Ok(added)
    }

    /// Inputs that can be applied now: consecutive from the next expected one.
    pub fn ready(&self) -> usize {
        self.pending
            .keys()
            .zip(self.next_seq..)
            .take_while(|(have, want)| *have == want)
            .count()
    }

    /// The inputs to apply this tick, in order: none while the next one is missing,
    /// one normally, two while catching up on a backlog with time banked for it.
    pub fn pop_for_tick(&mut self) -> Vec<(u32, InputFrame)> {
        self.credits = (self.credits + 1).min(MAX_CREDITS);
        let wanted = match self.ready() {
            0 => 0,
            r if r > CATCH_UP_AFTER => 2,
            _ => 1,
        };
        let n = wanted.min(self.credits);
        self.credits -= n;
        (0..n)
            .filter_map(|_| {
                let seq = self.next_seq;
                let frame = self.pending.remove(&seq)?;
                self.next_seq += 1;
                Some((seq, frame))
            })
            .collect()
    }

    /// The avatar was moved to another map: drop the inputs queued for the old one, and
    /// any still on their way (the client skips [`ARRIVAL_SEQ_GAP`] numbers on arrival).
    pub fn arrive(&mut self) {
        self.pending.clear();
        self.resync_from = Some(
            self.highest_seen
                .max(self.next_seq.saturating_sub(1))
                .saturating_add(1 + ARRIVAL_SEQ_GAP),
        );
    }

    /// Sequence number of the last applied input (0 before any).
    pub fn last_applied(&self) -> u32 {
        self.next_seq - 1
    }
}

pub fn plugin(app: &mut App) {
    app.add_systems(PreUpdate, receive_inputs.in_set(GameSystems::ReceiveInputs))
        .add_message::<ActionPressed>()
        .add_systems(FixedUpdate, apply_inputs.in_set(GameSystems::Simulate));
}

fn receive_inputs(
    mut batches: MessageReader<FromClient<InputBatch>>,
    mut queues: Query<&mut InputQueue>,
    metrics: Res<Metrics>,
) {
    for batch in batches.read() {
        let Some(client) = batch.client_id.entity() else {
            continue;
        };
        let Ok(mut queue) = queues.get_mut(client) else {
            continue;
        };
        if let Err(e) = queue.push(&batch.message) {
            metrics.inputs.with_label_values(&["refused"]).inc();
            // The first refusal is worth a line; a flood of them is counted, not logged.
            if queue.rejected == 1 {
                warn!(%client, error = %e, "refused malformed input");
            } else {
                debug!(%client, error = %e, rejected = queue.rejected, "refused malformed input");
            }
        }
    }
}

/// The player pressed the action key (E) this tick (server-side message).
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionPressed {
    pub avatar: Entity,
}

fn apply_inputs(
    mut clients: Query<(&mut InputQueue, &Controls)>,
    mut avatars: Query<(
        &mut AvatarState,
        &mut InputAck,
        &OnMap,
        Has<Dead>,
        Has<crate::gm::Frozen>,
    )>,
    maps: Res<Maps>,
    mut actions: MessageWriter<ActionPressed>,
    metrics: Res<Metrics>,
) {
    let applied_counter = metrics.inputs.with_label_values(&["applied"]);
    for (mut queue, controls) in &mut clients {
        let frames = queue.pop_for_tick();
        if frames.is_empty() {
            continue;
        }
        let Ok((mut avatar, mut ack, on, dead, frozen)) = avatars.get_mut(controls.0) else {
            continue;
        };
        let collision = &maps.get(on.0).collision;
        let mut state = *avatar;
        applied_counter.inc_by(frames.len() as u64);
        for (seq, frame) in frames {
            // The dead, and everyone in a paused room, stand still: their inputs are
            // used up, moving nothing.
            let frame = if dead || frozen {
                InputFrame::default()
            } else {
                frame
            };
            state.motion = step(state.motion, frame, TICK_DT, collision);
            ack.0 = seq;
            let held = frame.buttons.0 & Buttons::INTERACT.0 != 0;
            if held && !queue.action_held {
                actions.write(ActionPressed { avatar: controls.0 });
            }
            queue.action_held = held;
        }
        avatar.set_if_neq(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tavern_shared::input::{Buttons, Stick};

    fn frame(x: i8) -> InputFrame {
        InputFrame {
            stick: Stick { x, y: 0 },
            buttons: Buttons::NONE,
        }
    }

    fn batch(first_seq: u32, xs: &[i8]) -> InputBatch {
        InputBatch {
            first_seq,
            frames: xs.iter().map(|x| frame(*x)).collect(),
        }
    }

    #[test]
    fn inputs_are_applied_once_each_in_order() {
        let mut q = InputQueue::default();
        assert_eq!(q.push(&batch(1, &[1, 2])), Ok(2));
        // Redundant resend overlapping what is queued: only the new one counts.
        assert_eq!(q.push(&batch(1, &[1, 2, 3])), Ok(1));
        let applied: Vec<u32> = (0..3)
            .flat_map(|_| q.pop_for_tick())
            .map(|(s, _)| s)
            .collect();
        assert_eq!(applied, vec![1, 2, 3]);
        assert_eq!(q.last_applied(), 3);
        // An old packet arriving late changes nothing.
        assert_eq!(q.push(&batch(2, &[2, 3])), Ok(0));
        assert_eq!(q.stale, 1);
        assert!(q.pop_for_tick().is_empty());
    }

    #[test]
    fn a_gap_waits_for_the_missing_input() {
        let mut q = InputQueue::default();
        q.push(&batch(2, &[2, 3])).unwrap();
        assert!(q.pop_for_tick().is_empty(), "input 1 has not arrived");
        q.push(&batch(1, &[1, 2, 3])).unwrap();
        assert_eq!(q.pop_for_tick(), vec![(1, frame(1))]);
    }

    #[test]
    fn a_backlog_after_waiting_is_caught_up_two_per_tick() {
        let mut q = InputQueue::default();
        // Ten ticks waiting for input 1 bank ten ticks of credit.
        q.push(&batch(2, &[0; 8])).unwrap();
        for _ in 0..10 {
            assert!(q.pop_for_tick().is_empty());
        }
        q.push(&batch(1, &[0])).unwrap();
        let per_tick: Vec<usize> = (0..7).map(|_| q.pop_for_tick().len()).collect();
        assert_eq!(per_tick, vec![2, 2, 2, 1, 1, 1, 0]);
    }

    #[test]
    fn sending_faster_than_real_time_does_not_move_faster() {
        let mut q = InputQueue::default();
        let mut applied = 0;
        // A client sending two inputs per tick for ten seconds.
        for tick in 0..600u32 {
            q.push(&batch(1 + tick * 2, &[0, 0])).unwrap();
            applied += q.pop_for_tick().len();
        }
        assert!(
            applied <= 600 + MAX_CREDITS as usize,
            "{applied} inputs in 600 ticks"
        );
        assert!(applied >= 600, "one per tick is always allowed: {applied}");
    }

    #[test]
    fn malformed_batches_are_refused_and_counted() {
        let mut q = InputQueue::default();
        let bad_stick = InputBatch {
            first_seq: 1,
            frames: vec![InputFrame {
                stick: Stick { x: 127, y: 127 },
                buttons: Buttons::NONE,
            }],
        };
        assert!(q.push(&bad_stick).is_err());
        assert!(matches!(
            q.push(&batch(10_000, &[1])),
            Err(InputError::TooFarAhead { .. })
        ));
        assert_eq!(q.rejected, 2);
        assert_eq!(q.ready(), 0, "nothing from refused batches was queued");
    }

    #[test]
    fn inputs_meant_for_the_old_map_are_dropped_after_an_exit() {
        let mut q = InputQueue::default();
        q.push(&batch(1, &[10, 10, 10])).unwrap();
        assert_eq!(q.pop_for_tick().len(), 1);
        q.arrive();
        assert!(
            q.pop_for_tick().is_empty(),
            "queued old-map inputs are gone"
        );
        // Old-map inputs still on their way are dropped.
        assert_eq!(q.push(&batch(4, &[10, 10])).unwrap(), 0);
        // The client continues ARRIVAL_SEQ_GAP further on.
        let first = 4 + ARRIVAL_SEQ_GAP;
        assert_eq!(q.push(&batch(first, &[20, 20])).unwrap(), 2);
        let applied: Vec<u32> = (0..4)
            .flat_map(|_| q.pop_for_tick())
            .map(|(s, _)| s)
            .collect();
        assert_eq!(applied, vec![first, first + 1]);
        assert_eq!(q.last_applied(), first + 1);
    }
}
