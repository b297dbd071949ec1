//! What a sync must change, decided from what the directory answered (all of it: a
//! failed or partial search never reaches this file) and what PrintPark holds:
//! people to create, to update, to disable (never delete), and entries to skip
//! with the reason. Pure functions, so the rules are tested without a directory.

use std::collections::{HashMap, HashSet};

use ldap3::SearchEntry;

use super::SkippedEntry;
use super::settings::Attributes;
use crate::db::{LdapChange, LdapPersonFields, LdapPersonRow};
use crate::identity::people::{validate_email, validate_username};

/// A person as the directory describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryPerson {
    pub dn: String,
    pub username: String,
    pub email: String,
    pub name: String,
    pub department: String,
    pub card: Option<String>,
    pub unique_id: String,
    /// Normalized DNs of the groups the entry says it is in (`memberOf`).
    pub member_of: Vec<String>,
    /// Active Directory's "account disabled" flag (userAccountControl bit 2).
    pub disabled_in_directory: bool,
}

/// A DN compared as directories do: case and spaces around `,` and `=` do not count.
pub fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.split('=').map(str::trim).collect::<Vec<_>>().join("="))
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

/// AD's objectGUID is 16 bytes, the first three fields little-endian; shown the way
/// AD tools show it.
pub fn guid_text(bytes: &[u8]) -> Option<String> {
    let b: [u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    ))
}

/// Reads an entry, or says why it cannot become a person.
pub fn read_entry(entry: &SearchEntry, a: &Attributes) -> Result<DirectoryPerson, SkippedEntry> {
    let text: HashMap<String, &Vec<String>> = entry
        .attrs
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();
    let first = |name: &str| {
        text.get(&name.to_lowercase())
            .and_then(|v| v.first())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let skip = |reason: String| SkippedEntry {
        entry: entry.dn.clone(),
        reason,
    };
    let unique_id = match first(&a.unique_id) {
        Some(id) => id.to_lowercase(),
        None => entry
            .bin_attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&a.unique_id))
            .and_then(|(_, v)| v.first())
            .and_then(|b| guid_text(b).or_else(|| (!b.is_empty()).then(|| hex::encode(b))))
            .ok_or_else(|| skip(format!("no unique id ({})", a.unique_id)))?,
    };
    let username = first(&a.username)
        .ok_or_else(|| skip(format!("no username ({})", a.username)))?
        .to_lowercase();
    validate_username(&username).map_err(|e| skip(format!("username {username:?}: {e}")))?;
    let email = first(&a.email)
        .ok_or_else(|| skip(format!("no e-mail address ({})", a.email)))?
        .to_lowercase();
    validate_email(&email).map_err(|e| skip(format!("e-mail {email:?}: {e}")))?;
    let control = first("userAccountControl").and_then(|v| v.parse::<u64>().ok());
    Ok(DirectoryPerson {
        dn: entry.dn.clone(),
        username,
        email,
        name: first(&a.name).unwrap_or_default(),
        department: first(&a.department).unwrap_or_default(),
        card: first(&a.card)
            .map(|c| crate::identity::station::normalize_badge(&c))
            .filter(|c| !c.is_empty()),
        unique_id,
        member_of: text
            .get("memberof")
            .map(|v| v.iter().map(|g| normalize_dn(g)).collect())
            .unwrap_or_default(),
        disabled_in_directory: control.is_some_and(|c| c & 2 != 0),
    })
}

/// The groups that decide who may use PrintPark and who is an admin.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    /// Normalized DNs of the user groups; empty = everyone the filter finds.
    pub user_groups: Vec<String>,
    pub admin_groups: Vec<String>,
    /// Normalized member DNs of each group (read from the group's `member`).
    pub members: HashMap<String, HashSet<String>>,
}

impl Groups {
    fn contains(&self, group: &str, person: &DirectoryPerson) -> bool {
        person.member_of.iter().any(|g| g == group)
            || self
                .members
                .get(group)
                .is_some_and(|m| m.contains(&normalize_dn(&person.dn)))
    }

    /// Whether the person is an admin.
    pub fn is_admin(&self, person: &DirectoryPerson) -> bool {
        self.admin_groups.iter().any(|g| self.contains(g, person))
    }

    /// Whether an entry that could not be read as a person is one PrintPark would
    /// admit: only those are reported as skipped. A service account or a mailbox
    /// outside the groups is simply not one of ours, and in a real directory there
    /// are thousands of them.
    pub fn admits_entry(&self, entry: &SearchEntry) -> bool {
        if self.user_groups.is_empty() {
            return true;
        }
        let dn = normalize_dn(&entry.dn);
        let member_of: Vec<String> = entry
            .attrs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("memberOf"))
            .flat_map(|(_, v)| v.iter().map(|g| normalize_dn(g)))
            .collect();
        self.user_groups
            .iter()
            .chain(self.admin_groups.iter())
            .any(|g| {
                member_of.iter().any(|m| m == g)
                    || self.members.get(g).is_some_and(|m| m.contains(&dn))
            })
    }

    /// Whether the person may use PrintPark (an admin may, too).
    pub fn admits(&self, person: &DirectoryPerson) -> bool {
        self.user_groups.is_empty()
            || self.user_groups.iter().any(|g| self.contains(g, person))
            || self.is_admin(person)
    }
}

/// What to do, and what was left as it is.
#[derive(Debug, Default)]
pub struct Plan {
    pub changes: Vec<LdapChange>,
    pub unchanged: u64,
    pub skipped: Vec<SkippedEntry>,
}

/// Decides the changes. `existing` are all `ldap` people; `taken` the usernames and
/// e-mails of everyone else; `card_hash` turns a card number into its keyed hash.
pub fn plan(
    people: Vec<DirectoryPerson>,
    existing: Vec<LdapPersonRow>,
    taken: &HashSet<String>,
    groups: &Groups,
    card_hash: impl Fn(&str) -> Vec<u8>,
) -> Plan {
    let mut out = Plan::default();
    let mut by_id: HashMap<String, LdapPersonRow> = existing
        .into_iter()
        .filter_map(|p| Some((p.user.external_id.clone()?, p)))
        .collect();
    // Usernames and e-mails that stay with other directory people (for clashes
    // between entries: the first keeps it, the next is skipped).
    let mut claimed: HashSet<String> = HashSet::new();
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut wanted: Vec<(DirectoryPerson, String)> = Vec::new();
    for person in people {
        if person.disabled_in_directory || !groups.admits(&person) {
            continue;
        }
        let skip = |reason: &str| SkippedEntry {
            entry: person.dn.clone(),
            reason: reason.into(),
        };
        if !seen_ids.insert(person.unique_id.clone()) {
            out.skipped
                .push(skip("the same unique id as another entry"));
            continue;
        }
        if taken.contains(&person.username) || taken.contains(&person.email) {
            out.skipped.push(skip(
                "its username or e-mail belongs to a local account; rename one of them",
            ));
            continue;
        }
        if !claimed.insert(format!("u:{}", person.username))
            || !claimed.insert(format!("e:{}", person.email))
        {
            out.skipped.push(skip(
                "its username or e-mail is another directory entry's too",
            ));
            continue;
        }
        let role = if groups.is_admin(&person) {
            "admin"
        } else {
            "user"
        };
        wanted.push((person, role.to_owned()));
    }
    for (person, role) in wanted {
        let fields = LdapPersonFields {
            card_hash: person.card.as_deref().map(&card_hash),
            username: person.username,
            email: person.email,
            name: person.name,
            department: person.department,
            role,
            external_id: person.unique_id,
            dn: person.dn,
        };
        match by_id.remove(&fields.external_id) {
            None => out.changes.push(LdapChange::Create(fields)),
            Some(row) => {
                let u = &row.user;
                // Back after the sync disabled them: enabled again. Disabled by an
                // admin: left disabled (the directory does not overrule the admin).
                let enable = u.disabled && row.disabled_by_sync == Some(true);
                let same = u.username == fields.username
                    && u.email == fields.email
                    && u.name == fields.name
                    && u.department == fields.department
                    && u.role == fields.role
                    && !enable
                    && row.dn.as_deref() == Some(fields.dn.as_str())
                    && row.card_hash == fields.card_hash;
                if same {
                    out.unchanged += 1;
                } else {
                    out.changes.push(LdapChange::Update {
                        user_id: u.id,
                        fields,
                        old_card: row.card_hash.clone(),
                        enable,
                    });
                }
            }
        }
    }
    // Whoever the complete answer no longer lists (left, out of the groups, disabled
    // in the directory) is disabled; their history stays.
    for row in by_id.into_values() {
        if !row.user.disabled {
            out.changes.push(LdapChange::Disable {
                user_id: row.user.id,
                username: row.user.username,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::UserRow;

    fn person(id: &str, user: &str) -> DirectoryPerson {
        DirectoryPerson {
            dn: format!("CN={user},OU=People,DC=example,DC=org"),
            username: user.into(),
            email: format!("{user}@example.org"),
            name: user.to_uppercase(),
            department: "Sales".into(),
            card: Some("CARD1".into()),
            unique_id: id.into(),
            member_of: vec![normalize_dn("CN=PrintUsers, OU=Groups,DC=example,DC=org")],
            disabled_in_directory: false,
        }
    }

    /// What PrintPark would hold after applying `change` for the first time.
    fn stored(id: i64, change: &LdapChange) -> LdapPersonRow {
        let LdapChange::Create(f) = change else {
            unreachable!("only creations are stored here")
        };
        LdapPersonRow {
            user: UserRow {
                id,
                username: f.username.clone(),
                email: f.email.clone(),
                name: f.name.clone(),
                department: f.department.clone(),
                role: f.role.clone(),
                password_hash: None,
                pin_hash: None,
                disabled: false,
                hold_hours: None,
                created_at: 0,
                updated_at: 0,
                source: "ldap".into(),
                external_id: Some(f.external_id.clone()),
                must_change_password: false,
            },
            dn: Some(f.dn.clone()),
            card_hash: f.card_hash.clone(),
            disabled_by_sync: Some(false),
        }
    }

    fn groups() -> Groups {
        Groups {
            user_groups: vec![normalize_dn("CN=PrintUsers,OU=Groups,DC=example,DC=org")],
            admin_groups: vec![normalize_dn("cn=printadmins,ou=groups,dc=example,dc=org")],
            members: HashMap::from([(
                normalize_dn("cn=printadmins,ou=groups,dc=example,dc=org"),
                HashSet::from([normalize_dn("CN=grace,OU=People,DC=example,DC=org")]),
            )]),
        }
    }

    fn hash(card: &str) -> Vec<u8> {
        format!("h:{card}").into_bytes()
    }

    #[test]
    fn creates_then_a_second_run_changes_nothing() {
        let people = vec![person("g1", "ada"), person("g2", "grace")];
        let first = plan(people.clone(), vec![], &HashSet::new(), &groups(), hash);
        assert_eq!(first.changes.len(), 2);
        assert!(first.skipped.is_empty());
        let roles: Vec<_> = first
            .changes
            .iter()
            .map(|c| match c {
                LdapChange::Create(f) => f.role.clone(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(roles, ["user", "admin"], "grace is in the admin group");
        let held = first
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| stored(i as i64 + 1, c))
            .collect();
        let second = plan(people, held, &HashSet::new(), &groups(), hash);
        assert!(second.changes.is_empty(), "{:?}", second.changes);
        assert_eq!(second.unchanged, 2);
    }

    #[test]
    fn who_left_or_left_the_group_is_disabled_never_deleted() {
        let people = vec![
            person("g1", "ada"),
            person("g2", "grace"),
            person("g3", "alan"),
        ];
        let first = plan(people, vec![], &HashSet::new(), &groups(), hash);
        let held: Vec<_> = first
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| stored(i as i64 + 1, c))
            .collect();
        // alan left the directory; ada left PrintUsers; grace changed department.
        let mut ada = person("g1", "ada");
        ada.member_of.clear();
        let mut grace = person("g2", "grace");
        grace.department = "Research".into();
        let next = plan(vec![ada, grace], held, &HashSet::new(), &groups(), hash);
        let mut disabled: Vec<i64> = next
            .changes
            .iter()
            .filter_map(|c| match c {
                LdapChange::Disable { user_id, .. } => Some(*user_id),
                _ => None,
            })
            .collect();
        disabled.sort();
        assert_eq!(disabled, [1, 3]);
        assert!(next.changes.iter().any(|c| matches!(c, LdapChange::Update { user_id: 2, fields, .. } if fields.department == "Research")));
    }

    #[test]
    fn the_sync_enables_whom_it_disabled_never_whom_an_admin_disabled() {
        let people = vec![person("g1", "ada"), person("g2", "grace")];
        let first = plan(people.clone(), vec![], &HashSet::new(), &groups(), hash);
        let mut held: Vec<_> = first
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| stored(i as i64 + 1, c))
            .collect();
        held[0].user.disabled = true;
        held[0].disabled_by_sync = Some(true);
        held[1].user.disabled = true;
        held[1].disabled_by_sync = Some(false);
        let next = plan(people, held, &HashSet::new(), &groups(), hash);
        assert_eq!(next.changes.len(), 1, "{:?}", next.changes);
        assert!(matches!(
            next.changes[0],
            LdapChange::Update {
                user_id: 1,
                enable: true,
                ..
            }
        ));
        assert_eq!(next.unchanged, 1, "grace stays disabled, unchanged");
    }

    #[test]
    fn clashes_and_bad_entries_are_skipped_with_a_reason() {
        let taken = HashSet::from(["ada".to_string()]);
        let twin = person("g1", "alan");
        let out = plan(
            vec![person("g9", "ada"), person("g1", "grace"), twin],
            vec![],
            &taken,
            &Groups::default(),
            hash,
        );
        assert_eq!(out.changes.len(), 1);
        let reasons: Vec<_> = out.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons[0].contains("local account"), "{reasons:?}");
        assert!(reasons[1].contains("unique id"), "{reasons:?}");
    }

    #[test]
    fn guids_read_like_active_directory_shows_them() {
        let bytes: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            guid_text(&bytes).as_deref(),
            Some("03020100-0504-0706-0809-0a0b0c0d0e0f")
        );
        assert_eq!(
            normalize_dn("CN=Ada , OU=People,DC=X"),
            "cn=ada,ou=people,dc=x"
        );
    }
}
