//! The Apple configuration profile (`.mobileconfig`) of "Set up printing": an XML
//! property list with a `com.apple.airprint` payload naming the secure queue
//! (address, port, resource path, TLS forced) and, when the server's certificate is
//! its own self-signed one, a `com.apple.security.root` payload carrying it, so an
//! iPhone, iPad or Mac adds the printer and can trust it in one install.
//!
//! The profile's identifiers are stable for a server (derived by the caller from the
//! server's keyed hash), so installing it again replaces the one installed before.

use base64::Engine;

use super::{QUEUE_PATH, QueueAddress};

/// What goes into a profile.
pub struct Profile<'a> {
    pub address: &'a QueueAddress,
    pub queue_name: &'a str,
    /// The server's certificate (DER) when a device must be told to trust it.
    pub certificate: Option<&'a [u8]>,
    /// A stable UUID for the named payload.
    pub uuid_of: &'a dyn Fn(&str) -> String,
}

/// A UUID (version 4 layout) from the first 16 bytes of a hash.
pub fn uuid_from(hash: &[u8]) -> String {
    let mut b = [0u8; 16];
    for (to, from) in b.iter_mut().zip(hash) {
        *to = *from;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string().to_ascii_uppercase()
}

/// Text as it may stand in an XML element.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The profile, as an unsigned XML property list.
pub fn mobileconfig(p: &Profile<'_>) -> String {
    let host = xml(p.address.bare_host());
    let port = p.address.port;
    // AirPrint's ResourcePath is the DNS-SD `rp` value: no leading slash.
    let resource = xml(QUEUE_PATH.trim_start_matches('/'));
    let name = xml(p.queue_name);
    let identifier = format!("org.printpark.{}", xml(&host.replace([':', '[', ']'], "-")));
    let mut payloads = format!(
        "    <dict>\n\
         \x20     <key>AirPrint</key>\n\
         \x20     <array>\n\
         \x20       <dict>\n\
         \x20         <key>ForceTLS</key>\n\
         \x20         <true/>\n\
         \x20         <key>IPAddress</key>\n\
         \x20         <string>{host}</string>\n\
         \x20         <key>Port</key>\n\
         \x20         <integer>{port}</integer>\n\
         \x20         <key>ResourcePath</key>\n\
         \x20         <string>{resource}</string>\n\
         \x20       </dict>\n\
         \x20     </array>\n\
         \x20     <key>PayloadDisplayName</key>\n\
         \x20     <string>{name} (AirPrint)</string>\n\
         \x20     <key>PayloadIdentifier</key>\n\
         \x20     <string>{identifier}.airprint</string>\n\
         \x20     <key>PayloadType</key>\n\
         \x20     <string>com.apple.airprint</string>\n\
         \x20     <key>PayloadUUID</key>\n\
         \x20     <string>{}</string>\n\
         \x20     <key>PayloadVersion</key>\n\
         \x20     <integer>1</integer>\n\
         \x20   </dict>\n",
        (p.uuid_of)("airprint")
    );
    if let Some(der) = p.certificate {
        let data = base64::engine::general_purpose::STANDARD.encode(der);
        payloads.push_str(&format!(
            "    <dict>\n\
             \x20     <key>PayloadCertificateFileName</key>\n\
             \x20     <string>printpark.crt</string>\n\
             \x20     <key>PayloadContent</key>\n\
             \x20     <data>{data}</data>\n\
             \x20     <key>PayloadDescription</key>\n\
             \x20     <string>The certificate of the PrintPark server at {host}</string>\n\
             \x20     <key>PayloadDisplayName</key>\n\
             \x20     <string>PrintPark server certificate ({host})</string>\n\
             \x20     <key>PayloadIdentifier</key>\n\
             \x20     <string>{identifier}.certificate</string>\n\
             \x20     <key>PayloadType</key>\n\
             \x20     <string>com.apple.security.root</string>\n\
             \x20     <key>PayloadUUID</key>\n\
             \x20     <string>{}</string>\n\
             \x20     <key>PayloadVersion</key>\n\
             \x20     <integer>1</integer>\n\
             \x20   </dict>\n",
            (p.uuid_of)("certificate")
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n\
         <dict>\n\
         \x20 <key>PayloadContent</key>\n\
         \x20 <array>\n\
         {payloads}\
         \x20 </array>\n\
         \x20 <key>PayloadDescription</key>\n\
         \x20 <string>Adds the secure print queue {name} at {host}.</string>\n\
         \x20 <key>PayloadDisplayName</key>\n\
         \x20 <string>PrintPark: {name}</string>\n\
         \x20 <key>PayloadIdentifier</key>\n\
         \x20 <string>{identifier}</string>\n\
         \x20 <key>PayloadOrganization</key>\n\
         \x20 <string>PrintPark</string>\n\
         \x20 <key>PayloadRemovalDisallowed</key>\n\
         \x20 <false/>\n\
         \x20 <key>PayloadType</key>\n\
         \x20 <string>Configuration</string>\n\
         \x20 <key>PayloadUUID</key>\n\
         \x20 <string>{}</string>\n\
         \x20 <key>PayloadVersion</key>\n\
         \x20 <integer>1</integer>\n\
         </dict>\n\
         </plist>\n",
        (p.uuid_of)("profile")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(certificate: Option<&[u8]>) -> String {
        let address = QueueAddress {
            host: "print.example.org".into(),
            port: 8443,
        };
        mobileconfig(&Profile {
            address: &address,
            queue_name: "Office <secure>",
            certificate,
            uuid_of: &|what| uuid_from(what.as_bytes().repeat(16).as_slice()),
        })
    }

    #[test]
    fn the_profile_names_the_queue_and_carries_a_self_signed_certificate() {
        let with = profile(Some(b"DER bytes"));
        assert!(with.contains("<string>com.apple.airprint</string>"));
        assert!(
            with.contains("<key>IPAddress</key>\n          <string>print.example.org</string>")
        );
        assert!(with.contains("<key>Port</key>\n          <integer>8443</integer>"));
        assert!(with.contains("<key>ResourcePath</key>\n          <string>ipp/print</string>"));
        assert!(with.contains("<key>ForceTLS</key>\n          <true/>"));
        assert!(with.contains("<string>com.apple.security.root</string>"));
        assert!(with.contains("<data>REVSIGJ5dGVz</data>"));
        assert!(with.contains("Office &lt;secure&gt;"));
        let without = profile(None);
        assert!(!without.contains("com.apple.security.root"));
        // Distinct, stable UUIDs for the profile and each payload.
        let uuids: std::collections::HashSet<_> = with
            .split("<key>PayloadUUID</key>")
            .skip(1)
            .map(|rest| rest.split("</string>").next().unwrap_or(""))
            .collect();
        assert_eq!(uuids.len(), 3);
        assert_eq!(with, profile(Some(b"DER bytes")));
    }
}
