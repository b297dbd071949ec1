//! The printers: where released jobs go, and what each printer last said
//! about itself.

use super::{Db, DbResult, on_backend, touched};
use crate::clock::now;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PrinterRow {
    pub id: i64,
    pub guid: String,
    pub name: String,
    pub location: String,
    pub uri: String,
    pub protocol: String,
    pub cost_mono_milli: Option<i64>,
    pub cost_color_milli: Option<i64>,
    pub disabled: bool,
    pub make_model: String,
    pub formats: String,
    pub uris_supported: String,
    pub color_supported: Option<bool>,
    pub duplex_supported: Option<bool>,
    pub media: String,
    pub multi_document: bool,
    pub state: String,
    pub state_reasons: String,
    pub state_message: String,
    pub checked_at: Option<i64>,
    pub tls_pin: Option<String>,
    /// Issue 17: a raw printer's language as the admin set it (`convert::PrinterLanguage`
    /// spelling), and what the printer reported of itself.
    pub language: Option<String>,
    pub language_reported: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const PRINTER_COLUMNS: &str = "id, guid, name, location, uri, protocol, cost_mono_milli, cost_color_milli, disabled, make_model, formats, uris_supported, color_supported, duplex_supported, media, multi_document, state, state_reasons, state_message, checked_at, tls_pin, language, language_reported, created_at, updated_at";

/// What an admin types when adding or editing a printer.
#[derive(Debug, Clone)]
pub struct PrinterFields<'a> {
    pub name: &'a str,
    pub location: &'a str,
    pub uri: &'a str,
    pub protocol: &'a str,
    pub cost_mono_milli: Option<i64>,
    pub cost_color_milli: Option<i64>,
}

/// What a check of the printer found (Get-Printer-Attributes, or unreachable).
#[derive(Debug, Clone, Default)]
pub struct PrinterCheck {
    pub make_model: Option<String>,
    pub formats: Option<String>,
    pub uris_supported: Option<String>,
    pub color_supported: Option<bool>,
    pub duplex_supported: Option<bool>,
    pub media: Option<String>,
    pub multi_document: Option<bool>,
    pub state: String,
    pub state_reasons: String,
    pub state_message: String,
    /// Pinned only when none is pinned yet (first contact), or when the admin accepts.
    pub tls_pin: Option<String>,
}

impl Db {
    pub async fn insert_printer(
        &self,
        guid: &str,
        fields: &PrinterFields<'_>,
    ) -> DbResult<PrinterRow> {
        let at = now();
        let sql = format!(
            "INSERT INTO printers (guid, name, location, uri, protocol, cost_mono_milli, cost_color_milli, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {PRINTER_COLUMNS}"
        );
        let row = on_backend!(self, |pool| {
            sqlx::query_as::<_, PrinterRow>(&sql)
                .bind(guid)
                .bind(fields.name)
                .bind(fields.location)
                .bind(fields.uri)
                .bind(fields.protocol)
                .bind(fields.cost_mono_milli)
                .bind(fields.cost_color_milli)
                .bind(at)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }

    /// Edits what the admin owns. A changed URI forgets the pinned certificate.
    pub async fn update_printer(&self, id: i64, fields: &PrinterFields<'_>) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE printers SET tls_pin = CASE WHEN uri = $4 THEN tls_pin ELSE NULL END, \
                 name = $1, location = $2, protocol = $3, uri = $4, cost_mono_milli = $5, \
                 cost_color_milli = $6, updated_at = $7 WHERE id = $8",
            )
            .bind(fields.name)
            .bind(fields.location)
            .bind(fields.protocol)
            .bind(fields.uri)
            .bind(fields.cost_mono_milli)
            .bind(fields.cost_color_milli)
            .bind(now())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        touched(done)
    }

    /// Moves the printer to `new_uri` if it is still at `old_uri` (what the admin saw
    /// when they confirmed); the pinned certificate was the old host's.
    pub async fn move_printer_uri(&self, id: i64, old_uri: &str, new_uri: &str) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE printers SET uri = $1, tls_pin = NULL, updated_at = $2 \
                 WHERE id = $3 AND uri = $4",
            )
            .bind(new_uri)
            .bind(now())
            .bind(id)
            .bind(old_uri)
            .execute(pool)
            .await?
            .rows_affected()
        });
        touched(done)
    }

    pub async fn record_printer_check(
        &self,
        id: i64,
        check: &PrinterCheck,
        replace_pin: bool,
    ) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query(
                "UPDATE printers SET make_model = COALESCE($1, make_model), formats = COALESCE($2, formats), \
                 uris_supported = COALESCE($3, uris_supported), color_supported = COALESCE($4, color_supported), \
                 duplex_supported = COALESCE($5, duplex_supported), media = COALESCE($6, media), \
                 multi_document = COALESCE($7, multi_document), state = $8, state_reasons = $9, \
                 state_message = $10, checked_at = $11, \
                 tls_pin = CASE WHEN $12 OR tls_pin IS NULL THEN COALESCE($13, tls_pin) ELSE tls_pin END \
                 WHERE id = $14",
            )
            .bind(check.make_model.as_deref())
            .bind(check.formats.as_deref())
            .bind(check.uris_supported.as_deref())
            .bind(check.color_supported)
            .bind(check.duplex_supported)
            .bind(check.media.as_deref())
            .bind(check.multi_document)
            .bind(&check.state)
            .bind(&check.state_reasons)
            .bind(&check.state_message)
            .bind(now())
            .bind(replace_pin)
            .bind(check.tls_pin.as_deref())
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        touched(done)
    }

    /// Pins the certificate seen on a delivery when none is pinned yet (the printer
    /// was added by an `ipp://` URI and delivery found its IPPS one).
    pub async fn pin_printer_certificate(&self, id: i64, pin: &str) -> DbResult<()> {
        on_backend!(self, |pool| {
            sqlx::query("UPDATE printers SET tls_pin = $1 WHERE id = $2 AND tls_pin IS NULL")
                .bind(pin)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The admin's language for a raw printer (`convert::PrinterLanguage` spelling), or
    /// none.
    pub async fn set_printer_language(&self, id: i64, language: Option<&str>) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE printers SET language = $1, updated_at = $2 WHERE id = $3")
                .bind(language)
                .bind(now())
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    /// What the printer said it speaks (SNMP), best first: `postscript,pclxl`.
    pub async fn set_printer_language_reported(&self, id: i64, languages: &str) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE printers SET language_reported = $1 WHERE id = $2")
                .bind(languages)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    pub async fn set_printer_disabled(&self, id: i64, disabled: bool) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("UPDATE printers SET disabled = $1, updated_at = $2 WHERE id = $3")
                .bind(disabled)
                .bind(now())
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    pub async fn delete_printer(&self, id: i64) -> DbResult<()> {
        let done = on_backend!(self, |pool| {
            sqlx::query("DELETE FROM printers WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        touched(done)
    }

    pub async fn printers(&self) -> DbResult<Vec<PrinterRow>> {
        let sql = format!("SELECT {PRINTER_COLUMNS} FROM printers ORDER BY name");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, PrinterRow>(&sql)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn printer_by_id(&self, id: i64) -> DbResult<PrinterRow> {
        let sql = format!("SELECT {PRINTER_COLUMNS} FROM printers WHERE id = $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, PrinterRow>(&sql)
                .bind(id)
                .fetch_one(pool)
                .await?
        }))
    }

    pub async fn printer_by_guid(&self, guid: &str) -> DbResult<PrinterRow> {
        let sql = format!("SELECT {PRINTER_COLUMNS} FROM printers WHERE guid = $1");
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, PrinterRow>(&sql)
                .bind(guid)
                .fetch_one(pool)
                .await?
        }))
    }
}
