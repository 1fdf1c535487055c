//! Mail from the HTTP threads to the game: posted by a handler, read once a frame.

use std::sync::{Arc, Mutex, PoisonError};

use bevy::prelude::*;

/// A shared list of `T`, posted to from any thread and taken by the game.
#[derive(Resource, Debug)]
pub struct Mailbox<T>(Arc<Mutex<Vec<T>>>);

impl<T> Default for Mailbox<T> {
    fn default() -> Self {
        Mailbox(Arc::default())
    }
}

impl<T> Clone for Mailbox<T> {
    fn clone(&self) -> Self {
        Mailbox(self.0.clone())
    }
}

impl<T> Mailbox<T> {
    pub fn post(&self, mail: T) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(mail);
    }

    /// Everything posted since the last call.
    pub fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
