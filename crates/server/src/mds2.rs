//! A model's MDS2 form: `GET /api/v1/models/{name}/mds2` (JSON; CSV with `?format=csv` or
//! `Accept: text/csv`) and the printable page `GET /models/{name}/mds2`.
//!
//! The evidence is the fleet's ([`medguard_fleet::Fleet::model_evidence`]): a person with a
//! one-site role sees the evidence of their own site's devices only. The vendor's
//! declarations are read from `DIR/mds2/<model>.toml` in the server's data directory (see
//! [`medguard_mds2::VendorDeclarations`] for the file); a model without that file has only
//! its evidence-backed answers. A model name holding `/` or `\`, or starting with `.`, has no
//! such file. The rules are `medguard-mds2`'s; this module only reads and answers.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use medguard_accounts::Permission;
use medguard_mds2::{Mds2Form, VendorDeclarations};
use medguard_proto::codes;
use serde::Deserialize;

use crate::app::{AppState, Shared};
use crate::auth::Person;
use crate::pages::{Reader, error_page};
use crate::people::html;
use crate::problem::ApiError;
use crate::{ServerError, settings::DataDir};

/// The folder of the vendors' declarations inside the data directory.
pub const DECLARATIONS_DIR: &str = "mds2";

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/models/{name}/mds2", get(form_api))
        .route("/models/{name}/mds2", get(form_page))
}

/// Where a model's declarations file is, if its name can be a file name.
#[must_use]
pub fn declarations_path(data: &FsPath, model: &str) -> Option<PathBuf> {
    let plain = !model.is_empty()
        && !model.starts_with('.')
        && !model.contains(['/', '\\', '\0'])
        && !model.chars().any(char::is_control);
    plain.then(|| data.join(DECLARATIONS_DIR).join(format!("{model}.toml")))
}

/// Reads a model's declarations (none when it has no file).
///
/// # Errors
/// [`ServerError::Io`] when the file cannot be read; [`ServerError::Settings`] when it is
/// refused (with the line and column).
pub fn declarations(data: &FsPath, model: &str) -> Result<VendorDeclarations, ServerError> {
    let Some(path) = declarations_path(data, model) else {
        return Ok(VendorDeclarations::none());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(VendorDeclarations::none());
        }
        Err(source) => return Err(ServerError::Io { path, source }),
    };
    let file = format!("{DECLARATIONS_DIR}/{model}.toml");
    VendorDeclarations::parse(&text, &file).map_err(|e| ServerError::Settings {
        path,
        reason: e.to_string(),
    })
}

/// The form of `model` for a person of `site` (all sites: `None`), made now. A model with
/// neither devices nor a declarations file is not found.
///
/// # Errors
/// A problem: not found, an invalid declarations file, or the fleet's error.
pub async fn form(state: &AppState, model: &str, site: Option<&str>) -> Result<Mds2Form, ApiError> {
    let evidence = state.fleet.model_evidence(model, site).await?;
    let declared = declarations(state.data.root(), model).map_err(|e| match e {
        // The vendor's file is the operator's to fix: say what is wrong with it.
        ServerError::Settings { reason, .. } => ApiError::new(
            codes::INVALID,
            format!("the declarations file {DECLARATIONS_DIR}/{model}.toml: {reason}"),
        ),
        other => other.into(),
    })?;
    if evidence.devices == 0 && declared.file.is_empty() {
        return Err(ApiError::new(
            codes::NOT_FOUND,
            format!("no devices of model {model:?} and no declarations for it"),
        ));
    }
    Ok(Mds2Form::fill(
        model,
        &evidence,
        &declared,
        time::OffsetDateTime::now_utc(),
    ))
}

/// Makes the form for the command line: the data directory's fleet, every site.
///
/// # Errors
/// [`ServerError`]; a model with neither devices nor declarations is
/// [`medguard_fleet::FleetError::NotFound`].
pub async fn form_of(dir: &DataDir, model: &str) -> Result<Mds2Form, ServerError> {
    let fleet = crate::open_fleet(dir).await?;
    let evidence = fleet.model_evidence(model, None).await?;
    let declared = declarations(dir.root(), model)?;
    if evidence.devices == 0 && declared.file.is_empty() {
        return Err(medguard_fleet::FleetError::NotFound {
            what: format!("devices or declarations of model {model:?}"),
        }
        .into());
    }
    Ok(Mds2Form::fill(
        model,
        &evidence,
        &declared,
        time::OffsetDateTime::now_utc(),
    ))
}

/// The form as a printable HTML document of its own (its stylesheet inside).
#[must_use]
pub fn document(form: &Mds2Form) -> String {
    medguard_web::mds2::mds2_document(form)
}

#[derive(Debug, Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

fn wants_csv(q: &FormatQuery, headers: &HeaderMap) -> Result<bool, ApiError> {
    match q.format.as_deref() {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(ApiError::new(
            codes::INVALID,
            format!("format {other:?}: json or csv"),
        )),
        None => Ok(headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|m| m.trim().starts_with("text/csv")))),
    }
}

/// A file name for the download: the model's letters and digits only.
fn file_name(model: &str) -> String {
    let safe: String = model
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("mds2-{safe}.csv")
}

async fn form_api(
    State(state): Shared,
    who: Person,
    Path(model): Path<String>,
    Query(q): Query<FormatQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let csv = wants_csv(&q, &headers)?;
    let home = who.principal.site().map(|s| s.as_str().to_owned());
    state
        .fleet
        .authorize(&who.principal, Permission::ReadDevice, home.as_deref())?;
    let form = form(&state, &model, home.as_deref()).await?;
    if csv {
        let mut r = (StatusCode::OK, form.to_csv()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        if let Ok(v) =
            HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file_name(&model)))
        {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        Ok(r)
    } else {
        Ok(axum::Json(form.to_json()).into_response())
    }
}

async fn form_page(State(state): Shared, reader: Reader, Path(model): Path<String>) -> Response {
    let result = async {
        let home = reader.home();
        reader.may(&state, Permission::ReadDevice, home.as_deref())?;
        form(&state, &model, home.as_deref()).await
    }
    .await;
    match result {
        Ok(form) => html(
            StatusCode::OK,
            medguard_web::mds2::mds2_page(&reader.viewer, &form),
        ),
        Err(e) => error_page(&reader.viewer, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_name_cannot_leave_the_declarations_folder() {
        let data = FsPath::new("/srv/medguard");
        assert_eq!(
            declarations_path(data, "CT 9000"),
            Some(PathBuf::from("/srv/medguard/mds2/CT 9000.toml"))
        );
        for bad in ["../keys/server", "a/b", "a\\b", ".hidden", ""] {
            assert_eq!(declarations_path(data, bad), None, "{bad}");
        }
    }
}
