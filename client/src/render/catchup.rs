//! What the player missed while its connection was down: the catch-up's summary in a
//! panel at the top, until Esc (when not typing) or 30 s.

use bevy::prelude::*;

use crate::events::EventStream;

/// Seconds the panel stays without being dismissed.
const SHOWN_FOR: f64 = 30.0;

#[derive(Component)]
struct CatchUpPanel;

/// Which catch-up is shown (by count) and since when; dismissed ones are not shown again.
#[derive(Resource, Default)]
struct Shown {
    catch_ups: u32,
    since: f64,
    dismissed: bool,
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Shown>()
        .add_systems(Startup, spawn_panel)
        .add_systems(Update, show_panel.in_set(crate::PlaySystems::Present));
}

fn spawn_panel(mut commands: Commands) {
    commands.spawn((
        CatchUpPanel,
        Text::new(""),
        TextFont {
            font_size: FontSize::Px(15.0),
            ..default()
        },
        TextColor(Color::srgb(1.0, 0.92, 0.7)),
        BackgroundColor(Color::srgba(0.12, 0.08, 0.02, 0.9)),
        Node {
            position_type: PositionType::Absolute,
            top: Val::Px(8.0),
            left: Val::Percent(46.0),
            max_width: Val::Percent(52.0),
            padding: UiRect::all(Val::Px(10.0)),
            ..default()
        },
        Visibility::Hidden,
    ));
}

fn show_panel(
    stream: Res<EventStream>,
    keys: Res<ButtonInput<KeyCode>>,
    typing: Res<crate::render::chat::Typing>,
    time: Res<Time>,
    mut shown: ResMut<Shown>,
    mut panel: Query<(&mut Text, &mut Visibility), With<CatchUpPanel>>,
) {
    let Ok((mut text, mut visibility)) = panel.single_mut() else {
        return;
    };
    let now = time.elapsed_secs_f64();
    if stream.catch_ups != shown.catch_ups {
        *shown = Shown {
            catch_ups: stream.catch_ups,
            since: now,
            dismissed: false,
        };
    }
    if keys.just_pressed(KeyCode::Escape) && !typing.active {
        shown.dismissed = true;
    }
    let visible = !shown.dismissed && now - shown.since < SHOWN_FOR;
    let Some(catch_up) = stream.catch_up.as_ref().filter(|_| visible) else {
        if *visibility != Visibility::Hidden {
            *visibility = Visibility::Hidden;
        }
        return;
    };
    let line = format!("{}\n(Esc: close)", catch_up.summary);
    if text.0 != line {
        text.0 = line;
    }
    if *visibility != Visibility::Visible {
        *visibility = Visibility::Visible;
    }
}
