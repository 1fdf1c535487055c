//! Analog movement from a touch joystick or a gamepad's stick, mapped the same way and
//! quantized into the same [`Stick`] as the keyboard's, so prediction and the server
//! treat every input alike.

use bevy::math::Vec2;
use tavern_shared::input::Stick;

/// Share of the ring (or of a gamepad stick's travel) that does nothing: a resting
/// thumb never creeps.
pub const DEAD_ZONE: f32 = 0.15;

/// The direction and speed (length 0 to 1) of a stick pushed `offset` from its centre,
/// full speed at `ring` and beyond: nothing inside the dead zone, then rising evenly
/// from 0 at its edge to 1 at the ring, in any direction (a diagonal is never faster).
pub fn analog(offset: Vec2, ring: f32) -> Vec2 {
    if !offset.is_finite() || ring <= 0.0 {
        return Vec2::ZERO;
    }
    let reach = offset.length() / ring;
    if reach <= DEAD_ZONE {
        return Vec2::ZERO;
    }
    let speed = ((reach - DEAD_ZONE) / (1.0 - DEAD_ZONE)).min(1.0);
    offset / offset.length() * speed
}

/// One tick's direction from every source: the keyboard's (already a unit or zero
/// vector), a touch stick's and a gamepad's; the strongest wins, so two devices held
/// at once never add up to more than full speed.
pub fn strongest(sources: &[Vec2]) -> Stick {
    let best = sources
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .max_by(|a, b| a.length_squared().total_cmp(&b.length_squared()))
        .unwrap_or(Vec2::ZERO);
    Stick::from_vec(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dead_zone_holds_still_and_the_ring_is_full_speed() {
        assert_eq!(analog(Vec2::new(14.0, 0.0), 100.0), Vec2::ZERO);
        assert_eq!(analog(Vec2::new(0.0, -15.0), 100.0), Vec2::ZERO);
        // Just past the dead zone: slow, in the pushed direction.
        let slow = analog(Vec2::new(0.0, 20.0), 100.0);
        assert!(slow.y > 0.0 && slow.y < 0.1 && slow.x == 0.0, "{slow}");
        // Halfway between the dead zone and the ring: half speed.
        let half = analog(Vec2::new(-57.5, 0.0), 100.0);
        assert!((half.x + 0.5).abs() < 1e-4, "{half}");
        // At the ring and beyond: full speed, never more.
        assert!((analog(Vec2::new(100.0, 0.0), 100.0).length() - 1.0).abs() < 1e-5);
        assert!((analog(Vec2::new(0.0, 900.0), 100.0).length() - 1.0).abs() < 1e-5);
        assert_eq!(analog(Vec2::new(f32::NAN, 1.0), 100.0), Vec2::ZERO);
        assert_eq!(analog(Vec2::new(50.0, 0.0), 0.0), Vec2::ZERO);
    }

    #[test]
    fn diagonals_are_never_faster() {
        let full = Stick::from_vec(Vec2::X);
        let full_len = f32::from(full.x).hypot(f32::from(full.y));
        for degrees in 0..360 {
            let dir = Vec2::from_angle((degrees as f32).to_radians());
            for push in [0.5, 1.0, 1.5, 4.0] {
                let stick = strongest(&[analog(dir * 80.0 * push, 80.0)]);
                let len = f32::from(stick.x).hypot(f32::from(stick.y));
                assert!(len <= full_len + 1e-3, "{degrees} deg x{push}: {len}");
                assert!(stick.is_valid());
            }
        }
        // The keyboard's diagonal is the same length as its straight line.
        let diagonal = strongest(&[Vec2::new(1.0, 1.0).normalize()]);
        let len = f32::from(diagonal.x).hypot(f32::from(diagonal.y));
        assert!(len <= full_len + 1e-3 && len > full_len - 1.5, "{len}");
    }

    #[test]
    fn the_strongest_source_wins() {
        let keys = Vec2::new(-1.0, 0.0);
        let touch = Vec2::new(0.0, 0.4);
        assert_eq!(strongest(&[keys, touch]), Stick::from_vec(keys));
        assert_eq!(strongest(&[Vec2::ZERO, touch]), Stick::from_vec(touch));
        assert_eq!(strongest(&[]), Stick::default());
    }
}
