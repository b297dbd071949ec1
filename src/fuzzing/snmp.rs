//! The SNMP fuzz target: answers made of the fuzz input, read into a device record
//! by `devices::collect` exactly as a scan reads a real printer's answers.

use crate::devices::collect::{self, Source};
use crate::devices::snmp::{SnmpError, SnmpValue, VarBinding, Walk};

use super::block_on;

/// Object prefixes a fuzzed device answers under: what `collect` reads.
const PREFIXES: &[&[u32]] = &[
    crate::devices::mib::SYS_DESCR,
    crate::devices::mib::SYS_OBJECT_ID,
    crate::devices::mib::SYS_CONTACT,
    crate::devices::mib::SYS_NAME,
    crate::devices::mib::SYS_LOCATION,
    crate::devices::mib::IF_PHYS_ADDRESS,
    crate::devices::mib::HR_DEVICE_ENTRY,
    crate::devices::mib::HR_PRINTER_ENTRY,
    crate::devices::mib::PRT_GENERAL_ENTRY,
    crate::devices::mib::PRT_MARKER_ENTRY,
    crate::devices::mib::PRT_SUPPLIES_ENTRY,
    crate::devices::mib::PRT_COLORANT_ENTRY,
    crate::devices::mib::PRT_CONSOLE_DISPLAY_TEXT,
    crate::devices::mib::PRT_ALERT_ENTRY,
    crate::devices::mib::ENT_PHYSICAL_FIRMWARE_REV_1,
    crate::devices::mib::ENT_PHYSICAL_ASSET_ID_1,
    crate::devices::mib::HP_TOTAL_MONO_PAGES,
    crate::devices::mib::HP_TOTAL_COLOUR_PAGES,
    crate::devices::mib::HR_DEVICE_PRINTER,
];

/// A device made of the fuzz input: its objects, and which of its walks fail.
struct FakeDevice {
    objects: Vec<VarBinding>,
    failing: u32,
}

impl Source for FakeDevice {
    fn ip(&self) -> std::net::IpAddr {
        std::net::IpAddr::from([192, 0, 2, 1])
    }

    async fn get(&self, oids: &[&[u32]]) -> Result<Vec<Option<SnmpValue>>, SnmpError> {
        Ok(oids
            .iter()
            .map(|oid| {
                self.objects
                    .iter()
                    .find(|o| o.oid == *oid)
                    .map(|o| o.value.clone())
            })
            .collect())
    }

    async fn walk(&self, prefix: &[u32]) -> Result<Walk, SnmpError> {
        let which = PREFIXES
            .iter()
            .position(|p| *p == prefix)
            .unwrap_or(PREFIXES.len());
        if self.failing & (1 << (which % 32)) != 0 {
            // A device that goes silent midway fails the collection; any other error
            // leaves that table empty.
            return Err(if which % 3 == 0 {
                SnmpError::Timeout
            } else {
                SnmpError::Walk("the agent broke the ordering rules".into())
            });
        }
        Ok(Walk {
            rows: self
                .objects
                .iter()
                .filter(|o| o.oid.starts_with(prefix))
                .cloned()
                .collect(),
            cut: (self.failing & (1 << ((which + 16) % 32)) != 0).then(|| "row limit".into()),
        })
    }
}

/// Takes bytes off the front of the input.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

fn value_of(kind: u8, raw: &[u8]) -> SnmpValue {
    let number = raw
        .iter()
        .take(8)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    match kind % 6 {
        0 => SnmpValue::Integer(number as i64),
        1 => SnmpValue::Bytes(raw.to_vec()),
        2 => SnmpValue::Oid(raw.iter().map(|b| u32::from(*b)).collect()),
        3 => SnmpValue::Unsigned(number),
        4 => SnmpValue::IpAddress([0, 0, 0, 0]),
        _ => SnmpValue::Other,
    }
}

/// A device's answers into a device record, as discovery and monitoring do. The first
/// byte chooses how the rest is read: a raw SNMP message (BER, any version), decoded
/// by the SNMP crate whose variable bindings become the device's objects, or a list of
/// objects built from the bytes (a prefix `collect` reads, index arcs, a value).
pub fn snmp_record(data: &[u8]) {
    if let Some(report) = snmp_report(data) {
        // What the record is used for next: it must read back as text.
        let _ = format!("{report:?}");
    }
}

pub(super) fn snmp_report(data: &[u8]) -> Option<collect::DeviceReport> {
    let mut input = Bytes(data);
    let mode = input.u8()?;
    let failing = u32::from(input.u8().unwrap_or(0)) << (mode % 16);
    let mut objects = Vec::new();
    if mode & 1 == 0 {
        let raw = bytes::Bytes::copy_from_slice(input.0);
        let decoded =
            async_snmp::message::Message::decode(raw, async_snmp::DecodeConfig::default()).ok()?;
        let pdu = decoded.value.into_pdu()?;
        for binding in pdu.varbinds() {
            if let Some(value) = crate::devices::snmp::SnmpValue::from_crate(&binding.value) {
                objects.push(VarBinding {
                    oid: binding.oid.arcs().to_vec(),
                    value,
                });
            }
        }
    } else {
        while let Some(head) = input.u8() {
            let prefix = PREFIXES[usize::from(head & 0x1f) % PREFIXES.len()];
            let arcs = usize::from(head >> 5);
            let mut oid = prefix.to_vec();
            oid.extend(input.take(arcs).iter().map(|b| u32::from(*b)));
            let kind = input.u8().unwrap_or(0);
            let len = usize::from(input.u8().unwrap_or(0) % 32);
            let value = value_of(kind, input.take(len));
            objects.push(VarBinding { oid, value });
        }
    }
    let device = FakeDevice { objects, failing };
    block_on(collect::collect_from(&device))?.ok()
}
