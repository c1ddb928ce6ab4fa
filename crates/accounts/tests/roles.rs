//! The role table, enumerated: every role, every permission, every kind of target, with and
//! without break-glass and API tokens, against a second writing of the table below.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use medguard_accounts::{
    Actor, Authority, BREAK_GLASS_RAISES, BreakGlass, Grant, Permission, PermissionSet, ROLE_TABLE,
    Refusal, Role, Scope, ScopeRule, SiteId, Target, UserName, may,
};
use medguard_host::ManualClock;
use time::macros::datetime;

/// The table as the issue describes it, written out a second time by hand: one line per role,
/// an `x` per permission in `Permission::ALL` order:
/// read-fleet read-device manage-devices manage-windows ingest-advisories edit-findings
/// edit-patch-records sign-validated sign-approved release manage-rollouts defer-devices
/// break-glass review-break-glass manage-users read-audit export-audit
const EXPECTED: &[(&str, &str)] = &[
    //                               rf rd md mw ia ef ep sv sa re mr dd bg rb mu ra ea
    (
        "administrator",
        "x  x  x  x  .  .  .  .  .  .  .  .  .  x  x  x  .",
    ),
    (
        "vendor-security-engineer",
        "x  x  .  .  x  x  x  .  .  .  .  .  .  .  .  .  .",
    ),
    (
        "validator",
        "x  x  .  .  .  .  x  x  .  .  .  .  .  .  .  .  .",
    ),
    (
        "release-approver",
        "x  x  .  .  .  .  .  .  x  x  x  .  .  .  .  .  .",
    ),
    (
        "hospital-security-officer",
        "x  x  .  .  .  .  .  .  .  .  x  x  x  x  .  x  .",
    ),
    (
        "biomedical-engineer",
        "x  x  x  x  .  .  .  .  .  .  .  .  x  .  .  .  .",
    ),
    (
        "auditor",
        "x  x  .  .  .  .  .  .  .  .  .  .  .  .  .  x  x",
    ),
];

fn expected(role: Role) -> PermissionSet {
    let (_, row) = EXPECTED.iter().find(|(r, _)| *r == role.as_str()).unwrap();
    let marks: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(marks.len(), Permission::ALL.len(), "{role}");
    let mut set = PermissionSet::empty();
    for (p, m) in Permission::ALL.iter().zip(marks) {
        if m == "x" {
            set.insert(*p);
        }
    }
    set
}

fn scopes_for(role: Role, home: &SiteId) -> Vec<Scope> {
    match role.scope_rule() {
        ScopeRule::AllSites => vec![Scope::AllSites],
        ScopeRule::OneSite => vec![Scope::Site(home.clone())],
        ScopeRule::Either => vec![Scope::AllSites, Scope::Site(home.clone())],
    }
}

#[test]
fn the_table_is_the_one_described() {
    assert_eq!(ROLE_TABLE.len(), Role::ALL.len());
    assert_eq!(Role::ALL.len(), 7);
    for role in Role::ALL {
        assert_eq!(role.permissions(), expected(*role), "{role}");
    }
}

#[test]
fn separation_of_duties() {
    for role in Role::ALL {
        let p = role.permissions();
        assert!(
            !(p.contains(Permission::SignValidated) && p.contains(Permission::SignApproved)),
            "{role} signs both"
        );
        if *role != Role::Administrator {
            assert!(!p.contains(Permission::ManageUsers), "{role}");
        }
    }
    let admin = Role::Administrator.permissions();
    for p in [
        Permission::SignValidated,
        Permission::SignApproved,
        Permission::Release,
        Permission::EditPatchRecords,
        Permission::EditFindings,
    ] {
        assert!(!admin.contains(p), "administrator has {p}");
    }
    // The auditor changes nothing.
    let read_only = PermissionSet::from(
        &[
            Permission::ReadFleet,
            Permission::ReadDevice,
            Permission::ReadAudit,
            Permission::ExportAudit,
        ][..],
    );
    assert!(Role::Auditor.permissions().is_subset(read_only));
    // Break-glass never raises a signature, a release, people, reviews or the export.
    for p in [
        Permission::SignValidated,
        Permission::SignApproved,
        Permission::Release,
        Permission::ManageUsers,
        Permission::ReviewBreakGlass,
        Permission::BreakGlass,
        Permission::ExportAudit,
        Permission::ReadAudit,
    ] {
        assert!(!BREAK_GLASS_RAISES.contains(&p), "break-glass raises {p}");
    }
}

#[test]
fn every_role_every_permission_every_target() {
    let clock = ManualClock::new(datetime!(2026-03-01 12:00 UTC));
    let home = SiteId::parse("north").unwrap();
    let other = SiteId::parse("south").unwrap();
    let user = UserName::parse("someone").unwrap();
    let mut decisions = 0;
    for role in Role::ALL {
        for scope in scopes_for(*role, &home) {
            let grant = Grant::new(*role, scope.clone()).unwrap();
            let actor = Actor {
                user: &user,
                grant: &grant,
                break_glass: None,
                token: None,
            };
            for action in Permission::ALL {
                for target in [Target::AllSites, Target::Site(&home), Target::Site(&other)] {
                    let reaches = match (&scope, target) {
                        (Scope::AllSites, _) => true,
                        (Scope::Site(s), Target::Site(t)) => s == t,
                        (Scope::Site(_), Target::AllSites) => false,
                    };
                    let got = may(&actor, *action, target, &clock);
                    if !reaches {
                        assert!(
                            matches!(
                                got,
                                Err(Refusal::OtherSite { .. } | Refusal::NotAllSites { .. })
                            ),
                            "{role} {scope} {action} {target:?}: {got:?}"
                        );
                    } else if expected(*role).contains(*action) {
                        assert_eq!(
                            got,
                            Ok(Authority::Role(*role)),
                            "{role} {scope} {action} {target:?}"
                        );
                    } else {
                        assert_eq!(
                            got,
                            Err(Refusal::NotInRole {
                                role: *role,
                                action: *action
                            }),
                            "{role} {scope} {action} {target:?}"
                        );
                    }
                    decisions += 1;
                }
            }
        }
    }
    // 8 grants (the auditor twice) × 17 permissions × 3 targets.
    assert_eq!(decisions, 8 * 17 * 3);
}

#[test]
fn a_hospital_user_never_reaches_another_site() {
    let clock = ManualClock::new(datetime!(2026-03-01 12:00 UTC));
    let home = SiteId::parse("north").unwrap();
    let other = SiteId::parse("south").unwrap();
    let user = UserName::parse("bme").unwrap();
    let grant = Grant::new(Role::BiomedicalEngineer, Scope::Site(home.clone())).unwrap();
    let bg = BreakGlass::start(
        &user,
        &grant,
        "infusion pump update stuck mid-install",
        Duration::from_secs(3600),
        &clock,
    )
    .unwrap();
    let actor = Actor {
        user: &user,
        grant: &grant,
        break_glass: Some(&bg),
        token: None,
    };
    for action in Permission::ALL {
        assert!(
            may(&actor, *action, Target::Site(&other), &clock).is_err(),
            "{action}"
        );
    }
}

#[test]
fn break_glass_raises_its_set_on_its_site_while_active_and_only_for_its_holder() {
    let clock = ManualClock::new(datetime!(2026-03-01 12:00 UTC));
    let home = SiteId::parse("north").unwrap();
    let user = UserName::parse("hso").unwrap();
    let someone_else = UserName::parse("bme").unwrap();
    let grant = Grant::new(Role::HospitalSecurityOfficer, Scope::Site(home.clone())).unwrap();
    let bg = BreakGlass::start(
        &user,
        &grant,
        "ransomware on the PACS network",
        Duration::from_secs(1800),
        &clock,
    )
    .unwrap();
    let with = Actor {
        user: &user,
        grant: &grant,
        break_glass: Some(&bg),
        token: None,
    };
    let role = Role::HospitalSecurityOfficer.permissions();
    for action in Permission::ALL {
        let got = may(&with, *action, Target::Site(&home), &clock);
        if role.contains(*action) {
            assert_eq!(got, Ok(Authority::Role(Role::HospitalSecurityOfficer)));
        } else if BREAK_GLASS_RAISES.contains(action) {
            assert_eq!(got, Ok(Authority::BreakGlass), "{action}");
        } else {
            assert!(got.is_err(), "{action}");
        }
    }
    // Someone else's break-glass raises nothing.
    let other_grant = Grant::new(Role::BiomedicalEngineer, Scope::Site(home.clone())).unwrap();
    let borrowed = Actor {
        user: &someone_else,
        grant: &other_grant,
        break_glass: Some(&bg),
        token: None,
    };
    assert!(
        may(
            &borrowed,
            Permission::DeferDevices,
            Target::Site(&home),
            &clock
        )
        .is_err()
    );
    // Not through an API token, even one listing the permission.
    let token = Actor {
        token: Some(PermissionSet::from(&[Permission::ManageDevices][..])),
        ..with
    };
    assert!(matches!(
        may(
            &token,
            Permission::ManageDevices,
            Target::Site(&home),
            &clock
        ),
        Err(Refusal::NotInRole { .. })
    ));
    // It ends by itself.
    clock.advance(Duration::from_secs(1800));
    assert!(
        may(
            &with,
            Permission::ManageDevices,
            Target::Site(&home),
            &clock
        )
        .is_err()
    );
}

#[test]
fn an_api_token_is_a_subset() {
    let clock = ManualClock::new(datetime!(2026-03-01 12:00 UTC));
    let user = UserName::parse("auditor").unwrap();
    let grant = Grant::new(Role::Auditor, Scope::AllSites).unwrap();
    let actor = Actor {
        user: &user,
        grant: &grant,
        break_glass: None,
        token: Some(PermissionSet::from(&[Permission::ExportAudit][..])),
    };
    assert!(may(&actor, Permission::ExportAudit, Target::AllSites, &clock).is_ok());
    assert_eq!(
        may(&actor, Permission::ReadFleet, Target::AllSites, &clock),
        Err(Refusal::BeyondToken {
            action: Permission::ReadFleet
        })
    );
    // A token listing more than the role gets no more than the role.
    let wide = Actor {
        token: Some(PermissionSet::from(Permission::ALL)),
        ..actor
    };
    assert!(may(&wide, Permission::ManageUsers, Target::AllSites, &clock).is_err());
}
