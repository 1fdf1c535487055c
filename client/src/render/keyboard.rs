//! Keyboard input: WASD or arrows to move, Shift to run, E to interact.

use bevy::prelude::*;
use tavern_shared::input::{Buttons, InputFrame, Stick};

use crate::PlaySystems;
use crate::prediction::DesiredInput;

pub fn plugin(app: &mut App) {
    app.add_systems(FixedUpdate, read_keyboard.in_set(PlaySystems::Input));
}

fn read_keyboard(keys: Res<ButtonInput<KeyCode>>, mut desired: ResMut<DesiredInput>) {
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
    if held(KeyCode::ShiftLeft, KeyCode::ShiftRight) {
        buttons = buttons | Buttons::RUN;
    }
    if keys.pressed(KeyCode::KeyE) {
        buttons = buttons | Buttons::INTERACT;
    }
    desired.0 = InputFrame {
        stick: Stick::from_vec(dir.normalize_or_zero()),
        buttons,
    };
}
