//! The IPP protocol as a library: the wire codec (`wire`), the reply builders and
//! attribute accessors every server front answers with (`reply`), the printer
//! description of an IPP Everywhere queue (`printer`), and the client PrintPark
//! delivers with (`client`). The server fronts that turn requests into service calls
//! live in `web::ipp`; nothing here knows jobs, people or releases.
//!
//! Not `ippper`/`ipp` on the server side: `ippper` pins `ipp` 6 and `http` 1.x request
//! types (actix-web uses 0.2) and dispatches only its 16 operations; the `ipp` crate's
//! parser needs a `Send` reader (actix's payload is not), sets no limit on attribute
//! count, and drops all but the first value of a multi-valued collection member. Our
//! codec reads attributes with hard limits and leaves the document on the stream.

pub mod client;
pub mod names;
pub mod printer;
pub mod reply;
pub mod wire;

/// Operation codes (RFC 8011 §5.4.15, PWG 5100.x).
pub mod op {
    pub const PRINT_JOB: u16 = 0x0002;
    pub const PRINT_URI: u16 = 0x0003;
    pub const VALIDATE_JOB: u16 = 0x0004;
    pub const CREATE_JOB: u16 = 0x0005;
    pub const SEND_DOCUMENT: u16 = 0x0006;
    pub const SEND_URI: u16 = 0x0007;
    pub const CANCEL_JOB: u16 = 0x0008;
    pub const GET_JOB_ATTRIBUTES: u16 = 0x0009;
    pub const GET_JOBS: u16 = 0x000A;
    pub const GET_PRINTER_ATTRIBUTES: u16 = 0x000B;
    pub const HOLD_JOB: u16 = 0x000C;
    pub const RELEASE_JOB: u16 = 0x000D;
    pub const CLOSE_JOB: u16 = 0x003B;
    pub const CANCEL_MY_JOBS: u16 = 0x0039;
    pub const IDENTIFY_PRINTER: u16 = 0x003C;
    // Event subscriptions, ippget (RFC 3995, RFC 3996).
    pub const CREATE_PRINTER_SUBSCRIPTIONS: u16 = 0x0016;
    pub const CANCEL_SUBSCRIPTION: u16 = 0x001B;
    pub const GET_NOTIFICATIONS: u16 = 0x001C;
    // IPP Shared Infrastructure Extensions (PWG 5100.18).
    pub const ACKNOWLEDGE_DOCUMENT: u16 = 0x003F;
    pub const ACKNOWLEDGE_JOB: u16 = 0x0041;
    pub const FETCH_DOCUMENT: u16 = 0x0042;
    pub const FETCH_JOB: u16 = 0x0043;
    pub const UPDATE_ACTIVE_JOBS: u16 = 0x0045;
    pub const DEREGISTER_OUTPUT_DEVICE: u16 = 0x0046;
    pub const UPDATE_DOCUMENT_STATUS: u16 = 0x0047;
    pub const UPDATE_JOB_STATUS: u16 = 0x0048;
    pub const UPDATE_OUTPUT_DEVICE_ATTRIBUTES: u16 = 0x0049;
    // IPP System Service (PWG 5100.22).
    pub const GET_SYSTEM_ATTRIBUTES: u16 = 0x005B;
    pub const REGISTER_OUTPUT_DEVICE: u16 = 0x005F;
}

/// Status codes (RFC 8011 §4.1.6).
pub mod status {
    pub const OK: u16 = 0x0000;
    pub const OK_IGNORED_OR_SUBSTITUTED: u16 = 0x0001;
    pub const BAD_REQUEST: u16 = 0x0400;
    pub const FORBIDDEN: u16 = 0x0401;
    pub const NOT_AUTHENTICATED: u16 = 0x0402;
    pub const NOT_AUTHORIZED: u16 = 0x0403;
    pub const NOT_POSSIBLE: u16 = 0x0404;
    pub const NOT_FOUND: u16 = 0x0406;
    pub const GONE: u16 = 0x0407;
    pub const REQUEST_ENTITY_TOO_LARGE: u16 = 0x0408;
    pub const REQUEST_VALUE_TOO_LONG: u16 = 0x0409;
    pub const DOCUMENT_FORMAT_NOT_SUPPORTED: u16 = 0x040A;
    pub const ATTRIBUTES_OR_VALUES_NOT_SUPPORTED: u16 = 0x040B;
    pub const CHARSET_NOT_SUPPORTED: u16 = 0x040D;
    pub const COMPRESSION_NOT_SUPPORTED: u16 = 0x040F;
    pub const COMPRESSION_ERROR: u16 = 0x0410;
    pub const DOCUMENT_FORMAT_ERROR: u16 = 0x0411;
    pub const OPERATION_NOT_SUPPORTED: u16 = 0x0501;
    pub const INTERNAL_ERROR: u16 = 0x0500;
    pub const SERVICE_UNAVAILABLE: u16 = 0x0502;
    pub const VERSION_NOT_SUPPORTED: u16 = 0x0503;
    pub const TOO_MANY_JOBS: u16 = 0x050B;
    pub const NOT_FETCHABLE: u16 = 0x0420;
}
