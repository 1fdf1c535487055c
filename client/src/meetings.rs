//! Video meetings the server invites this player to (and hangs up), for the HUD to
//! offer and the bots to report.

use bevy::prelude::*;
use tavern_shared::protocol::{MeetingHangUp, MeetingInvite};

use crate::PlaySystems;

#[derive(Resource, Debug, Default, Clone)]
pub struct Meetings {
    /// The meeting the player may join now.
    pub current: Option<MeetingInvite>,
    /// The last invitation received, even after hanging up.
    pub last: Option<MeetingInvite>,
    pub invites: u32,
    pub hangups: u32,
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Meetings>()
        .add_systems(PreUpdate, receive_meetings.in_set(PlaySystems::Receive));
}

fn receive_meetings(
    mut invites: MessageReader<MeetingInvite>,
    mut hangups: MessageReader<MeetingHangUp>,
    mut meetings: ResMut<Meetings>,
) {
    for invite in invites.read() {
        meetings.invites += 1;
        meetings.current = Some(invite.clone());
        meetings.last = Some(invite.clone());
    }
    for hangup in hangups.read() {
        meetings.hangups += 1;
        if meetings
            .current
            .as_ref()
            .is_some_and(|m| m.zone == hangup.zone)
        {
            meetings.current = None;
        }
    }
}
