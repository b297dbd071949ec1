//! Unit tests of finding people from claims: matching, allowed domains, roles from
//! groups (no provider needed).

use super::*;
use crate::config::OidcProviderSettings;

fn provider(claim: OidcMatchClaim, trust: bool) -> Provider {
    Provider::from_settings(&OidcProviderSettings {
        name: "corp".into(),
        match_claim: claim,
        trust_unverified_email: trust,
        ..OidcProviderSettings::default()
    })
}

fn claims() -> Claims {
    Claims {
        issuer: "https://idp.example".into(),
        subject: "s-1".into(),
        email: Some("ada@example.org".into()),
        email_verified: true,
        preferred_username: Some("ada".into()),
        name: Some("Ada".into()),
        hosted_domain: None,
    }
}

#[test]
fn allowed_domains_let_in_only_their_people() {
    let mut p = provider(OidcMatchClaim::Email, false);
    assert_eq!(domain_allowed(&p, &claims()), Ok(()), "empty = anyone");
    p.allowed_domains = vec!["example.org".into()];
    assert_eq!(domain_allowed(&p, &claims()), Ok(()));
    let other = Claims {
        email: Some("eve@elsewhere.net".into()),
        ..claims()
    };
    assert_eq!(
        domain_allowed(&p, &other),
        Err(Refusal::DomainNotAllowed("elsewhere.net".into()))
    );
    let unverified = Claims {
        email_verified: false,
        ..claims()
    };
    assert_eq!(
        domain_allowed(&p, &unverified),
        Err(Refusal::EmailUnverified)
    );
    // A Workspace domain (hd) other than the allowed one is refused, even with an
    // allowed address.
    let foreign_hd = Claims {
        hosted_domain: Some("elsewhere.net".into()),
        ..claims()
    };
    assert_eq!(
        domain_allowed(&p, &foreign_hd),
        Err(Refusal::DomainNotAllowed("elsewhere.net".into()))
    );
    // Google: a personal account (no hd) with a verified example.org address is
    // not the Workspace's.
    p.issuer = "https://accounts.google.com".into();
    assert!(matches!(
        domain_allowed(&p, &claims()),
        Err(Refusal::DomainNotAllowed(_))
    ));
    let workspace = Claims {
        hosted_domain: Some("example.org".into()),
        ..claims()
    };
    assert_eq!(domain_allowed(&p, &workspace), Ok(()));
}

#[test]
fn e_mail_matching_needs_a_verified_address() {
    let by_email = provider(OidcMatchClaim::Email, false);
    assert_eq!(
        match_by(&by_email, &claims()),
        Ok(MatchBy::Email("ada@example.org".into()))
    );
    let unverified = Claims {
        email_verified: false,
        ..claims()
    };
    assert_eq!(
        match_by(&by_email, &unverified),
        Err(Refusal::EmailUnverified)
    );
    let trusting = provider(OidcMatchClaim::Email, true);
    assert!(match_by(&trusting, &unverified).is_ok());
    let none = Claims {
        email: None,
        ..claims()
    };
    assert_eq!(
        match_by(&by_email, &none),
        Err(Refusal::MissingClaim("email"))
    );
}

#[test]
fn username_matching_reads_preferred_username() {
    let by_name = provider(OidcMatchClaim::PreferredUsername, false);
    let unverified = Claims {
        email_verified: false,
        ..claims()
    };
    assert_eq!(
        match_by(&by_name, &unverified),
        Ok(MatchBy::Username("ada".into()))
    );
    let none = Claims {
        preferred_username: None,
        ..claims()
    };
    assert_eq!(
        match_by(&by_name, &none),
        Err(Refusal::MissingClaim("preferred_username"))
    );
}

#[test]
fn groups_map_to_the_admin_role() {
    let admins = vec!["printpark-admins".to_owned()];
    let member = vec!["staff".to_owned(), "printpark-admins".to_owned()];
    assert_eq!(role_from_groups(&member, &admins), Some(Role::Admin));
    assert_eq!(
        role_from_groups(&["staff".into()], &admins),
        Some(Role::User)
    );
    assert_eq!(role_from_groups(&member, &[]), None);
    // Groups promote anyone, demote only people single sign-on created.
    assert_eq!(
        role_change(Role::User, UserSource::Local, Some(Role::Admin)),
        Some(Role::Admin)
    );
    assert_eq!(
        role_change(Role::Admin, UserSource::Local, Some(Role::User)),
        None
    );
    assert_eq!(
        role_change(Role::Admin, UserSource::Oidc, Some(Role::User)),
        Some(Role::User)
    );
    assert_eq!(role_change(Role::Admin, UserSource::Oidc, None), None);
}

#[test]
fn groups_are_read_from_the_token_payload() {
    let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"x","groups":["a","b"],"role":"r"}"#);
    let token = format!("h.{payload}.s");
    assert_eq!(groups_of(&token, "groups"), vec!["a", "b"]);
    assert_eq!(groups_of(&token, "role"), vec!["r"]);
    assert!(groups_of(&token, "missing").is_empty());
    assert!(groups_of("garbage", "groups").is_empty());
}

#[test]
fn new_usernames_come_from_the_claims() {
    assert_eq!(
        username_candidate(&claims(), "ada@example.org").as_deref(),
        Some("ada")
    );
    let upn = Claims {
        preferred_username: Some("ada.l@example.org".into()),
        ..claims()
    };
    assert_eq!(
        username_candidate(&upn, "ada.lovelace+x@example.org").as_deref(),
        Some("ada.lovelacex")
    );
}
