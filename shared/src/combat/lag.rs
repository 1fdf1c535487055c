//! Lag compensation and leashing: where bodies were a moment ago, so a hit is judged
//! where the attacker saw its target, and how far a monster may chase.

use bevy::math::Vec2;

use crate::movement::TICK_HZ;

/// Whether a monster chasing from `home` has gone too far and should walk back (healing
/// to full): beyond its leash radius from home.
pub fn leashed(home: Vec2, pos: Vec2, leash_radius: f32) -> bool {
    home.distance_squared(pos) > leash_radius * leash_radius
}

/// The shortest delay clients show others with, in seconds.
pub const MIN_INTERPOLATION_DELAY: f64 = 0.1;

/// How far in the past a client shows other bodies when the server sends every
/// `send_interval_secs`: two intervals, so one lost or late packet still leaves a
/// state on either side; at least [`MIN_INTERPOLATION_DELAY`]. The client draws with
/// it and the server rewinds hits by it.
pub fn interpolation_delay(send_interval_secs: f64) -> f64 {
    (2.0 * send_interval_secs).max(MIN_INTERPOLATION_DELAY)
}

/// How far back lag compensation looks at most, in seconds.
pub const MAX_REWIND_SECS: f64 = 0.25;

/// Ticks to rewind for an attacker who sees others `interpolation_secs` in the past and
/// whose input took half of `rtt_secs` to arrive; at most [`MAX_REWIND_SECS`].
pub fn rewind_ticks(interpolation_secs: f64, rtt_secs: f64) -> u32 {
    let secs = (interpolation_secs.max(0.0) + rtt_secs.max(0.0) / 2.0).min(MAX_REWIND_SECS);
    crate::movement::secs_to_ticks(secs)
}

/// Where an entity was over the last [`MAX_REWIND_SECS`], one position per tick, so a
/// hit is judged where the attacker saw its target.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// (tick, position), oldest first.
    past: std::collections::VecDeque<(u32, Vec2)>,
}

impl History {
    /// Positions kept: the rewind window and one more.
    const KEEP: usize = (MAX_REWIND_SECS * TICK_HZ) as usize + 2;

    pub fn record(&mut self, tick: u32, pos: Vec2) {
        if self.past.back().is_some_and(|(t, _)| *t >= tick) {
            self.past.clear(); // time went backwards: a new life, start over
        }
        self.past.push_back((tick, pos));
        while self.past.len() > Self::KEEP {
            self.past.pop_front();
        }
    }

    /// Where it was at `tick`: the recorded position, the oldest one kept if `tick` is
    /// further back, the newest if it is ahead; `None` before any record.
    pub fn at(&self, tick: u32) -> Option<Vec2> {
        let (first, last) = (self.past.front()?, self.past.back()?);
        if tick <= first.0 {
            return Some(first.1);
        }
        if tick >= last.0 {
            return Some(last.1);
        }
        let after = self.past.iter().position(|(t, _)| *t >= tick)?;
        let (t0, a) = self.past[after - 1];
        let (t1, b) = self.past[after];
        Some(a.lerp(b, (tick - t0) as f32 / (t1 - t0) as f32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewound_hit_is_judged_where_the_target_was() {
        let mut h = History::default();
        assert_eq!(h.at(5), None);
        for tick in 100..=130 {
            h.record(tick, Vec2::new(tick as f32 * 2.0, 0.0));
        }
        // An attacker 100 ms behind (interpolation) with a 60 ms round trip: 130 ms,
        // 8 ticks back.
        let back = rewind_ticks(0.1, 0.06);
        assert_eq!(back, 8);
        assert_eq!(h.at(130 - back), Some(Vec2::new(244.0, 0.0)));
        // Never more than 250 ms: older positions are not kept.
        assert_eq!(rewind_ticks(0.2, 1.0), 15);
        assert_eq!(h.at(0), Some(Vec2::new(2.0 * 114.0, 0.0)));
        assert_eq!(h.at(500), Some(Vec2::new(260.0, 0.0)));
        // A respawn starts a new history.
        h.record(10, Vec2::ZERO);
        assert_eq!(h.at(130), Some(Vec2::ZERO));
    }

    #[test]
    fn a_monster_is_leashed_only_beyond_its_radius() {
        let home = Vec2::new(100.0, 100.0);
        assert!(!leashed(home, Vec2::new(500.0, 100.0), 400.0));
        assert!(leashed(home, Vec2::new(500.1, 100.0), 400.0));
    }
}
