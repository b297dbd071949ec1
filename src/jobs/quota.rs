//! The per-user storage quota at intake (`queue.max_user_mib`,
//! `queue.max_pending_per_user`): an upload reserves its job place before anything is
//! stored and its bytes as they arrive, in the database (never count-then-insert), so
//! parallel uploads of one user cannot together pass the caps. The reservation ends in
//! the transaction that indexes the job, or is dropped when the upload fails.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use tokio::io::{AsyncRead, ReadBuf};

use super::{JobError, Jobs};
use crate::clock::now;
use crate::db::quota::UsageCaps;
use crate::db::{Db, DbResult};
use crate::identity::User;

/// Bytes reserved at a time while a document streams in.
const STEP: i64 = 1024 * 1024;

/// The stored bytes would pass the owner's quota (marks the reader's I/O error).
#[derive(Debug, thiserror::Error)]
#[error("storage quota reached")]
pub(super) struct OverQuota;

impl Jobs {
    pub(super) fn usage_caps(&self) -> UsageCaps {
        UsageCaps {
            bytes: i64::try_from(self.queue.max_user_mib.saturating_mul(1024 * 1024))
                .unwrap_or(i64::MAX),
            jobs: i64::from(self.queue.max_pending_per_user),
        }
    }

    /// Opens a reservation for an upload of `owner`; `new_job` takes a job place too.
    pub(super) async fn reserve(&self, owner: &User, new_job: bool) -> Result<i64, JobError> {
        self.db
            .open_reservation(owner.id, i64::from(new_job), &self.usage_caps(), now())
            .await?
            .ok_or(JobError::TooManyPending(self.queue.max_pending_per_user))
    }

    /// Drops a reservation whose upload failed; a failure here only delays the place
    /// coming back (a stale reservation stops counting after an hour).
    pub(super) async fn unreserve(&self, reservation: i64) {
        if let Err(e) = self.db.drop_reservation(reservation).await {
            tracing::warn!(error = %e, "an intake reservation could not be dropped");
        }
    }

    /// (bytes, jobs) the owner holds now, for pages that show the quota.
    pub async fn usage_of(&self, owner: &User) -> Result<(i64, i64), JobError> {
        Ok(self.db.usage_of(owner.id, now()).await?)
    }
}

/// Passes a document's bytes on only as far as its reservation covers them, growing
/// the reservation a step at a time; past the quota it fails with [`OverQuota`].
pub(super) struct QuotaReader<'a, R> {
    inner: tokio::io::Take<&'a mut R>,
    db: Db,
    reservation: i64,
    owner: i64,
    caps: UsageCaps,
    /// Bytes the reservation holds now.
    reserved: i64,
    growing: Option<BoxFuture<'static, DbResult<Option<i64>>>>,
}

impl<'a, R: AsyncRead + Unpin> QuotaReader<'a, R> {
    pub(super) fn new(inner: &'a mut R, jobs: &Jobs, reservation: i64, owner: &User) -> Self {
        Self {
            inner: tokio::io::AsyncReadExt::take(inner, 0),
            db: jobs.db.clone(),
            reservation,
            owner: owner.id,
            caps: jobs.usage_caps(),
            reserved: 0,
            growing: None,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for QuotaReader<'_, R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if let Some(growing) = this.growing.as_mut() {
                let grown = match growing.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(grown) => grown,
                };
                this.growing = None;
                match grown {
                    Ok(Some(reserved)) if reserved > this.reserved => {
                        let more = u64::try_from(reserved - this.reserved).unwrap_or(0);
                        this.reserved = reserved;
                        this.inner.set_limit(more);
                    }
                    Ok(_) => return Poll::Ready(Err(std::io::Error::other(OverQuota))),
                    Err(e) => return Poll::Ready(Err(std::io::Error::other(e.to_string()))),
                }
            }
            if this.inner.limit() > 0 {
                break;
            }
            // The reservation is used up: more bytes may only come once it grew. A
            // document that ends exactly here costs one step reserved and given back.
            let (db, id, owner, caps) = (this.db.clone(), this.reservation, this.owner, this.caps);
            this.growing = Some(Box::pin(async move {
                db.grow_reservation(id, owner, STEP, &caps, now()).await
            }));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}
