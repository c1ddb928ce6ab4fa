//! What the server host's command line does to people (`medguard server init`, `server user
//! add|reset|list`, `server token create`): the same fleet functions as the API, recorded in
//! the server's audit trail as done by the host's operator (whoever can read the data
//! directory is the server's administrator of last resort, as with `kanidmd recover-account`).
//! Nobody learns or sets a person's secrets here either: a person gets a one-time link.

use medguard_accounts::{Role, SetupPurpose, UserName};
use medguard_audit::{EventKind, Outcome};
use medguard_fleet::{IssuedApiToken, IssuedSetup, Person};

use crate::trail::{Action, ServerTrail};
use crate::{DataDir, ServerError, grant_of, open_fleet};

/// Who the audit trail names for the host's command line.
pub const HOST_OPERATOR: &str = "medguard-server-host";

fn record(dir: &DataDir, kind: EventKind, detail: String) -> Result<(), ServerError> {
    ServerTrail::open(dir.root())?.append(&Action {
        kind,
        outcome: Outcome::Success,
        user: HOST_OPERATOR,
        address: None,
        detail,
    })?;
    Ok(())
}

/// The address of a set-up link, on the server's first host name and its listening port.
///
/// # Errors
/// [`ServerError`] when the settings cannot be read.
pub fn setup_url(dir: &DataDir, link: &IssuedSetup) -> Result<String, ServerError> {
    let settings = dir.settings()?;
    let host = settings
        .hostnames
        .first()
        .cloned()
        .unwrap_or_else(|| "localhost".into());
    let port = settings
        .listen
        .rsplit_once(':')
        .map_or("8443", |(_, p)| p)
        .to_owned();
    Ok(format!(
        "https://{host}:{port}/setup/{}",
        link.token.reveal()
    ))
}

/// Adds a person (their one-time set-up link is returned, to hand to them).
///
/// # Errors
/// [`ServerError`]: a name taken, a scope that does not fit the role, an unknown site.
pub async fn add_person(
    dir: &DataDir,
    name: &str,
    role: Role,
    site: Option<&str>,
    purpose: SetupPurpose,
) -> Result<IssuedSetup, ServerError> {
    let fleet = open_fleet(dir).await?;
    let name = UserName::parse(name).map_err(medguard_fleet::FleetError::from)?;
    let grant = grant_of(role, site)?;
    let issued = fleet.add_person(&name, &grant, purpose).await?;
    record(
        dir,
        EventKind::SecurityRolesChanged,
        format!(
            "user {name} added as {role} for {} (on the server host)",
            grant.scope()
        ),
    )?;
    Ok(issued)
}

/// The first administrator, unless one exists: `server init` calls this.
///
/// # Errors
/// [`ServerError`].
pub async fn first_administrator(
    dir: &DataDir,
    name: &str,
) -> Result<Option<IssuedSetup>, ServerError> {
    if open_fleet(dir).await?.has_administrator().await? {
        return Ok(None);
    }
    add_person(
        dir,
        name,
        Role::Administrator,
        None,
        SetupPurpose::FirstAdministrator,
    )
    .await
    .map(Some)
}

/// Issues a person a new set-up link.
///
/// # Errors
/// [`ServerError`]: an unknown person.
pub async fn reset_person(dir: &DataDir, name: &str) -> Result<IssuedSetup, ServerError> {
    let fleet = open_fleet(dir).await?;
    let name = UserName::parse(name).map_err(medguard_fleet::FleetError::from)?;
    let issued = fleet.reset_person(&name).await?;
    record(
        dir,
        EventKind::UserSecurityChanged,
        format!("user {name} reset on the server host: a new set-up link was issued"),
    )?;
    Ok(issued)
}

/// Everyone.
///
/// # Errors
/// [`ServerError`].
pub async fn people(dir: &DataDir) -> Result<Vec<Person>, ServerError> {
    Ok(open_fleet(dir).await?.people().await?)
}

/// Makes an API token for a person (all of their role's permissions).
///
/// # Errors
/// [`ServerError`]: an unknown person, a lifetime out of bounds.
pub async fn create_token(
    dir: &DataDir,
    user: &str,
    name: &str,
    lifetime: std::time::Duration,
) -> Result<IssuedApiToken, ServerError> {
    let fleet = open_fleet(dir).await?;
    let user = UserName::parse(user).map_err(medguard_fleet::FleetError::from)?;
    let issued = fleet
        .create_person_token(&user, name, None, lifetime)
        .await?;
    record(
        dir,
        EventKind::UserSecurityChanged,
        format!(
            "API token {} ({name:?}) made for {user} on the server host",
            issued.id
        ),
    )?;
    Ok(issued)
}

/// The signed export of patch record `id` (the record for auditors), recorded in the
/// server's audit trail.
///
/// # Errors
/// [`ServerError`]: an unknown record, an unreadable key.
pub async fn export_patch_record(dir: &DataDir, id: &str) -> Result<Vec<u8>, ServerError> {
    let fleet = open_fleet(dir).await?;
    let record = fleet.patch_record(id).await?;
    let key_path = dir.root().join("keys/server.key");
    let key = medguard_digest::SigningKey::load(&key_path).map_err(|e| ServerError::Settings {
        path: key_path.clone(),
        reason: e.to_string(),
    })?;
    let bytes = medguard_patch::export(&record, &key);
    record_export(dir, id)?;
    Ok(bytes)
}

fn record_export(dir: &DataDir, id: &str) -> Result<(), ServerError> {
    record(
        dir,
        EventKind::Export,
        format!("patch record {id} exported on the server host"),
    )
}
