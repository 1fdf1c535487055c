//! The table: dice rolled on the server (`/roll`), shown to everyone in the room with
//! every die, refused with the reason when the expression is wrong, and kept from other
//! rooms.

use std::time::Duration;

use serde_json::json;
use tavern_client::bot::{Bot, Brain};
use tavern_shared::chat::{ChatChannel, ChatLine};

use crate::common::{call, pump_for, pump_until, start_server, two_players};

fn dice_lines(bot: &Bot) -> Vec<ChatLine> {
    bot.chat()
        .lines
        .iter()
        .filter(|l| l.channel == ChatChannel::Dice)
        .cloned()
        .collect()
}

/// The faces and total of a line like `rolls 2d6 + 3: [4, 5] + 3 = 12`.
fn faces_and_total(text: &str) -> (Vec<u32>, i64) {
    let (_, shown) = text
        .split_once(": ")
        .expect("the expression, then the dice");
    let (dice, total) = shown.rsplit_once(" = ").expect("a total");
    let faces = dice
        .split(['[', ']', ',', '+', ' '])
        .filter_map(|f| f.trim_matches(|c| c == '(' || c == ')').parse().ok())
        .collect();
    (faces, total.parse().unwrap())
}

#[test]
fn dice_are_rolled_on_the_server_and_shown_to_the_room_only() {
    let _turn = crate::common::serial();
    let server = start_server("table-dice", None);
    let url = server.http_url();
    let (mut ada, mut bo) = two_players(&url, "Ada", "Bo");
    // Cy plays in another room on the same map: the table's dice are not hers.
    let (_, login) = call(&url, "/api/login", None, Some(json!({"name": "Owner"})));
    let owner = login["api_token"].as_str().unwrap().to_string();
    let (status, room) = call(
        &url,
        "/api/rooms",
        Some(&owner),
        Some(json!({"name": "Elsewhere", "map": "town", "max_players": 4})),
    );
    assert_eq!(status, 201, "{room}");
    let mut cy = Bot::in_room(&url, "Cy", Brain::Idle, room["id"].as_str().unwrap(), None);
    assert!(
        pump_until(
            &mut [&mut ada, &mut bo, &mut cy],
            Duration::from_secs(15),
            |b| { b[2].own_server_state().is_some() }
        ),
        "Cy joins her room"
    );

    ada.say(ChatChannel::Dice, "2d6+3");
    assert!(
        pump_until(
            &mut [&mut ada, &mut bo, &mut cy],
            Duration::from_secs(10),
            |b| { !dice_lines(b[0]).is_empty() && !dice_lines(b[1]).is_empty() }
        ),
        "both at the table see the roll"
    );
    let line = dice_lines(&bo).pop().unwrap();
    assert_eq!(line.from, "Ada");
    assert!(line.text.starts_with("rolls 2d6 + 3: ["), "{}", line.text);
    let (faces, total) = faces_and_total(&line.text);
    assert_eq!(faces.len(), 3, "two dice and the 3: {}", line.text);
    assert!(
        faces[..2].iter().all(|f| (1..=6).contains(f)),
        "{}",
        line.text
    );
    assert_eq!(total, i64::from(faces[0] + faces[1] + 3), "{}", line.text);
    assert_eq!(
        dice_lines(&ada).pop().unwrap().text,
        line.text,
        "one roll, the same for all"
    );

    // Advantage keeps the higher die and shows the other in parentheses.
    bo.say(ChatChannel::Dice, "d20 adv");
    assert!(
        pump_until(
            &mut [&mut ada, &mut bo, &mut cy],
            Duration::from_secs(10),
            |b| { dice_lines(b[0]).len() == 2 }
        ),
        "Ada sees Bo's roll"
    );
    let line = dice_lines(&ada).pop().unwrap();
    assert!(line.text.starts_with("rolls 2d20kh1: ["), "{}", line.text);
    let (faces, total) = faces_and_total(&line.text);
    assert_eq!(
        total,
        i64::from(*faces.iter().max().unwrap()),
        "{}",
        line.text
    );

    // A wrong expression is refused with the reason, and nothing is rolled.
    ada.say(ChatChannel::Dice, "2d1");
    assert!(
        pump_until(
            &mut [&mut ada, &mut bo, &mut cy],
            Duration::from_secs(10),
            |b| { !b[0].chat().rejections.is_empty() }
        ),
        "the bad roll is refused"
    );
    let reason = &ada.chat().rejections.last().unwrap().reason;
    assert!(reason.contains("2 to 1000 sides, not 1"), "{reason}");
    pump_for(
        &mut [&mut ada, &mut bo, &mut cy],
        Duration::from_millis(500),
    );
    assert_eq!(dice_lines(&bo).len(), 2, "nothing more was rolled");
    assert!(dice_lines(&cy).is_empty(), "another room's dice stay there");
}
