//! Sign-in with the directory password (a bind as the person; nothing stored): the
//! portal's login form, the phone page, the release station, IPP Basic, and CUPS's
//! `ipptool` with the
//! credentials in the URI; a wrong password is refused, a person who left the group
//! is refused after the sync; a directory admin reaches the directory page and its
//! buttons ("Test connection", "Sync now"), a directory user does not.

use std::process::Command;

use super::{World, holds};
use crate::support::sign_in::{ipp_basic_status, station_post, station_printer};
use crate::support::slapd::{Flavor, Group, Person};
use crate::support::{self, Backend, csrf_of, get_text, login};

use printpark::config::LdapSecurity;

mod sqlite {
    use super::*;

    #[tokio::test]
    async fn directory_password_over_starttls() {
        super::directory_password_signs_in_everywhere(Backend::Sqlite, LdapSecurity::StartTls)
            .await;
    }

    #[tokio::test]
    async fn directory_password_over_ldaps() {
        super::directory_password_signs_in_everywhere(Backend::Sqlite, LdapSecurity::Ldaps).await;
    }

    #[tokio::test]
    async fn the_directory_page_and_its_buttons() {
        super::the_directory_page_and_its_buttons(Backend::Sqlite).await;
    }
}

mod postgres {
    use super::*;

    #[tokio::test]
    async fn directory_password_over_ldaps() {
        super::directory_password_signs_in_everywhere(Backend::Postgres, LdapSecurity::Ldaps).await;
    }
}

/// `ipptool` (Debian cups-ipp-utils) prints page 1 of `document-a4.pdf` with CUPS's
/// `print-job.test`, as `user` with `password` in the URI (Print-Job needs them; a
/// query such as Get-Printer-Attributes is answered without); true when it passed.
pub async fn ipptool_print(base: &str, user: &str, password: &str) -> (bool, String) {
    let enc = |s: &str| {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let uri = format!(
        "{}/ipp/print",
        base.replace(
            "https://",
            &format!("ipps://{}:{}@", enc(user), enc(password))
        )
    );
    let document = support::fixture_path("document-a4.pdf");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("ipptool")
            .args(["-t", "-T", "10", "-f"])
            .arg(document)
            .args([&uri, "print-job.test"])
            .output()
            .expect("ipptool is installed by tests/run.sh")
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success() && report.contains("[PASS]"), report)
}

async fn directory_password_signs_in_everywhere(backend: Backend, security: LdapSecurity) {
    let ann = Person::new("Ann", &[Group::PrintUsers]);
    let carol = Person::new("carol", &[Group::PrintUsers, Group::PrintAdmins]);
    let w = World::start(
        backend,
        Flavor::ActiveDirectory,
        security,
        &[ann.clone(), carol.clone()],
    )
    .await;
    w.sync().await;

    // The portal: the directory's password, under the lower-cased username; the
    // username as the directory writes it; a wrong password.
    let portal = w.server.client();
    let signed = login(&w.server, &portal, "ann", &ann.password).await;
    assert_eq!(signed.status(), 303, "{}", signed.text().await.unwrap());
    let page = get_text(&portal, w.server.url("/portal")).await;
    assert!(page.contains(&ann.name), "{page}");
    let signed = login(&w.server, &w.server.client(), "Ann", &ann.password).await;
    assert_eq!(signed.status(), 303);
    let wrong = login(&w.server, &w.server.client(), "ann", "not ann's password").await;
    assert_eq!(wrong.status(), 401);
    // carol's password is hers alone.
    let crossed = login(&w.server, &w.server.client(), "ann", &carol.password).await;
    assert_eq!(crossed.status(), 401);

    // The phone page at a printer.
    let printer = station_printer(&w.server, &w.admin, "Lobby").await;
    let phone = w.server.client();
    let page = get_text(&phone, w.server.url(&format!("/r/{}", printer.guid))).await;
    let signed = phone
        .post(w.server.url(&format!("/r/{}/login", printer.guid)))
        .form(&[
            ("csrf", csrf_of(&page).as_str()),
            ("login", "ann"),
            ("password", ann.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303, "{}", signed.text().await.unwrap());

    // The release station's "Username and password".
    let station = w.server.client();
    let fields = [("login", "ann"), ("password", ann.password.as_str())];
    let signed = station_post(&w.server, &station, &printer.guid, "password", &fields).await;
    assert_eq!(signed.status(), 303, "{}", signed.text().await.unwrap());
    let page = get_text(
        &station,
        w.server.url(&format!("/station/{}", printer.guid)),
    )
    .await;
    assert!(page.contains(&ann.name), "the station greets ann: {page}");
    let fields = [("login", "ann"), ("password", "not ann's password")];
    let wrong = station_post(
        &w.server,
        &w.server.client(),
        &printer.guid,
        "password",
        &fields,
    )
    .await;
    assert_ne!(wrong.status(), 303);

    // IPP Basic, from our client and from CUPS's ipptool.
    assert_eq!(ipp_basic_status(&w.server, "ann", &ann.password).await, 200);
    assert_eq!(
        ipp_basic_status(&w.server, "ann", "not ann's password").await,
        401
    );
    let (ok, report) = ipptool_print(&w.server.base, "ann", &ann.password).await;
    assert!(ok, "ipptool with the directory password:\n{report}");
    let (ok, report) = ipptool_print(&w.server.base, "ann", "not ann's password").await;
    assert!(!ok, "ipptool with a wrong password:\n{report}");
    let ann_user: printpark::identity::User = w.user("ann").await.unwrap().into();
    let held = w
        .server
        .services
        .jobs
        .held_jobs_of(&ann_user)
        .await
        .unwrap();
    assert_eq!(held.len(), 1, "ipptool's one job, parked for ann: {held:?}");

    // Out of the group: after the sync the right password no longer opens anything.
    w.slapd.remove_from_group(&ann, Group::PrintUsers);
    let report = w.sync().await;
    assert_eq!(report.disabled, 1, "{report:?}");
    let refused = login(&w.server, &w.server.client(), "ann", &ann.password).await;
    assert_ne!(refused.status(), 303, "a disabled person does not sign in");
    assert_ne!(ipp_basic_status(&w.server, "ann", &ann.password).await, 200);

    // Nothing of the passwords stays at rest.
    let at_rest = w.everything_at_rest().await;
    for person in [&ann, &carol] {
        assert!(
            !holds(&at_rest, &person.password),
            "{}'s password at rest",
            person.username
        );
    }
    w.stop().await;
}

/// A directory admin (carol, in PrintAdmins) reaches the directory page, which shows
/// the settings in force and never the bind password, and presses "Test connection"
/// and "Sync now"; a directory user (ann) does not reach it.
async fn the_directory_page_and_its_buttons(backend: Backend) {
    let ann = Person::new("ann", &[Group::PrintUsers]);
    let carol = Person::new("carol", &[Group::PrintUsers, Group::PrintAdmins]);
    let w = World::start(
        backend,
        Flavor::ActiveDirectory,
        LdapSecurity::StartTls,
        &[ann.clone(), carol.clone()],
    )
    .await;
    w.sync().await;
    let admin = w.server.client();
    assert_eq!(
        login(&w.server, &admin, "carol", &carol.password)
            .await
            .status(),
        303
    );
    let page = admin
        .get(w.server.url("/admin/directory"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains(w.slapd.base_dn()),
        "the page shows the settings in force: {page}"
    );
    assert!(
        !page.contains(support::slapd::Slapd::SERVICE_PASSWORD),
        "never the bind password"
    );
    for button in ["/admin/directory/test", "/admin/directory/sync"] {
        let answer = admin
            .post(w.server.url(button))
            .form(&[("csrf", csrf_of(&page).as_str())])
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_success() || answer.status() == 303,
            "{button}: {}",
            answer.status()
        );
    }
    let joined = Person::new("dan", &[Group::PrintUsers]);
    w.slapd.add(&joined);
    let answer = admin
        .post(w.server.url("/admin/directory/sync"))
        .form(&[("csrf", csrf_of(&page).as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success() || answer.status() == 303,
        "{}",
        answer.status()
    );
    assert!(w.user("dan").await.is_some(), "Sync now created dan");
    let portal = w.server.client();
    assert_eq!(
        login(&w.server, &portal, "ann", &ann.password)
            .await
            .status(),
        303
    );
    // A directory user is no admin.
    let denied = portal
        .get(w.server.url("/admin/directory"))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(denied.status().as_u16(), 303 | 403 | 404),
        "{}",
        denied.status()
    );

    w.stop().await;
}
