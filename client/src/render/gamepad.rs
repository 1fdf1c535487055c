//! Gamepads (Bevy's gilrs on the desktop, the browser's Gamepad API on the web): the
//! left stick walks, analog through [`crate::controls::analog`] (15 % dead zone, full
//! speed at the edge) and the D-pad digitally; the south face button (A, Cross)
//! interacts like E; the right trigger (or the right shoulder button) runs. With
//! several pads, the one pushed furthest steers.

use bevy::prelude::*;

/// What the gamepads ask for this frame.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct GamepadControls {
    /// Direction and speed (y down, as the map's), zero when no stick is pushed.
    pub direction: Vec2,
    /// A run button is held.
    pub run: bool,
    /// The interact button went down this frame.
    pub action: bool,
}

pub fn plugin(app: &mut App) {
    app.init_resource::<GamepadControls>().add_systems(
        PreUpdate,
        read_gamepads
            .after(bevy::input::InputSystems)
            .before(crate::render::keyboard::latch_action),
    );
}

/// One pad's wish: its stick (or D-pad) mapped to a direction, run and interact.
pub fn pad_controls(pad: &Gamepad) -> GamepadControls {
    // Gamepads count y up; the map counts it down.
    let flip = |v: Vec2| Vec2::new(v.x, -v.y);
    let stick = crate::controls::analog(flip(pad.left_stick()), 1.0);
    let dpad = flip(pad.dpad()).normalize_or_zero();
    let direction = if dpad.length_squared() > stick.length_squared() {
        dpad
    } else {
        stick
    };
    GamepadControls {
        direction,
        run: pad.any_pressed([GamepadButton::RightTrigger2, GamepadButton::RightTrigger]),
        action: pad.just_pressed(GamepadButton::South),
    }
}

fn read_gamepads(pads: Query<&Gamepad>, mut controls: ResMut<GamepadControls>) {
    let mut want = GamepadControls::default();
    for pad in &pads {
        let one = pad_controls(pad);
        if one.direction.length_squared() > want.direction.length_squared() {
            want.direction = one.direction;
        }
        want.run |= one.run;
        want.action |= one.action;
    }
    if *controls != want {
        *controls = want;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pad(stick: Vec2, buttons: &[GamepadButton]) -> Gamepad {
        let mut pad = Gamepad::default();
        pad.analog_mut().set(GamepadAxis::LeftStickX, stick.x);
        pad.analog_mut().set(GamepadAxis::LeftStickY, stick.y);
        for b in buttons {
            pad.digital_mut().press(*b);
            pad.analog_mut().set(*b, 1.0);
        }
        pad
    }

    #[test]
    fn the_left_stick_walks_with_a_dead_zone_and_up_is_north() {
        assert_eq!(
            pad_controls(&pad(Vec2::new(0.1, 0.1), &[])).direction,
            Vec2::ZERO
        );
        let up = pad_controls(&pad(Vec2::new(0.0, 1.0), &[])).direction;
        assert!((up - Vec2::new(0.0, -1.0)).length() < 1e-5, "{up}");
        let half = pad_controls(&pad(Vec2::new(0.575, 0.0), &[])).direction;
        assert!((half.x - 0.5).abs() < 1e-3 && half.y == 0.0, "{half}");
        // A stick in the corner reports past 1: never faster than full speed.
        let corner = pad_controls(&pad(Vec2::new(1.0, -1.0), &[])).direction;
        assert!(
            (corner.length() - 1.0).abs() < 1e-5 && corner.y > 0.0,
            "{corner}"
        );
    }

    #[test]
    fn the_dpad_walks_and_the_buttons_act_and_run() {
        let p = pad(
            Vec2::ZERO,
            &[
                GamepadButton::DPadLeft,
                GamepadButton::South,
                GamepadButton::RightTrigger2,
            ],
        );
        let c = pad_controls(&p);
        assert_eq!(c.direction, Vec2::new(-1.0, 0.0));
        assert!(c.action && c.run);
        assert_eq!(
            pad_controls(&Gamepad::default()),
            GamepadControls::default()
        );
    }
}
