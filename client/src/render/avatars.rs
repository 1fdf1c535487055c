//! Draws avatars: a tinted sprite of the player's look, facing its direction, standing,
//! walking or running (two frames each), with the player's name above. The own avatar is drawn where prediction puts it; others
//! where interpolation does.

use bevy::prelude::*;
use tavern_shared::avatar::{AvatarState, DisplayName, LOOKS, Look, PlayerId};
use tavern_shared::movement::{Facing, MoveState};

use super::map::AVATAR_Z;
use super::to_world;
use crate::PlaySystems;
use crate::interpolation::Interpolated;
use crate::prediction::{OwnAvatar, Prediction};

/// The avatar sheet (`assets/generate.py`): one column per facing (down, up, left,
/// right), and for each look [`ROWS`] rows: standing, two walking steps, two running
/// strides. Its first two rows (standing, stepping) are laid out like a monster's sheet.
pub const SHEET: &str = "sprites/avatar.png";
const FRAME: u32 = 32;
/// Rows of the sheet per look.
const ROWS: usize = 5;

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

/// A sprite of the avatar sheet, the first look standing and facing down.
pub fn avatar_sprite(
    assets: &AssetServer,
    layouts: &mut Assets<TextureAtlasLayout>,
    layout: &mut Option<Handle<TextureAtlasLayout>>,
) -> Sprite {
    let layout = crate::render::grid_layout(layouts, layout, FRAME, 4, (ROWS * LOOKS.len()) as u32);
    Sprite::from_atlas_image(assets.load(SHEET), TextureAtlas { layout, index: 0 })
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

/// The sheet's frame for an avatar of `look` in `state` at `time` (seconds): its
/// facing's column, in its look's rows: standing still, else alternating two walking
/// steps (6 a second) or two running strides (10 a second).
fn frame_index(state: &MoveState, look: Look, time: f32) -> usize {
    let column = match state.facing {
        Facing::Down => 0,
        Facing::Up => 1,
        Facing::Left => 2,
        Facing::Right => 3,
    };
    let row = match (state.moving, state.running) {
        (false, _) => 0,
        (true, false) => 1 + (time * 6.0) as usize % 2,
        (true, true) => 3 + (time * 10.0) as usize % 2,
    };
    let look = usize::from(look.0).min(LOOKS.len() - 1);
    (look * ROWS + row) * 4 + column
}

fn place_avatars(
    mut avatars: Query<(
        &AvatarState,
        Option<&Look>,
        Option<&Interpolated>,
        Has<OwnAvatar>,
        &mut Transform,
        &mut Sprite,
    )>,
    prediction: Res<Prediction>,
    fixed: Res<Time<Fixed>>,
    time: Res<Time>,
) {
    for (server, look, interpolated, own, mut transform, mut sprite) in &mut avatars {
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
            let look = look.copied().unwrap_or_default();
            atlas.index = frame_index(&state, look, time.elapsed_secs());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy::math::Vec2;

    fn moving(facing: Facing, running: bool) -> MoveState {
        MoveState {
            facing,
            moving: true,
            running,
            ..MoveState::at(Vec2::ZERO)
        }
    }

    #[test]
    fn frames_follow_the_look_the_facing_and_the_gait() {
        let still = MoveState::at(Vec2::ZERO);
        assert_eq!(frame_index(&still, Look(0), 0.0), 0);
        // The smith (look 3) stands in the 16th row.
        assert_eq!(frame_index(&still, Look(3), 7.3), 3 * ROWS * 4);
        // Walking right alternates the two steps, 6 a second.
        let walk = moving(Facing::Right, false);
        let steps: Vec<usize> = [0.0, 0.2, 0.4]
            .iter()
            .map(|t| frame_index(&walk, Look(1), *t))
            .collect();
        assert_eq!(
            steps,
            [(ROWS + 1) * 4 + 3, (ROWS + 2) * 4 + 3, (ROWS + 1) * 4 + 3]
        );
        // Running up: the running rows, 10 a second.
        let run = moving(Facing::Up, true);
        assert_eq!(frame_index(&run, Look(0), 0.0), 3 * 4 + 1);
        assert_eq!(frame_index(&run, Look(0), 0.15), 4 * 4 + 1);
        // A look past the sheet draws the last one rather than another's frame.
        assert_eq!(
            frame_index(&still, Look(200), 0.0),
            frame_index(&still, Look(LOOKS.len() as u8 - 1), 0.0)
        );
    }
}
