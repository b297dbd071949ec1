//! What the test slapd is made of (see `slapd.rs`): its `slapd.conf`, the first seed
//! for `slapadd`, the LDIF of a person, and the CA and server certificate.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::{Flavor, Group, Person, Slapd};

impl Slapd {
    pub(super) fn person_attributes(&self, p: &Person) -> String {
        let mut out = String::new();
        // An empty value leaves the attribute out (a person without e-mail, …).
        let mut put = |attribute: &str, value: &[u8]| {
            if !value.is_empty() {
                out.push_str(&ldif_line(attribute, value))
            }
        };
        let surname = p.name.rsplit(' ').next().unwrap_or(&p.name).to_owned();
        match self.flavor {
            Flavor::ActiveDirectory => {
                put("objectClass", b"user");
                put("cn", p.name.as_bytes());
                put("sn", surname.as_bytes());
                put("objectCategory", b"person");
                put("sAMAccountName", p.username.as_bytes());
                put("objectGUID", &p.guid);
                put("displayName", p.name.as_bytes());
                put("mail", p.email.as_bytes());
                put("department", p.department.as_bytes());
                put("employeeID", p.card.as_bytes());
                put("userAccountControl", b"512");
            }
            Flavor::OpenLdap => {
                put("objectClass", b"inetOrgPerson");
                put("uid", p.username.as_bytes());
                put("cn", p.name.as_bytes());
                put("sn", surname.as_bytes());
                put("mail", p.email.as_bytes());
                put("departmentNumber", p.department.as_bytes());
                put("employeeNumber", p.card.as_bytes());
            }
        }
        put("userPassword", p.password.as_bytes());
        out
    }

    /// The whole first seed for slapadd. slapadd runs no overlay, so `memberOf` is
    /// written here, in the form the memberof overlay writes it (slapd's "pretty" DN).
    pub(super) fn seed_ldif(&self, people: &[Person]) -> String {
        let base = self.base_dn();
        let (ou_people, ou_groups, ou_service) = match self.flavor {
            Flavor::ActiveDirectory => ("OU=People", "OU=Groups", "OU=Service"),
            Flavor::OpenLdap => ("ou=people", "ou=groups", "ou=services"),
        };
        let mut out = format!(
            "dn: {base}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n"
        );
        for ou in [ou_people, ou_groups, ou_service] {
            let name = &ou[3..];
            out.push_str(&format!(
                "dn: {ou},{base}\nobjectClass: organizationalUnit\nou: {name}\n\n"
            ));
        }
        let service = self.service_dn();
        match self.flavor {
            Flavor::ActiveDirectory => out.push_str(&format!(
                "dn: {service}\nobjectClass: user\ncn: printpark-svc\nsn: service\n\
                 objectCategory: person\nsAMAccountName: printpark-svc\n\
                 userAccountControl: 66048\nuserPassword: {}\n{}\n",
                Self::SERVICE_PASSWORD,
                ldif_line("objectGUID", uuid::Uuid::new_v4().as_bytes())
            )),
            Flavor::OpenLdap => out.push_str(&format!(
                "dn: {service}\nobjectClass: organizationalRole\n\
                 objectClass: simpleSecurityObject\ncn: printpark\nuserPassword: {}\n\n",
                Self::SERVICE_PASSWORD
            )),
        }
        for group in [Group::PrintUsers, Group::PrintAdmins] {
            out.push_str(&format!(
                "dn: {}\ncn: {}\n",
                self.group_dn(group),
                group.cn()
            ));
            match self.flavor {
                Flavor::ActiveDirectory => {
                    out.push_str("objectClass: group\nobjectCategory: group\n");
                    out.push_str(&ldif_line("objectGUID", uuid::Uuid::new_v4().as_bytes()));
                }
                // groupOfNames must have a member: the service account (not a person).
                // All `member` lines together: slapadd -q stores an attribute split by
                // another as two, and a later delete of a value then finds none.
                Flavor::OpenLdap => {
                    out.push_str(&format!("objectClass: groupOfNames\nmember: {service}\n"))
                }
            }
            for person in people.iter().filter(|p| p.groups.contains(&group)) {
                out.push_str(&ldif_line("member", self.person_dn(person).as_bytes()));
            }
            out.push('\n');
        }
        for person in people {
            out.push_str(&format!("dn: {}\n", self.person_dn(person)));
            out.push_str(&self.person_attributes(person));
            for group in &person.groups {
                let pretty = pretty_dn(&self.group_dn(*group));
                out.push_str(&ldif_line("memberOf", pretty.as_bytes()));
            }
            out.push('\n');
        }
        out
    }

    pub(super) fn config_text(&self) -> String {
        let d = self.dir.path().display();
        let schema =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ldap/ad-like.schema");
        let group_class = match self.flavor {
            Flavor::ActiveDirectory => "group",
            Flavor::OpenLdap => "groupOfNames",
        };
        let base = self.base_dn();
        format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             include {schema}\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             moduleload memberof\n\
             pidfile {d}/slapd.pid\n\
             TLSCACertificateFile {d}/ca.pem\n\
             TLSCertificateFile {d}/server.pem\n\
             TLSCertificateKeyFile {d}/server.key\n\
             # AD answers at most MaxPageSize (1000) entries to a search that does not page.\n\
             sizelimit size.soft=1000 size.hard=1000 size.pr=1000 size.prtotal=unlimited\n\
             database mdb\n\
             suffix \"{base}\"\n\
             rootdn \"{root}\"\n\
             rootpw {pw}\n\
             directory {d}/db\n\
             maxsize 1073741824\n\
             index objectClass eq\n\
             index uid,sAMAccountName,member eq\n\
             overlay memberof\n\
             memberof-group-oc {group_class}\n\
             memberof-member-ad member\n\
             memberof-memberof-ad memberOf\n\
             memberof-refint TRUE\n\
             # A person's password serves only to bind as them; people and the service\n\
             # account, once bound, read the rest; nobody reads anything anonymously.\n\
             access to attrs=userPassword by anonymous auth by self write by * none\n\
             access to * by users read by anonymous auth by * none\n",
            schema = schema.display(),
            root = self.root_dn(),
            pw = self.root_password,
        )
    }
}

/// slapd's "pretty" form of a DN: attribute types as the schema names them
/// (`cn`, `ou`, `dc`), values as written. What memberOf values look like.
pub(super) fn pretty_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| match rdn.split_once('=') {
            Some((kind, value)) => format!("{}={value}", kind.to_lowercase()),
            None => rdn.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One LDIF line; base64 (`attr:: …`) when the value is not a SAFE-STRING (RFC 2849).
pub(super) fn ldif_line(attribute: &str, value: &[u8]) -> String {
    let safe = value
        .iter()
        .all(|b| b.is_ascii() && *b != 0 && *b != b'\n' && *b != b'\r')
        && !matches!(value.first(), Some(b' ' | b':' | b'<'))
        && !value.ends_with(b" ");
    if safe {
        format!("{attribute}: {}\n", String::from_utf8_lossy(value))
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        format!("{attribute}:: {encoded}\n")
    }
}

/// A CA and a server certificate for 127.0.0.1 / localhost signed by it, written to
/// `dir` (ca.pem, server.pem, server.key); returns the CA file and the SHA-256 (hex)
/// of the server certificate's DER.
pub(super) fn make_certificates(dir: &Path) -> (PathBuf, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose, SanType,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "PrintPark test directory CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA");
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    server
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    server
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let key = KeyPair::generate().expect("server key");
    let cert = server.signed_by(&key, &ca).expect("server certificate");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("ca.pem");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("server.pem");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("server.key");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.der());
    (ca_file, hex::encode(digest.as_ref()))
}
