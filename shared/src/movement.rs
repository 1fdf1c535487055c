//! The movement rule: one pure function the server applies to each input and the
//! client's prediction replays, with the same constants and the same collision.

use bevy::math::Vec2;
use serde::{Deserialize, Serialize};

use crate::collision::CollisionWorld;
use crate::input::InputFrame;

/// Simulation rate of server and prediction alike.
pub const TICK_HZ: f64 = 60.0;
/// One simulation step, in seconds.
pub const TICK_DT: f32 = 1.0 / 60.0;
/// Whole ticks in `secs` seconds (to the nearest; none for negative times).
pub fn secs_to_ticks(secs: f64) -> u32 {
    (secs.max(0.0) * TICK_HZ).round() as u32
}

/// Walking speed at full stick, pixels per second.
pub const WALK_SPEED: f32 = 160.0;
/// Running speed at full stick, pixels per second.
pub const RUN_SPEED: f32 = 240.0;
/// An avatar collides as a circle of this radius around its position.
pub const AVATAR_RADIUS: f32 = 10.0;
/// Positions are kept in fixed point: multiples of 1/64 px. Every step ends on this
/// grid, so a position goes over the wire as two integers and arrives exactly as the
/// server has it, and prediction replays from exactly the server's state.
pub const POS_STEPS_PER_PX: f32 = 64.0;

/// The grid position nearest to `v` (see [`POS_STEPS_PER_PX`]).
pub fn quantize(v: Vec2) -> Vec2 {
    (v * POS_STEPS_PER_PX).round() / POS_STEPS_PER_PX
}

/// The grid position reached from `from` (on the grid) towards `to`, never past it on
/// either axis, so quantizing never lengthens a step.
fn quantize_towards(from: Vec2, to: Vec2) -> Vec2 {
    from + ((to - from) * POS_STEPS_PER_PX).trunc() / POS_STEPS_PER_PX
}

/// Which way an avatar looks (for its sprite).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Facing {
    #[default]
    Down,
    Up,
    Left,
    Right,
}

/// Everything movement changes about an avatar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MoveState {
    /// Centre of the avatar in map pixels (y down).
    pub pos: Vec2,
    pub facing: Facing,
    pub moving: bool,
    pub running: bool,
}

impl MoveState {
    /// Standing still at `pos` (moved onto the position grid).
    pub fn at(pos: Vec2) -> Self {
        MoveState {
            pos: quantize(pos),
            ..Default::default()
        }
    }
}

/// Advances one avatar by one input over `dt` seconds. `state.pos` must be on the
/// position grid ([`MoveState::at`], [`quantize`]); the result is too.
///
/// Speed is proportional to stick deflection (which [`crate::input::Stick`] keeps at most 1,
/// so diagonals are never faster), and walls stop and deflect the avatar.
pub fn step(state: MoveState, input: InputFrame, dt: f32, world: &CollisionWorld) -> MoveState {
    let running = input.run();
    let speed = if running { RUN_SPEED } else { WALK_SPEED };
    MoveState {
        running: running && !input.stick.is_zero(),
        ..walk(state, input.stick.to_vec(), speed, dt, world)
    }
}

/// Advances a body by `dir` (length at most 1) at `speed` px/s over `dt` seconds, with
/// the same collision and position grid as [`step`]: how monsters move.
pub fn walk(state: MoveState, dir: Vec2, speed: f32, dt: f32, world: &CollisionWorld) -> MoveState {
    let stick = dir.clamp_length_max(1.0);
    let delta = stick * speed * dt;
    if !delta.is_finite() || delta == Vec2::ZERO {
        return MoveState {
            moving: false,
            running: false,
            ..state
        };
    }
    let facing = if stick.x.abs() > stick.y.abs() {
        if stick.x > 0.0 {
            Facing::Right
        } else {
            Facing::Left
        }
    } else if stick.y > 0.0 {
        Facing::Down
    } else {
        Facing::Up
    };
    MoveState {
        pos: quantize_towards(
            state.pos,
            world.move_and_slide(state.pos, delta, AVATAR_RADIUS),
        ),
        facing,
        moving: true,
        running: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Buttons, Stick};
    use crate::map::MapData;

    fn open_room() -> (CollisionWorld, Vec2) {
        let rows = [
            "####################",
            "#..................#",
            "#..................#",
            "#.........S........#",
            "#..................#",
            "#..................#",
            "####################",
        ];
        let map = MapData::from_ascii("room", 32, &rows);
        let spawn = map.spawns[0];
        (CollisionWorld::from_map(&map), spawn)
    }

    fn frame(v: Vec2, run: bool) -> InputFrame {
        InputFrame {
            stick: Stick::from_vec(v),
            buttons: if run { Buttons::RUN } else { Buttons::NONE },
        }
    }

    fn walk(world: &CollisionWorld, start: Vec2, input: InputFrame, ticks: usize) -> MoveState {
        (0..ticks).fold(MoveState::at(start), |s, _| step(s, input, TICK_DT, world))
    }

    #[test]
    fn full_stick_walks_and_runs_at_the_set_speeds() {
        let (world, spawn) = open_room();
        let walked = walk(&world, spawn, frame(Vec2::X, false), 30);
        // Each step ends on the 1/64 px grid, at most one grid step short.
        let grid = 30.0 / POS_STEPS_PER_PX;
        let walked_px = walked.pos.x - spawn.x;
        assert!(
            walked_px <= WALK_SPEED * 0.5 && walked_px > WALK_SPEED * 0.5 - grid,
            "{walked:?}"
        );
        let ran = walk(&world, spawn, frame(Vec2::X, true), 30);
        let ran_px = ran.pos.x - spawn.x;
        assert!(
            ran_px <= RUN_SPEED * 0.5 && ran_px > RUN_SPEED * 0.5 - grid,
            "{ran:?}"
        );
        assert!(ran.running && ran.moving && ran.facing == Facing::Right);
    }

    #[test]
    fn every_step_ends_on_the_position_grid() {
        let (world, spawn) = open_room();
        let on_grid = |p: Vec2| quantize(p) == p;
        let mut s = MoveState::at(spawn + Vec2::new(0.3, 0.7));
        assert!(on_grid(s.pos));
        for i in 0..400 {
            let dir = Vec2::from_angle(i as f32 * 0.37);
            s = step(s, frame(dir, i % 3 == 0), TICK_DT, &world);
            assert!(on_grid(s.pos), "step {i}: {:?}", s.pos);
        }
    }

    #[test]
    fn diagonals_are_never_faster_than_straight_lines() {
        let (world, spawn) = open_room();
        for angle in (0..64).map(|i| i as f32 * std::f32::consts::TAU / 64.0) {
            let dir = Vec2::from_angle(angle);
            let end = walk(&world, spawn, frame(dir, false), 10);
            let speed = (end.pos - spawn).length() / (10.0 * TICK_DT);
            assert!(speed <= WALK_SPEED + 1e-3, "angle {angle}: {speed} px/s");
            assert!(speed >= WALK_SPEED * 0.98, "angle {angle}: {speed} px/s");
        }
    }

    #[test]
    fn partial_stick_moves_proportionally() {
        let (world, spawn) = open_room();
        let half = walk(&world, spawn, frame(Vec2::new(0.0, -0.5), false), 30);
        let travelled = spawn.y - half.pos.y;
        assert!((travelled - WALK_SPEED * 0.25).abs() < 1.0, "{travelled}");
        assert_eq!(half.facing, Facing::Up);
    }

    #[test]
    fn zero_stick_stands_still() {
        let (world, spawn) = open_room();
        let s = step(MoveState::at(spawn), InputFrame::default(), TICK_DT, &world);
        assert_eq!(s.pos, spawn);
        assert!(!s.moving);
    }

    #[test]
    fn walls_stop_and_slide() {
        let (world, spawn) = open_room();
        // Push into the top wall at 45 degrees: stop at the wall, keep sliding right.
        let s = walk(&world, spawn, frame(Vec2::new(1.0, -1.0), false), 60);
        let wall_bottom = 32.0;
        assert!(
            (s.pos.y - (wall_bottom + AVATAR_RADIUS)).abs() < 0.1,
            "{s:?}"
        );
        assert!(
            s.pos.x > spawn.x + 100.0,
            "kept sliding along the wall: {s:?}"
        );
        // Running into a corner ends in the corner, not through it.
        let corner = walk(&world, spawn, frame(Vec2::new(1.0, -1.0), true), 400);
        assert!(
            (corner.pos.x - (19.0 * 32.0 - AVATAR_RADIUS)).abs() < 0.1,
            "{corner:?}"
        );
        assert!(
            (corner.pos.y - (32.0 + AVATAR_RADIUS)).abs() < 0.1,
            "{corner:?}"
        );
    }

    #[test]
    fn no_tunnelling_even_at_1000_px_per_second() {
        // A one-tile wall between two rooms.
        let map = MapData::from_ascii(
            "thin",
            16,
            &["#########", "#S..#...#", "#...#...#", "#########"],
        );
        let world = CollisionWorld::from_map(&map);
        let start = map.spawns[0];
        let dt = 1.0 / 60.0;
        // 1000 px/s is over 16 px (a whole tile) per tick: step with a scaled dt.
        let fast = frame(Vec2::X, true);
        let mut s = MoveState::at(start);
        for _ in 0..120 {
            s = step(s, fast, dt * 1000.0 / RUN_SPEED, &world);
            assert!(
                s.pos.x <= 4.0 * 16.0 - AVATAR_RADIUS + 0.01,
                "went through: {s:?}"
            );
        }
        assert!(
            s.pos.x > 4.0 * 16.0 - AVATAR_RADIUS - 0.1,
            "reached the wall: {s:?}"
        );
    }

    #[test]
    fn same_inputs_give_the_same_positions_bit_for_bit() {
        let (world, spawn) = open_room();
        let inputs: Vec<InputFrame> = (0..600)
            .map(|i| {
                let a = (i as f32 * 0.37).sin() * 3.0;
                frame(Vec2::from_angle(a) * ((i % 7) as f32 / 6.0), i % 5 == 0)
            })
            .collect();
        let run = || {
            inputs
                .iter()
                .scan(MoveState::at(spawn), |s, f| {
                    *s = step(*s, *f, TICK_DT, &world);
                    Some(*s)
                })
                .collect::<Vec<_>>()
        };
        let (a, b) = (run(), run());
        assert_eq!(a, b);
        // A second world built from the same map agrees too (the client builds its own).
        let (world2, _) = open_room();
        let c: Vec<MoveState> = inputs
            .iter()
            .scan(MoveState::at(spawn), |s, f| {
                *s = step(*s, *f, TICK_DT, &world2);
                Some(*s)
            })
            .collect();
        assert_eq!(a, c);
    }
}
