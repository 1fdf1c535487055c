//! Exits: an avatar that walks into a zone with `exitUrl`/`exitMap` is moved to the
//! target map's entry point (another map instance on this server). Its client gets the
//! new map; its name, connection and inputs carry over.

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::AvatarState;
use tavern_shared::movement::{AVATAR_RADIUS, MoveState, quantize};
use tavern_shared::protocol::EnterMap;

use crate::GameSystems;
use crate::movement::InputQueue;
use crate::net::to_client;
use crate::world::{Maps, OnMap};
use crate::zones::{Owner, ZoneChange, place, track_zones};

pub fn plugin(app: &mut App) {
    app.add_systems(
        FixedUpdate,
        take_exits.in_set(GameSystems::Track).after(track_zones),
    );
}

fn take_exits(
    mut commands: Commands,
    mut changes: MessageReader<ZoneChange>,
    mut maps: ResMut<Maps>,
    mut avatars: Query<(&mut AvatarState, &mut OnMap, &Owner)>,
    mut queues: Query<&mut InputQueue>,
    mut enter: MessageWriter<ToClients<EnterMap>>,
    rate: Res<crate::net::rate::SendRate>,
    hearing: Res<crate::voice::HearingRadius>,
    mut arrivals: Local<usize>,
) {
    for change in changes.read().filter(|c| c.entered) {
        let Ok((mut state, mut on, owner)) = avatars.get_mut(change.avatar) else {
            continue;
        };
        if on.0 != change.map {
            continue; // already moved this tick
        }
        let from = maps.get(change.map);
        let Some(exit) = from
            .data
            .zones
            .get(change.zone as usize)
            .and_then(|z| z.effects.exit.clone())
        else {
            continue;
        };
        let from_name = from.data.name.clone();
        let room = from.room.clone();
        let Some((file, points)) = maps.exit_target(&exit) else {
            warn!(map = %from_name, target = %exit.map, "exit to a map that is not loaded");
            continue;
        };
        let wanted = points[*arrivals % points.len()];
        // The room's own copy of the map: a party that leaves together arrives together.
        let target = maps.open(&room, file);
        let to = maps.get(target);
        *arrivals += 1;
        // On the position grid, so the client starts predicting from exactly here.
        let arrival = quantize(
            to.collision
                .nearest_free(&to.data, wanted, AVATAR_RADIUS)
                .unwrap_or(wanted),
        );
        state.motion = MoveState::at(arrival);
        on.0 = target;
        if let Ok(mut queue) = queues.get_mut(owner.0) {
            queue.arrive();
        }
        place(
            &mut commands,
            change.avatar,
            owner.0,
            &to.data,
            target,
            arrival,
        );
        enter.write(to_client(
            owner.0,
            EnterMap {
                map: (*to.data).clone(),
                arrival: Some(arrival),
                send_hz: rate.hz,
                resumed: false,
                hearing_radius: hearing.of(&to.data),
            },
        ));
        info!(%room, from = %from_name, to = %to.data.name, entry = ?exit.entry, x = arrival.x, y = arrival.y, "player took an exit");
    }
}
