//! Draws avatars: a tinted sprite facing its direction, stepping while it moves, with
//! the player's name above. The own avatar is drawn where prediction puts it; others
//! where interpolation does.

use bevy::prelude::*;
use tavern_shared::avatar::{AvatarState, DisplayName, PlayerId};
use tavern_shared::movement::{Facing, MoveState};

use super::map::AVATAR_Z;
use super::to_world;
use crate::PlaySystems;
use crate::interpolation::Interpolated;
use crate::prediction::{OwnAvatar, Prediction};

/// The avatar sheet: one column per facing (down, up, left, right), rows standing / stepping.
pub const SHEET: &str = "sprites/avatar.png";
const FRAME: u32 = 32;

#[derive(Component)]
struct NameLabel;

pub fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        (dress_avatars, place_avatars)
            .chain()
            .after(PlaySystems::Present),
    );
}

/// A stable colour per player, so everyone sees the same tint.
fn tint(id: u64) -> Color {
    let hue = (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as f32 / (1u64 << 24) as f32 * 360.0;
    Color::hsl(hue, 0.55, 0.65)
}

/// A sprite of the avatar sheet, standing and facing down.
pub fn avatar_sprite(
    assets: &AssetServer,
    layouts: &mut Assets<TextureAtlasLayout>,
    layout: &mut Option<Handle<TextureAtlasLayout>>,
) -> Sprite {
    sheet_sprite(assets, layouts, layout, SHEET)
}

/// A sprite of a sheet laid out like the avatar's (4 facings x standing/stepping).
pub fn sheet_sprite(
    assets: &AssetServer,
    layouts: &mut Assets<TextureAtlasLayout>,
    layout: &mut Option<Handle<TextureAtlasLayout>>,
    sheet: &str,
) -> Sprite {
    let layout = crate::render::grid_layout(layouts, layout, FRAME, 4, 2);
    Sprite::from_atlas_image(
        assets.load(sheet.to_string()),
        TextureAtlas { layout, index: 0 },
    )
}

fn dress_avatars(
    mut commands: Commands,
    new: Query<(Entity, &PlayerId, &DisplayName, Has<OwnAvatar>), Without<Sprite>>,
    assets: Res<AssetServer>,
    mut layouts: ResMut<Assets<TextureAtlasLayout>>,
    mut layout: Local<Option<Handle<TextureAtlasLayout>>>,
) {
    for (entity, id, name, own) in &new {
        let mut sprite = avatar_sprite(&assets, &mut layouts, &mut layout);
        sprite.color = tint(id.0);
        let label_color = if own {
            Color::srgb(1.0, 0.95, 0.6)
        } else {
            Color::WHITE
        };
        commands
            .entity(entity)
            .insert((sprite, Transform::default(), Visibility::default()))
            .with_child((
                NameLabel,
                Text2d::new(name.0.clone()),
                TextFont {
                    font_size: FontSize::Px(12.0),
                    ..default()
                },
                TextColor(label_color),
                Transform::from_xyz(0.0, 24.0, 1.0),
            ));
    }
}

fn frame_index(state: &MoveState, time: f32) -> usize {
    let column = match state.facing {
        Facing::Down => 0,
        Facing::Up => 1,
        Facing::Left => 2,
        Facing::Right => 3,
    };
    let rate = if state.running { 8.0 } else { 5.0 };
    let stepping = state.moving && (time * rate) as u32 % 2 == 1;
    column + if stepping { 4 } else { 0 }
}

fn place_avatars(
    mut avatars: Query<(
        &AvatarState,
        Option<&Interpolated>,
        Has<OwnAvatar>,
        &mut Transform,
        &mut Sprite,
    )>,
    prediction: Res<Prediction>,
    fixed: Res<Time<Fixed>>,
    time: Res<Time>,
) {
    for (server, interpolated, own, mut transform, mut sprite) in &mut avatars {
        let state = match (own, prediction.state, interpolated) {
            (true, Some(predicted), _) => {
                let f = fixed.overstep_fraction();
                MoveState {
                    pos: prediction.previous.pos.lerp(predicted.pos, f) + prediction.visual_offset,
                    ..predicted
                }
            }
            (_, _, Some(shown)) => shown.0,
            _ => server.motion,
        };
        transform.translation = to_world(state.pos, AVATAR_Z + state.pos.y * 1e-4);
        if let Some(atlas) = sprite.texture_atlas.as_mut() {
            atlas.index = frame_index(&state, time.elapsed_secs());
        }
    }
}
