//! Keyboard input: WASD or arrows to move, Shift to run, E to interact; nothing moves
//! while the player is typing a chat line. The touch stick and action button and the
//! gamepads feed the same input ([`crate::controls::strongest`] of the keyboard's, the
//! touch stick's and the gamepad's).

use bevy::prelude::*;
use tavern_shared::input::{Buttons, InputFrame};

use crate::PlaySystems;
use crate::prediction::DesiredInput;
use crate::render::chat::Typing;
use crate::render::gamepad::GamepadControls;
use crate::render::touch::TouchControls;

/// The action key was pressed since the last tick: a tap shorter than a tick (or one
/// in a frame with no tick) still counts.
#[derive(Resource, Default)]
pub struct ActionTapped(bool);

pub fn plugin(app: &mut App) {
    app.init_resource::<ActionTapped>()
        .add_systems(
            PreUpdate,
            latch_action.after(crate::render::chat::type_keys),
        )
        .add_systems(FixedUpdate, read_keyboard.in_set(PlaySystems::Input));
}

/// Whether the action key, the touch action button or a gamepad's went down this
/// frame.
pub fn action_pressed(
    keys: &ButtonInput<KeyCode>,
    typing: &Typing,
    touch: &TouchControls,
    pad: &GamepadControls,
) -> bool {
    (keys.just_pressed(KeyCode::KeyE) && !typing.active) || touch.action || pad.action
}

pub fn latch_action(
    keys: Res<ButtonInput<KeyCode>>,
    typing: Res<Typing>,
    touch: Res<TouchControls>,
    pad: Res<GamepadControls>,
    mut tapped: ResMut<ActionTapped>,
) {
    if action_pressed(&keys, &typing, &touch, &pad) {
        tapped.0 = true;
    }
}

fn read_keyboard(
    keys: Res<ButtonInput<KeyCode>>,
    typing: Res<Typing>,
    touch: Res<TouchControls>,
    pad: Res<GamepadControls>,
    mut tapped: ResMut<ActionTapped>,
    mut desired: ResMut<DesiredInput>,
) {
    let action = std::mem::take(&mut tapped.0) || keys.pressed(KeyCode::KeyE);
    if typing.active {
        desired.0 = InputFrame::default();
        return;
    }
    let held = |a: KeyCode, b: KeyCode| keys.pressed(a) || keys.pressed(b);
    let mut dir = Vec2::ZERO;
    if held(KeyCode::KeyW, KeyCode::ArrowUp) {
        dir.y -= 1.0;
    }
    if held(KeyCode::KeyS, KeyCode::ArrowDown) {
        dir.y += 1.0;
    }
    if held(KeyCode::KeyA, KeyCode::ArrowLeft) {
        dir.x -= 1.0;
    }
    if held(KeyCode::KeyD, KeyCode::ArrowRight) {
        dir.x += 1.0;
    }
    let mut buttons = Buttons::NONE;
    if held(KeyCode::ShiftLeft, KeyCode::ShiftRight) || pad.run {
        buttons = buttons | Buttons::RUN;
    }
    if action {
        buttons = buttons | Buttons::INTERACT;
    }
    desired.0 = InputFrame {
        stick: crate::controls::strongest(&[
            dir.normalize_or_zero(),
            touch.direction(),
            pad.direction,
        ]),
        buttons,
    };
}
