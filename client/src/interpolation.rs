//! Remote avatars are drawn about 100 ms in the past, between the two server states
//! around that moment, so they move smoothly whatever the packet timing.

use std::collections::VecDeque;

use bevy::prelude::*;
use tavern_shared::avatar::AvatarState;
use tavern_shared::movement::{MoveState, TICK_DT};

use crate::PlaySystems;
use crate::prediction::OwnAvatar;

/// How far in the past remote avatars are shown.
pub const INTERPOLATION_DELAY: f64 = 0.1;
/// States older than this (behind the shown moment) are dropped.
const KEEP_SECS: f64 = 1.0;

/// Server states of one remote avatar with the local time each arrived.
#[derive(Component, Debug, Default)]
pub struct Snapshots(VecDeque<(f64, MoveState)>);

impl Snapshots {
    /// Records a state received at `now`. After a pause the last state is repeated just
    /// before the new one, so the avatar waits where it was instead of gliding.
    pub fn push(&mut self, now: f64, state: MoveState) {
        if let Some(&(t, last)) = self.0.back()
            && now - t > 1.5 * f64::from(TICK_DT)
        {
            self.0.push_back((now - f64::from(TICK_DT), last));
        }
        self.0.push_back((now, state));
        while self.0.len() > 2 && self.0[1].0 < now - INTERPOLATION_DELAY - KEEP_SECS {
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
    app.add_systems(PreUpdate, record.in_set(PlaySystems::Receive))
        .add_systems(Update, sample.in_set(PlaySystems::Present));
}

fn record(
    mut commands: Commands,
    mut changed: Query<
        (Entity, &AvatarState, Option<&mut Snapshots>),
        (Changed<AvatarState>, Without<OwnAvatar>),
    >,
    time: Res<Time<Real>>,
) {
    let now = time.elapsed_secs_f64();
    for (entity, state, snapshots) in &mut changed {
        match snapshots {
            Some(mut s) => s.push(now, state.motion),
            None => {
                let mut s = Snapshots::default();
                s.push(now, state.motion);
                commands
                    .entity(entity)
                    .insert((s, Interpolated(state.motion)));
            }
        }
    }
}

fn sample(mut avatars: Query<(&Snapshots, &mut Interpolated)>, time: Res<Time<Real>>) {
    let at = time.elapsed_secs_f64() - INTERPOLATION_DELAY;
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
        let dt = f64::from(TICK_DT);
        s.push(1.0, at(0.0));
        s.push(1.0 + dt, at(10.0));
        assert_eq!(s.sample(0.5).unwrap().pos.x, 0.0);
        assert!((s.sample(1.0 + dt / 2.0).unwrap().pos.x - 5.0).abs() < 1e-3);
        assert_eq!(s.sample(9.0).unwrap().pos.x, 10.0);
    }

    #[test]
    fn after_a_pause_the_avatar_waits_instead_of_gliding() {
        let mut s = Snapshots::default();
        s.push(1.0, at(0.0));
        s.push(3.0, at(10.0));
        // Halfway through the pause the avatar is still where it stopped.
        assert_eq!(s.sample(2.0).unwrap().pos.x, 0.0);
    }
}
