//! The meeting prompt: when the server invites the player to a video meeting, a line at
//! the bottom of the screen offers it, and J opens it in the system browser.

use bevy::prelude::*;

use crate::meetings::Meetings;

#[derive(Component)]
struct MeetingText;

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_prompt)
        .add_systems(Update, (show_prompt, join_on_key));
}

fn spawn_prompt(mut commands: Commands) {
    commands.spawn((
        MeetingText,
        Text::new(""),
        TextFont {
            font_size: FontSize::Px(16.0),
            ..default()
        },
        TextColor(Color::srgb(0.6, 0.85, 1.0)),
        BackgroundColor(Color::srgba(0.0, 0.0, 0.0, 0.55)),
        Node {
            position_type: PositionType::Absolute,
            bottom: px(12),
            left: px(12),
            padding: UiRect::all(px(6)),
            ..default()
        },
        Visibility::Hidden,
    ));
}

fn show_prompt(
    meetings: Res<Meetings>,
    mut prompt: Query<(&mut Text, &mut Visibility), With<MeetingText>>,
) {
    if !meetings.is_changed() {
        return;
    }
    let Ok((mut text, mut visible)) = prompt.single_mut() else {
        return;
    };
    match &meetings.current {
        Some(m) => {
            text.0 = format!("Meeting {} - press J to join the video call", m.room);
            *visible = Visibility::Inherited;
        }
        None => *visible = Visibility::Hidden,
    }
}

fn join_on_key(keys: Res<ButtonInput<KeyCode>>, meetings: Res<Meetings>) {
    if !keys.just_pressed(KeyCode::KeyJ) {
        return;
    }
    let Some(m) = &meetings.current else {
        return;
    };
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    match std::process::Command::new(opener).arg(&m.url).spawn() {
        Ok(_) => info!(room = %m.room, "opened the meeting in the browser"),
        Err(e) => {
            warn!(room = %m.room, "cannot open the browser with {opener}: {e}; the meeting is at {}", m.url)
        }
    }
}
