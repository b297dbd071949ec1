//! The secure queue as an IPP Everywhere printer: the attributes driverless clients
//! read before they print. The queue accepts what any office printer takes; what
//! the real printer can do is settled at release.

use super::op;
use super::wire::{Attribute, Value, tag};

/// What varies per installation and per request (the host the client used).
#[derive(Debug, Clone)]
pub struct QueueDescription {
    /// `ipps://host:port/ipp/print`
    pub uri: String,
    /// `https://host:port/portal`
    pub more_info: String,
    pub admin_url: String,
    /// `https://host:port/static/icon.png`
    pub icon_url: String,
    pub uuid: String,
    pub name: String,
    pub location: String,
    pub up_since: i64,
    pub now: i64,
    pub queued_jobs: i32,
    /// `multiple-operation-time-out`: how long (seconds) the queue waits between a
    /// Create-Job and its documents; the job service's rule, not the protocol's.
    pub operation_time_out: i32,
}

/// What Apple raster (URF) the queue takes: version, copies, duplex, input slot,
/// media types, output bin, qualities, resolutions, colour spaces.
pub const URF_SUPPORTED: &[&str] = &[
    "V1.4",
    "CP1",
    "DM1",
    "IS1",
    "MT1-2-3-4-5",
    "OB10",
    "PQ3-4-5",
    "RS300-600",
    "SRGB24",
    "W8",
];

/// Formats accepted; `application/octet-stream` means "sniff it".
pub const DOCUMENT_FORMATS: &[&str] = &[
    "application/octet-stream",
    "application/pdf",
    "application/postscript",
    "image/jpeg",
    "image/png",
    "image/pwg-raster",
    "image/urf",
    "application/vnd.hp-PCL",
];

pub const OPERATIONS: &[u16] = &[
    op::PRINT_JOB,
    op::VALIDATE_JOB,
    op::CREATE_JOB,
    op::SEND_DOCUMENT,
    op::CANCEL_JOB,
    op::GET_JOB_ATTRIBUTES,
    op::GET_JOBS,
    op::GET_PRINTER_ATTRIBUTES,
    op::CANCEL_MY_JOBS,
    op::CLOSE_JOB,
    op::IDENTIFY_PRINTER,
];

/// (keyword, width, length) in hundredths of millimetres.
const MEDIA: &[(&str, i32, i32)] = &[
    ("iso_a4_210x297mm", 21000, 29700),
    ("na_letter_8.5x11in", 21590, 27940),
    ("na_legal_8.5x14in", 21590, 35560),
    ("iso_a5_148x210mm", 14800, 21000),
    ("iso_a3_297x420mm", 29700, 42000),
];
const MARGIN: i32 = 423;

fn keywords(values: &[&str]) -> Vec<Value> {
    values.iter().map(|v| Value::keyword(v)).collect()
}

fn media_col(width: i32, length: i32) -> Value {
    Value::Collection(vec![
        Attribute::new(
            "media-size",
            Value::Collection(vec![
                Attribute::new("x-dimension", Value::Integer(width)),
                Attribute::new("y-dimension", Value::Integer(length)),
            ]),
        ),
        Attribute::new("media-bottom-margin", Value::Integer(MARGIN)),
        Attribute::new("media-left-margin", Value::Integer(MARGIN)),
        Attribute::new("media-right-margin", Value::Integer(MARGIN)),
        Attribute::new("media-top-margin", Value::Integer(MARGIN)),
        Attribute::new("media-source", Value::keyword("auto")),
        Attribute::new("media-type", Value::keyword("stationery")),
    ])
}

fn date_time(ts: i64) -> Value {
    // RFC 2579 DateAndTime in UTC.
    let t =
        time::OffsetDateTime::from_unix_timestamp(ts).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let year = t.year() as u16;
    let bytes = vec![
        (year >> 8) as u8,
        year as u8,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        0,
        b'+',
        0,
        0,
    ];
    Value::Other(tag::DATE_TIME, bytes)
}

fn resolution(dpi: i32) -> Value {
    Value::Resolution {
        x: dpi,
        y: dpi,
        units: 3,
    }
}

/// Every printer attribute, in the order clients expect to read them.
pub fn all_attributes(q: &QueueDescription) -> Vec<Attribute> {
    let a = Attribute::new;
    let many = Attribute::many;
    let media_names: Vec<&str> = MEDIA.iter().map(|m| m.0).collect();
    let media_cols: Vec<Value> = MEDIA.iter().map(|m| media_col(m.1, m.2)).collect();
    vec![
        a(
            "charset-configured",
            Value::String(tag::CHARSET, "utf-8".into()),
        ),
        a(
            "charset-supported",
            Value::String(tag::CHARSET, "utf-8".into()),
        ),
        a("color-supported", Value::Boolean(true)),
        many(
            "compression-supported",
            keywords(&["none", "gzip", "deflate"]),
        ),
        a("copies-default", Value::Integer(1)),
        a(
            "copies-supported",
            Value::Range(1, crate::jobs::options::MAX_COPIES as i32),
        ),
        a(
            "document-format-default",
            Value::mime("application/octet-stream"),
        ),
        many(
            "document-format-supported",
            DOCUMENT_FORMATS.iter().map(|f| Value::mime(f)).collect(),
        ),
        a(
            "generated-natural-language-supported",
            Value::String(tag::LANGUAGE, "en".into()),
        ),
        many("ipp-features-supported", keywords(&["ipp-everywhere"])),
        many("ipp-versions-supported", keywords(&["1.1", "2.0"])),
        a("job-hold-until-default", Value::keyword("indefinite")),
        many(
            "job-hold-until-supported",
            keywords(&["indefinite", "no-hold"]),
        ),
        a("job-ids-supported", Value::Boolean(true)),
        a("job-k-octets-supported", Value::Range(0, i32::MAX)),
        many(
            "job-creation-attributes-supported",
            keywords(&[
                "copies",
                "job-hold-until",
                "job-name",
                "media",
                "media-col",
                "print-color-mode",
                "print-quality",
                "printer-resolution",
                "sides",
            ]),
        ),
        many("job-sheets-default", keywords(&["none"])),
        many("job-sheets-supported", keywords(&["none"])),
        a("media-col-default", media_col(MEDIA[0].1, MEDIA[0].2)),
        many("media-col-database", media_cols.clone()),
        many(
            "media-col-ready",
            vec![media_cols[0].clone(), media_cols[1].clone()],
        ),
        many(
            "media-col-supported",
            keywords(&[
                "media-bottom-margin",
                "media-left-margin",
                "media-right-margin",
                "media-size",
                "media-source",
                "media-top-margin",
                "media-type",
            ]),
        ),
        a("media-default", Value::keyword(MEDIA[0].0)),
        many("media-supported", keywords(&media_names)),
        many("media-ready", keywords(&media_names[..2])),
        many(
            "media-bottom-margin-supported",
            vec![Value::Integer(MARGIN)],
        ),
        many("media-left-margin-supported", vec![Value::Integer(MARGIN)]),
        many("media-right-margin-supported", vec![Value::Integer(MARGIN)]),
        many("media-top-margin-supported", vec![Value::Integer(MARGIN)]),
        many("media-source-supported", keywords(&["auto"])),
        many("media-type-supported", keywords(&["stationery"])),
        many(
            "multiple-document-handling-supported",
            keywords(&[
                "separate-documents-uncollated-copies",
                "separate-documents-collated-copies",
            ]),
        ),
        a("multiple-document-jobs-supported", Value::Boolean(true)),
        a(
            "multiple-operation-time-out",
            Value::Integer(q.operation_time_out),
        ),
        a(
            "natural-language-configured",
            Value::String(tag::LANGUAGE, "en".into()),
        ),
        many(
            "operations-supported",
            OPERATIONS
                .iter()
                .map(|o| Value::Enum(i32::from(*o)))
                .collect(),
        ),
        many(
            "orientation-requested-supported",
            vec![
                Value::Enum(3),
                Value::Enum(4),
                Value::Enum(5),
                Value::Enum(6),
            ],
        ),
        a("orientation-requested-default", Value::Enum(3)),
        a("output-bin-default", Value::keyword("face-down")),
        many("output-bin-supported", keywords(&["face-down"])),
        a("pages-per-minute", Value::Integer(30)),
        a("pages-per-minute-color", Value::Integer(30)),
        a("pdl-override-supported", Value::keyword("attempted")),
        a("print-color-mode-default", Value::keyword("auto")),
        many(
            "print-color-mode-supported",
            keywords(&["auto", "color", "monochrome"]),
        ),
        a("print-quality-default", Value::Enum(4)),
        many(
            "print-quality-supported",
            vec![Value::Enum(3), Value::Enum(4), Value::Enum(5)],
        ),
        a(
            "printer-config-change-time",
            // Configuration is read at start: it last changed at up-time 1.
            Value::Integer(1),
        ),
        a("printer-current-time", date_time(q.now)),
        a(
            "printer-device-id",
            Value::text("MFG:PrintPark;MDL:Secure Queue;CMD:PDF,PS,PWGRaster,URF,JPEG,PCL;"),
        ),
        many(
            "printer-geo-location",
            vec![Value::Other(tag::UNKNOWN, Vec::new())],
        ),
        a(
            "printer-info",
            Value::text(
                "PrintPark secure queue: documents wait until you release them at a printer",
            ),
        ),
        a("printer-is-accepting-jobs", Value::Boolean(true)),
        many("printer-kind", keywords(&["document", "photo", "envelope"])),
        a("printer-location", Value::text(&q.location)),
        a(
            "printer-make-and-model",
            Value::text("PrintPark Secure Queue"),
        ),
        a("printer-more-info", Value::uri(&q.more_info)),
        a("printer-name", Value::name(&q.name)),
        a("printer-organization", Value::text("")),
        a("printer-organizational-unit", Value::text("")),
        a("printer-resolution-default", resolution(600)),
        many(
            "printer-resolution-supported",
            vec![resolution(300), resolution(600)],
        ),
        a("printer-state", Value::Enum(3)),
        a("printer-state-change-time", Value::Integer(1)),
        a(
            "printer-state-message",
            Value::text("Ready: jobs are held until released"),
        ),
        many("printer-state-reasons", keywords(&["none"])),
        a(
            "printer-up-time",
            Value::Integer((q.now - q.up_since).max(1) as i32),
        ),
        many("printer-uri-supported", vec![Value::uri(&q.uri)]),
        a("printer-uuid", Value::uri(&format!("urn:uuid:{}", q.uuid))),
        a("printer-supply-info-uri", Value::uri(&q.admin_url)),
        many(
            "pwg-raster-document-resolution-supported",
            vec![resolution(300)],
        ),
        a("pwg-raster-document-sheet-back", Value::keyword("normal")),
        many(
            "pwg-raster-document-type-supported",
            keywords(&["black_1", "sgray_8", "srgb_8"]),
        ),
        a("queued-job-count", Value::Integer(q.queued_jobs)),
        a("sides-default", Value::keyword("one-sided")),
        many(
            "sides-supported",
            keywords(&["one-sided", "two-sided-long-edge", "two-sided-short-edge"]),
        ),
        many("urf-supported", keywords(URF_SUPPORTED)),
        many("uri-authentication-supported", keywords(&["basic"])),
        many("uri-security-supported", keywords(&["tls"])),
        many(
            "which-jobs-supported",
            keywords(&["completed", "not-completed", "all"]),
        ),
        many("identify-actions-default", keywords(&["display"])),
        many("identify-actions-supported", keywords(&["display"])),
        many(
            "media-size-supported",
            MEDIA
                .iter()
                .map(|m| Value::Collection(vec![Attribute::new("x-dimension", Value::Integer(m.1)), Attribute::new("y-dimension", Value::Integer(m.2))]))
                .collect(),
        ),
        a("multiple-operation-time-out-action", Value::keyword("abort-job")),
        many("overrides-supported", keywords(&["document-number", "pages"])),
        a("page-ranges-supported", Value::Boolean(true)),
        a("preferred-attributes-supported", Value::Boolean(false)),
        a("print-content-optimize-default", Value::keyword("auto")),
        many("print-content-optimize-supported", keywords(&["auto", "graphic", "photo", "text", "text-and-graphic"])),
        a("print-rendering-intent-default", Value::keyword("auto")),
        many("print-rendering-intent-supported", keywords(&["auto"])),
        a("printer-config-change-date-time", date_time(q.up_since)),
        a("printer-state-change-date-time", date_time(q.up_since)),
        many("printer-get-attributes-supported", keywords(&["document-format"])),
        many("printer-icons", vec![Value::uri(&q.icon_url)]),
        // A virtual queue has no supplies; clients still expect the attributes.
        many("printer-supply", vec![Value::Other(tag::OCTET_STRING, b"index=1;class=unknown;type=other;unit=percent;maxcapacity=100;level=-2;colorantname=unknown;".to_vec())]),
        many("printer-supply-description", vec![Value::text("No supplies: documents print on the printer you release them at")]),
        many("finishings-supported", vec![Value::Enum(3)]),
        a("finishings-default", Value::Enum(3)),
    ]
}

/// Names of the job template attributes (the `job-template` group keyword).
const JOB_TEMPLATE: &[&str] = &[
    "copies",
    "finishings",
    "job-hold-until",
    "job-sheets",
    "media",
    "media-col",
    "multiple-document-handling",
    "orientation-requested",
    "output-bin",
    "print-color-mode",
    "print-quality",
    "printer-resolution",
    "sides",
];

/// Filters by `requested-attributes` (RFC 8011 §4.2.5.1): names, or the groups
/// `all`, `printer-description`, `job-template`; `media-col-database` only when asked by name.
pub fn select(all: Vec<Attribute>, requested: Option<&[Value]>) -> Vec<Attribute> {
    let names: Vec<&str> = match requested {
        Some(values) => Value::strings(values),
        None => vec!["all"],
    };
    let everything = names.contains(&"all");
    let description = everything || names.contains(&"printer-description");
    let template = everything || names.contains(&"job-template");
    all.into_iter()
        .filter(|attr| {
            let is_template = JOB_TEMPLATE
                .iter()
                .any(|t| attr.name.starts_with(t) && attr.name != "media-col-database")
                && (attr.name.ends_with("-default")
                    || attr.name.ends_with("-supported")
                    || attr.name.ends_with("-ready"));
            if names.contains(&attr.name.as_str()) {
                return true;
            }
            if attr.name == "media-col-database" {
                return false;
            }
            if is_template { template } else { description }
        })
        .collect()
}
