//! The test directory answers as the other tests assume, checked with OpenLDAP's own
//! `ldapsearch` (not PrintPark's client): AD-like people found by `sAMAccountName`,
//! `memberOf` kept by the overlay through adds, group changes and deletes, binds with
//! a person's password over StartTLS and LDAPS, the AD-like 1000-entry limit for a
//! search that does not page, and stop / start again on the same ports.

use crate::support::slapd::{Flavor, Group, Person, Slapd};

/// The values of `attribute` in an LDIF answer (base64 ones decoded).
fn values(ldif: &str, attribute: &str) -> Vec<String> {
    let plain = format!("{attribute}: ");
    let encoded = format!("{attribute}:: ");
    ldif.lines()
        .filter_map(|l| {
            if let Some(v) = l.strip_prefix(plain.as_str()) {
                return Some(v.to_owned());
            }
            let v = l.strip_prefix(encoded.as_str())?;
            let bytes =
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, v).ok()?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

/// ldapsearch binding as `dn` with `password` over `url`: its exit status.
fn bind_as(slapd: &Slapd, url: &str, starttls: bool, dn: &str, password: &str) -> Option<i32> {
    let mut cmd = std::process::Command::new("ldapsearch");
    cmd.env("LDAPCONF", "/dev/null")
        .env("LDAPTLS_CACERT", &slapd.ca_file)
        .env("LDAPTLS_REQCERT", "demand")
        .args([
            "-x",
            "-H",
            url,
            "-D",
            dn,
            "-w",
            password,
            "-b",
            slapd.base_dn(),
        ])
        .args(["-s", "base", "1.1"]);
    if starttls {
        cmd.arg("-ZZ");
    }
    cmd.output().expect("ldapsearch").status.code()
}

#[test]
fn active_directory_like_people_groups_and_binds() {
    let ann = Person::new("Ann", &[Group::PrintUsers]);
    let mut boss = Person::new("boss", &[Group::PrintUsers, Group::PrintAdmins]);
    boss.name = "Zoë Boss".into();
    let mut slapd = Slapd::start_with(Flavor::ActiveDirectory, &[ann.clone(), boss.clone()]);
    let users = slapd.group_dn(Group::PrintUsers).to_lowercase();
    let admins = slapd.group_dn(Group::PrintAdmins).to_lowercase();

    // The AD preset's default filter finds people, not groups; sAMAccountName matches
    // regardless of case, as in AD.
    let found = slapd.search(
        "(&(objectCategory=person)(objectClass=user)(sAMAccountName=ann))",
        &["sAMAccountName", "memberOf", "employeeID", "objectGUID"],
    );
    assert_eq!(values(&found, "sAMAccountName"), ["Ann"], "{found}");
    assert_eq!(values(&found, "employeeID"), [ann.card.as_str()], "{found}");
    let member_of: Vec<String> = values(&found, "memberOf")
        .iter()
        .map(|v| v.to_lowercase())
        .collect();
    assert_eq!(member_of, std::slice::from_ref(&users), "{found}");
    let guid = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ann.guid);
    assert!(found.contains(&format!("objectGUID:: {guid}")), "{found}");
    let people = slapd.search("(&(objectCategory=person)(objectClass=user))", &["1.1"]);
    assert_eq!(
        people.lines().filter(|l| l.starts_with("dn:")).count(),
        3,
        "Ann, Zoë and the service account: {people}"
    );
    let found = slapd.search("(sAMAccountName=boss)", &["displayName", "memberOf"]);
    assert!(
        found.contains("displayName:: "),
        "a non-ASCII name goes base64: {found}"
    );
    let member_of: Vec<String> = values(&found, "memberOf")
        .iter()
        .map(|v| v.to_lowercase())
        .collect();
    assert!(
        member_of.contains(&admins) && member_of.contains(&users),
        "{found}"
    );
    // Disabled accounts are found with AD's bitwise-AND rule: nobody is disabled.
    let disabled = slapd.search("(userAccountControl:1.2.840.113556.1.4.803:=2)", &["1.1"]);
    assert_eq!(
        disabled.lines().filter(|l| l.starts_with("dn:")).count(),
        0,
        "{disabled}"
    );

    // A person binds with their own password over both transports; a wrong one is
    // refused (49 = invalidCredentials); anonymous reads nothing.
    let dn = slapd.person_dn(&ann);
    assert_eq!(
        bind_as(&slapd, &slapd.ldap_url, true, &dn, &ann.password),
        Some(0)
    );
    assert_eq!(
        bind_as(&slapd, &slapd.ldaps_url, false, &dn, &ann.password),
        Some(0)
    );
    assert_eq!(
        bind_as(&slapd, &slapd.ldaps_url, false, &dn, "wrong"),
        Some(49)
    );
    let anonymous = std::process::Command::new("ldapsearch")
        .env("LDAPCONF", "/dev/null")
        .env("LDAPTLS_CACERT", &slapd.ca_file)
        .args([
            "-x",
            "-LLL",
            "-H",
            &slapd.ldaps_url,
            "-b",
            slapd.base_dn(),
            "(objectClass=*)",
        ])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&anonymous.stdout).contains("sAMAccountName"));

    // Changes while it runs: the overlay keeps memberOf right.
    let cy = Person::new("cy", &[Group::PrintUsers]);
    slapd.add(&cy);
    let found = slapd.search("(sAMAccountName=cy)", &["memberOf"]);
    assert_eq!(values(&found, "memberOf").len(), 1, "{found}");
    slapd.remove_from_group(&ann, Group::PrintUsers);
    slapd.set(&boss, "department", "Legal");
    slapd.delete(&cy);
    let found = slapd.search("(sAMAccountName=ann)", &["memberOf"]);
    assert!(values(&found, "memberOf").is_empty(), "{found}");
    let found = slapd.search("(sAMAccountName=boss)", &["department", "memberOf"]);
    assert_eq!(values(&found, "department"), ["Legal"], "{found}");
    let group = slapd.search(&format!("(cn={})", Group::PrintUsers.cn()), &["member"]);
    assert_eq!(values(&group, "member").len(), 1, "only boss left: {group}");
    assert!(slapd.search("(sAMAccountName=cy)", &["1.1"]).is_empty());

    // Down, then up again on the same ports with the same data.
    slapd.stop();
    assert_ne!(
        bind_as(&slapd, &slapd.ldaps_url, false, &dn, &ann.password),
        Some(0)
    );
    slapd.start_again();
    assert_eq!(
        bind_as(&slapd, &slapd.ldap_url, true, &dn, &ann.password),
        Some(0)
    );
    let found = slapd.search("(sAMAccountName=boss)", &["department"]);
    assert_eq!(values(&found, "department"), ["Legal"], "{found}");
}

#[test]
fn a_search_that_does_not_page_stops_at_1000_like_ad() {
    let slapd = Slapd::start_with(Flavor::ActiveDirectory, &Person::many("p", 1200));
    // Paged (the fixture's own search pages by 500): all of them.
    let all = slapd.search(
        "(&(objectCategory=person)(objectClass=user)(memberOf=*))",
        &["1.1"],
    );
    assert_eq!(all.lines().filter(|l| l.starts_with("dn:")).count(), 1200);
    // Not paged: sizeLimitExceeded (4) after 1000.
    let out = std::process::Command::new("ldapsearch")
        .env("LDAPCONF", "/dev/null")
        .env("LDAPTLS_CACERT", &slapd.ca_file)
        .args([
            "-x",
            "-LLL",
            "-H",
            &slapd.ldaps_url,
            "-D",
            &slapd.service_dn(),
        ])
        .args([
            "-w",
            Slapd::SERVICE_PASSWORD,
            "-b",
            slapd.base_dn(),
            "(objectClass=user)",
            "1.1",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("dn:"))
            .count(),
        1000
    );
}

#[test]
fn openldap_like_people_have_entry_uuids_and_groups_of_names() {
    let ann = Person::new("ann", &[Group::PrintUsers, Group::PrintAdmins]);
    let slapd = Slapd::start_with(Flavor::OpenLdap, std::slice::from_ref(&ann));
    let found = slapd.search(
        "(&(objectClass=inetOrgPerson)(uid=ann))",
        &["uid", "entryUUID", "employeeNumber", "memberOf"],
    );
    assert_eq!(values(&found, "uid"), ["ann"], "{found}");
    assert_eq!(
        values(&found, "employeeNumber"),
        [ann.card.as_str()],
        "{found}"
    );
    assert_eq!(values(&found, "entryUUID").len(), 1, "{found}");
    assert_eq!(values(&found, "memberOf").len(), 2, "{found}");
    let groups = slapd.search(
        &format!(
            "(&(objectClass=groupOfNames)(member={}))",
            slapd.person_dn(&ann)
        ),
        &["cn"],
    );
    assert_eq!(
        groups.lines().filter(|l| l.starts_with("dn:")).count(),
        2,
        "{groups}"
    );
    slapd.remove_from_group(&ann, Group::PrintUsers);
    let found = slapd.search("(uid=ann)", &["memberOf"]);
    assert_eq!(values(&found, "memberOf").len(), 1, "{found}");
    let bob = Person::new("bob", &[Group::PrintUsers]);
    slapd.add(&bob);
    let found = slapd.search("(uid=bob)", &["memberOf"]);
    assert_eq!(values(&found, "memberOf").len(), 1, "{found}");
    assert_eq!(
        bind_as(
            &slapd,
            &slapd.ldap_url,
            true,
            &slapd.person_dn(&bob),
            &bob.password
        ),
        Some(0)
    );
}
