//! What the GM does to players and the scene ([`GmAction`]): kick (the player may come
//! back), ban (stored; it may not), mute in chat, teleport a player or everyone on the
//! GM's map to a point or an entry, set the scene, hand the GM's seat to another
//! account, show a handout or play a sound ([`super::handouts`]). Every one checked
//! here: anyone but the GM is told "only the GM can …" and nothing happens; a target
//! not in the room, a point inside a wall or an unknown entry or file are refused with
//! the reason.

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::AvatarState;
use tavern_shared::gm::{Destination, GmAction, check_reason};
use tavern_shared::movement::{AVATAR_RADIUS, MoveState};

use super::session::{Change, Consequences, GmWorker, Stored, Table, submit, the_gm};
use crate::combat::Warps;
use crate::http::campaigns::account_of;
use crate::world::{Maps, OnMap};

pub fn plugin(app: &mut App) {
    app.add_systems(
        PreUpdate,
        receive_actions.in_set(crate::GameSystems::ReceiveInputs),
    );
}

fn receive_actions(
    mut received: MessageReader<FromClient<GmAction>>,
    mut table: Table,
    worker: Option<Res<GmWorker>>,
    mut world: Consequences,
    maps: Res<Maps>,
    mut bodies: Query<(&mut AvatarState, &OnMap, Option<&mut Warps>)>,
    mut ai: Option<ResMut<super::ai::AiTables>>,
) {
    for FromClient { client_id, message } in received.read() {
        let Some(client) = client_id.entity() else {
            continue;
        };
        let Some((room, campaign, gm_name)) = the_gm(&mut table, client, || message.refused())
        else {
            continue;
        };
        let gm_avatar = table.find_client(client);
        // The player an action names, in this room, and not the GM itself.
        let target =
            |table: &Table, player: u64| -> Result<(Entity, Entity, String, String), String> {
                let found = table
                    .find(&room, player)
                    .ok_or_else(|| format!("player {player} is not in this room"))?;
                if Some(found.1) == gm_avatar {
                    return Err("that is you".into());
                }
                Ok(found)
            };
        let change = |what| Change {
            room: room.clone(),
            gm: client,
            gm_name: gm_name.clone(),
            what,
        };
        let outcome: Result<Option<String>, String> = match message {
            GmAction::Kick { player, reason } => (|| {
                check_reason(reason)?;
                let (target_client, avatar, identity, name) = target(&table, *player)?;
                let why = if reason.is_empty() {
                    format!("{gm_name} sent you away from the table")
                } else {
                    format!("{gm_name} sent you away from the table: {reason}")
                };
                world.send_away(&mut table, (target_client, avatar, *player), &room, &why);
                info!(%room, %identity, %reason, "kicked by the GM");
                Ok(Some(format!("{gm_name} sent {name} away")))
            })(),
            GmAction::Ban { player, reason } => (|| {
                check_reason(reason)?;
                let (target_client, avatar, identity, name) = target(&table, *player)?;
                let ban = Stored::Ban {
                    identity,
                    name,
                    reason: reason.clone(),
                    client: target_client,
                    avatar,
                    player: *player,
                };
                submit(change(ban), worker.as_deref(), &mut table, &mut world);
                Ok(None)
            })(),
            GmAction::Mute { player, muted } => (|| {
                let (target_client, _, identity, name) = target(&table, *player)?;
                table.tables.set_muted(&room, &identity, *muted);
                table.send_state(&room, &[target_client]);
                let told = if *muted {
                    format!("{gm_name} muted you: your chat lines reach nobody")
                } else {
                    format!("{gm_name} let you speak again")
                };
                table.notice(target_client, told);
                let done = if *muted { "muted" } else { "unmuted" };
                table.notice(client, format!("{name} is {done}"));
                Ok(None)
            })(),
            GmAction::Teleport { player, to } => (|| {
                let gm_avatar = gm_avatar.ok_or("you have no avatar")?;
                let (_, on, _) = bodies.get(gm_avatar).map_err(|_| "you have no avatar")?;
                let map = on.0;
                let place = maps.try_get(map).ok_or("your map is closing")?;
                let point = match to {
                    Destination::Point { x, y } => {
                        let p = Vec2::new(*x, *y);
                        let size = place.data.pixel_size();
                        if !p.is_finite() || p.x < 0.0 || p.y < 0.0 || p.x > size.x || p.y > size.y
                        {
                            return Err(format!(
                                "({x}, {y}) is outside the map ({} x {} pixels)",
                                size.x, size.y
                            ));
                        }
                        if !place.collision.is_free(p, AVATAR_RADIUS) {
                            return Err(format!("({x}, {y}) is inside a wall"));
                        }
                        p
                    }
                    Destination::Entry(name) => {
                        let entry = place.data.entries.iter().find(|e| e.name == *name);
                        match entry.and_then(|e| e.points.first()) {
                            Some(p) => *p,
                            None => {
                                let known: Vec<&str> =
                                    place.data.entries.iter().map(|e| e.name.as_str()).collect();
                                return Err(format!(
                                    "{} has no entry `{name}` (it has {})",
                                    place.data.name,
                                    known.join(", ")
                                ));
                            }
                        }
                    }
                };
                let movers: Vec<(Entity, String)> = match player {
                    Some(id) => {
                        let (_, avatar, _, name) = target(&table, *id)?;
                        let on_map = bodies.get(avatar).is_ok_and(|(_, on, _)| on.0 == map);
                        if !on_map {
                            return Err(format!(
                                "{name} is on another map; teleport works on yours"
                            ));
                        }
                        vec![(avatar, name)]
                    }
                    None => table
                        .members(&room)
                        .into_iter()
                        .filter_map(|c| table.find_client(c))
                        .filter(|a| *a != gm_avatar)
                        .filter(|a| bodies.get(*a).is_ok_and(|(_, on, _)| on.0 == map))
                        .map(|a| (a, String::new()))
                        .collect(),
                };
                if movers.is_empty() {
                    return Err("no player is on your map".into());
                }
                let count = movers.len();
                for (avatar, _) in &movers {
                    if let Ok((mut state, _, warps)) = bodies.get_mut(*avatar) {
                        state.motion = MoveState::at(point);
                        // Placed by the server: its player's prediction starts over here.
                        if let Some(mut warps) = warps {
                            warps.0 = warps.0.wrapping_add(1);
                        }
                    }
                }
                let who = match player {
                    Some(_) => movers[0].1.clone(),
                    None => format!("{count} player{}", if count == 1 { "" } else { "s" }),
                };
                Ok(Some(format!(
                    "{gm_name} moved {who} to ({:.0}, {:.0})",
                    point.x, point.y
                )))
            })(),
            GmAction::Scene(scene) => (|| {
                scene.check()?;
                submit(
                    change(Stored::Scene(scene.clone())),
                    worker.as_deref(),
                    &mut table,
                    &mut world,
                );
                Ok(None)
            })(),
            GmAction::Override { total, reason } => (|| {
                check_reason(reason)?;
                if total.unsigned_abs() > 1_000_000 {
                    return Err(format!("{total} is no result a roll could have"));
                }
                let (who, roll) = table
                    .tables
                    .last_roll
                    .get(&room)
                    .cloned()
                    .ok_or("there is no roll at this table to override")?;
                let identity = table.who(client).map(|(_, i, _)| i).unwrap_or_default();
                let why = if reason.is_empty() {
                    String::new()
                } else {
                    format!(": {reason}")
                };
                let line = format!("overrides {who}'s roll ({roll}) to {total}{why}");
                if !super::say_at_table(
                    world.chat.as_deref(),
                    &world.players,
                    &room,
                    (client, &identity, &gm_name),
                    line,
                ) {
                    return Err("the server cannot keep the override right now".into());
                }
                Ok(None)
            })(),
            GmAction::HandOver { player } => (|| {
                let (_, _, identity, name) = target(&table, *player)?;
                let Some(account) = account_of(&identity) else {
                    return Err(format!(
                        "{name} plays as a guest; the GM's seat goes to a registered account"
                    ));
                };
                if account == campaign.gm_account {
                    return Err(format!("{name} is the GM already"));
                }
                submit(
                    change(Stored::Seat { account, name }),
                    worker.as_deref(),
                    &mut table,
                    &mut world,
                );
                Ok(None)
            })(),
            GmAction::Show { asset } => {
                super::handouts::show(&mut table, &room, asset.as_deref(), &gm_name).map(Some)
            }
            GmAction::Play { asset } => {
                super::handouts::play(&mut table, &room, asset, &gm_name).map(Some)
            }
            GmAction::AiGm { on } => (|| {
                let ai = ai
                    .as_deref_mut()
                    .ok_or("this server has no AI game master (start it with --gm-webhook URL)")?;
                if ai.runs(&room) == *on {
                    return Err(if *on {
                        "the AI game master runs this table already".into()
                    } else {
                        "the AI game master is not running this table".into()
                    });
                }
                ai.set(&room, *on);
                info!(%room, on, "AI game master");
                Ok(Some(if *on {
                    format!("{gm_name} let the AI game master run the table")
                } else {
                    format!("{gm_name} took the table back from the AI game master")
                }))
            })(),
        };
        match outcome {
            Ok(Some(text)) => table.announce(&room, &text),
            Ok(None) => {}
            Err(why) => table.notice(client, why),
        }
    }
}
