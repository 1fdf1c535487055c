//! Loot and the inventory: piles on the ground drawn as icons with their label, E picks
//! up the nearest one within reach (walking over one picks it up too), I opens the
//! inventory panel (gold, items, what was just picked up or refused), and with it
//! open, keys 5 to 9 use the consumables listed.

use bevy::prelude::*;
use tavern_shared::avatar::{AvatarState, DisplayName};
use tavern_shared::combat::messages::{PICKUP_REACH, PickUp, PickupResult, UseItem};
use tavern_shared::content::ItemKind;

use crate::combat::{CombatLog, GameContent, Inventory};
use crate::prediction::Prediction;
use crate::render::chat::Typing;
use crate::stream::{LootKind, Streamed};

const ICON: u32 = 16;
/// Seconds a pickup notice stays.
const NOTICE_SECS: f32 = 3.0;

#[derive(Component)]
struct InventoryPanel;

#[derive(Component)]
struct InventoryText;

/// Whether the panel is open, and the last pickup notice with its age.
#[derive(Resource, Default)]
struct PanelState {
    open: bool,
    notice: Option<(String, f32)>,
}

pub fn plugin(app: &mut App) {
    app.init_resource::<PanelState>()
        .add_systems(Startup, spawn_panel)
        .add_systems(
            Update,
            (dress_loot, keys, notices, show_panel)
                .chain()
                .after(crate::PlaySystems::Present),
        );
}

/// The icon of a pile: gold, or by the item's kind.
fn icon(content: Option<&tavern_shared::content::Content>, item: Option<&str>) -> usize {
    let Some(item) = item else {
        return 0;
    };
    match content.and_then(|c| c.items.get(item)).map(|i| i.kind) {
        Some(ItemKind::Consumable) => 1,
        Some(ItemKind::Key) => 2,
        _ => 3,
    }
}

fn dress_loot(
    mut commands: Commands,
    new: Query<(Entity, &LootKind, &DisplayName), Without<Sprite>>,
    content: Res<GameContent>,
    assets: Res<AssetServer>,
    mut layouts: ResMut<Assets<TextureAtlasLayout>>,
    mut layout: Local<Option<Handle<TextureAtlasLayout>>>,
) {
    for (entity, kind, label) in &new {
        let layout = crate::render::grid_layout(&mut layouts, &mut layout, ICON, 4, 1);
        let index = icon(content.0.as_deref(), kind.item.as_deref());
        commands
            .entity(entity)
            .insert((
                Sprite::from_atlas_image(
                    assets.load("sprites/loot.png"),
                    TextureAtlas { layout, index },
                ),
                Transform::default(),
                Visibility::default(),
            ))
            .with_child((
                Text2d::new(label.0.clone()),
                TextFont {
                    font_size: FontSize::Px(9.0),
                    ..default()
                },
                TextColor(Color::srgb(1.0, 0.95, 0.7)),
                Transform::from_xyz(0.0, 12.0, 1.0),
            ));
    }
}

#[allow(clippy::too_many_arguments)]
fn keys(
    keys: Res<ButtonInput<KeyCode>>,
    typing: Res<Typing>,
    prediction: Res<Prediction>,
    loot: Query<(&Streamed, &AvatarState), With<LootKind>>,
    inventory: Res<Inventory>,
    content: Res<GameContent>,
    mut panel: ResMut<PanelState>,
    mut log: ResMut<CombatLog>,
    mut pickups: MessageWriter<PickUp>,
    mut uses: MessageWriter<UseItem>,
) {
    if typing.active {
        return;
    }
    if keys.just_pressed(KeyCode::KeyI) {
        panel.open = !panel.open;
    }
    if keys.just_pressed(KeyCode::KeyE)
        && let Some(own) = prediction.state
        && let Some((id, _)) = loot
            .iter()
            .map(|(id, s)| (id.0, s.motion.pos.distance(own.pos)))
            .filter(|(_, d)| *d <= PICKUP_REACH)
            .min_by(|a, b| a.1.total_cmp(&b.1))
    {
        pickups.write(log.next_pickup(id));
    }
    if panel.open {
        let consumables = consumables(&inventory, content.0.as_deref());
        let slots = [
            KeyCode::Digit5,
            KeyCode::Digit6,
            KeyCode::Digit7,
            KeyCode::Digit8,
            KeyCode::Digit9,
        ];
        for (key, item) in slots.iter().zip(consumables) {
            if keys.just_pressed(*key) {
                uses.write(UseItem { item });
            }
        }
    }
}

/// The consumables held, in the inventory's order.
fn consumables(
    inventory: &Inventory,
    content: Option<&tavern_shared::content::Content>,
) -> Vec<String> {
    inventory
        .0
        .items
        .iter()
        .filter(|(id, _)| {
            content
                .and_then(|c| c.items.get(id))
                .is_some_and(|i| i.kind == ItemKind::Consumable)
        })
        .map(|(id, _)| id.clone())
        .collect()
}

fn notices(
    mut results: MessageReader<PickupResult>,
    content: Res<GameContent>,
    mut panel: ResMut<PanelState>,
    time: Res<Time>,
) {
    for result in results.read() {
        let line = match &result.refused {
            Some(why) => why.clone(),
            None => match &result.item {
                Some(item) => {
                    let name = content
                        .0
                        .as_ref()
                        .and_then(|c| c.items.get(item))
                        .map_or(item.as_str(), |i| i.name.as_str());
                    format!("picked up {name} x{}", result.count)
                }
                None => format!("picked up {} gold", result.count),
            },
        };
        panel.notice = Some((line, 0.0));
    }
    if let Some((_, age)) = &mut panel.notice {
        *age += time.delta_secs();
        if *age > NOTICE_SECS {
            panel.notice = None;
        }
    }
}

fn spawn_panel(mut commands: Commands) {
    commands
        .spawn((
            InventoryPanel,
            Node {
                position_type: PositionType::Absolute,
                right: px(8),
                bottom: px(160),
                padding: UiRect::all(px(6)),
                min_width: px(180),
                ..default()
            },
            BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.6)),
        ))
        .with_child((
            InventoryText,
            Text::new(""),
            TextFont {
                font_size: FontSize::Px(13.0),
                ..default()
            },
        ));
}

fn show_panel(
    panel: Res<PanelState>,
    inventory: Res<Inventory>,
    content: Res<GameContent>,
    mut node: Query<&mut Visibility, With<InventoryPanel>>,
    mut text: Query<&mut Text, With<InventoryText>>,
) {
    let shown = panel.open || panel.notice.is_some() || inventory.0.refused.is_some();
    if let Ok(mut visible) = node.single_mut() {
        visible.set_if_neq(if shown {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        });
    }
    let mut lines = Vec::new();
    if panel.open {
        let content = content.0.as_deref();
        let usable = consumables(&inventory, content);
        lines.push(format!("Inventory (I)   {} gold", inventory.0.gold));
        for (id, count) in &inventory.0.items {
            let name = content
                .and_then(|c| c.items.get(id))
                .map_or(id.as_str(), |i| i.name.as_str());
            let key = usable
                .iter()
                .position(|u| u == id)
                .filter(|i| *i < 5)
                .map_or(String::new(), |i| format!("  [{}: use]", i + 5));
            lines.push(format!("{name} x{count}{key}"));
        }
        if inventory.0.items.is_empty() {
            lines.push("no items".into());
        }
        if let Some(why) = &inventory.0.refused {
            lines.push(why.clone());
        }
    }
    if let Some((notice, _)) = &panel.notice {
        lines.push(notice.clone());
    }
    let line = lines.join("\n");
    if let Ok(mut text) = text.single_mut()
        && text.0 != line
    {
        text.0 = line;
    }
}
