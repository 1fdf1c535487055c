//! The character sheet window (C) at a campaign's table: the player's own sheet as the
//! campaign keeps it (the newest version the server sent), and for the GM every
//! player's, one after the other. It shows; sheets are written over the HTTP API.

use bevy::prelude::*;
use tavern_shared::gm::StoredSheet;
use tavern_shared::gm::sheet::modifier;

use crate::render::chat::Typing;
use crate::table::Table;

#[derive(Component)]
struct SheetWindow;

/// Whether the window is open.
#[derive(Resource, Debug, Default)]
pub struct SheetOpen(pub bool);

pub fn plugin(app: &mut App) {
    app.init_resource::<SheetOpen>()
        .add_systems(Startup, spawn)
        .add_systems(
            Update,
            (toggle, show).chain().after(crate::PlaySystems::Present),
        );
}

fn spawn(mut commands: Commands) {
    commands.spawn((
        SheetWindow,
        Text::new(""),
        TextFont {
            font_size: FontSize::Px(14.0),
            ..default()
        },
        TextColor(Color::srgb(0.15, 0.1, 0.05)),
        BackgroundColor(Color::srgba(0.95, 0.9, 0.78, 0.95)),
        Node {
            position_type: PositionType::Absolute,
            top: px(104),
            right: px(crate::render::gm_panel::MARGIN),
            max_width: px(420),
            padding: UiRect::all(px(12)),
            display: Display::None,
            ..default()
        },
    ));
}

fn toggle(keys: Res<ButtonInput<KeyCode>>, typing: Res<Typing>, mut open: ResMut<SheetOpen>) {
    if typing.pressed(&keys, KeyCode::KeyC) {
        open.0 = !open.0;
    }
}

/// One sheet in words.
pub fn sheet_text(stored: &StoredSheet) -> String {
    let s = &stored.sheet;
    let scores: Vec<String> = s
        .abilities
        .named()
        .iter()
        .map(|(name, score)| {
            let m = modifier(*score);
            let short = name[..3].to_uppercase();
            format!("{short} {score} ({}{m})", if m >= 0 { "+" } else { "" })
        })
        .collect();
    let mut text = format!(
        "{} - {} {}\nHP {}/{}   AC {}   Speed {} ft\n{}\n{}",
        s.name,
        s.class,
        s.level,
        s.hit_points,
        s.max_hit_points,
        s.armor_class,
        s.speed,
        scores[..3].join("  "),
        scores[3..].join("  ")
    );
    if !s.notes.is_empty() {
        text.push_str(&format!("\n{}", s.notes));
    }
    text.push_str(&format!("\n(version {})", stored.version));
    text
}

/// What the window says at this table.
pub fn window_text(table: &Table) -> String {
    let Some(state) = &table.state else {
        return "Character sheets are kept at a campaign's table; this room is not one.\n(C closes)"
            .into();
    };
    let own = state
        .your_account
        .and_then(|account| table.sheets.get(&account));
    let mut parts: Vec<String> = Vec::new();
    match (own, state.your_account) {
        (Some(sheet), _) => parts.push(sheet_text(sheet)),
        (None, Some(account)) if !state.you_are_gm => parts.push(format!(
            "You have no character sheet in this campaign yet. You or the GM can write it:\n\
             PUT /api/campaigns/{}/characters/{account}",
            state.room
        )),
        (None, None) => parts.push("Guests have no character sheet; register an account.".into()),
        _ => {}
    }
    if state.you_are_gm {
        parts.push(format!("Players' sheets ({}):", table.sheets.len()));
        parts.extend(
            table
                .sheets
                .values()
                .filter(|s| Some(s.account) != state.your_account)
                .map(sheet_text),
        );
    }
    parts.push("(C closes)".into());
    parts.join("\n\n")
}

fn show(
    open: Res<SheetOpen>,
    table: Res<Table>,
    gm_panel: Res<crate::render::gm_panel::PanelState>,
    mut window: Query<(&mut Text, &mut Node), With<SheetWindow>>,
) {
    if !open.is_changed() && !table.is_changed() && !gm_panel.is_changed() {
        return;
    }
    let Ok((mut text, mut node)) = window.single_mut() else {
        return;
    };
    // Beside the GM panel while it is open, not under it.
    use crate::render::gm_panel::{MARGIN, WIDTH};
    let right = if gm_panel.is_open() {
        px(MARGIN * 2.0 + WIDTH)
    } else {
        px(MARGIN)
    };
    if node.right != right {
        node.right = right;
    }
    crate::render::panel::show_text(&mut node, &mut text, open.0, || window_text(&table));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tavern_shared::gm::{CampaignStatus, CharacterSheet, TableState};

    #[test]
    fn the_window_shows_the_own_sheet_and_the_gm_every_sheet() {
        let mut sheet = CharacterSheet::new("Bram Ironfoot", "Cleric");
        sheet.abilities.dexterity = 14;
        sheet.abilities.charisma = 8;
        let stored = |account, sheet: CharacterSheet| StoredSheet {
            account,
            version: 3,
            sheet,
            updated_at_ms: 0,
            updated_by: account,
        };
        let mut table = Table::default();
        assert!(window_text(&table).starts_with("Character sheets are kept"));
        table.sheets.insert(7, stored(7, sheet));
        table
            .sheets
            .insert(9, stored(9, CharacterSheet::new("Cy", "Rogue")));
        let state = |you: i64, gm: bool| TableState {
            room: "keep".into(),
            status: CampaignStatus::Active,
            gm_account: 1,
            gm: "Gaia".into(),
            you_are_gm: gm,
            your_account: Some(you),
            max_players: 6,
            scene: Default::default(),
            muted: false,
        };
        table.state = Some(state(7, false));
        let text = window_text(&table);
        assert!(text.starts_with("Bram Ironfoot - Cleric 1\nHP 10/10   AC 10   Speed 30 ft\nSTR 10 (+0)  DEX 14 (+2)  CON 10 (+0)\nINT 10 (+0)  WIS 10 (+0)  CHA 8 (-1)\n(version 3)"), "{text}");
        assert!(!text.contains("Cy"), "a player sees its own sheet only");
        table.state = Some(state(1, true));
        let text = window_text(&table);
        assert!(
            text.contains("Players' sheets (2):")
                && text.contains("Bram Ironfoot")
                && text.contains("Cy - Rogue 1"),
            "{text}"
        );
        table.state = Some(state(5, false));
        assert!(window_text(&table).contains("PUT /api/campaigns/keep/characters/5"));
    }
}
