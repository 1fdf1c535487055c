//! The fight as the player sees it: monsters drawn from their sheets, health bars over
//! everyone hurt (and every monster), floating damage numbers (critical hits larger and
//! gold), projectiles flying to where they were aimed, a corpse greyed out, the
//! hotbar (keys 1 to 4, aimed at the mouse) with cooldown sweeps and the server's
//! reason when it refuses, the boss's health bar, and the death screen with the
//! countdown. Everything shown comes from the server; only the hotbar's cooldowns are
//! predicted (and put back when the server refuses).

use std::collections::HashMap;

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use tavern_shared::avatar::{AvatarState, DisplayName, FULL_HEALTH};
use tavern_shared::combat::Vitals;
use tavern_shared::combat::messages::{AbilityResult, CombatEvent, CombatEvents, UseAbility};
use tavern_shared::content::Delivery;

use super::avatars::sheet_sprite;
use super::map::AVATAR_Z;
use super::to_world;
use crate::combat::{CombatLog, GameContent};
use crate::prediction::{OwnAvatar, Prediction};
use crate::render::chat::Typing;
use crate::stream::{MonsterKind, Streamed};

/// Seconds a refusal stays on screen.
const REFUSAL_SECS: f32 = 2.5;
/// Seconds a damage number floats.
const FLOAT_SECS: f32 = 0.9;
const BAR_WIDTH: f32 = 26.0;

#[derive(Component)]
struct HealthBar;

#[derive(Component)]
struct HealthFill;

/// A number floating up from a hit.
#[derive(Component)]
struct Floating {
    age: f32,
}

/// A projectile on its way: from, to, seconds of flight, age.
#[derive(Component)]
struct Flying {
    from: Vec2,
    to: Vec2,
    secs: f32,
    age: f32,
}

/// A body just hit: it swells for a moment.
#[derive(Component)]
struct Struck(f32);

/// How big a body is drawn (bosses are bigger).
#[derive(Component, Clone, Copy)]
struct Size(f32);

#[derive(Component)]
struct HotbarSlot(usize);

#[derive(Component)]
struct SlotLabel(usize);

#[derive(Component)]
struct CooldownShade(usize);

#[derive(Component)]
struct RefusalText;

#[derive(Component)]
struct DeathScreen;

#[derive(Component)]
struct DeathText;

#[derive(Component)]
struct BossBar;

#[derive(Component)]
struct BossFill;

#[derive(Component)]
struct BossName;

/// The hotbar's own idea of cooldowns (seconds of `Time`), and the uses awaiting
/// their answer.
#[derive(Resource, Default)]
struct Hotbar {
    ready_at: HashMap<String, f64>,
    sent: HashMap<u32, String>,
    refusal: Option<(String, f32)>,
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Hotbar>()
        .add_systems(Startup, spawn_ui)
        .add_systems(
            Update,
            (
                dress_monsters,
                add_health_bars,
                show_health,
                show_events,
                animate,
                use_hotbar,
                take_answers,
                show_hotbar,
                show_death,
                show_boss,
            )
                .after(crate::PlaySystems::Present),
        );
}

/// A sheet name the server gave, made safe to load: letters, digits, `-` and `_`.
fn sheet_path(sprite: &str) -> Option<String> {
    let ok = !sprite.is_empty()
        && sprite.len() <= 64
        && sprite
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| format!("sprites/{sprite}.png"))
}

fn dress_monsters(
    mut commands: Commands,
    new: Query<(Entity, &MonsterKind, &DisplayName), Without<Sprite>>,
    content: Res<GameContent>,
    assets: Res<AssetServer>,
    mut layouts: ResMut<Assets<TextureAtlasLayout>>,
    mut layout: Local<Option<Handle<TextureAtlasLayout>>>,
) {
    let Some(content) = &content.0 else {
        return; // drawn once the content (which names their sheets) is here
    };
    for (entity, kind, name) in &new {
        let enemy = content.enemy_types.get(&kind.0);
        let sheet = enemy
            .and_then(|e| sheet_path(&e.sprite))
            .unwrap_or_else(|| super::avatars::SHEET.to_string());
        let size = if enemy.is_some_and(|e| !e.phases.is_empty()) {
            1.5
        } else {
            1.0
        };
        let sprite = sheet_sprite(&assets, &mut layouts, &mut layout, &sheet);
        commands
            .entity(entity)
            .insert((
                sprite,
                Transform::from_scale(Vec3::splat(size)),
                Visibility::default(),
                Size(size),
            ))
            .with_child((
                Text2d::new(name.0.clone()),
                TextFont {
                    font_size: FontSize::Px(11.0),
                    ..default()
                },
                TextColor(Color::srgb(1.0, 0.6, 0.55)),
                Transform::from_xyz(0.0, 24.0, 1.0),
            ));
    }
}

fn add_health_bars(
    mut commands: Commands,
    bodies: Query<
        Entity,
        (
            With<Sprite>,
            With<Streamed>,
            Without<HealthBar>,
            Without<crate::stream::LootKind>,
        ),
    >,
) {
    for body in &bodies {
        commands.entity(body).insert(HealthBar).with_child((
            Sprite::from_color(
                Color::srgba(0.0, 0.0, 0.0, 0.7),
                Vec2::new(BAR_WIDTH + 2.0, 4.0),
            ),
            Transform::from_xyz(0.0, 18.0, 1.0),
            Visibility::Hidden,
            HealthFill,
        ));
    }
}

/// Fills each bar from the health byte; players' bars show only when hurt. The dead are
/// greyed out and laid down.
fn show_health(
    bodies: Query<(&AvatarState, &Children, Has<MonsterKind>), Changed<AvatarState>>,
    mut bars: Query<(&mut Sprite, &mut Visibility, &mut Transform), With<HealthFill>>,
) {
    for (state, children, monster) in &bodies {
        for child in children {
            let Ok((mut sprite, mut visible, mut transform)) = bars.get_mut(*child) else {
                continue;
            };
            let fraction = f32::from(state.health) / f32::from(FULL_HEALTH);
            let show = state.health > 0 && (monster || state.health < FULL_HEALTH);
            *visible = if show {
                Visibility::Inherited
            } else {
                Visibility::Hidden
            };
            sprite.color = Color::hsl(120.0 * fraction, 0.8, 0.45);
            sprite.custom_size = Some(Vec2::new(BAR_WIDTH * fraction, 3.0));
            transform.translation.x = -BAR_WIDTH * (1.0 - fraction) / 2.0;
        }
    }
}

/// Damage numbers, projectiles and hit swells from the server's combat events.
fn show_events(
    mut commands: Commands,
    mut events: MessageReader<CombatEvents>,
    bodies: Query<(Entity, &Streamed, &Transform)>,
    content: Res<GameContent>,
) {
    let mut at: HashMap<u32, (Entity, Vec3)> = HashMap::new();
    for batch in events.read() {
        if at.is_empty() {
            at = bodies
                .iter()
                .map(|(e, s, t)| (s.0, (e, t.translation)))
                .collect();
        }
        for event in &batch.events {
            match event {
                CombatEvent::Hit {
                    target,
                    amount,
                    crit,
                    ..
                } => {
                    let Some((entity, pos)) = at.get(target) else {
                        continue;
                    };
                    let (size, color) = if *crit {
                        (16.0, Color::srgb(1.0, 0.85, 0.2))
                    } else {
                        (12.0, Color::srgb(1.0, 0.35, 0.3))
                    };
                    let text = if *crit {
                        format!("{amount}!")
                    } else {
                        amount.to_string()
                    };
                    commands.spawn((
                        Text2d::new(text),
                        TextFont {
                            font_size: FontSize::Px(size),
                            ..default()
                        },
                        TextColor(color),
                        Transform::from_translation(*pos + Vec3::new(0.0, 28.0, 5.0)),
                        Floating { age: 0.0 },
                    ));
                    commands.entity(*entity).insert(Struck(0.0));
                }
                CombatEvent::Cast {
                    who,
                    ability,
                    at: aim,
                } => {
                    let ability = content.0.as_ref().and_then(|c| c.abilities.get(ability));
                    let (Some(ability), Some((_, from))) = (ability, at.get(who)) else {
                        continue;
                    };
                    let Some(speed) = ability
                        .projectile_speed
                        .filter(|_| ability.delivery == Delivery::Projectile)
                    else {
                        continue;
                    };
                    let from = Vec2::new(from.x, -from.y);
                    commands.spawn((
                        Sprite::from_color(Color::srgb(1.0, 0.7, 0.3), Vec2::splat(6.0)),
                        Transform::from_translation(to_world(from, AVATAR_Z + 1.0)),
                        Flying {
                            from,
                            to: *aim,
                            secs: (from.distance(*aim) / speed).max(0.05),
                            age: -ability.cast_secs.max(0.0),
                        },
                    ));
                }
                _ => {}
            }
        }
    }
}

fn animate(
    mut commands: Commands,
    time: Res<Time>,
    mut floating: Query<(Entity, &mut Floating, &mut Transform, &mut TextColor)>,
    mut flying: Query<(Entity, &mut Flying, &mut Transform, &mut Visibility), Without<Floating>>,
    mut struck: Query<
        (Entity, &mut Struck, &mut Transform, Option<&Size>),
        (Without<Floating>, Without<Flying>),
    >,
    mut bodies: Query<(&AvatarState, &mut Sprite, Has<MonsterKind>), Changed<AvatarState>>,
) {
    let dt = time.delta_secs();
    for (entity, mut f, mut transform, mut color) in &mut floating {
        f.age += dt;
        transform.translation.y += 30.0 * dt;
        color.0.set_alpha((1.0 - f.age / FLOAT_SECS).max(0.0));
        if f.age >= FLOAT_SECS {
            commands.entity(entity).despawn();
        }
    }
    for (entity, mut f, mut transform, mut visible) in &mut flying {
        f.age += dt;
        let t = (f.age / f.secs).clamp(0.0, 1.0);
        *visible = if f.age < 0.0 {
            Visibility::Hidden
        } else {
            Visibility::Inherited
        };
        let pos = f.from.lerp(f.to, t);
        transform.translation = to_world(pos, transform.translation.z);
        if f.age >= f.secs {
            commands.entity(entity).despawn();
        }
    }
    for (entity, mut s, mut transform, size) in &mut struck {
        s.0 += dt;
        let base = size.map_or(1.0, |s| s.0);
        let swell = if s.0 < 0.12 { 1.15 } else { 1.0 };
        transform.scale = Vec3::splat(base * swell);
        if s.0 >= 0.12 {
            commands.entity(entity).remove::<Struck>();
        }
    }
    for (state, mut sprite, monster) in &mut bodies {
        let alpha = if state.health == 0 { 0.45 } else { 1.0 };
        if monster {
            sprite.color = if state.health == 0 {
                Color::srgba(0.5, 0.5, 0.5, alpha)
            } else {
                Color::WHITE
            };
        } else {
            sprite.color.set_alpha(alpha);
        }
    }
}

/// Where the mouse points, in map pixels.
fn mouse_on_map(window: &Window, camera: (&Camera, &GlobalTransform)) -> Option<Vec2> {
    let cursor = window.cursor_position()?;
    let world = camera.0.viewport_to_world_2d(camera.1, cursor).ok()?;
    Some(Vec2::new(world.x, -world.y))
}

#[allow(clippy::too_many_arguments)]
fn use_hotbar(
    keys: Res<ButtonInput<KeyCode>>,
    typing: Res<Typing>,
    time: Res<Time>,
    content: Res<GameContent>,
    window: Query<&Window, With<PrimaryWindow>>,
    camera: Query<(&Camera, &GlobalTransform)>,
    prediction: Res<Prediction>,
    own: Query<&Vitals, With<OwnAvatar>>,
    mut log: ResMut<CombatLog>,
    mut hotbar: ResMut<Hotbar>,
    mut uses: MessageWriter<UseAbility>,
) {
    if typing.active {
        return;
    }
    let Some(content) = &content.0 else {
        return;
    };
    let slots = [
        KeyCode::Digit1,
        KeyCode::Digit2,
        KeyCode::Digit3,
        KeyCode::Digit4,
    ];
    let Some(slot) = slots.iter().position(|k| keys.just_pressed(*k)) else {
        return;
    };
    let bar = hotbar_of(content);
    let Some(id) = bar.get(slot) else {
        return;
    };
    let now = time.elapsed_secs_f64();
    if hotbar.ready_at.get(id).is_some_and(|t| now < *t) {
        hotbar.refusal = Some((
            format!("{} is not ready yet", ability_name(content, id)),
            0.0,
        ));
        return;
    }
    if own.single().is_ok_and(|v| v.health == 0) {
        hotbar.refusal = Some(("you are dead".into(), 0.0));
        return;
    }
    let aim = match (window.single(), camera.single()) {
        (Ok(window), Ok(camera)) => mouse_on_map(window, camera),
        _ => None,
    };
    let message = log.next_use(&prediction, id, aim);
    if let Some(ability) = content.abilities.get(id) {
        hotbar
            .ready_at
            .insert(id.clone(), now + f64::from(ability.cooldown_secs));
    }
    hotbar.sent.insert(message.id, id.clone());
    uses.write(message);
}

fn hotbar_of(content: &tavern_shared::content::Content) -> Vec<String> {
    content.player_hotbar().to_vec()
}

fn ability_name(content: &tavern_shared::content::Content, id: &str) -> String {
    content
        .abilities
        .get(id)
        .map_or_else(|| id.to_string(), |a| a.name.clone())
}

/// A refused use gives its cooldown back and shows why.
fn take_answers(mut answers: MessageReader<AbilityResult>, mut hotbar: ResMut<Hotbar>) {
    for answer in answers.read() {
        let Some(id) = hotbar.sent.remove(&answer.id) else {
            continue;
        };
        if let Some(reason) = &answer.refused {
            hotbar.ready_at.remove(&id);
            hotbar.refusal = Some((reason.clone(), 0.0));
        }
    }
}

fn spawn_ui(mut commands: Commands) {
    // The hotbar, bottom centre, with the refusal line above it.
    commands
        .spawn(Node {
            position_type: PositionType::Absolute,
            bottom: px(8),
            width: percent(100),
            flex_direction: FlexDirection::Column,
            align_items: AlignItems::Center,
            row_gap: px(4),
            ..default()
        })
        .with_children(|root| {
            root.spawn((
                RefusalText,
                Text::new(""),
                TextFont {
                    font_size: FontSize::Px(14.0),
                    ..default()
                },
                TextColor(Color::srgb(1.0, 0.5, 0.45)),
            ));
            root.spawn(Node {
                column_gap: px(6),
                ..default()
            })
            .with_children(|row| {
                for slot in 0..tavern_shared::combat::HOTBAR_SLOTS {
                    row.spawn((
                        HotbarSlot(slot),
                        Node {
                            width: px(84),
                            height: px(40),
                            justify_content: JustifyContent::Center,
                            align_items: AlignItems::Center,
                            overflow: Overflow::clip(),
                            ..default()
                        },
                        BackgroundColor(Color::srgba(0.1, 0.1, 0.15, 0.8)),
                        BorderColor::all(Color::srgb(0.5, 0.5, 0.6)),
                        Visibility::Hidden,
                    ))
                    .with_children(|cell| {
                        cell.spawn((
                            CooldownShade(slot),
                            Node {
                                position_type: PositionType::Absolute,
                                bottom: px(0),
                                left: px(0),
                                width: percent(100),
                                height: percent(0),
                                ..default()
                            },
                            BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.6)),
                        ));
                        cell.spawn((
                            SlotLabel(slot),
                            Text::new(""),
                            TextFont {
                                font_size: FontSize::Px(12.0),
                                ..default()
                            },
                        ));
                    });
                }
            });
        });
    // The boss's bar, top centre.
    commands
        .spawn((
            BossBar,
            Node {
                position_type: PositionType::Absolute,
                // Below the connection box at the top left.
                top: px(96),
                left: percent(30),
                width: percent(40),
                flex_direction: FlexDirection::Column,
                align_items: AlignItems::Center,
                ..default()
            },
            Visibility::Hidden,
        ))
        .with_children(|bar| {
            bar.spawn((
                BossName,
                Text::new(""),
                TextFont {
                    font_size: FontSize::Px(14.0),
                    ..default()
                },
            ));
            bar.spawn((
                Node {
                    width: percent(100),
                    height: px(10),
                    ..default()
                },
                BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.7)),
            ))
            .with_child((
                BossFill,
                Node {
                    width: percent(100),
                    height: percent(100),
                    ..default()
                },
                BackgroundColor(Color::srgb(0.8, 0.15, 0.15)),
            ));
        });
    // The death screen.
    commands
        .spawn((
            DeathScreen,
            Node {
                position_type: PositionType::Absolute,
                width: percent(100),
                height: percent(100),
                justify_content: JustifyContent::Center,
                align_items: AlignItems::Center,
                ..default()
            },
            BackgroundColor(Color::srgba(0.3, 0.0, 0.0, 0.45)),
            Visibility::Hidden,
        ))
        .with_child((
            DeathText,
            Text::new(""),
            TextFont {
                font_size: FontSize::Px(28.0),
                ..default()
            },
        ));
}

#[allow(clippy::type_complexity)]
fn show_hotbar(
    time: Res<Time>,
    content: Res<GameContent>,
    mut hotbar: ResMut<Hotbar>,
    mut slots: Query<(&HotbarSlot, &mut Visibility)>,
    mut labels: Query<(&SlotLabel, &mut Text), Without<RefusalText>>,
    mut shades: Query<(&CooldownShade, &mut Node)>,
    mut refusal: Query<&mut Text, With<RefusalText>>,
) {
    let Some(content) = &content.0 else {
        return;
    };
    let bar = hotbar_of(content);
    let now = time.elapsed_secs_f64();
    for (slot, mut visible) in &mut slots {
        *visible = if slot.0 < bar.len() {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        };
    }
    for (label, mut text) in &mut labels {
        if let Some(id) = bar.get(label.0) {
            let line = format!("{} {}", label.0 + 1, ability_name(content, id));
            if text.0 != line {
                text.0 = line;
            }
        }
    }
    for (shade, mut node) in &mut shades {
        let left = bar.get(shade.0).and_then(|id| {
            let cooldown = content.abilities.get(id)?.cooldown_secs.max(0.01);
            let ready = hotbar.ready_at.get(id)?;
            Some(((ready - now) as f32 / cooldown).clamp(0.0, 1.0))
        });
        node.height = percent(left.unwrap_or(0.0) * 100.0);
    }
    let dt = time.delta_secs();
    let line = match &mut hotbar.refusal {
        Some((reason, age)) => {
            *age += dt;
            if *age > REFUSAL_SECS {
                String::new()
            } else {
                reason.clone()
            }
        }
        None => String::new(),
    };
    if let Ok(mut text) = refusal.single_mut()
        && text.0 != line
    {
        text.0 = line;
    }
}

fn show_death(
    time: Res<Time>,
    log: Res<crate::combat::CombatLog>,
    own: Query<&AvatarState, With<OwnAvatar>>,
    mut screen: Query<&mut Visibility, With<DeathScreen>>,
    mut text: Query<&mut Text, With<DeathText>>,
) {
    let dead = own.single().is_ok_and(|s| s.health == 0);
    if let Ok(mut visible) = screen.single_mut() {
        visible.set_if_neq(if dead {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        });
    }
    if !dead {
        return;
    }
    let line = match log.back_at {
        Some(at) => format!(
            "You died - back at the entrance in {:.0} s",
            (at - time.elapsed_secs_f64()).max(0.0).ceil()
        ),
        None => "You died".to_string(),
    };
    if let Ok(mut text) = text.single_mut()
        && text.0 != line
    {
        text.0 = line;
    }
}

/// The nearest living boss in view gets the bar at the top.
#[allow(clippy::type_complexity)]
fn show_boss(
    content: Res<GameContent>,
    prediction: Res<Prediction>,
    monsters: Query<(&MonsterKind, &DisplayName, &AvatarState, &Streamed)>,
    log: Res<CombatLog>,
    mut bar: Query<&mut Visibility, With<BossBar>>,
    mut fill: Query<&mut Node, With<BossFill>>,
    mut name: Query<&mut Text, With<BossName>>,
) {
    let (Some(content), Some(own)) = (&content.0, prediction.state) else {
        return;
    };
    let boss = monsters
        .iter()
        .filter(|(kind, _, state, _)| {
            state.health > 0
                && content
                    .enemy_types
                    .get(&kind.0)
                    .is_some_and(|e| !e.phases.is_empty())
        })
        .min_by(|a, b| {
            a.2.motion
                .pos
                .distance_squared(own.pos)
                .total_cmp(&b.2.motion.pos.distance_squared(own.pos))
        });
    if let Ok(mut visible) = bar.single_mut() {
        visible.set_if_neq(if boss.is_some() {
            Visibility::Inherited
        } else {
            Visibility::Hidden
        });
    }
    let Some((_, boss_name, state, id)) = boss else {
        return;
    };
    if let Ok(mut node) = fill.single_mut() {
        node.width = percent(f32::from(state.health) / f32::from(FULL_HEALTH) * 100.0);
    }
    let line = match log.boss_phases.get(&id.0) {
        Some(phase) => format!("{} - {phase}", boss_name.0),
        None => boss_name.0.clone(),
    };
    if let Ok(mut text) = name.single_mut()
        && text.0 != line
    {
        text.0 = line;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_sheet_names_are_loaded() {
        assert_eq!(sheet_path("ogre").as_deref(), Some("sprites/ogre.png"));
        assert_eq!(
            sheet_path("skeleton_2-b").as_deref(),
            Some("sprites/skeleton_2-b.png")
        );
        for bad in ["", "../secret", "a/b", "x.png", "ü"] {
            assert_eq!(sheet_path(bad), None, "{bad}");
        }
    }
}
