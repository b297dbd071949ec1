//! What a device reports over SNMP, read into a [`DeviceReport`]: identity (Host
//! Resources, SNMPv2-MIB, IF-MIB), state, supplies, alerts, meters and the languages
//! it interprets (Printer-MIB).
//!
//! Robustness: a missing object, a table the device lacks, or a value of the wrong type
//! leaves that field `None` or empty; it is never an error. Only the first request (the
//! system group) and a device that goes silent midway fail the collection. A walk cut
//! short (row or time limit, an agent looping) keeps its rows and is named in
//! [`DeviceReport::incomplete`].
//!
//! How the raw tables become fields (the heuristics and the status mapping) is in
//! `interpret.rs`.

use std::collections::BTreeMap;

mod interpret;

use crate::convert::PrinterLanguage;
use crate::devices::mib;
use crate::devices::snmp::{Session, SnmpError, SnmpValue, Walk};
use interpret::{
    alerts_of, colour_of, firmware_from_sys_descr, mac_of, model_from_sys_descr, status_of,
    supplies_of,
};

/// Everything collected from one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceReport {
    /// hrDeviceType printer, or a prtGeneralTable present.
    pub is_printer: bool,
    /// Lower-case `aa:bb:cc:dd:ee:ff`: the first 6-byte, non-zero ifPhysAddress.
    pub mac: Option<String>,
    /// Vendor name (see the module's heuristics).
    pub manufacturer: String,
    /// Model (see the module's heuristics).
    pub model: String,
    /// sysDescr.
    pub description: String,
    /// sysName.
    pub sys_name: String,
    /// sysObjectID, dotted.
    pub sys_object_id: String,
    /// prtGeneralSerialNumber.
    pub serial: Option<String>,
    /// entPhysicalAssetID.1.
    pub asset: Option<String>,
    /// sysLocation.
    pub location: String,
    /// sysContact.
    pub contact: String,
    /// Firmware version (see the module's heuristics).
    pub firmware: Option<String>,
    /// Colour device (`None`: unknown).
    pub color: Option<bool>,
    /// The page description languages PrintPark can write that the printer says it
    /// interprets (prtInterpreterLangFamily), best first
    /// ([`PrinterLanguage::best_first`]); empty when it says none or nothing.
    pub languages: Vec<PrinterLanguage>,
    /// Overall state (see the module's mapping).
    pub status: DeviceStatus,
    /// hrPrinterDetectedErrorState bits set, in bit order ("jammed", "lowToner", …).
    pub error_state: Vec<String>,
    /// Console display lines (prtConsoleDisplayBufferText), blank lines left out.
    pub display: Vec<String>,
    /// prtMarkerSuppliesTable rows.
    pub supplies: Vec<Supply>,
    /// prtAlertTable rows.
    pub alerts: Vec<Alert>,
    /// Page counters.
    pub meters: Meters,
    /// Walks cut short or failed: "table OID: reason". Empty when everything was read.
    pub incomplete: Vec<String>,
}

/// Overall state of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceStatus {
    /// Ready or printing.
    Ok,
    /// Needs attention soon (low toner, a tray empty).
    Warning,
    /// Cannot print (jam, door open, down).
    Error,
    /// Reports itself offline.
    Offline,
    /// Reports nothing usable.
    Unknown,
}

/// One marker supply (toner, drum, fuser, maintenance kit …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supply {
    /// prtMarkerSuppliesIndex.
    pub index: i64,
    /// prtMarkerSuppliesDescription.
    pub description: String,
    /// prtMarkerSuppliesType name: toner, tonerCartridge, opc, fuser, other …
    pub kind: String,
    /// prtMarkerSuppliesSupplyUnit name: impressions, percent …
    pub unit: String,
    /// prtMarkerSuppliesMaxCapacity; `None` for -1 (other) and -2 (unknown).
    pub max_capacity: Option<i64>,
    /// prtMarkerSuppliesLevel; `None` for -1, -2 (unknown) and -3 (see `some_remaining`).
    pub level: Option<i64>,
    /// Level -3: the device knows only that some remains.
    pub some_remaining: bool,
    /// Level as a percentage of the capacity, when both are known.
    pub percent: Option<u8>,
    /// prtMarkerColorantValue of the supply's colorant ("cyan"), when the device says.
    pub colorant: Option<String>,
}

/// One row of prtAlertTable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// prtAlertIndex.
    pub index: i64,
    /// prtAlertSeverityLevel name: critical, warning, other …
    pub severity: String,
    /// prtAlertGroup name: input, markerSupplies, mediaPath …
    pub group: String,
    /// prtAlertCode.
    pub code: i64,
    /// prtAlertCode name: jam, markerTonerAlmostEmpty …
    pub code_name: String,
    /// prtAlertDescription.
    pub description: String,
}

/// Page counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meters {
    /// prtMarkerLifeCount of the first marker.
    pub total: Option<i64>,
    /// Mono pages, where the vendor reports them ([`mib::HP_TOTAL_MONO_PAGES`]).
    pub mono: Option<i64>,
    /// Colour pages, where the vendor reports them ([`mib::HP_TOTAL_COLOUR_PAGES`]).
    pub color: Option<i64>,
}

/// Rows of a conceptual table: index → column → value.
type Table = BTreeMap<Vec<u32>, BTreeMap<u32, SnmpValue>>;

/// Where a report is read from: a live SNMP session, or canned answers (the fuzz
/// target in `crate::fuzzing` builds a device from its input).
pub(crate) trait Source {
    /// For the log only.
    fn ip(&self) -> std::net::IpAddr;
    async fn get(&self, oids: &[&[u32]]) -> Result<Vec<Option<SnmpValue>>, SnmpError>;
    async fn walk(&self, prefix: &[u32]) -> Result<Walk, SnmpError>;
}

impl Source for Session {
    fn ip(&self) -> std::net::IpAddr {
        Session::ip(self)
    }

    async fn get(&self, oids: &[&[u32]]) -> Result<Vec<Option<SnmpValue>>, SnmpError> {
        Session::get(self, oids).await
    }

    async fn walk(&self, prefix: &[u32]) -> Result<Walk, SnmpError> {
        Session::walk(self, prefix).await
    }
}

/// Reads everything a device reports. Fails only when the device does not answer the
/// first request or goes silent midway.
pub async fn collect(session: &Session) -> Result<DeviceReport, SnmpError> {
    collect_from(session).await
}

/// [`collect`] from any [`Source`].
pub(crate) async fn collect_from<S: Source>(session: &S) -> Result<DeviceReport, SnmpError> {
    let system = session
        .get(&[
            mib::SYS_DESCR,
            mib::SYS_OBJECT_ID,
            mib::SYS_CONTACT,
            mib::SYS_NAME,
            mib::SYS_LOCATION,
        ])
        .await?;
    let text_at = |values: &[Option<SnmpValue>], i: usize| {
        values
            .get(i)
            .and_then(|v| v.as_ref()?.as_text())
            .unwrap_or_default()
    };
    let sys_object_id: Vec<u32> = system
        .get(1)
        .and_then(|v| v.as_ref()?.as_oid().map(<[u32]>::to_vec))
        .unwrap_or_default();
    let description = text_at(&system, 0);
    let mut incomplete = Vec::new();

    let devices = table(&read(session, mib::HR_DEVICE_ENTRY, &mut incomplete).await?);
    let general = table(&read(session, mib::PRT_GENERAL_ENTRY, &mut incomplete).await?);
    let printer_index = devices
        .iter()
        .find(|(_, row)| {
            row.get(&mib::HR_DEVICE_COL_TYPE)
                .and_then(SnmpValue::as_oid)
                == Some(mib::HR_DEVICE_PRINTER)
        })
        .map(|(index, _)| index.clone());
    let is_printer = printer_index.is_some() || !general.is_empty();
    // Printer-MIB tables are indexed by hrDeviceIndex first: keep the printer's rows.
    let device_key = printer_index
        .clone()
        .or_else(|| general.keys().next().cloned())
        .unwrap_or_default();
    let device_row = printer_index.as_ref().and_then(|i| devices.get(i));

    let mac = mac_of(&read(session, mib::IF_PHYS_ADDRESS, &mut incomplete).await?);
    let manufacturer_by_oid = mib::manufacturer_of(&sys_object_id);
    let hr_descr = device_row
        .and_then(|row| row.get(&mib::HR_DEVICE_COL_DESCR)?.as_text())
        .filter(|s| !s.is_empty());
    let model = match hr_descr {
        Some(descr) => descr,
        None if is_printer => model_from_sys_descr(&description),
        None => String::new(),
    };
    let manufacturer = manufacturer_by_oid
        .map(str::to_owned)
        .or_else(|| model.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();

    let mut report = DeviceReport {
        is_printer,
        mac,
        manufacturer,
        model,
        firmware: None,
        sys_name: text_at(&system, 3),
        sys_object_id: if sys_object_id.is_empty() {
            String::new()
        } else {
            mib::dotted(&sys_object_id)
        },
        serial: None,
        asset: None,
        location: text_at(&system, 4),
        contact: text_at(&system, 2),
        color: None,
        languages: Vec::new(),
        status: DeviceStatus::Unknown,
        error_state: Vec::new(),
        display: Vec::new(),
        supplies: Vec::new(),
        alerts: Vec::new(),
        meters: Meters::default(),
        incomplete: Vec::new(),
        description,
    };
    let extra = session
        .get(&[
            mib::ENT_PHYSICAL_FIRMWARE_REV_1,
            mib::ENT_PHYSICAL_ASSET_ID_1,
            mib::HP_TOTAL_MONO_PAGES,
            mib::HP_TOTAL_COLOUR_PAGES,
        ])
        .await?;
    report.firmware = Some(text_at(&extra, 0))
        .filter(|s| !s.is_empty())
        .or_else(|| firmware_from_sys_descr(&report.description));
    report.asset = Some(text_at(&extra, 1)).filter(|s| !s.is_empty());

    if is_printer {
        let same_device =
            |index: Option<&u32>| device_key.first().is_none_or(|key| index == Some(key));
        let of_device = |t: Table| -> Table {
            t.into_iter()
                .filter(|(index, _)| same_device(index.first()))
                .collect()
        };
        let printer = of_device(table(
            &read(session, mib::HR_PRINTER_ENTRY, &mut incomplete).await?,
        ));
        let markers = of_device(table(
            &read(session, mib::PRT_MARKER_ENTRY, &mut incomplete).await?,
        ));
        let supplies = of_device(table(
            &read(session, mib::PRT_SUPPLIES_ENTRY, &mut incomplete).await?,
        ));
        let colorants = of_device(table(
            &read(session, mib::PRT_COLORANT_ENTRY, &mut incomplete).await?,
        ));
        let display = read(session, mib::PRT_CONSOLE_DISPLAY_TEXT, &mut incomplete).await?;
        let alerts = of_device(table(
            &read(session, mib::PRT_ALERT_ENTRY, &mut incomplete).await?,
        ));
        let interpreters = read(session, mib::PRT_INTERPRETER_LANG_FAMILY, &mut incomplete).await?;

        report.serial = general
            .get(&device_key)
            .and_then(|row| row.get(&mib::PRT_GENERAL_COL_SERIAL)?.as_text())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let printer_row = printer.values().next();
        report.error_state = printer_row
            .and_then(|row| row.get(&mib::HR_PRINTER_COL_ERRORS)?.as_bytes())
            .map(mib::error_state_names)
            .unwrap_or_default();
        report.display = display
            .rows
            .iter()
            .filter(|row| same_device(row.oid.get(mib::PRT_CONSOLE_DISPLAY_TEXT.len())))
            .filter_map(|row| row.value.as_text())
            .map(|line| line.trim().to_owned())
            .filter(|line| !line.is_empty())
            .collect();
        let reported: Vec<PrinterLanguage> = interpreters
            .rows
            .iter()
            .filter(|row| same_device(row.oid.get(mib::PRT_INTERPRETER_LANG_FAMILY.len())))
            .filter_map(|row| mib::language_of(row.value.as_int()?))
            .collect();
        report.languages = PrinterLanguage::best_first(&reported);
        report.supplies = supplies_of(&supplies, &colorants);
        report.alerts = alerts_of(&alerts);
        report.meters = Meters {
            total: markers
                .values()
                .find_map(|row| row.get(&mib::PRT_MARKER_COL_LIFE_COUNT)?.as_int()),
            mono: int_at(&extra, 2),
            color: int_at(&extra, 3),
        };
        report.color = colour_of(&markers, &colorants, &report.supplies);
        report.status = status_of(
            device_row.and_then(|row| row.get(&mib::HR_DEVICE_COL_STATUS)?.as_int()),
            printer_row.and_then(|row| row.get(&mib::HR_PRINTER_COL_STATUS)?.as_int()),
            &report.error_state,
            &report.alerts,
        );
    }
    report.incomplete = incomplete;
    Ok(report)
}

fn int_at(values: &[Option<SnmpValue>], i: usize) -> Option<i64> {
    values.get(i).and_then(|v| v.as_ref()?.as_int())
}

/// Walks one table. A walk that fails midway or is cut is noted in `incomplete`;
/// one that fails for anything but silence counts as an empty table.
async fn read<S: Source>(
    session: &S,
    prefix: &[u32],
    incomplete: &mut Vec<String>,
) -> Result<Walk, SnmpError> {
    match session.walk(prefix).await {
        Ok(walk) => {
            if let Some(reason) = &walk.cut {
                incomplete.push(format!("{}: {reason}", mib::dotted(prefix)));
            }
            Ok(walk)
        }
        Err(SnmpError::Timeout) => Err(SnmpError::Timeout),
        Err(error) => {
            tracing::info!(ip = %session.ip(), oid = %mib::dotted(prefix), %error, "SNMP table unreadable");
            incomplete.push(format!("{}: {error}", mib::dotted(prefix)));
            Ok(Walk::default())
        }
    }
}

/// Splits `entry.column.index…` rows into index → column → value.
fn table(walk: &Walk) -> Table {
    let mut rows = Table::new();
    for row in &walk.rows {
        // The entry OID is everything the walk asked for; its length is not in `Walk`,
        // so take it from the row: prefixes used here all end at the entry arc.
        let Some(prefix_len) = entry_len(&row.oid) else {
            continue;
        };
        let (Some(column), Some(index)) = (row.oid.get(prefix_len), row.oid.get(prefix_len + 1..))
        else {
            continue;
        };
        rows.entry(index.to_vec())
            .or_default()
            .insert(*column, row.value.clone());
    }
    rows
}

/// Length of the entry OID a row belongs to (the tables read with [`table`]).
fn entry_len(oid: &[u32]) -> Option<usize> {
    [
        mib::HR_DEVICE_ENTRY,
        mib::HR_PRINTER_ENTRY,
        mib::PRT_GENERAL_ENTRY,
        mib::PRT_MARKER_ENTRY,
        mib::PRT_SUPPLIES_ENTRY,
        mib::PRT_COLORANT_ENTRY,
        mib::PRT_ALERT_ENTRY,
    ]
    .iter()
    .find(|entry| oid.starts_with(entry))
    .map(|entry| entry.len())
}
