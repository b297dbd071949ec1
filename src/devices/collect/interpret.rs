//! What the raw tables of a device mean: its MAC, model, firmware, supplies, alerts,
//! colour and overall status. Nothing here talks to the device.
//!
//! Heuristics, documented once here:
//! - **manufacturer**: the IANA enterprise number of sysObjectID
//!   ([`mib::manufacturer_of`]); else the first word of the model.
//! - **model**: hrDeviceDescr of the printer's hrDevice row (devices write the model
//!   there, e.g. "Lexmark MS621"); else, for a printer, sysDescr up to the first `;` or
//!   ` version `; a non-printer without hrDeviceDescr has no model ("").
//!   prtGeneralPrinterName is an administrator's name for the printer, not a model.
//! - **firmware**: entPhysicalFirmwareRev.1 when the device has it; else from sysDescr:
//!   the word after "version", or the text after the first `;` ("SS 1.2.3, …").
//! - **colour**: more than one colorant (prtMarkerColorantTable rows or
//!   prtMarkerProcessColorants), or a toner/ink supply named cyan, magenta or yellow.
//!   `None` when the device reports no marker, colorant or supply at all.
//! - **percent**: level × 100 / max capacity, rounded down, at most 100; a supply
//!   counted in percent with an unknown capacity gives its level.
//!
//! Status mapping ([`DeviceStatus`]), first match wins:
//! 1. `Error`: hrDeviceStatus down(5), an error bit that stops printing (noPaper,
//!    noToner, doorOpen, jammed, serviceRequested, inputTrayMissing, outputTrayMissing,
//!    markerSupplyMissing, outputFull), or a critical alert.
//! 2. `Offline`: the offline bit.
//! 3. `Warning`: hrDeviceStatus warning(3) or testing(4), any other error bit (lowPaper,
//!    lowToner, inputTrayEmpty, outputNearFull, overduePreventMaint), or a warning alert.
//! 4. `Ok`: hrDeviceStatus running(2), or hrPrinterStatus idle(3), printing(4), warmup(5).
//! 5. `Unknown`: nothing said (a non-printer, a device without Host Resources).

use super::{Alert, DeviceStatus, Supply, Table};
use crate::devices::mib;
use crate::devices::snmp::{SnmpValue, Walk};

pub(super) fn mac_of(walk: &Walk) -> Option<String> {
    walk.rows
        .iter()
        .filter_map(|row| row.value.as_bytes())
        .find(|bytes| bytes.len() == 6 && bytes.iter().any(|b| *b != 0))
        .map(|bytes| {
            bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        })
}

pub(super) fn model_from_sys_descr(sys_descr: &str) -> String {
    let head = sys_descr.split(';').next().unwrap_or_default();
    let head = match head.to_ascii_lowercase().find(" version ") {
        Some(at) => &head[..at],
        None => head,
    };
    head.trim().to_owned()
}

pub(super) fn firmware_from_sys_descr(sys_descr: &str) -> Option<String> {
    let lower = sys_descr.to_ascii_lowercase();
    if let Some(at) = lower.find("version ") {
        let rest = &sys_descr[at + "version ".len()..];
        let word = rest.split_whitespace().next()?.trim_end_matches([',', ';']);
        return Some(word.to_owned()).filter(|w| !w.is_empty());
    }
    let (_, rest) = sys_descr.split_once(';')?;
    Some(rest.trim().to_owned()).filter(|r| !r.is_empty())
}

pub(super) fn supplies_of(supplies: &Table, colorants: &Table) -> Vec<Supply> {
    supplies
        .iter()
        .map(|(index, row)| {
            let int = |column| row.get(&column).and_then(SnmpValue::as_int);
            let max_capacity = int(mib::PRT_SUPPLIES_COL_MAX).filter(|n| *n >= 0);
            let raw_level = int(mib::PRT_SUPPLIES_COL_LEVEL);
            let level = raw_level.filter(|n| *n >= 0);
            let unit_code = int(mib::PRT_SUPPLIES_COL_UNIT);
            let percent = match (level, max_capacity) {
                (Some(level), Some(max)) if max > 0 => Some(level.saturating_mul(100) / max),
                (Some(level), _) if unit_code == Some(mib::SUPPLY_UNIT_PERCENT) => Some(level),
                _ => None,
            }
            .map(|p| u8::try_from(p.clamp(0, 100)).unwrap_or(100));
            let colorant = int(mib::PRT_SUPPLIES_COL_COLORANT)
                .filter(|c| *c > 0)
                .and_then(|c| {
                    let key = [index.first().copied()?, u32::try_from(c).ok()?];
                    colorants
                        .get(key.as_slice())?
                        .get(&mib::PRT_COLORANT_COL_VALUE)?
                        .as_text()
                })
                .filter(|name| !name.is_empty());
            Supply {
                index: index.last().map_or(0, |i| i64::from(*i)),
                description: row
                    .get(&mib::PRT_SUPPLIES_COL_DESCR)
                    .and_then(SnmpValue::as_text)
                    .unwrap_or_default(),
                kind: int(mib::PRT_SUPPLIES_COL_TYPE)
                    .map(mib::supply_kind_name)
                    .unwrap_or_default(),
                unit: unit_code.map(mib::supply_unit_name).unwrap_or_default(),
                max_capacity,
                level,
                some_remaining: raw_level == Some(mib::SUPPLY_LEVEL_SOME_REMAINING),
                percent,
                colorant,
            }
        })
        .collect()
}

pub(super) fn alerts_of(alerts: &Table) -> Vec<Alert> {
    alerts
        .iter()
        .map(|(index, row)| {
            let int = |column| row.get(&column).and_then(SnmpValue::as_int);
            let code = int(mib::PRT_ALERT_COL_CODE).unwrap_or(2);
            Alert {
                index: index.last().map_or(0, |i| i64::from(*i)),
                severity: int(mib::PRT_ALERT_COL_SEVERITY)
                    .map(mib::alert_severity_name)
                    .unwrap_or_default(),
                group: int(mib::PRT_ALERT_COL_GROUP)
                    .map(mib::alert_group_name)
                    .unwrap_or_default(),
                code,
                code_name: mib::alert_code_name(code),
                description: row
                    .get(&mib::PRT_ALERT_COL_DESCR)
                    .and_then(SnmpValue::as_text)
                    .unwrap_or_default(),
            }
        })
        .collect()
}

pub(super) fn colour_of(markers: &Table, colorants: &Table, supplies: &[Supply]) -> Option<bool> {
    if markers.is_empty() && colorants.is_empty() && supplies.is_empty() {
        return None;
    }
    let process_colorants = markers
        .values()
        .filter_map(|row| row.get(&mib::PRT_MARKER_COL_PROCESS_COLORANTS)?.as_int())
        .max()
        .unwrap_or(0);
    let coloured_supply = supplies.iter().any(|s| {
        let name = format!(
            "{} {}",
            s.colorant.as_deref().unwrap_or_default(),
            s.description
        )
        .to_ascii_lowercase();
        mib::is_colorant_kind(&s.kind)
            && ["cyan", "magenta", "yellow"]
                .iter()
                .any(|c| name.contains(c))
    });
    Some(colorants.len() > 1 || process_colorants > 1 || coloured_supply)
}

pub(super) fn status_of(
    device: Option<i64>,
    printer: Option<i64>,
    errors: &[String],
    alerts: &[Alert],
) -> DeviceStatus {
    let has_error_bit = errors
        .iter()
        .any(|e| mib::ERROR_BITS_FATAL.contains(&e.as_str()));
    let critical = alerts.iter().any(|a| a.severity == "critical");
    if device == Some(5) || has_error_bit || critical {
        return DeviceStatus::Error;
    }
    if errors.iter().any(|e| e == "offline") {
        return DeviceStatus::Offline;
    }
    let warning_alert = alerts.iter().any(|a| a.severity.starts_with("warning"));
    if matches!(device, Some(3 | 4)) || !errors.is_empty() || warning_alert {
        return DeviceStatus::Warning;
    }
    if device == Some(2) || matches!(printer, Some(3..=5)) {
        return DeviceStatus::Ok;
    }
    DeviceStatus::Unknown
}
