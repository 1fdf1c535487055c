//! What the GM shows and plays at the table, in the window: a handout fills the
//! screen over a dimmed world with its name and who showed it, until the player closes
//! it (Esc, a click or a tap) or the GM takes it away; a sound the GM plays starts when
//! its time comes ([`crate::handouts`]), from the downloaded file.

use bevy::asset::RenderAssetUsages;
use bevy::audio::AudioSource;
use bevy::image::{CompressedImageFormats, ImageSampler, ImageType};
use bevy::prelude::*;

use crate::assets::MapAssets;
use crate::handouts::Handouts;
use crate::render::chat::Typing;

#[derive(Component)]
struct HandoutPanel;

#[derive(Component)]
struct HandoutPicture;

#[derive(Component)]
struct HandoutCaption;

/// The picture drawn now: the URL of its view, once decoded.
#[derive(Resource, Default)]
struct Drawn(Option<String>);

pub fn plugin(app: &mut App) {
    app.init_resource::<Drawn>()
        .add_systems(Startup, spawn)
        .add_systems(
            Update,
            (close, show, play_sounds).after(crate::PlaySystems::Present),
        );
}

fn spawn(mut commands: Commands) {
    commands
        .spawn((
            HandoutPanel,
            Button,
            BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.8)),
            GlobalZIndex(30),
            Node {
                position_type: PositionType::Absolute,
                width: percent(100),
                height: percent(100),
                flex_direction: FlexDirection::Column,
                align_items: AlignItems::Center,
                justify_content: JustifyContent::Center,
                row_gap: px(10),
                display: Display::None,
                ..default()
            },
        ))
        .with_children(|panel| {
            panel.spawn((
                HandoutPicture,
                ImageNode::default(),
                // As tall as most of the screen (small pictures scaled up), its
                // width following, never wider than the screen.
                Node {
                    height: percent(75),
                    max_width: percent(92),
                    ..default()
                },
            ));
            panel.spawn((
                HandoutCaption,
                Text::new(""),
                TextFont {
                    font_size: FontSize::Px(16.0),
                    ..default()
                },
                TextColor(Color::srgb(0.95, 0.92, 0.8)),
            ));
        });
}

/// Esc, or a click or tap anywhere on it, closes the handout.
fn close(
    keys: Res<ButtonInput<KeyCode>>,
    typing: Res<Typing>,
    panel: Query<&Interaction, (With<HandoutPanel>, Changed<Interaction>)>,
    mut handouts: ResMut<Handouts>,
) {
    if handouts.open().is_none() {
        return;
    }
    let clicked = panel.iter().any(|i| *i == Interaction::Pressed);
    if clicked || typing.pressed(&keys, KeyCode::Escape) {
        handouts.close();
    }
}

fn show(
    handouts: Res<Handouts>,
    files: Res<MapAssets>,
    mut images: ResMut<Assets<Image>>,
    mut drawn: ResMut<Drawn>,
    mut panel: Query<&mut Node, With<HandoutPanel>>,
    mut picture: Query<&mut ImageNode, With<HandoutPicture>>,
    mut caption: Query<&mut Text, With<HandoutCaption>>,
) {
    let open = handouts.open();
    for mut node in &mut panel {
        crate::render::panel::set_shown(&mut node, open.is_some());
    }
    let Some(handout) = open else {
        return;
    };
    let asset = &handout.asset;
    let url = asset.view_url.as_ref().unwrap_or(&asset.url);
    let text = match files.files.get(url) {
        Some(crate::assets::Fetch::Failed(why)) => format!("{} cannot be shown: {why}", asset.name),
        Some(crate::assets::Fetch::Ready(_)) => {
            format!(
                "{}, shown by {} (Esc or click closes)",
                asset.name, handout.by
            )
        }
        _ => format!("{} is coming...", asset.name),
    };
    for mut caption in &mut caption {
        if caption.0 != text {
            caption.0 = text.clone();
        }
    }
    if drawn.0.as_ref() == Some(url) {
        return;
    }
    let Some(bytes) = files.ready(url) else {
        return;
    };
    drawn.0 = Some(url.clone());
    // Views are PNGs the server made (or the upload itself, when it was a PNG).
    match Image::from_buffer(
        bytes,
        ImageType::Extension("png"),
        CompressedImageFormats::NONE,
        true,
        ImageSampler::Default,
        RenderAssetUsages::default(),
    ) {
        Ok(image) => {
            let handle = images.add(image);
            for mut node in &mut picture {
                node.image = handle.clone();
            }
        }
        Err(e) => warn!(name = %asset.name, "a handout cannot be decoded: {e}"),
    }
}

/// Plays each sound whose time came, once its file is here (late if it is not yet).
fn play_sounds(
    mut commands: Commands,
    mut handouts: ResMut<Handouts>,
    files: Res<MapAssets>,
    mut sources: ResMut<Assets<AudioSource>>,
    mut waiting: Local<Vec<tavern_shared::gm::assets::SharedAsset>>,
) {
    waiting.extend(handouts.started.drain(..));
    waiting.retain(|asset| {
        match files.files.get(&asset.url) {
            Some(crate::assets::Fetch::Ready(bytes)) => {
                let source = sources.add(AudioSource {
                    bytes: bytes.clone(),
                });
                commands.spawn((AudioPlayer::new(source), PlaybackSettings::DESPAWN));
                info!(name = %asset.name, "sound playing");
            }
            Some(crate::assets::Fetch::Failed(why)) => {
                warn!(name = %asset.name, "a sound cannot be played: {why}");
            }
            _ => return true,
        }
        false
    });
}
