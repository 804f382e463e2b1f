//! Step 3 of a removal: the user's dependents purged in bounded batches, each kind by
//! what the removal's mode asks (deleted, or retired / revoked / cancelled by a soft
//! removal). Each call reports whether its kind is done; a budget that runs out stops
//! the purge where it is, and the next request (a poll) continues from the records
//! still present or not yet changed.

use crate::error::DomainError;
use crate::ids::ObjectId;
use crate::keys;
use crate::model::{
    Device, DeviceStatus, EnrollmentToken, Organization, RemovalJournal, RemovalMode, Subscription,
    SubscriptionState, TokenStatus,
};
use crate::outbox::{self, Message, MessageKind};
use crate::records;
use crate::store::Store;
use crate::time::Timestamp;
use serde::Serialize;

/// How many keys one batch call reads or deletes.
const CHUNK: usize = 100;

/// Whether the record at a key (its encoding) is not done yet ([`Work::soften_keys`]).
type Pending<'a> = dyn Fn(&str, &[u8]) -> Result<bool, DomainError> + 'a;
/// The new encoding of the record at a key (`None`: nothing to write).
type Softened<'a> = dyn Fn(&str, &[u8]) -> Result<Option<Vec<u8>>, DomainError> + 'a;

/// The purge work of one request, bounded by `budget` dependents.
pub(super) struct Work<'a, S: Store> {
    pub(super) store: &'a S,
    pub(super) org: &'a Organization,
    pub(super) journal: &'a RemovalJournal,
    /// Most dependents this request may purge (`usize::MAX`: no bound).
    pub(super) budget: usize,
    /// Dependents purged so far by this request.
    pub(super) done: usize,
    pub(super) now: Timestamp,
}

impl<S: Store> Work<'_, S> {
    fn permanent(&self) -> bool {
        self.journal.mode == RemovalMode::Permanent
    }

    /// Room left in the budget for `n` more (at least one when any is left).
    fn room(&self, n: usize) -> usize {
        n.min(self.budget.saturating_sub(self.done))
    }

    /// Devices: a retire notice for each not yet REMOVED, then deleted (permanent) or
    /// set to REMOVED (soft). Returns whether all are done.
    pub(super) async fn devices(&mut self, ids: &[ObjectId]) -> Result<bool, DomainError> {
        let org = &self.org.id;
        for (chunk_no, chunk) in ids.chunks(CHUNK).enumerate() {
            let keys: Vec<String> = chunk.iter().map(|id| keys::device(org, id)).collect();
            let values = self.store.get_many(&keys).await?;
            let mut pending: Vec<(usize, Device)> = Vec::new();
            for (i, (key, value)) in keys.iter().zip(values).enumerate() {
                let Some(bytes) = value else { continue };
                let d: Device = records::decode(key, &bytes)?;
                if self.permanent() || d.enrolment_info.status != DeviceStatus::Removed {
                    pending.push((chunk_no * CHUNK + i, d));
                }
            }
            let take = self.room(pending.len());
            for (i, d) in &pending[..take] {
                if d.enrolment_info.status != DeviceStatus::Removed
                    && let Some(base) = self.journal.notice_base
                {
                    outbox::put_notice(
                        self.store,
                        org,
                        &Message {
                            number: base + i64::try_from(*i).unwrap_or(0),
                            kind: MessageKind::DeviceRetire,
                            user_id: d.user_id.clone(),
                            to: String::new(),
                            enrollment_token_id: None,
                            device_id: Some(d.id.clone()),
                            device_identifier: Some(d.device_identifier.clone()),
                            removal_at: None,
                            created_at: self.now,
                        },
                    )
                    .await?;
                }
            }
            if self.permanent() {
                let gone: Vec<String> = pending[..take]
                    .iter()
                    .map(|(_, d)| keys::device(org, &d.id))
                    .collect();
                self.store.delete_many(&gone).await?;
            } else {
                for (_, d) in &pending[..take] {
                    let now = self.now;
                    records::update(self.store, &keys::device(org, &d.id), |d: &mut Device| {
                        if d.enrolment_info.status == DeviceStatus::Removed {
                            return Ok::<_, DomainError>(false);
                        }
                        d.enrolment_info.status = DeviceStatus::Removed;
                        d.enrolment_info.date_of_last_update = now;
                        d.version += 1;
                        Ok(true)
                    })
                    .await?;
                }
            }
            self.done += take;
            if take < pending.len() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Enrollment tokens: deleted (permanent) or revoked (soft).
    pub(super) async fn tokens(&mut self, ids: &[ObjectId]) -> Result<bool, DomainError> {
        let org = self.org.id.clone();
        if self.permanent() {
            return self
                .delete_present(ids, |id| keys::enrollment_token(&org, id))
                .await;
        }
        self.soften(
            ids,
            |id| keys::enrollment_token(&org, id),
            |t: &EnrollmentToken| t.status == TokenStatus::Pending,
            |t: &mut EnrollmentToken| t.status = TokenStatus::Revoked,
        )
        .await
    }

    /// Subscriptions: deleted (permanent, or asked to), otherwise cancelled.
    pub(super) async fn subscriptions(&mut self, ids: &[ObjectId]) -> Result<bool, DomainError> {
        let org = self.org.id.clone();
        if self.permanent() || self.journal.delete_subscriptions {
            return self
                .delete_present(ids, |id| keys::subscription(&org, id))
                .await;
        }
        self.soften(
            ids,
            |id| keys::subscription(&org, id),
            |s: &Subscription| s.state != SubscriptionState::Cancelled,
            |s: &mut Subscription| s.state = SubscriptionState::Cancelled,
        )
        .await
    }

    /// Outbox messages addressed to the user: deleted.
    pub(super) async fn messages(&mut self, ids: &[ObjectId]) -> Result<bool, DomainError> {
        let keys = outbox::message_keys(&self.org.id, ids);
        self.delete_keys(&keys).await
    }

    /// API tokens the user owns: revoked (their records stay, for the token listing).
    pub(super) async fn api_tokens(&mut self, ids: &[ObjectId]) -> Result<bool, DomainError> {
        for id in ids {
            if self.room(1) == 0 {
                return Ok(false);
            }
            if let Some(digest) = self.store.get(&keys::token_id(id)).await? {
                let digest = String::from_utf8_lossy(&digest).into_owned();
                let key = keys::token_by_digest(&digest);
                if let Some(t) =
                    records::read::<S, crate::tokens::ApiToken>(self.store, &key).await?
                    && t.revoked_at.is_none()
                {
                    crate::tokens::revoke_record(self.store, &digest, self.now).await?;
                    self.done += 1;
                }
            }
        }
        Ok(true)
    }

    /// Deletes the records of `ids` that still exist.
    async fn delete_present(
        &mut self,
        ids: &[ObjectId],
        key_of: impl Fn(&ObjectId) -> String,
    ) -> Result<bool, DomainError> {
        let keys: Vec<String> = ids.iter().map(key_of).collect();
        self.delete_keys(&keys).await
    }

    /// Deletes those of `keys` that exist, as far as the budget goes.
    async fn delete_keys(&mut self, keys: &[String]) -> Result<bool, DomainError> {
        for chunk in keys.chunks(CHUNK) {
            let values = self.store.get_many(chunk).await?;
            let present: Vec<String> = chunk
                .iter()
                .zip(values)
                .filter(|(_, v)| v.is_some())
                .map(|(k, _)| k.clone())
                .collect();
            let take = self.room(present.len());
            if take > 0 {
                self.store.delete_many(&present[..take]).await?;
            }
            self.done += take;
            if take < present.len() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Changes (with `soften`, a conditional write each) the records of `ids` that
    /// `needs` says are not done yet.
    async fn soften<T: serde::de::DeserializeOwned + Serialize>(
        &mut self,
        ids: &[ObjectId],
        key_of: impl Fn(&ObjectId) -> String,
        needs: impl Fn(&T) -> bool,
        soften: impl Fn(&mut T),
    ) -> Result<bool, DomainError> {
        let keys: Vec<String> = ids.iter().map(key_of).collect();
        // Only these two are compiled per record type; the batches are [`Self::soften_keys`].
        let pending = |key: &str, bytes: &[u8]| Ok(needs(&records::decode::<T>(key, bytes)?));
        let softened = |key: &str, bytes: &[u8]| {
            let mut t: T = records::decode(key, bytes)?;
            if !needs(&t) {
                return Ok(None);
            }
            soften(&mut t);
            records::encode(key, &t).map(Some)
        };
        self.soften_keys(&keys, &pending, &softened).await
    }

    /// [`Self::soften`] on encoded records: `pending` tells a record not done yet,
    /// `softened` gives its new encoding (`None`: nothing to write), each update a
    /// conditional write ([`records::update_bytes`]) of an existing record.
    async fn soften_keys(
        &mut self,
        keys: &[String],
        pending: &Pending<'_>,
        softened: &Softened<'_>,
    ) -> Result<bool, DomainError> {
        for chunk in keys.chunks(CHUNK) {
            let values = self.store.get_many(chunk).await?;
            let mut todo = Vec::new();
            for (key, value) in chunk.iter().zip(values) {
                let Some(bytes) = value else { continue };
                if pending(key, &bytes)? {
                    todo.push(key.clone());
                }
            }
            let take = self.room(todo.len());
            for key in &todo[..take] {
                let mut failed = None;
                records::update_bytes(self.store, key, &mut |current| {
                    // Absent: never created.
                    match softened(key, current?) {
                        Ok(next) => next,
                        Err(e) => {
                            failed = Some(e);
                            None
                        }
                    }
                })
                .await?;
                if let Some(e) = failed {
                    return Err(e);
                }
            }
            self.done += take;
            if take < todo.len() {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
