//! Remote avatars are drawn a little in the past (two send intervals, at least 100 ms),
//! between the two server states around that moment, so they move smoothly whatever the
//! packet timing and the server's send rate.

use std::collections::VecDeque;

use bevy::prelude::*;
use tavern_shared::avatar::AvatarState;
use tavern_shared::movement::MoveState;
use tavern_shared::protocol::EnterMap;

use crate::PlaySystems;
use crate::prediction::OwnAvatar;

pub use tavern_shared::combat::lag::MIN_INTERPOLATION_DELAY;
/// States older than this (behind the shown moment) are dropped.
const KEEP_SECS: f64 = 1.0;

/// How the server's send rate shapes interpolation: set from [`EnterMap::send_hz`].
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
pub struct SendInterval {
    /// Seconds between two sends of the server.
    pub secs: f64,
}

impl SendInterval {
    pub fn from_hz(hz: u8) -> Self {
        SendInterval {
            secs: 1.0 / f64::from(hz.max(1)),
        }
    }

    /// How far in the past remote avatars are shown (the server rewinds hits by the
    /// same).
    pub fn delay(self) -> f64 {
        tavern_shared::combat::lag::interpolation_delay(self.secs)
    }
}

impl Default for SendInterval {
    fn default() -> Self {
        SendInterval::from_hz(20)
    }
}

/// Server states of one remote avatar with the local time each arrived.
#[derive(Component, Debug, Default)]
pub struct Snapshots(VecDeque<(f64, MoveState)>);

impl Snapshots {
    /// Records a state received at `now`, `interval` seconds after the one before it
    /// was sent. After a pause (the server sends nothing for an avatar standing still)
    /// the last state is repeated one interval before the new one, so the avatar waits
    /// where it was instead of gliding.
    pub fn push(&mut self, now: f64, state: MoveState, interval: SendInterval) {
        if let Some(&(t, last)) = self.0.back()
            && now - t > 1.5 * interval.secs
        {
            self.0.push_back((now - interval.secs, last));
        }
        self.0.push_back((now, state));
        while self.0.len() > 2 && self.0[1].0 < now - interval.delay() - KEEP_SECS {
            self.0.pop_front();
        }
    }

    /// The state to show at local time `at`.
    pub fn sample(&self, at: f64) -> Option<MoveState> {
        let first = self.0.front()?;
        if at <= first.0 {
            return Some(first.1);
        }
        let after = self.0.iter().position(|(t, _)| *t >= at);
        let Some(i) = after else {
            return self.0.back().map(|(_, s)| *s);
        };
        let (t0, a) = self.0[i - 1];
        let (t1, b) = self.0[i];
        let f = if t1 > t0 {
            ((at - t0) / (t1 - t0)) as f32
        } else {
            1.0
        };
        Some(MoveState {
            pos: a.pos.lerp(b.pos, f),
            ..if f < 0.5 { a } else { b }
        })
    }
}

/// Where a remote avatar is drawn now.
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct Interpolated(pub MoveState);

pub fn plugin(app: &mut App) {
    app.init_resource::<SendInterval>()
        .add_systems(
            PreUpdate,
            (learn_send_rate, record)
                .chain()
                .in_set(PlaySystems::Receive),
        )
        .add_systems(Update, sample.in_set(PlaySystems::Present));
}

fn learn_send_rate(mut entered: MessageReader<EnterMap>, mut interval: ResMut<SendInterval>) {
    if let Some(enter) = entered.read().last() {
        interval.set_if_neq(SendInterval::from_hz(enter.send_hz));
    }
}

fn record(
    mut commands: Commands,
    mut changed: Query<
        (Entity, &AvatarState, Option<&mut Snapshots>),
        (Changed<AvatarState>, Without<OwnAvatar>),
    >,
    time: Res<Time<Real>>,
    interval: Res<SendInterval>,
) {
    let now = time.elapsed_secs_f64();
    for (entity, state, snapshots) in &mut changed {
        match snapshots {
            Some(mut s) => s.push(now, state.motion, *interval),
            None => {
                let mut s = Snapshots::default();
                s.push(now, state.motion, *interval);
                commands
                    .entity(entity)
                    .insert((s, Interpolated(state.motion)));
            }
        }
    }
}

fn sample(
    mut avatars: Query<(&Snapshots, &mut Interpolated)>,
    time: Res<Time<Real>>,
    interval: Res<SendInterval>,
) {
    let at = time.elapsed_secs_f64() - interval.delay();
    for (snapshots, mut shown) in &mut avatars {
        if let Some(state) = snapshots.sample(at) {
            shown.0 = state;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f32) -> MoveState {
        MoveState::at(Vec2::new(x, 0.0))
    }

    #[test]
    fn samples_between_states_and_holds_at_the_ends() {
        let mut s = Snapshots::default();
        let rate = SendInterval::from_hz(20);
        let dt = rate.secs;
        s.push(1.0, at(0.0), rate);
        s.push(1.0 + dt, at(10.0), rate);
        assert_eq!(s.sample(0.5).unwrap().pos.x, 0.0);
        assert!((s.sample(1.0 + dt / 2.0).unwrap().pos.x - 5.0).abs() < 1e-3);
        assert_eq!(s.sample(9.0).unwrap().pos.x, 10.0);
    }

    #[test]
    fn after_a_pause_the_avatar_waits_instead_of_gliding() {
        let mut s = Snapshots::default();
        let rate = SendInterval::from_hz(20);
        s.push(1.0, at(0.0), rate);
        s.push(3.0, at(10.0), rate);
        // Halfway through the pause the avatar is still where it stopped.
        assert_eq!(s.sample(2.0).unwrap().pos.x, 0.0);
        // It walks off over the last send interval before the new state.
        assert!((s.sample(3.0 - rate.secs / 2.0).unwrap().pos.x - 5.0).abs() < 1e-3);
    }

    #[test]
    fn the_delay_covers_two_send_intervals() {
        assert_eq!(SendInterval::from_hz(60).delay(), MIN_INTERPOLATION_DELAY);
        assert!((SendInterval::from_hz(20).delay() - 0.1).abs() < 1e-9);
        assert!((SendInterval::from_hz(10).delay() - 0.2).abs() < 1e-9);
    }
}
