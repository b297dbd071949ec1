//! A real OpenLDAP `slapd` (Debian `slapd`, `ldap-utils`) on 127.0.0.1, started by a
//! test and killed when dropped: its own config (`slapd.conf` written at start), its
//! own database, StartTLS on an `ldap://` port and TLS on an `ldaps://` port, with a CA
//! and a server certificate made here (rcgen). Seeded with people and the groups
//! "PrintUsers" and "PrintAdmins", either Active-Directory-like (the small schema in
//! `tests/fixtures/ldap/ad-like.schema`: `sAMAccountName`, `objectGUID`, `department`,
//! `employeeID`, `userAccountControl`; `memberOf` from the memberof overlay) or
//! OpenLDAP-like (`inetOrgPerson`, `groupOfNames`, `entryUUID`).
//!
//! Changes made while it runs go through `ldapmodify` as the directory's root, so the
//! memberof overlay keeps `memberOf` right; the first seed goes through `slapadd`
//! before start (10,000 people in seconds), which writes `memberOf` itself in the form
//! the overlay would. Like AD (MaxPageSize 1000) a search returns at most 1000 entries
//! unless it pages (RFC 2696).
//!
//! Self-contained (std, rcgen, rustix, base64 and printpark's settings types) so the
//! benches include it too (`#[path = "../tests/support/slapd.rs"]`). What it is made of
//! (config, LDIF, certificates) is in `slapd_seed.rs`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use printpark::config::{LdapPreset, LdapSecurity, LdapSettings, Secret};

#[path = "slapd_seed.rs"]
mod seed;
use seed::{ldif_line, make_certificates};

/// Which kind of directory the slapd imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// AD-like: `user`/`group` classes, `sAMAccountName`, binary `objectGUID`.
    ActiveDirectory,
    /// `inetOrgPerson` under `uid=…`, `groupOfNames`, `entryUUID`.
    OpenLdap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    PrintUsers,
    PrintAdmins,
}

impl Group {
    pub fn cn(self) -> &'static str {
        match self {
            Group::PrintUsers => "PrintUsers",
            Group::PrintAdmins => "PrintAdmins",
        }
    }
}

/// A person as the directory holds them.
#[derive(Debug, Clone)]
pub struct Person {
    /// `sAMAccountName` / `uid`, as written in the directory (may have capitals).
    pub username: String,
    /// `displayName` (AD) / `cn` (OpenLDAP); also the AD entry's CN.
    pub name: String,
    pub email: String,
    pub department: String,
    /// `employeeID` (AD) / `employeeNumber` (OpenLDAP): the badge number.
    pub card: String,
    pub password: String,
    pub groups: Vec<Group>,
    /// AD's `objectGUID` (16 raw bytes); OpenLDAP people get slapd's `entryUUID`.
    pub guid: [u8; 16],
}

impl Person {
    /// `username` with a name, address, department, a random 10-digit card number,
    /// the password "`username` directory password", in `groups`.
    pub fn new(username: &str, groups: &[Group]) -> Self {
        let id = uuid::Uuid::new_v4();
        let card = format!("{:010}", id.as_u128() % 10_000_000_000);
        Person {
            username: username.into(),
            name: format!("{username} Tester"),
            email: format!("{}@example.org", username.to_lowercase()),
            department: "Finance".into(),
            card,
            password: format!("{username} directory password"),
            groups: groups.to_vec(),
            guid: *id.as_bytes(),
        }
    }

    /// `n` people `prefix00000`, `prefix00001`, … in PrintUsers.
    pub fn many(prefix: &str, n: usize) -> Vec<Person> {
        (0..n)
            .map(|i| Person::new(&format!("{prefix}{i:05}"), &[Group::PrintUsers]))
            .collect()
    }
}

/// The running slapd. Dropping it kills it.
pub struct Slapd {
    pub flavor: Flavor,
    /// `ldap://127.0.0.1:PORT` (StartTLS offered, also plain).
    pub ldap_url: String,
    /// `ldaps://127.0.0.1:PORT`.
    pub ldaps_url: String,
    /// The CA certificate (PEM) that signed the server's: for `settings.ldap.ca_file`.
    pub ca_file: PathBuf,
    /// SHA-256 of the server certificate (DER), lower-case hex: for `pinned_sha256`.
    pub server_cert_sha256: String,
    dir: tempfile::TempDir,
    root_password: String,
    child: Option<Child>,
}

impl Slapd {
    pub const SERVICE_PASSWORD: &'static str = "service account password";

    /// A slapd with the service account and both groups, and nobody else.
    pub fn start(flavor: Flavor) -> Self {
        Self::start_with(flavor, &[])
    }

    /// A slapd seeded (slapadd, before start) with `people`.
    pub fn start_with(flavor: Flavor, people: &[Person]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (ca_file, server_cert_sha256) = make_certificates(dir.path());
        std::fs::create_dir(dir.path().join("db")).expect("db dir");
        let root_password = uuid::Uuid::new_v4().simple().to_string();
        let mut slapd = Slapd {
            flavor,
            ldap_url: format!("ldap://127.0.0.1:{}", free_port()),
            ldaps_url: format!("ldaps://127.0.0.1:{}", free_port()),
            ca_file,
            server_cert_sha256,
            dir,
            root_password,
            child: None,
        };
        std::fs::write(slapd.conf(), slapd.config_text()).expect("slapd.conf");
        let ldif = slapd.dir.path().join("seed.ldif");
        std::fs::write(&ldif, slapd.seed_ldif(people)).expect("seed.ldif");
        let out = Command::new(sbin("slapadd"))
            .args(["-q", "-f"])
            .arg(slapd.conf())
            .arg("-l")
            .arg(&ldif)
            .output()
            .expect("slapadd (Debian slapd, installed by tests/run.sh)");
        assert!(out.status.success(), "slapadd: {}", text(&out));
        slapd.start_again();
        slapd
    }

    pub fn base_dn(&self) -> &'static str {
        match self.flavor {
            Flavor::ActiveDirectory => "DC=example,DC=org",
            Flavor::OpenLdap => "dc=example,dc=net",
        }
    }

    /// The account PrintPark binds as to search.
    pub fn service_dn(&self) -> String {
        match self.flavor {
            Flavor::ActiveDirectory => format!("CN=printpark-svc,OU=Service,{}", self.base_dn()),
            Flavor::OpenLdap => format!("cn=printpark,ou=services,{}", self.base_dn()),
        }
    }

    /// A group's DN as an admin would copy it into the settings.
    pub fn group_dn(&self, group: Group) -> String {
        match self.flavor {
            Flavor::ActiveDirectory => format!("CN={},OU=Groups,{}", group.cn(), self.base_dn()),
            Flavor::OpenLdap => format!("cn={},ou=groups,{}", group.cn(), self.base_dn()),
        }
    }

    pub fn person_dn(&self, person: &Person) -> String {
        match self.flavor {
            Flavor::ActiveDirectory => format!("CN={},OU=People,{}", person.name, self.base_dn()),
            Flavor::OpenLdap => format!("uid={},ou=people,{}", person.username, self.base_dn()),
        }
    }

    /// `[ldap]` settings for this directory: the preset of its flavor, the CA file,
    /// the service account, members of PrintUsers may print, of PrintAdmins administer.
    pub fn settings(&self, security: LdapSecurity) -> LdapSettings {
        LdapSettings {
            url: Some(match security {
                LdapSecurity::Ldaps => self.ldaps_url.clone(),
                LdapSecurity::StartTls | LdapSecurity::InsecurePlain => self.ldap_url.clone(),
            }),
            security,
            ca_file: Some(self.ca_file.clone()),
            bind_dn: Some(self.service_dn()),
            bind_password: Some(Secret::new(Self::SERVICE_PASSWORD)),
            base_dn: self.base_dn().into(),
            preset: match self.flavor {
                Flavor::ActiveDirectory => LdapPreset::ActiveDirectory,
                Flavor::OpenLdap => LdapPreset::OpenLdap,
            },
            user_groups: vec![
                self.group_dn(Group::PrintUsers),
                self.group_dn(Group::PrintAdmins),
            ],
            admin_groups: vec![self.group_dn(Group::PrintAdmins)],
            sync_interval_minutes: 0,
            timeout_secs: 3,
            ..Default::default()
        }
    }

    /// Adds a person (and their group memberships) while slapd runs.
    pub fn add(&self, person: &Person) {
        let mut ldif = format!("dn: {}\nchangetype: add\n", self.person_dn(person));
        ldif.push_str(&self.person_attributes(person));
        ldif.push('\n');
        for group in &person.groups {
            ldif.push_str(&self.membership_change(person, *group, "add"));
        }
        self.modify_ldif(&ldif);
    }

    /// Replaces one attribute of a person (e.g. "department").
    pub fn set(&self, person: &Person, attribute: &str, value: &str) {
        let ldif = format!(
            "dn: {}\nchangetype: modify\nreplace: {attribute}\n{}-\n",
            self.person_dn(person),
            ldif_line(attribute, value.as_bytes())
        );
        self.modify_ldif(&ldif);
    }

    pub fn add_to_group(&self, person: &Person, group: Group) {
        self.modify_ldif(&self.membership_change(person, group, "add"));
    }

    pub fn remove_from_group(&self, person: &Person, group: Group) {
        self.modify_ldif(&self.membership_change(person, group, "delete"));
    }

    /// Deletes the entry (the overlay takes it out of its groups too).
    pub fn delete(&self, person: &Person) {
        let ldif = format!("dn: {}\nchangetype: delete\n", self.person_dn(person));
        self.modify_ldif(&ldif);
    }

    /// `ldapsearch` over StartTLS as the service account, paging by 500 (`-E pr`):
    /// the LDIF it prints (comments left out). An independent view of the directory.
    pub fn search(&self, filter: &str, attributes: &[&str]) -> String {
        let out = self
            .tool("ldapsearch")
            .args([
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-ZZ",
                "-x",
                "-E",
                "pr=500/noprompt",
            ])
            .args(["-H", &self.ldap_url, "-D", &self.service_dn()])
            .args(["-w", Self::SERVICE_PASSWORD, "-b", self.base_dn(), filter])
            .args(attributes)
            .output()
            .expect("ldapsearch (Debian ldap-utils, installed by tests/run.sh)");
        assert!(out.status.success(), "ldapsearch {filter}: {}", text(&out));
        // Without the paging control's "# pagedresults: cookie=" comments.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// Stops slapd (SIGTERM, waits for it to exit): the directory is down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, rustix::process::Signal::TERM);
            let _ = child.wait();
        }
    }

    /// Starts slapd again on the same ports and data; returns once it answers.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "slapd runs already");
        let log = std::fs::File::create(self.dir.path().join("slapd.log")).expect("log");
        // `-d 0`: stay in the foreground (a child we can kill), log nothing but errors.
        let child = Command::new(sbin("slapd"))
            .arg("-f")
            .arg(self.conf())
            .args([
                "-h",
                &format!("{}/ {}/", self.ldap_url, self.ldaps_url),
                "-d",
                "0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("slapd (Debian slapd, installed by tests/run.sh)");
        self.child = Some(child);
        self.wait_until_answering();
    }

    /// SIGSTOP: the ports still accept connections (the kernel's backlog) but nothing
    /// answers: a directory that hangs.
    pub fn freeze(&self) {
        signal(
            self.child.as_ref().expect("slapd runs"),
            rustix::process::Signal::STOP,
        );
    }

    pub fn thaw(&self) {
        signal(
            self.child.as_ref().expect("slapd runs"),
            rustix::process::Signal::CONT,
        );
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// slapd's own log (errors only).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    fn wait_until_answering(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answered = self
                .tool("ldapsearch")
                .args([
                    "-x",
                    "-H",
                    &self.ldaps_url,
                    "-b",
                    "",
                    "-s",
                    "base",
                    "namingContexts",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if answered {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("slapd exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "slapd not answering after 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("slapd.conf")
    }

    /// An ldap-utils command (`ldapsearch`, …) trusting our CA and no system-wide
    /// ldap.conf.
    pub fn tool(&self, name: &str) -> Command {
        let mut cmd = Command::new(name);
        cmd.env("LDAPCONF", "/dev/null")
            .env("LDAPRC", "/dev/null")
            .env("LDAPTLS_CACERT", &self.ca_file)
            .env("LDAPTLS_REQCERT", "demand");
        cmd
    }

    fn modify_ldif(&self, ldif: &str) {
        let mut child = self
            .tool("ldapmodify")
            .args(["-x", "-ZZ", "-H", &self.ldap_url, "-D", &self.root_dn()])
            .args(["-w", &self.root_password])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ldapmodify (Debian ldap-utils, installed by tests/run.sh)");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(ldif.as_bytes())
            .expect("write LDIF");
        let out = child.wait_with_output().expect("ldapmodify");
        assert!(out.status.success(), "ldapmodify:\n{ldif}\n{}", text(&out));
    }

    fn root_dn(&self) -> String {
        format!("cn=root,{}", self.base_dn())
    }

    fn membership_change(&self, person: &Person, group: Group, how: &str) -> String {
        format!(
            "dn: {}\nchangetype: modify\n{how}: member\nmember: {}\n-\n\n",
            self.group_dn(group),
            self.person_dn(person)
        )
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A frozen slapd would not act on TERM: wake it first.
            signal(&child, rustix::process::Signal::CONT);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(child: &Child, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `slapd` and `slapadd` live in /usr/sbin, which a non-root PATH may lack.
fn sbin(name: &str) -> String {
    let path = format!("/usr/sbin/{name}");
    if Path::new(&path).exists() {
        path
    } else {
        name.to_owned()
    }
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
