//! The sync against a real slapd: creates, updates and disables exactly as expected,
//! twice in a row changes nothing, people who left the group or the directory are
//! disabled and never deleted, a changed department is updated, admins come from the
//! admin group, a directory person never takes over a local account, and card numbers
//! are stored only as keyed hashes (the bytes at rest are searched for them). On
//! SQLite and Postgres, over StartTLS and over LDAPS, AD-like and OpenLDAP-like.

use super::{World, holds};
use crate::support::slapd::{Flavor, Group, Person};
use crate::support::{self, Backend};

use printpark::config::LdapSecurity;
use printpark::identity::{AtPrinter, BadgeOutcome, ClientInfo};

macro_rules! cases {
    ($($case:ident($backend:ident, $flavor:ident, $security:ident)),* $(,)?) => {
        $(#[tokio::test]
        async fn $case() {
            super::creates_updates_and_disables_exactly(
                Backend::$backend, Flavor::$flavor, LdapSecurity::$security,
            ).await;
        })*
    };
}

mod sqlite {
    use super::*;
    cases!(
        active_directory_over_starttls(Sqlite, ActiveDirectory, StartTls),
        active_directory_over_ldaps(Sqlite, ActiveDirectory, Ldaps),
        openldap_over_ldaps(Sqlite, OpenLdap, Ldaps),
    );

    #[tokio::test]
    async fn a_directory_person_never_takes_over_a_local_account() {
        super::a_directory_person_never_takes_over_a_local_account(Backend::Sqlite).await;
    }
}

mod postgres {
    use super::*;
    cases!(
        active_directory_over_starttls(Postgres, ActiveDirectory, StartTls),
        openldap_over_ldaps(Postgres, OpenLdap, Ldaps),
    );

    #[tokio::test]
    async fn a_directory_person_never_takes_over_a_local_account() {
        super::a_directory_person_never_takes_over_a_local_account(Backend::Postgres).await;
    }
}

/// `{33221100-5544-7766-8899-aabbccddeeff}` without braces, lower-case: how AD tools
/// print an objectGUID.
fn ad_guid_text(b: &[u8; 16]) -> String {
    let h = |r: &[u8]| hex::encode(r);
    let rev = |r: &[u8]| hex::encode(r.iter().rev().copied().collect::<Vec<u8>>());
    format!(
        "{}-{}-{}-{}-{}",
        rev(&b[0..4]),
        rev(&b[4..6]),
        rev(&b[6..8]),
        h(&b[8..10]),
        h(&b[10..16])
    )
}

fn counts(r: &printpark::identity::ldap::SyncReport) -> (u64, u64, u64) {
    (r.created, r.updated, r.disabled)
}

pub async fn creates_updates_and_disables_exactly(
    backend: Backend,
    flavor: Flavor,
    security: LdapSecurity,
) {
    // AD keeps the case people typed; PrintPark's usernames are lower-case.
    let ann = Person::new(
        if flavor == Flavor::ActiveDirectory {
            "Ann"
        } else {
            "ann"
        },
        &[Group::PrintUsers],
    );
    let bob = Person::new("bob", &[Group::PrintUsers]);
    let mut carol = Person::new("carol", &[Group::PrintUsers, Group::PrintAdmins]);
    carol.name = "Carol Zoë Admin".into();
    let dave = Person::new("dave", &[]);
    // In the group but without an e-mail address: skipped, with the reason.
    let mut frank = Person::new("frank", &[Group::PrintUsers]);
    frank.email = String::new();
    let people = [ann.clone(), bob.clone(), carol.clone(), dave.clone(), frank];
    let w = World::start(backend, flavor, security, &people).await;

    // First run: the three group members, nobody else (not dave, not the service account).
    let first = w.sync().await;
    assert_eq!(counts(&first), (3, 0, 0), "{first:?}");
    assert!(
        first
            .skipped
            .iter()
            .any(|s| s.entry.contains("frank") && s.reason.contains("e-mail")),
        "{first:?}"
    );
    let users = w.ldap_users().await;
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["ann", "bob", "carol"], "{users:?}");
    for (user, person) in users.iter().zip([&ann, &bob, &carol]) {
        assert_eq!(user.email, person.email, "{user:?}");
        assert_eq!(user.name, person.name, "{user:?}");
        assert_eq!(user.department, "Finance", "{user:?}");
        assert!(!user.disabled, "{user:?}");
        assert!(
            user.password_hash.is_none(),
            "the directory's password is never stored: {user:?}"
        );
        assert!(
            user.external_id.as_deref().is_some_and(|id| !id.is_empty()),
            "{user:?}"
        );
    }
    // The unique id as the directory's own tools show it: AD's objectGUID in its
    // string form (the first three fields little-endian), OpenLDAP's entryUUID as
    // ldapsearch prints it.
    for (user, person) in users.iter().zip([&ann, &bob, &carol]) {
        let expected = match flavor {
            Flavor::ActiveDirectory => ad_guid_text(&person.guid),
            Flavor::OpenLdap => {
                let filter = format!("(uid={})", person.username);
                let found = w.slapd.search(&filter, &["entryUUID"]);
                found
                    .lines()
                    .find_map(|l| l.strip_prefix("entryUUID: "))
                    .expect("an entryUUID")
                    .to_owned()
            }
        };
        assert_eq!(
            user.external_id.as_deref(),
            Some(expected.as_str()),
            "{user:?}"
        );
    }
    let roles: Vec<&str> = users.iter().map(|u| u.role.as_str()).collect();
    assert_eq!(roles, ["user", "user", "admin"], "carol is in PrintAdmins");
    assert_eq!(
        w.user("boss").await.unwrap().source,
        "local",
        "the break-glass admin stays local"
    );

    // Twice in a row: nothing changes.
    let second = w.sync().await;
    assert_eq!(counts(&second), (0, 0, 0), "{second:?}");
    assert_eq!(second.unchanged, 3, "{second:?}");
    assert_eq!(
        format!("{:?}", w.ldap_users().await),
        format!("{users:?}"),
        "the second run wrote nothing"
    );

    // The card numbers became badges: the directory's number opens the station...
    let printer = support::sign_in::station_printer(&w.server, &w.admin, "Hall").await;
    let at = AtPrinter {
        guid: &printer.guid,
        name: "Hall",
    };
    let outcome = w
        .server
        .services
        .identity
        .badge_login(&ann.card, at, &ClientInfo::default())
        .await
        .unwrap();
    assert!(
        matches!(&outcome, BadgeOutcome::Known(u) if u.username == "ann"),
        "{outcome:?}"
    );
    // ...but no number is anywhere at rest, in clear or hex; nor any password.
    let at_rest = w.everything_at_rest().await;
    for person in &people {
        assert!(
            !holds(&at_rest, &person.card),
            "card {} of {} at rest",
            person.card,
            person.username
        );
        assert!(
            !holds(&at_rest, &person.password),
            "password of {} at rest",
            person.username
        );
    }

    // The directory changes: bob moves to Legal, ann leaves the group, carol leaves
    // the organisation, erin joins.
    w.slapd.set(
        &bob,
        if flavor == Flavor::ActiveDirectory {
            "department"
        } else {
            "departmentNumber"
        },
        "Legal",
    );
    w.slapd.remove_from_group(&ann, Group::PrintUsers);
    w.slapd.delete(&carol);
    let erin = Person::new("erin", &[Group::PrintUsers]);
    w.slapd.add(&erin);
    let third = w.sync().await;
    assert_eq!(counts(&third), (1, 1, 2), "{third:?}");
    let ann_row = w.user("ann").await.expect("ann is kept");
    let carol_row = w.user("carol").await.expect("carol is kept, not deleted");
    assert!(
        ann_row.disabled && carol_row.disabled,
        "{ann_row:?} {carol_row:?}"
    );
    assert_eq!(w.user("bob").await.unwrap().department, "Legal");
    let erin_row = w.user("erin").await.expect("erin created");
    assert!(
        !erin_row.disabled && erin_row.role == "user",
        "{erin_row:?}"
    );

    // And again: nothing more changes; the disabled stay disabled.
    let fourth = w.sync().await;
    assert_eq!(counts(&fourth), (0, 0, 0), "{fourth:?}");
    assert_eq!(fourth.unchanged, 2, "bob and erin; {fourth:?}");
    assert!(w.user("ann").await.unwrap().disabled);

    // Roles follow the admin group both ways; back in the group, ann is enabled again.
    w.slapd.add_to_group(&bob, Group::PrintAdmins);
    w.slapd.add_to_group(&ann, Group::PrintUsers);
    let fifth = w.sync().await;
    assert_eq!(counts(&fifth), (0, 2, 0), "{fifth:?}");
    assert_eq!(w.user("bob").await.unwrap().role, "admin");
    assert!(
        !w.user("ann").await.unwrap().disabled,
        "ann is back in PrintUsers"
    );
    w.slapd.remove_from_group(&bob, Group::PrintAdmins);
    let sixth = w.sync().await;
    assert_eq!(counts(&sixth), (0, 1, 0), "{sixth:?}");
    assert_eq!(w.user("bob").await.unwrap().role, "user");

    // A renamed person (AD: sAMAccountName changes, objectGUID stays) is one person.
    if flavor == Flavor::ActiveDirectory {
        let before = w.user("erin").await.unwrap();
        w.slapd.set(&erin, "sAMAccountName", "erin.new");
        let seventh = w.sync().await;
        assert_eq!(counts(&seventh), (0, 1, 0), "{seventh:?}");
        let after = w.user("erin.new").await.expect("renamed");
        assert_eq!(
            (after.id, &after.external_id),
            (before.id, &before.external_id)
        );
        assert!(w.user("erin").await.is_none());
        // Disabled in AD (userAccountControl bit 2, ACCOUNTDISABLE): disabled here too.
        w.slapd.set(&bob, "userAccountControl", "514");
        let eighth = w.sync().await;
        assert_eq!(counts(&eighth), (0, 0, 1), "{eighth:?}");
        assert!(w.user("bob").await.unwrap().disabled);
    }
    w.stop().await;
}

/// A directory entry named like the local break-glass admin is skipped with a reason;
/// the local account keeps its source, role and password.
async fn a_directory_person_never_takes_over_a_local_account(backend: Backend) {
    let intruder = Person::new("boss", &[Group::PrintUsers, Group::PrintAdmins]);
    let w = World::start(
        backend,
        Flavor::ActiveDirectory,
        LdapSecurity::StartTls,
        std::slice::from_ref(&intruder),
    )
    .await;
    let report = w.sync().await;
    assert_eq!(counts(&report), (0, 0, 0), "{report:?}");
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.entry.to_lowercase().contains("boss") && !s.reason.is_empty()),
        "{report:?}"
    );
    let boss = w.user("boss").await.unwrap();
    assert_eq!(
        (boss.source.as_str(), boss.role.as_str(), boss.disabled),
        ("local", "admin", false)
    );
    let client = w.server.client();
    let own = support::login(&w.server, &client, "boss", "correct horse battery").await;
    assert_eq!(own.status(), 303, "the local password still works");
    let theirs = support::login(&w.server, &w.server.client(), "boss", &intruder.password).await;
    assert_eq!(
        theirs.status(),
        401,
        "the directory's password does not open the local account"
    );
    w.stop().await;
}
