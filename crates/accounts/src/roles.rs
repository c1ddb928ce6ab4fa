//! Who may do what, where: the roles, their permissions in one table ([`ROLE_TABLE`]), the
//! sites they reach, and the one function the server asks, [`may`].

use std::fmt;
use std::str::FromStr;

use medguard_host::Clock;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::break_glass::BreakGlass;
use crate::error::{AccountsError, TokenKind};

/// Longest user name.
const NAME_MAX: usize = 64;

fn parse_name(text: &str, kind: TokenKind, extra: &[u8]) -> Result<String, AccountsError> {
    let malformed = |problem| AccountsError::Malformed { kind, problem };
    if text.is_empty() {
        return Err(malformed("empty"));
    }
    if text.len() > NAME_MAX {
        return Err(malformed("longer than 64 characters"));
    }
    let lower = text.to_ascii_lowercase();
    let mut bytes = lower.bytes();
    if !bytes.next().is_some_and(|b| b.is_ascii_alphanumeric()) {
        return Err(malformed("must start with a letter or digit"));
    }
    if !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || extra.contains(&b)) {
        return Err(malformed(
            "letters, digits and - only (and . _ @ in user names)",
        ));
    }
    Ok(lower)
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $parse:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses a name (ASCII letters are lowered: `Alice` and `alice` are one name).
            ///
            /// # Errors
            /// [`AccountsError::Malformed`].
            pub fn parse(text: &str) -> Result<Self, AccountsError> {
                $parse(text).map(Self)
            }

            /// The name.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = AccountsError;
            fn from_str(s: &str) -> Result<Self, AccountsError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// A person's user name (their login): 1 to 64 of `a-z 0-9 - . _ @`, starting with a
    /// letter or digit.
    UserName,
    |text| parse_name(text, TokenKind::UserName, b"._@")
);

name_type!(
    /// A site (a hospital, a tenant of the server) as the fleet names it: 1 to 200 printable
    /// characters, case kept (`St. Elsewhere`), compared exactly.
    SiteId,
    parse_site_id
);

const SITE_MAX: usize = 200;

fn parse_site_id(text: &str) -> Result<String, AccountsError> {
    let malformed = |problem| AccountsError::Malformed {
        kind: TokenKind::SiteId,
        problem,
    };
    if text.trim().is_empty() {
        return Err(malformed("empty"));
    }
    if text.len() > SITE_MAX {
        return Err(malformed("longer than 200 bytes"));
    }
    if text.chars().any(char::is_control) {
        return Err(malformed("control characters"));
    }
    Ok(text.to_owned())
}

macro_rules! str_enum {
    ($(#[$doc:meta])* $name:ident, $kind:expr, { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in table order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The name used in configuration, the API and the audit log.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = AccountsError;
            fn from_str(s: &str) -> Result<Self, AccountsError> {
                match s {
                    $($text => Ok(Self::$variant),)*
                    _ => Err(AccountsError::Malformed { kind: $kind, problem: "unknown name" }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

str_enum!(
    /// A person's role.
    Role, TokenKind::Role, {
        /// Manages people, devices and maintenance windows; reads the audit trail.
        Administrator => "administrator",
        /// Ingests advisories, edits findings and patch records.
        VendorSecurityEngineer => "vendor-security-engineer",
        /// Records validation evidence and signs "validated".
        Validator => "validator",
        /// Signs "approved for release", releases, manages rollouts.
        ReleaseApprover => "release-approver",
        /// One site: its status, rollouts, deferrals, break-glass reviews, audit trail.
        HospitalSecurityOfficer => "hospital-security-officer",
        /// One site: its devices and maintenance windows.
        BiomedicalEngineer => "biomedical-engineer",
        /// Reads and exports the audit trail; changes nothing.
        Auditor => "auditor",
    }
);

str_enum!(
    /// Something a person may be allowed to do.
    Permission, TokenKind::Permission, {
        /// See the fleet's status and findings.
        ReadFleet => "read-fleet",
        /// See one device's details, reports and history.
        ReadDevice => "read-device",
        /// Enroll, edit, revoke devices.
        ManageDevices => "manage-devices",
        /// Set devices' maintenance windows.
        ManageWindows => "manage-windows",
        /// Ingest advisory feeds.
        IngestAdvisories => "ingest-advisories",
        /// Edit fleet findings (relevance, rationale).
        EditFindings => "edit-findings",
        /// Edit patch records: impact analysis, evidence.
        EditPatchRecords => "edit-patch-records",
        /// Sign a patch record "validated".
        SignValidated => "sign-validated",
        /// Sign a patch record "approved for release".
        SignApproved => "sign-approved",
        /// Release an approved patch (publish it through TUF).
        Release => "release",
        /// Start, pause, resume, cancel rollouts.
        ManageRollouts => "manage-rollouts",
        /// Defer a device or a site from a rollout.
        DeferDevices => "defer-devices",
        /// Raise one's own rights for a bounded time in an emergency.
        BreakGlass => "break-glass",
        /// Review another person's break-glass session.
        ReviewBreakGlass => "review-break-glass",
        /// Add people, change roles, issue set-up and reset links.
        ManageUsers => "manage-users",
        /// Read the server's audit trail.
        ReadAudit => "read-audit",
        /// Export the audit trail.
        ExportAudit => "export-audit",
    }
);

impl Role {
    /// Which scopes this role may be granted with.
    #[must_use]
    pub fn scope_rule(self) -> ScopeRule {
        match self {
            Self::Administrator
            | Self::VendorSecurityEngineer
            | Self::Validator
            | Self::ReleaseApprover => ScopeRule::AllSites,
            Self::HospitalSecurityOfficer | Self::BiomedicalEngineer => ScopeRule::OneSite,
            Self::Auditor => ScopeRule::Either,
        }
    }

    /// The role's permissions, from [`ROLE_TABLE`].
    #[must_use]
    pub fn permissions(self) -> PermissionSet {
        ROLE_TABLE
            .iter()
            .find(|(r, _)| *r == self)
            .map(|(_, p)| PermissionSet::from(*p))
            .unwrap_or_default()
    }
}

/// Which scopes a role may be granted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeRule {
    /// Only all sites (vendor roles, administrator).
    AllSites,
    /// Only one site (hospital roles).
    OneSite,
    /// Either.
    Either,
}

use Permission as P;

/// The roles and their permissions: the one place they are written.
pub const ROLE_TABLE: &[(Role, &[Permission])] = &[
    (
        Role::Administrator,
        &[
            P::ReadFleet,
            P::ReadDevice,
            P::ManageDevices,
            P::ManageWindows,
            P::ReviewBreakGlass,
            P::ManageUsers,
            P::ReadAudit,
        ],
    ),
    (
        Role::VendorSecurityEngineer,
        &[
            P::ReadFleet,
            P::ReadDevice,
            P::IngestAdvisories,
            P::EditFindings,
            P::EditPatchRecords,
        ],
    ),
    (
        Role::Validator,
        &[
            P::ReadFleet,
            P::ReadDevice,
            P::EditPatchRecords,
            P::SignValidated,
        ],
    ),
    (
        Role::ReleaseApprover,
        &[
            P::ReadFleet,
            P::ReadDevice,
            P::SignApproved,
            P::Release,
            P::ManageRollouts,
        ],
    ),
    (
        Role::HospitalSecurityOfficer,
        &[
            P::ReadFleet,
            P::ReadDevice,
            P::ManageRollouts,
            P::DeferDevices,
            P::BreakGlass,
            P::ReviewBreakGlass,
            P::ReadAudit,
        ],
    ),
    (
        Role::BiomedicalEngineer,
        &[
            P::ReadFleet,
            P::ReadDevice,
            P::ManageDevices,
            P::ManageWindows,
            P::BreakGlass,
        ],
    ),
    (
        Role::Auditor,
        &[P::ReadFleet, P::ReadDevice, P::ReadAudit, P::ExportAudit],
    ),
];

/// What an active break-glass session adds to its holder's role, on the holder's own site(s):
/// what it takes to hold or stop something on a device in an emergency. Never a signature, a
/// release, people, reviews or the audit export.
pub const BREAK_GLASS_RAISES: &[Permission] = &[
    P::ReadFleet,
    P::ReadDevice,
    P::ManageDevices,
    P::ManageWindows,
    P::ManageRollouts,
    P::DeferDevices,
];

/// A set of permissions (an API token's subset of its owner's role). Serialised as a list of
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PermissionSet(u32);

impl PermissionSet {
    fn bit(p: Permission) -> u32 {
        let index = Permission::ALL.iter().position(|&q| q == p).unwrap_or(0);
        1 << index
    }

    /// No permission.
    #[must_use]
    pub fn empty() -> Self {
        Self(0)
    }

    /// Whether `p` is in the set.
    #[must_use]
    pub fn contains(self, p: Permission) -> bool {
        self.0 & Self::bit(p) != 0
    }

    /// Adds `p`.
    pub fn insert(&mut self, p: Permission) {
        self.0 |= Self::bit(p);
    }

    /// Whether every permission of `self` is in `other`.
    #[must_use]
    pub fn is_subset(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    /// The permissions, in table order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(move |&p| self.contains(p))
    }
}

impl From<&[Permission]> for PermissionSet {
    fn from(list: &[Permission]) -> Self {
        let mut set = Self::empty();
        for &p in list {
            set.insert(p);
        }
        set
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Permission::as_str))
    }
}

impl<'de> Deserialize<'de> for PermissionSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<Permission>::deserialize(d)?;
        Ok(Self::from(list.as_slice()))
    }
}

/// Where a grant reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Every site.
    AllSites,
    /// One site.
    Site(SiteId),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AllSites => f.write_str("all sites"),
            Self::Site(s) => write!(f, "site {s}"),
        }
    }
}

/// A person's role and where it reaches. A value exists only if the scope fits the role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawGrant")]
pub struct Grant {
    role: Role,
    scope: Scope,
}

#[derive(Deserialize)]
struct RawGrant {
    role: Role,
    scope: Scope,
}

impl TryFrom<RawGrant> for Grant {
    type Error = AccountsError;
    fn try_from(raw: RawGrant) -> Result<Self, AccountsError> {
        Self::new(raw.role, raw.scope)
    }
}

impl Grant {
    /// A grant.
    ///
    /// # Errors
    /// [`AccountsError::ScopeMismatch`]: a hospital role for all sites, a vendor role or the
    /// administrator for one site.
    pub fn new(role: Role, scope: Scope) -> Result<Self, AccountsError> {
        let fits = match (role.scope_rule(), &scope) {
            (ScopeRule::Either, _)
            | (ScopeRule::AllSites, Scope::AllSites)
            | (ScopeRule::OneSite, Scope::Site(_)) => true,
            (ScopeRule::AllSites, Scope::Site(_)) | (ScopeRule::OneSite, Scope::AllSites) => false,
        };
        if !fits {
            return Err(AccountsError::ScopeMismatch {
                role,
                scope: scope.to_string(),
            });
        }
        Ok(Self { role, scope })
    }

    /// The role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The scope.
    #[must_use]
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Whether the scope reaches `target`.
    #[must_use]
    pub fn reaches(&self, target: Target<'_>) -> bool {
        match (&self.scope, target) {
            (Scope::AllSites, _) => true,
            (Scope::Site(mine), Target::Site(asked)) => mine == asked,
            (Scope::Site(_), Target::AllSites) => false,
        }
    }
}

/// What an action is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// Something of every site, or of none in particular (ingesting an advisory, listing all
    /// sites, managing people).
    AllSites,
    /// Something of one site (a device, its window, a rollout there).
    Site(&'a SiteId),
}

/// The person (or their script) asking.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// Who.
    pub user: &'a UserName,
    /// Their grant.
    pub grant: &'a Grant,
    /// Their break-glass session, if they have one (active or not: [`may`] checks).
    pub break_glass: Option<&'a BreakGlass>,
    /// The permissions of the API token the request came with; `None` for a browser session.
    /// A token never carries break-glass rights.
    pub token: Option<PermissionSet>,
}

/// Why an action was allowed: by the role, or by an active break-glass session (which the
/// server records as such in the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// The role's table row.
    Role(Role),
    /// Break-glass rights.
    BreakGlass,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The role does not have the permission (and no active break-glass raises it).
    #[error("the role {role} may not {action}")]
    NotInRole {
        /// The role.
        role: Role,
        /// The action.
        action: Permission,
    },
    /// A site-scoped person asked about another site.
    #[error("granted for site {granted}, not for site {asked}")]
    OtherSite {
        /// Their site.
        granted: SiteId,
        /// The site asked about.
        asked: SiteId,
    },
    /// A site-scoped person asked for something of all sites.
    #[error("granted for site {granted} only, not for all sites")]
    NotAllSites {
        /// Their site.
        granted: SiteId,
    },
    /// The API token does not carry the permission.
    #[error("the API token does not carry {action}")]
    BeyondToken {
        /// The action.
        action: Permission,
    },
}

/// Who may do what, where: the roles, their permissions in one table ([`ROLE_TABLE`]), the
/// sites they reach, and the one function the server asks, [`may`].
///
/// Hospital roles (hospital security officer, biomedical engineer) are granted for one site
/// and see nothing of another. Vendor roles (vendor security engineer, validator, release
/// approver) and the administrator reach all sites. An auditor is granted either way (the
/// vendor's quality auditor, or one hospital's).
///
/// Separation of duties is in the table: no role both signs "validated" and "approved for
/// release"; the administrator manages people and devices but signs, releases and edits
/// nothing of the patch process; break-glass never raises a right to sign, release, manage
/// people or review a break-glass session.
///
/// May this person do this action on this target, now? The only authorisation question the
/// server asks.
///
/// In order: an API token's subset, then the grant's scope, then the role's table row, then an
/// active break-glass session of this person (browser sessions only).
///
/// # Errors
/// The [`Refusal`].
pub fn may(
    actor: &Actor<'_>,
    action: Permission,
    target: Target<'_>,
    clock: &dyn Clock,
) -> Result<Authority, Refusal> {
    if actor.token.is_some_and(|token| !token.contains(action)) {
        return Err(Refusal::BeyondToken { action });
    }
    if !actor.grant.reaches(target) {
        return Err(match (&actor.grant.scope, target) {
            (Scope::Site(granted), Target::Site(asked)) => Refusal::OtherSite {
                granted: granted.clone(),
                asked: asked.clone(),
            },
            (Scope::Site(granted), Target::AllSites) => Refusal::NotAllSites {
                granted: granted.clone(),
            },
            // An all-sites grant reaches everything.
            (Scope::AllSites, _) => Refusal::NotInRole {
                role: actor.grant.role,
                action,
            },
        });
    }
    let role = actor.grant.role;
    if role.permissions().contains(action) {
        return Ok(Authority::Role(role));
    }
    if actor.token.is_none()
        && BREAK_GLASS_RAISES.contains(&action)
        && actor
            .break_glass
            .is_some_and(|bg| bg.user() == actor.user && bg.is_active(clock))
    {
        return Ok(Authority::BreakGlass);
    }
    Err(Refusal::NotInRole { role, action })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        assert_eq!(
            UserName::parse("J.Doe@site-1").unwrap().as_str(),
            "j.doe@site-1"
        );
        assert_eq!(SiteId::parse("St. Mary's").unwrap().as_str(), "St. Mary's");
        for bad in ["", "-x", ".x", "a b", "é", &"a".repeat(65)] {
            assert!(UserName::parse(bad).is_err(), "{bad:?}");
        }
        for bad in ["", " ", "a\nb", &"a".repeat(201)] {
            assert!(SiteId::parse(bad).is_err(), "{bad:?}");
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>().unwrap(), *p);
        }
    }

    #[test]
    fn permission_sets_serialise_as_names() {
        let set = PermissionSet::from(&[P::ReadAudit, P::ReadFleet][..]);
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["read-fleet","read-audit"]"#);
        assert_eq!(serde_json::from_str::<PermissionSet>(&json).unwrap(), set);
        assert!(set.is_subset(Role::Auditor.permissions()));
        assert!(!Role::Auditor.permissions().is_subset(set));
    }

    #[test]
    fn grants_fit_their_roles() {
        let site = Scope::Site(SiteId::parse("north").unwrap());
        assert!(Grant::new(Role::BiomedicalEngineer, Scope::AllSites).is_err());
        assert!(Grant::new(Role::Validator, site.clone()).is_err());
        assert!(Grant::new(Role::Auditor, site.clone()).is_ok());
        assert!(Grant::new(Role::Auditor, Scope::AllSites).is_ok());
        let json = r#"{"role":"administrator","scope":{"site":"north"}}"#;
        assert!(serde_json::from_str::<Grant>(json).is_err());
        let g = Grant::new(Role::HospitalSecurityOfficer, site).unwrap();
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(serde_json::from_str::<Grant>(&json).unwrap(), g);
    }
}
