//! Protocol registration: every replicated component and network message, in one order
//! that server and client both use.

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::agent::{AgentClosed, AgentLeave, AgentNotice, AgentOpened, Npc};
use crate::avatar::InZones;
use crate::chat::{ChatDelivery, ChatRejected, ChatSend};
use crate::combat::messages::{
    AbilityResult, CombatEvents, DoorNotice, DungeonState, InventoryUpdate, PickUp, PickupResult,
    UseAbility, UseItem,
};
use crate::input::InputBatch;
use crate::map::MapData;
use crate::stream::{AvatarRoster, AvatarStates, StatesAck};

/// Identifies Tavern's netcode protocol; bump when the wire format changes.
pub const PROTOCOL_ID: u64 = 0x5441_5645_524e_000d;

/// Server → client, reliable: the map the client's avatar is on. Sent on joining, when
/// the avatar takes an exit to another map, and when the map file was edited.
#[derive(Message, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnterMap {
    pub map: MapData,
    /// Where the avatar arrives, when it came through an exit.
    pub arrival: Option<Vec2>,
    /// How many times a second the server sends state (`--send-hz`); the client shows
    /// other avatars far enough in the past to always have a state on either side.
    pub send_hz: u8,
    /// The player came back to the avatar it had before its connection dropped (not a
    /// new one): it stands at `arrival`, holding what it held.
    #[serde(default)]
    pub resumed: bool,
    /// How far a voice carries on this map, in pixels (its `hearingRadius`, else the
    /// server's): the client fades voices towards it.
    pub hearing_radius: f32,
}

/// Server → client, reliable: another player came within the proximity radius
/// (`near: true`) or left it. Sent only to the two players concerned.
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nearby {
    /// The other player's client id (their avatar's [`PlayerId`]).
    pub player: u64,
    pub near: bool,
}

/// Server → client, reliable: join a video meeting (the player entered a `jitsiRoom`
/// zone, or pressed the action key in one with `jitsiTrigger: onaction`).
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingInvite {
    /// Index of the zone in the current map.
    pub zone: u16,
    /// The Jitsi room, `<map>-<jitsiRoom>`.
    pub room: String,
    /// The meeting URL, with its JWT when the server has a Jitsi secret.
    pub url: String,
}

/// Server → client, reliable: the player left the meeting's zone; hang up.
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingHangUp {
    pub zone: u16,
}

/// What the server tells a connection that a newer login of the same player replaced
/// (a system chat line); a client that gets it stops logging in again.
pub const REPLACED_NOTICE: &str = "you logged in again somewhere else; this connection is closed";

/// Client → server, reliable: the player leaves on purpose (quits the game, a bot's run
/// ends). Its avatar leaves at once instead of waiting for it to reconnect; the server
/// then closes the connection.
#[derive(Message, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goodbye;

/// Registers the protocol. Both apps add it after `RepliconPlugins`.
pub fn plugin(app: &mut App) {
    app.replicate::<Npc>()
        .add_client_message::<InputBatch>(Channel::Unreliable)
        .add_server_message::<EnterMap>(Channel::Ordered)
        .add_server_message::<AvatarRoster>(Channel::Ordered)
        .add_server_message::<AvatarStates>(Channel::Unreliable)
        // The stream refers to no replicated entity: it need not wait for replication.
        .make_message_independent::<AvatarRoster>()
        .make_message_independent::<AvatarStates>()
        .add_client_message::<StatesAck>(Channel::Unreliable)
        .add_server_message::<InZones>(Channel::Ordered)
        .add_server_message::<Nearby>(Channel::Ordered)
        .add_client_message::<ChatSend>(Channel::Ordered)
        .add_server_message::<ChatDelivery>(Channel::Ordered)
        .add_server_message::<ChatRejected>(Channel::Ordered)
        .add_server_message::<MeetingInvite>(Channel::Ordered)
        .add_server_message::<MeetingHangUp>(Channel::Ordered)
        .add_server_message::<AgentOpened>(Channel::Ordered)
        .add_server_message::<AgentClosed>(Channel::Ordered)
        .add_server_message::<AgentNotice>(Channel::Ordered)
        .add_client_message::<AgentLeave>(Channel::Ordered)
        .add_client_message::<UseAbility>(Channel::Ordered)
        .add_server_message::<AbilityResult>(Channel::Ordered)
        .add_server_message::<CombatEvents>(Channel::Ordered)
        // Combat events name bodies by stream id, not by replicated entity.
        .make_message_independent::<CombatEvents>()
        .make_message_independent::<AbilityResult>()
        .add_client_message::<PickUp>(Channel::Ordered)
        .add_server_message::<PickupResult>(Channel::Ordered)
        .add_client_message::<UseItem>(Channel::Ordered)
        .add_server_message::<InventoryUpdate>(Channel::Ordered)
        .make_message_independent::<PickupResult>()
        .make_message_independent::<InventoryUpdate>()
        .add_server_message::<DungeonState>(Channel::Ordered)
        .add_server_message::<DoorNotice>(Channel::Ordered)
        .add_server_message::<crate::presence::RoomRoster>(Channel::Ordered)
        .add_client_message::<Goodbye>(Channel::Ordered)
        .add_server_message::<crate::events::RoomEvents>(Channel::Ordered)
        .add_client_message::<crate::events::CatchUpRequest>(Channel::Ordered)
        .add_server_message::<crate::events::CatchUp>(Channel::Ordered)
        .add_client_message::<crate::gm::GmCommand>(Channel::Ordered)
        .add_client_message::<crate::gm::GmAction>(Channel::Ordered)
        .add_server_message::<crate::gm::SentAway>(Channel::Ordered)
        .add_client_message::<crate::gm::EncounterCommand>(Channel::Ordered)
        .add_server_message::<crate::gm::EncounterState>(Channel::Ordered)
        .add_server_message::<crate::gm::TableState>(Channel::Ordered)
        .add_server_message::<crate::gm::TableNotice>(Channel::Ordered)
        .add_server_message::<crate::gm::SheetsChanged>(Channel::Ordered)
        .add_server_message::<crate::gm::assets::AssetsShared>(Channel::Ordered)
        .add_server_message::<crate::gm::assets::ShowHandout>(Channel::Ordered)
        .add_server_message::<crate::gm::assets::PlaySound>(Channel::Ordered)
        .add_client_message::<crate::voice::VoiceFrame>(Channel::Unreliable)
        .add_server_message::<crate::voice::VoiceRelay>(Channel::Unreliable)
        // Voice waits for no replication tick: it plays as soon as it arrives.
        .make_message_independent::<crate::voice::VoiceRelay>()
        .add_client_message::<crate::voice::VoiceMute>(Channel::Ordered)
        .add_client_message::<crate::voice::VoiceStatus>(Channel::Ordered)
        .make_message_independent::<DungeonState>()
        .make_message_independent::<DoorNotice>()
        .make_message_independent::<crate::presence::RoomRoster>()
        .make_message_independent::<crate::events::RoomEvents>()
        .make_message_independent::<crate::events::CatchUp>();
}
