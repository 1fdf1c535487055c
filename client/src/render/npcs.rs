//! Draws NPCs: an avatar in the innkeeper's colours where the server placed it, its
//! name above, and "busy" under the name while it talks to someone.

use bevy::prelude::*;
use tavern_shared::agent::Npc;

use super::avatars::avatar_sprite;
use super::map::AVATAR_Z;
use super::to_world;

#[derive(Component)]
struct NpcLabel;

pub fn plugin(app: &mut App) {
    app.add_systems(Update, (dress_npcs, label_npcs).chain());
}

fn dress_npcs(
    mut commands: Commands,
    new: Query<(Entity, &Npc), Without<Sprite>>,
    assets: Res<AssetServer>,
    mut layouts: ResMut<Assets<TextureAtlasLayout>>,
    mut layout: Local<Option<Handle<TextureAtlasLayout>>>,
) {
    for (entity, npc) in &new {
        let mut sprite = avatar_sprite(&assets, &mut layouts, &mut layout);
        sprite.color = Color::srgb(0.95, 0.7, 0.45);
        commands
            .entity(entity)
            .insert((
                sprite,
                Transform::from_translation(to_world(npc.pos, AVATAR_Z + npc.pos.y * 1e-4)),
                Visibility::default(),
            ))
            .with_child((
                NpcLabel,
                Text2d::new(npc.name.clone()),
                TextFont {
                    font_size: FontSize::Px(12.0),
                    ..default()
                },
                TextColor(Color::srgb(1.0, 0.8, 0.5)),
                // Grows upwards when "(busy)" is added under the name.
                bevy::sprite::Anchor::BOTTOM_CENTER,
                Transform::from_xyz(0.0, 17.0, 1.0),
            ));
    }
}

/// Keeps position and label in step with the server (moved by a map edit, busy or free).
fn label_npcs(
    mut npcs: Query<(&Npc, &mut Transform, &Children), Changed<Npc>>,
    mut labels: Query<&mut Text2d, With<NpcLabel>>,
) {
    for (npc, mut transform, children) in &mut npcs {
        transform.translation = to_world(npc.pos, AVATAR_Z + npc.pos.y * 1e-4);
        let text = match &npc.busy_with {
            Some(_) => format!("{}\n(busy)", npc.name),
            None => npc.name.clone(),
        };
        for child in children.iter() {
            if let Ok(mut label) = labels.get_mut(child)
                && label.0 != text
            {
                label.0 = text.clone();
            }
        }
    }
}
