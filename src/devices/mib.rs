//! Object identifiers and code tables that device collection reads: SNMPv2-MIB, IF-MIB,
//! HOST-RESOURCES-MIB (RFC 2790), Printer-MIB (RFC 3805) with the IANA-PRINTER-MIB
//! codes, ENTITY-MIB, and the vendor meters we know. Plain data, no network.

/// sysDescr.0 (SNMPv2-MIB).
pub const SYS_DESCR: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 1, 0];
/// sysObjectID.0: `1.3.6.1.4.1.<enterprise>…` names the vendor.
pub const SYS_OBJECT_ID: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 2, 0];
/// sysContact.0.
pub const SYS_CONTACT: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 4, 0];
/// sysName.0.
pub const SYS_NAME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 5, 0];
/// sysLocation.0.
pub const SYS_LOCATION: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 6, 0];

/// ifPhysAddress column of ifTable (IF-MIB), indexed by ifIndex.
pub const IF_PHYS_ADDRESS: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 6];

/// hrDeviceEntry (HOST-RESOURCES-MIB), indexed by hrDeviceIndex.
pub const HR_DEVICE_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 3, 2, 1];
/// hrDeviceType column: an OID below `hrDeviceTypes`.
pub const HR_DEVICE_TYPE: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 3, 2, 1, 2];
/// Columns of hrDeviceEntry.
pub const HR_DEVICE_COL_TYPE: u32 = 2;
/// hrDeviceDescr column.
pub const HR_DEVICE_COL_DESCR: u32 = 3;
/// hrDeviceStatus column: 1 unknown, 2 running, 3 warning, 4 testing, 5 down.
pub const HR_DEVICE_COL_STATUS: u32 = 5;
/// hrDevicePrinter, the hrDeviceType of a printer.
pub const HR_DEVICE_PRINTER: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 3, 1, 5];

/// hrPrinterEntry, indexed by hrDeviceIndex.
pub const HR_PRINTER_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 3, 5, 1];
/// hrPrinterStatus column: 1 other, 2 unknown, 3 idle, 4 printing, 5 warmup.
pub const HR_PRINTER_COL_STATUS: u32 = 1;
/// hrPrinterDetectedErrorState column: a bit string, bit 0 = 0x80 of the first byte.
pub const HR_PRINTER_COL_ERRORS: u32 = 2;

/// prtGeneralEntry (Printer-MIB), indexed by hrDeviceIndex. Its presence marks a printer.
pub const PRT_GENERAL_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 43, 5, 1, 1];
/// prtGeneralPrinterName column (an administrator's name, not the model).
pub const PRT_GENERAL_COL_NAME: u32 = 16;
/// prtGeneralSerialNumber column.
pub const PRT_GENERAL_COL_SERIAL: u32 = 17;

/// prtMarkerEntry, indexed by hrDeviceIndex, prtMarkerIndex.
pub const PRT_MARKER_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 43, 10, 2, 1];
/// prtMarkerLifeCount column: pages (impressions) over the device's life.
pub const PRT_MARKER_COL_LIFE_COUNT: u32 = 4;
/// prtMarkerProcessColorants column: 1 for mono, 3 or 4 for colour.
pub const PRT_MARKER_COL_PROCESS_COLORANTS: u32 = 6;

/// prtMarkerSuppliesEntry, indexed by hrDeviceIndex, prtMarkerSuppliesIndex.
pub const PRT_SUPPLIES_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 43, 11, 1, 1];
/// prtMarkerSuppliesColorantIndex column (0: no colorant).
pub const PRT_SUPPLIES_COL_COLORANT: u32 = 3;
/// prtMarkerSuppliesType column ([`supply_kind_name`]).
pub const PRT_SUPPLIES_COL_TYPE: u32 = 5;
/// prtMarkerSuppliesDescription column.
pub const PRT_SUPPLIES_COL_DESCR: u32 = 6;
/// prtMarkerSuppliesSupplyUnit column ([`supply_unit_name`]).
pub const PRT_SUPPLIES_COL_UNIT: u32 = 7;
/// prtMarkerSuppliesMaxCapacity column: -1 other, -2 unknown.
pub const PRT_SUPPLIES_COL_MAX: u32 = 8;
/// prtMarkerSuppliesLevel column: -1 other, -2 unknown, -3 some remaining.
pub const PRT_SUPPLIES_COL_LEVEL: u32 = 9;
/// prtMarkerSuppliesLevel -3: the level is unknown but some supply remains.
pub const SUPPLY_LEVEL_SOME_REMAINING: i64 = -3;

/// prtMarkerColorantEntry, indexed by hrDeviceIndex, prtMarkerColorantIndex.
pub const PRT_COLORANT_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 43, 12, 1, 1];
/// prtMarkerColorantValue column: the colour's name ("cyan").
pub const PRT_COLORANT_COL_VALUE: u32 = 4;

/// prtConsoleDisplayBufferText column, indexed by hrDeviceIndex, line index.
pub const PRT_CONSOLE_DISPLAY_TEXT: &[u32] = &[1, 3, 6, 1, 2, 1, 43, 16, 5, 1, 2];

/// prtAlertEntry, indexed by hrDeviceIndex, prtAlertIndex.
pub const PRT_ALERT_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 43, 18, 1, 1];
/// prtAlertSeverityLevel column ([`alert_severity_name`]).
pub const PRT_ALERT_COL_SEVERITY: u32 = 2;
/// prtAlertGroup column ([`alert_group_name`]).
pub const PRT_ALERT_COL_GROUP: u32 = 4;
/// prtAlertCode column ([`alert_code_name`]).
pub const PRT_ALERT_COL_CODE: u32 = 7;
/// prtAlertDescription column.
pub const PRT_ALERT_COL_DESCR: u32 = 8;
/// prtAlertSeverityLevel `critical`.
pub const ALERT_SEVERITY_CRITICAL: i64 = 3;
/// prtAlertSeverityLevel `warning`.
pub const ALERT_SEVERITY_WARNING: i64 = 4;

/// prtInterpreterLangFamily column of prtInterpreterTable (Printer-MIB, RFC 3805 §2.2.13),
/// indexed by hrDeviceIndex, prtInterpreterIndex: the page description languages the
/// printer interprets (IANA-PRINTER-MIB PrtInterpreterLangFamilyTC, [`language_of`]).
pub const PRT_INTERPRETER_LANG_FAMILY: &[u32] = &[1, 3, 6, 1, 2, 1, 43, 15, 1, 1, 2];

/// The printer language of a PrtInterpreterLangFamilyTC code (IANA-PRINTER-MIB, as
/// RFC 3805 first published it): langPCL(3), langPS(6), langPCLXL(47), langPDF(54).
/// Others (langPJL(5), langAutomatic(37), vendor languages …) are not languages
/// PrintPark writes: `None`.
pub fn language_of(code: i64) -> Option<crate::convert::PrinterLanguage> {
    use crate::convert::PrinterLanguage;
    match code {
        3 => Some(PrinterLanguage::Pcl5),
        6 => Some(PrinterLanguage::PostScript),
        47 => Some(PrinterLanguage::PclXl),
        54 => Some(PrinterLanguage::Pdf),
        _ => None,
    }
}

/// entPhysicalFirmwareRev.1 (ENTITY-MIB): firmware, where the device has ENTITY-MIB.
pub const ENT_PHYSICAL_FIRMWARE_REV_1: &[u32] = &[1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 9, 1];
/// entPhysicalAssetID.1 (ENTITY-MIB): the asset number an administrator set.
pub const ENT_PHYSICAL_ASSET_ID_1: &[u32] = &[1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 15, 1];

/// HP LaserJet private MIB: total mono (black-only) impressions, Counter32.
///
/// The standard place for mono/colour meters is the PWG Imaging System Counter MIB
/// (PWG 5106.1), which few devices implement; HP devices and common monitoring
/// templates use these private OIDs instead. Other vendors: only the total is known.
pub const HP_TOTAL_MONO_PAGES: &[u32] = &[1, 3, 6, 1, 4, 1, 11, 2, 3, 9, 4, 2, 1, 4, 1, 2, 6, 0];
/// HP LaserJet private MIB: total colour impressions, Counter32 (mono + colour = life count).
pub const HP_TOTAL_COLOUR_PAGES: &[u32] = &[1, 3, 6, 1, 4, 1, 11, 2, 3, 9, 4, 2, 1, 4, 1, 2, 7, 0];

/// `1.3.6.1.4.1`: private enterprise numbers follow.
const ENTERPRISES: &[u32] = &[1, 3, 6, 1, 4, 1];

/// The vendor a sysObjectID belongs to, from its IANA private enterprise number.
pub fn manufacturer_of(sys_object_id: &[u32]) -> Option<&'static str> {
    let number = sys_object_id.strip_prefix(ENTERPRISES)?.first()?;
    Some(match number {
        2 => "IBM",
        9 => "Cisco",
        11 => "HP",
        236 => "Samsung",
        253 => "Xerox",
        367 => "Ricoh",
        641 => "Lexmark",
        674 => "Dell",
        1129 => "Toshiba",
        1248 => "Epson",
        1347 => "Kyocera",
        1602 => "Canon",
        2001 => "OKI",
        2385 => "Sharp",
        2435 => "Brother",
        18334 => "Konica Minolta",
        _ => return None,
    })
}

/// Names of the hrPrinterDetectedErrorState bits (RFC 2790), in bit order.
const ERROR_STATE_BITS: [&str; 16] = [
    "lowPaper",
    "noPaper",
    "lowToner",
    "noToner",
    "doorOpen",
    "jammed",
    "offline",
    "serviceRequested",
    "inputTrayMissing",
    "outputTrayMissing",
    "markerSupplyMissing",
    "outputNearFull",
    "outputFull",
    "inputTrayEmpty",
    "overduePreventMaint",
    "",
];

/// The names of the bits set in an hrPrinterDetectedErrorState value, in bit order.
pub fn error_state_names(bits: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for (byte_index, byte) in bits.iter().take(2).enumerate() {
        for bit in 0..8 {
            let name = ERROR_STATE_BITS[byte_index * 8 + bit];
            if byte & (0x80 >> bit) != 0 && !name.is_empty() {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// Error-state bits that stop printing (the device is in error, not just warning).
pub const ERROR_BITS_FATAL: &[&str] = &[
    "noPaper",
    "noToner",
    "doorOpen",
    "jammed",
    "serviceRequested",
    "inputTrayMissing",
    "outputTrayMissing",
    "markerSupplyMissing",
    "outputFull",
];

/// prtMarkerSuppliesType names (IANA-PRINTER-MIB PrtMarkerSuppliesTypeTC).
pub fn supply_kind_name(code: i64) -> String {
    const NAMES: [&str; 36] = [
        "other",
        "unknown",
        "toner",
        "wasteToner",
        "ink",
        "inkCartridge",
        "inkRibbon",
        "wasteInk",
        "opc",
        "developer",
        "fuserOil",
        "solidWax",
        "ribbonWax",
        "wasteWax",
        "fuser",
        "coronaWire",
        "fuserOilWick",
        "cleanerUnit",
        "fuserCleaningPad",
        "transferUnit",
        "tonerCartridge",
        "fuserOiler",
        "water",
        "wasteWater",
        "glueWaterAdditive",
        "wastePaper",
        "bindingSupply",
        "bandingSupply",
        "stitchingWire",
        "shrinkWrap",
        "paperWrap",
        "staples",
        "inserts",
        "covers",
        "matteToner",
        "matteInk",
    ];
    table_name(&NAMES, code)
}

/// Whether a supply kind puts colour on paper (toner or ink, not drums or waste).
pub fn is_colorant_kind(kind: &str) -> bool {
    matches!(
        kind,
        "toner" | "tonerCartridge" | "ink" | "inkCartridge" | "inkRibbon" | "solidWax"
    )
}

/// prtMarkerSuppliesSupplyUnit names (PrtMarkerSuppliesSupplyUnitTC).
pub fn supply_unit_name(code: i64) -> String {
    let name = match code {
        1 => "other",
        2 => "unknown",
        3 => "tenThousandthsOfInches",
        4 => "micrometers",
        7 => "impressions",
        8 => "sheets",
        11 => "hours",
        12 => "thousandthsOfOunces",
        13 => "tenthsOfGrams",
        14 => "hundrethsOfFluidOunces",
        15 => "tenthsOfMilliliters",
        16 => "feet",
        17 => "meters",
        18 => "items",
        19 => "percent",
        _ => return code.to_string(),
    };
    name.to_owned()
}

/// prtMarkerSuppliesSupplyUnit `percent`.
pub const SUPPLY_UNIT_PERCENT: i64 = 19;

/// prtAlertSeverityLevel names (PrtAlertSeverityLevelTC).
pub fn alert_severity_name(code: i64) -> String {
    let name = match code {
        1 => "other",
        3 => "critical",
        4 => "warning",
        5 => "warningBinaryChangeEvent",
        _ => return code.to_string(),
    };
    name.to_owned()
}

/// prtAlertGroup names (PrtAlertGroupTC).
pub fn alert_group_name(code: i64) -> String {
    let name = match code {
        1 => "other",
        3 => "hostResourcesMIBStorageTable",
        4 => "hostResourcesMIBDeviceTable",
        5 => "generalPrinter",
        6 => "cover",
        7 => "localization",
        8 => "input",
        9 => "output",
        10 => "marker",
        11 => "markerSupplies",
        12 => "markerColorant",
        13 => "mediaPath",
        14 => "channel",
        15 => "interpreter",
        16 => "consoleDisplayBuffer",
        17 => "consoleLights",
        18 => "alert",
        30 => "finDevice",
        31 => "finSupply",
        32 => "finSupplyMediaInput",
        33 => "finAttribute",
        _ => return code.to_string(),
    };
    name.to_owned()
}

/// prtAlertCode names (IANA-PRINTER-MIB PrtAlertCodeTC); unknown codes as their number.
pub fn alert_code_name(code: i64) -> String {
    const GENERAL: [&str; 37] = [
        "other",
        "unknown",
        "coverOpen",
        "coverClosed",
        "interlockOpen",
        "interlockClosed",
        "configurationChange",
        "jam",
        "subunitMissing",
        "subunitLifeAlmostOver",
        "subunitLifeOver",
        "subunitAlmostEmpty",
        "subunitEmpty",
        "subunitAlmostFull",
        "subunitFull",
        "subunitNearLimit",
        "subunitAtLimit",
        "subunitOpened",
        "subunitClosed",
        "subunitTurnedOn",
        "subunitTurnedOff",
        "subunitOffline",
        "subunitPowerSaver",
        "subunitWarmingUp",
        "subunitAdded",
        "subunitRemoved",
        "subunitResourceAdded",
        "subunitResourceRemoved",
        "subunitRecoverableFailure",
        "subunitUnrecoverableFailure",
        "subunitUnrecoverableStorageError",
        "subunitMotorFailure",
        "subunitMemoryExhausted",
        "subunitUnderTemperature",
        "subunitOverTemperature",
        "subunitTimingFailure",
        "subunitThermistorFailure",
    ];
    let name = match code {
        1..=37 => return table_name(&GENERAL, code),
        501 => "doorOpen",
        502 => "doorClosed",
        503 => "powerUp",
        504 => "powerDown",
        505 => "printerNMSReset",
        506 => "printerManualReset",
        507 => "printerReadyToPrint",
        801 => "inputMediaTrayMissing",
        802 => "inputMediaSizeChange",
        803 => "inputMediaWeightChange",
        804 => "inputMediaTypeChange",
        805 => "inputMediaColorChange",
        806 => "inputMediaFormPartsChange",
        807 => "inputMediaSupplyLow",
        808 => "inputMediaSupplyEmpty",
        809 => "inputManualInputRequest",
        810 => "inputTrayPositionFailure",
        811 => "inputTrayElevationFailure",
        812 => "inputCannotFeedSizeSelected",
        901 => "outputMediaTrayMissing",
        902 => "outputMediaTrayAlmostFull",
        903 => "outputMediaTrayFull",
        904 => "outputMailboxSelectFailure",
        1001 => "markerFuserUnderTemperature",
        1002 => "markerFuserOverTemperature",
        1003 => "markerFuserTimingFailure",
        1004 => "markerFuserThermistorFailure",
        1005 => "markerAdjustingPrintQuality",
        1101 => "markerTonerEmpty",
        1102 => "markerInkEmpty",
        1103 => "markerPrintRibbonEmpty",
        1104 => "markerTonerAlmostEmpty",
        1105 => "markerInkAlmostEmpty",
        1106 => "markerPrintRibbonAlmostEmpty",
        1107 => "markerWasteTonerReceptacleAlmostFull",
        1108 => "markerWasteInkReceptacleAlmostFull",
        1109 => "markerWasteTonerReceptacleFull",
        1110 => "markerWasteInkReceptacleFull",
        1111 => "markerOpcLifeAlmostOver",
        1112 => "markerOpcLifeOver",
        1113 => "markerDeveloperAlmostEmpty",
        1114 => "markerDeveloperEmpty",
        1115 => "markerTonerCartridgeMissing",
        1301 => "mediaPathMediaTrayMissing",
        1302 => "mediaPathMediaTrayAlmostFull",
        1303 => "mediaPathMediaTrayFull",
        1304 => "mediaPathCannotDuplexMediaSelected",
        1501 => "interpreterMemoryIncrease",
        1502 => "interpreterMemoryDecrease",
        1503 => "interpreterCartridgeAdded",
        1504 => "interpreterCartridgeDeleted",
        1505 => "interpreterResourceAdded",
        1506 => "interpreterResourceDeleted",
        1507 => "interpreterResourceUnavailable",
        1509 => "interpreterComplexPageEncountered",
        1801 => "alertRemovalOfBinaryChangeEntry",
        _ => return code.to_string(),
    };
    name.to_owned()
}

/// The name at 1-based `code` in `names`, or the number itself.
fn table_name(names: &[&str], code: i64) -> String {
    usize::try_from(code)
        .ok()
        .and_then(|c| c.checked_sub(1))
        .and_then(|i| names.get(i))
        .map_or_else(|| code.to_string(), |name| (*name).to_owned())
}

/// Dotted text of an OID, `1.3.6.1…`.
pub fn dotted(oid: &[u32]) -> String {
    oid.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}
