//! Output devices as the admin and the device see them: enrolment and revocation,
//! signing in, (re)registering, leaving, what a device reports about its printer,
//! and whether that keeps a release from being accepted.

use std::time::Duration;

use super::{DeviceCaller, Infra, InfraError, NewOutputDevice, SECRET_PURPOSE};
use crate::clock::now;
use crate::db::{DeviceReportFields, OutputDeviceRow, PrinterRow, ReleaseEnd};
use crate::identity::{AuditAction, AuditEvent, AuditOutcome};
use crate::identity::{ClientInfo, User};
use crate::release::conclusion::conclude;
use crate::release::{ReleaseError, ReleaseState};

impl Infra {
    // --- admin -----------------------------------------------------------------------

    /// Enrols an output device for a printer whose jobs are pulled (protocol `infra`).
    /// The secret is shown once; only its keyed hash is kept.
    pub async fn add_device(
        &self,
        admin: &User,
        printer_id: i64,
        name: &str,
        client: &ClientInfo,
    ) -> Result<NewOutputDevice, InfraError> {
        crate::identity::people::require_admin(admin).map_err(ReleaseError::from)?;
        let printer = self.release.printers.by_id(printer_id).await?;
        if printer.protocol != "infra" {
            return Err(InfraError::NotPossible(format!(
                "{} is delivered to by the server; set its delivery to “pulled by an output device (IPP INFRA)” first",
                printer.name
            )));
        }
        let name = name.trim();
        let name = if name.is_empty() {
            format!("{} output device", printer.name)
        } else if name.chars().count() > 100 {
            return Err(InfraError::BadRequest(
                "the name is longer than 100 characters".into(),
            ));
        } else {
            name.to_string()
        };
        let login = format!("od-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let secret = crate::identity::secrets::new_token();
        let hash = self.secret_hash(&secret);
        let id = self
            .release
            .db
            .insert_output_device(printer.id, &name, &login, &hash, None)
            .await?;
        self.release
            .identity
            .audit(AuditEvent {
                actor: Some(admin),
                action: AuditAction::OutputDeviceAdd,
                target: &printer.name,
                outcome: AuditOutcome::Success,
                client,
                detail: &format!("{name} ({login})"),
            })
            .await
            .map_err(ReleaseError::from)?;
        Ok(NewOutputDevice { id, login, secret })
    }

    /// Revokes a device: its credential stops working at once; what it fetched and
    /// had not fetched the document of becomes fetchable again.
    pub async fn revoke_device(
        &self,
        admin: &User,
        device_id: i64,
        client: &ClientInfo,
    ) -> Result<(), InfraError> {
        crate::identity::people::require_admin(admin).map_err(ReleaseError::from)?;
        let device = self.release.db.output_device_by_id(device_id).await?;
        self.release.db.revoke_output_device(device_id).await?;
        self.give_back(&device, "the output device was revoked")
            .await?;
        let printer = self.release.printers.by_id(device.printer_id).await?;
        self.release
            .identity
            .audit(AuditEvent {
                actor: Some(admin),
                action: AuditAction::OutputDeviceRevoke,
                target: &printer.name,
                outcome: AuditOutcome::Success,
                client,
                detail: &format!("{} ({})", device.name, device.login),
            })
            .await
            .map_err(ReleaseError::from)?;
        self.events.ring(device.printer_id);
        Ok(())
    }

    /// A printer's output devices (admin).
    pub async fn devices_of(
        &self,
        admin: &User,
        printer_id: i64,
    ) -> Result<Vec<OutputDeviceRow>, InfraError> {
        crate::identity::people::require_admin(admin).map_err(ReleaseError::from)?;
        Ok(self.release.db.output_devices_of(printer_id).await?)
    }

    // --- the device's requests ------------------------------------------------------

    fn secret_hash(&self, secret: &str) -> Vec<u8> {
        self.release
            .vault
            .keyed_hash(SECRET_PURPOSE, secret.as_bytes())
    }

    /// HTTP Basic credentials of an output device. User credentials never work here
    /// (a user is not a device), nor do a revoked device's. Every failure is audited
    /// (without the secret).
    pub async fn authenticate(
        &self,
        login: &str,
        secret: &str,
        client: &ClientInfo,
    ) -> Result<DeviceCaller, InfraError> {
        let expected = match self.release.db.output_device_by_login(login).await {
            Ok(device) => Some(device),
            Err(crate::db::DbError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let matches = super::secret_matches(
            expected.as_ref().map(|d| d.secret_hash.as_slice()),
            &self.secret_hash(secret),
        );
        let device = match expected {
            Some(device) if matches && device.revoked_at.is_none() => device,
            other => {
                let why = match other {
                    Some(d) if matches && d.revoked_at.is_some() => "revoked device",
                    Some(_) => "wrong secret",
                    None => "unknown device",
                };
                return Err(self
                    .refuse_sign_in(AuditAction::OutputDeviceLogin, login, why, client)
                    .await);
            }
        };
        let printer = self.release.printers.by_id(device.printer_id).await?;
        self.release
            .db
            .touch_output_device(device.id, self.lease_until(), self.renew_before())
            .await?;
        Ok(DeviceCaller { device, printer })
    }

    /// Audits a refused sign-in (the login, never the secret) and answers 401.
    pub(super) async fn refuse_sign_in(
        &self,
        action: AuditAction,
        login: &str,
        why: &str,
        client: &ClientInfo,
    ) -> InfraError {
        let login: String = login.chars().take(64).collect();
        match self
            .release
            .identity
            .audit(AuditEvent {
                actor: None,
                action,
                target: &login,
                outcome: AuditOutcome::Denied,
                client,
                detail: why,
            })
            .await
        {
            Ok(()) => InfraError::Unauthenticated,
            Err(e) => ReleaseError::from(e).into(),
        }
    }

    /// Register-Output-Device: the device (re)starts. Whatever it fetched before and
    /// had not begun to download is fetchable again; what it was downloading or
    /// printing needs attention (it restarted: the outcome is unknown).
    pub async fn register(&self, caller: &DeviceCaller, uuid: &str) -> Result<(), InfraError> {
        self.release
            .db
            .register_output_device(caller.device.id, uuid)
            .await?;
        self.restarted(caller).await
    }

    async fn restarted(&self, caller: &DeviceCaller) -> Result<(), InfraError> {
        for row in self
            .release
            .db
            .releases_held_by_device(caller.device.id)
            .await?
        {
            if row.transmitting || row.state == ReleaseState::Sent {
                conclude(
                    &self.release,
                    &row,
                    &caller.owner(),
                    ReleaseEnd::NeedsAttention,
                    "the output device restarted while it had the job; it may have printed",
                    Duration::ZERO,
                )
                .await;
            }
        }
        self.give_back(
            &caller.device,
            "the output device restarted before fetching the document",
        )
        .await
    }

    async fn give_back(&self, device: &OutputDeviceRow, reason: &str) -> Result<(), InfraError> {
        let ids: Vec<i64> = self
            .release
            .db
            .releases_held_by_device(device.id)
            .await?
            .into_iter()
            .filter(|r| r.state == ReleaseState::Releasing && !r.transmitting)
            .map(|r| r.id)
            .collect();
        if !ids.is_empty() {
            self.release.db.make_fetchable_again(&ids, reason).await?;
            self.events.ring(device.printer_id);
        }
        Ok(())
    }

    /// Deregister-Output-Device: the device leaves (its subscriptions end).
    pub async fn deregister(&self, caller: &DeviceCaller) -> Result<(), InfraError> {
        self.release
            .db
            .deregister_output_device(caller.device.id)
            .await?;
        self.give_back(
            &caller.device,
            "the output device deregistered before fetching the document",
        )
        .await
    }

    /// Update-Output-Device-Attributes: what the device says about its printer.
    pub async fn report(
        &self,
        caller: &DeviceCaller,
        report: &DeviceReportFields,
    ) -> Result<(), InfraError> {
        Ok(self
            .release
            .db
            .update_output_device_report(caller.device.id, report)
            .await?)
    }

    /// Whether the output devices of an `infra` printer report a state that keeps a
    /// job from printing (checked before a release; a printer with no device in touch
    /// is not refused: its device fetches the jobs when it comes).
    pub async fn blocking_problem(&self, printer: &PrinterRow) -> Option<String> {
        let devices = self.release.db.output_devices_of(printer.id).await.ok()?;
        let recent = now() - 600;
        let live: Vec<&OutputDeviceRow> = devices
            .iter()
            .filter(|d| d.revoked_at.is_none() && d.last_seen_at.is_some_and(|t| t >= recent))
            .collect();
        let problems: Vec<String> = live.iter().filter_map(|d| device_problem(d)).collect();
        // Refused only when every device in touch has a problem.
        if !live.is_empty() && problems.len() == live.len() {
            problems.into_iter().next()
        } else {
            None
        }
    }
}

/// What a device's last report says keeps its printer from printing.
fn device_problem(device: &OutputDeviceRow) -> Option<String> {
    use crate::ipp::client::{PrinterReport, PrinterState};
    let state = match device.state.as_str() {
        "stopped" => PrinterState::Stopped,
        "processing" => PrinterState::Processing,
        _ => PrinterState::Idle,
    };
    PrinterReport {
        state,
        reasons: device
            .state_reasons
            .split(',')
            .filter(|r| !r.is_empty() && *r != "none")
            .map(str::to_string)
            .collect(),
        message: device.state_message.clone(),
        accepting_jobs: true,
        make_model: String::new(),
        formats: Vec::new(),
        uris_supported: Vec::new(),
        color_supported: false,
        duplex_supported: false,
        media: Vec::new(),
        multi_document: false,
        operations: Vec::new(),
        cert_sha256: None,
    }
    .blocking_problem()
}
