//! The windowed game's presentation: map tiles, avatars with name labels, the camera,
//! NPCs, the connection indicator, the chat panel, the NPC window, zone prompts, the
//! fight (monsters, health bars, hotbar, death screen), and keyboard input.

pub mod audio;
pub mod avatars;
pub mod camera;
pub mod catchup;
pub mod chat;
pub mod combat;
pub mod conversation;
pub mod dicelog;
pub mod dungeon;
pub mod gamepad;
pub mod gm_panel;
pub mod handout;
pub mod hud;
pub mod keyboard;
pub mod layout;
pub mod loot;
pub mod map;
pub mod npcs;
pub mod panel;
pub mod prompts;
pub mod roster;
pub mod sheet;
pub mod start;
pub mod table;
pub mod touch;
pub mod turns;
pub mod voice;

use bevy::prelude::*;

/// The atlas layout of a sheet of `columns` x `rows` square frames of `frame` px, made
/// once and kept in `cache` (a system's `Local`).
pub fn grid_layout(
    layouts: &mut Assets<TextureAtlasLayout>,
    cache: &mut Option<Handle<TextureAtlasLayout>>,
    frame: u32,
    columns: u32,
    rows: u32,
) -> Handle<TextureAtlasLayout> {
    cache
        .get_or_insert_with(|| {
            layouts.add(TextureAtlasLayout::from_grid(
                UVec2::splat(frame),
                columns,
                rows,
                None,
                None,
            ))
        })
        .clone()
}

/// Simulation coordinates are Tiled's (y down); Bevy's world is y up.
pub fn to_world(pos: Vec2, z: f32) -> Vec3 {
    Vec3::new(pos.x, -pos.y, z)
}

pub fn plugin(app: &mut App) {
    app.add_plugins((
        map::plugin,
        avatars::plugin,
        camera::plugin,
        hud::plugin,
        keyboard::plugin,
        touch::plugin,
        npcs::plugin,
        chat::plugin,
        conversation::plugin,
        prompts::plugin,
        audio::plugin,
        combat::plugin,
        loot::plugin,
        dungeon::plugin,
    ))
    .add_plugins((
        layout::plugin,
        gamepad::plugin,
        roster::plugin,
        start::plugin,
        catchup::plugin,
        table::plugin,
        turns::plugin,
        sheet::plugin,
        dicelog::plugin,
        handout::plugin,
        gm_panel::plugin,
        voice::plugin,
    ));
}
