//! The public address typed on the first-run or settings page (issue 20): one row,
//! replaced whole. `server.public_url` in the settings wins over it (`site` decides).

use super::{Db, DbResult, on_backend};
use crate::clock::now;

impl Db {
    /// The stored address as typed and checked (`https://name[:port]`), if any.
    pub async fn public_address(&self) -> DbResult<Option<String>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_scalar("SELECT url FROM public_address WHERE id = 1")
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Stores the address (`set_by`: the admin's username).
    pub async fn set_public_address(&self, url: &str, set_by: &str) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query(
                "INSERT INTO public_address (id, url, set_at, set_by) VALUES (1, $1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET url = excluded.url, set_at = excluded.set_at, \
                 set_by = excluded.set_by",
            )
            .bind(url)
            .bind(now())
            .bind(set_by)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
