//! Prediction over a bad link: 150 ms round trip and 5% loss each way, through a UDP
//! relay. The client walks a scripted path into and along walls.
//!
//! The bound on corrections is zero. The server applies exactly the client's inputs, in
//! order, never guessing a missing one (it waits), and each packet repeats every
//! unacknowledged input; the client runs the same movement function on the same map.
//! Delay and loss only postpone acknowledgements; nothing server-side is unknown to
//! the client, so any correction here would be a bug.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::relay::Relay;
use crate::common::{pump_for, pump_until, server_player, start_server};
use bevy::prelude::*;
use bevy_replicon_renet2::renet2::RenetClient;
use tavern_client::bot::{Bot, Brain};
use tavern_server::config::repo_path;
use tavern_server::world::load_one;
use tavern_shared::collision::CollisionWorld;
use tavern_shared::input::{Buttons, InputFrame, Stick};
use tavern_shared::movement::{MoveState, TICK_DT, step};

fn input(dir: Vec2, run: bool) -> InputFrame {
    InputFrame {
        stick: Stick::from_vec(dir),
        buttons: if run { Buttons::RUN } else { Buttons::NONE },
    }
}

/// Up into the plaza's north side, along it, down-right into walls, partial stick back.
fn script() -> VecDeque<(u32, InputFrame)> {
    VecDeque::from([
        (150, input(Vec2::new(-0.3, -1.0), true)),
        (120, input(Vec2::new(-1.0, -0.2), false)),
        (150, input(Vec2::new(1.0, 0.7), true)),
        (90, input(Vec2::new(0.4, -0.2), false)),
        (1, InputFrame::default()),
    ])
}

#[test]
fn predictions_converge_without_corrections_over_a_lossy_slow_link() {
    let _turn = crate::common::serial();
    // The script really runs into walls: free movement would go further.
    let map = load_one(&repo_path("maps/town.tmx")).unwrap().data;
    let world = CollisionWorld::from_map(&map);
    let (mut blocked_ticks, mut state) = (0, MoveState::at(map.spawns[0]));
    for (ticks, frame) in script() {
        for _ in 0..ticks {
            let next = step(state, frame, TICK_DT, &world);
            let free = frame.stick.to_vec() * if frame.run() { 240.0 } else { 160.0 } * TICK_DT;
            if (next.pos - state.pos).length() + 0.01 < free.length() {
                blocked_ticks += 1;
            }
            state = next;
        }
    }
    assert!(
        blocked_ticks > 100,
        "the path slides along walls ({blocked_ticks} blocked ticks)"
    );

    let relay = Relay::start(Duration::from_millis(75), 0.05, 42);
    let server = start_server("reconcile", Some(relay.addr));
    relay.set_server(server.udp_addr);
    let mut bot = Bot::new(&server.http_url(), "Prober", Brain::Script(script()));
    assert!(
        pump_until(&mut [&mut bot], Duration::from_secs(20), |b| b[0]
            .is_connected()),
        "connects through the relay: {:?}",
        bot.status()
    );
    let done = pump_until(&mut [&mut bot], Duration::from_secs(40), |b| {
        b[0].brain_mut().is_done() && b[0].prediction().unacknowledged() == 0
    });
    assert!(
        done,
        "every input acknowledged ({} waiting)",
        bot.prediction().unacknowledged()
    );
    pump_for(&mut [&mut bot], Duration::from_millis(500));

    let truth = server_player(&server, bot.client_id().unwrap());
    let predicted = bot.prediction().state.unwrap();
    assert_eq!(
        predicted.pos,
        Vec2::new(truth.x, truth.y),
        "prediction converged exactly"
    );
    assert_eq!(
        predicted.pos, state.pos,
        "and equals the offline replay of the script"
    );
    assert_eq!(
        bot.prediction().corrections,
        0,
        "worst miss {}",
        bot.prediction().worst_correction
    );

    // At the default send rate of 20 Hz: state arrives every third tick.
    let interval = bot
        .app
        .world()
        .resource::<tavern_client::interpolation::SendInterval>();
    assert_eq!(interval.secs, 1.0 / 20.0);

    // The link really was bad.
    let rtt = bot.app.world().resource::<RenetClient>().rtt();
    assert!(rtt > 0.14, "round trip {rtt} s");
    let dropped = relay.dropped.load(Ordering::Relaxed);
    let forwarded = relay.forwarded.load(Ordering::Relaxed);
    let loss = dropped as f64 / (dropped + forwarded) as f64;
    assert!(
        dropped > 20 && (0.03..0.07).contains(&loss),
        "dropped {dropped} of {}",
        dropped + forwarded
    );
}
