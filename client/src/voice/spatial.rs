//! Where a voice sounds from: louder the nearer its speaker stands, and to the left or
//! right as the speaker stands left or right of the listener's avatar (positions as the
//! listener sees them: the interpolated ones).

use bevy::math::Vec2;

/// Gain at the edge of hearing, relative to a speaker standing close.
pub const EDGE_GAIN: f32 = 0.2;
/// Within this fraction of the hearing radius, a voice is at full volume.
pub const FULL_WITHIN: f32 = 0.25;
/// How far to one side a voice can go (1 would be one ear only).
pub const MAX_PAN: f32 = 0.8;

/// The left and right gains of a voice from `speaker` heard at `listener`, within a
/// hearing radius `radius` (a voice is relayed only within it; a speaker slightly
/// beyond, as the listener's view lags, gets the edge gain).
pub fn gains(listener: Vec2, speaker: Vec2, radius: f32) -> (f32, f32) {
    let radius = radius.max(1.0);
    let offset = speaker - listener;
    let d = (offset.length() / radius).clamp(0.0, 1.0);
    let volume = if d <= FULL_WITHIN {
        1.0
    } else {
        // Smoothly from 1 down to the edge gain.
        let t = (d - FULL_WITHIN) / (1.0 - FULL_WITHIN);
        let smooth = t * t * (3.0 - 2.0 * t);
        1.0 + (EDGE_GAIN - 1.0) * smooth
    };
    // Pan by direction, fading in with distance so a voice on top of the listener is
    // centred. Equal power: left² + right² stays the same wherever the voice is.
    let pan = (offset.x / radius).clamp(-1.0, 1.0) * MAX_PAN;
    let angle = (pan + 1.0) * std::f32::consts::FRAC_PI_4;
    (volume * angle.cos(), volume * angle.sin())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn power((l, r): (f32, f32)) -> f32 {
        l * l + r * r
    }

    #[test]
    fn nearer_is_louder_and_the_edge_is_quietest() {
        let me = Vec2::new(100.0, 100.0);
        let close = gains(me, me + Vec2::new(0.0, 10.0), 100.0);
        let mid = gains(me, me + Vec2::new(0.0, 60.0), 100.0);
        let edge = gains(me, me + Vec2::new(0.0, 100.0), 100.0);
        let beyond = gains(me, me + Vec2::new(0.0, 130.0), 100.0);
        assert!((power(close) - 1.0).abs() < 1e-5, "{close:?}");
        assert!(power(close) > power(mid) && power(mid) > power(edge));
        assert!((power(edge) - EDGE_GAIN * EDGE_GAIN).abs() < 1e-5);
        assert_eq!(edge, beyond);
    }

    #[test]
    fn a_voice_to_the_right_sounds_from_the_right() {
        let me = Vec2::ZERO;
        let (l, r) = gains(me, Vec2::new(50.0, 0.0), 100.0);
        assert!(r > l * 1.5, "{l} {r}");
        let (l, r) = gains(me, Vec2::new(-50.0, 0.0), 100.0);
        assert!(l > r * 1.5, "{l} {r}");
        // Straight above or below: centred.
        let (l, r) = gains(me, Vec2::new(0.0, -50.0), 100.0);
        assert!((l - r).abs() < 1e-6);
        // Never one ear only.
        let (l, r) = gains(me, Vec2::new(100.0, 0.0), 100.0);
        assert!(l > 0.0 && r > l);
    }
}
