//! The OpenAPI 3.1 document of the API, generated from one table of the routes
//! ([`ROUTES`]); a test checks that the router serves every route the table names, and the
//! document is validated with `openapi-spec-validator` (the OpenAPI Initiative's schemas).
//!
//! Bodies are described by name and link to the crate that defines them (`medguard-proto` for
//! the device protocol); errors are RFC 9457 problem documents.

use medguard_accounts::Permission;
use serde_json::{Map, Value, json};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// Anyone (health checks, enrollment with its token).
    Anyone,
    /// An enrolled device, by its client certificate.
    Device,
    /// A person (browser session or API token) whose role holds this permission (`None`:
    /// any signed-in person; the handler checks the rest).
    Person(Option<Permission>),
}

/// One route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// `get`, `post`, `put`.
    pub method: &'static str,
    /// The path, with `{parameters}`.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Who may call it.
    pub caller: Caller,
    /// The request body's type, if any.
    pub request: Option<&'static str>,
    /// The success status and the response body's type.
    pub response: (u16, &'static str),
    /// Query parameters.
    pub query: &'static [&'static str],
}

const LIST: &[&str] = &["limit", "offset"];

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    Route {
        method: "post",
        path: "/api/v1/enroll",
        summary: "Enroll a device with a one-time token and its certificate request",
        caller: Caller::Anyone,
        request: Some("EnrollRequest"),
        response: (201, "EnrollResponse"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/device/certificate",
        summary: "Renew the device's certificate (same key)",
        caller: Caller::Device,
        request: Some("RenewRequest"),
        response: (200, "IssuedCertificate"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/device/reports",
        summary: "Upload reports, each stored exactly once per sequence number",
        caller: Caller::Device,
        request: Some("ReportBatch"),
        response: (200, "ReportAck"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/device/checkin",
        summary: "Fetch the commands waiting for the device",
        caller: Caller::Device,
        request: Some("CheckinRequest"),
        response: (200, "CheckinResponse"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/devices",
        summary: "Devices, those needing attention first; filter by site, model, status",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "Page<DeviceSummary>"),
        query: &["site", "model", "status", "limit", "offset"],
    },
    Route {
        method: "get",
        path: "/api/v1/devices/{id}",
        summary: "One device: status, deviations, scan, denials, services, installs, audit chains",
        caller: Caller::Person(Some(Permission::ReadDevice)),
        request: None,
        response: (200, "DeviceDetail"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/devices/{id}/findings",
        summary: "A device's findings with their rationale",
        caller: Caller::Person(Some(Permission::ReadDevice)),
        request: None,
        response: (200, "Page<FleetFinding>"),
        query: &["state", "relevance", "limit", "offset"],
    },
    Route {
        method: "post",
        path: "/api/v1/devices/{id}/revoke",
        summary: "Revoke a device: refused at its next request on every server",
        caller: Caller::Person(Some(Permission::ManageDevices)),
        request: Some("RevokeBody"),
        response: (204, ""),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/devices/{id}/commands",
        summary: "Ask a device to verify, scan or collect now (handed out at its next check-in)",
        caller: Caller::Person(Some(Permission::ManageDevices)),
        request: Some("CommandBody"),
        response: (202, "QueuedCommand"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/findings",
        summary: "Findings across the fleet, most urgent first",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "Page<FleetFinding>"),
        query: &[
            "advisory",
            "site",
            "model",
            "state",
            "relevance",
            "limit",
            "offset",
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/advisories",
        summary: "Advisories held",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "Page<AdvisorySummary>"),
        query: LIST,
    },
    Route {
        method: "post",
        path: "/api/v1/advisories",
        summary: "Ingest advisories (an OSV or CSAF 2.0 document, or an array of them)",
        caller: Caller::Person(Some(Permission::IngestAdvisories)),
        request: Some("AdvisoryDocuments"),
        response: (200, "AdvisoryIngest"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/enrollment-tokens",
        summary: "Enrollment tokens still usable",
        caller: Caller::Person(Some(Permission::ManageDevices)),
        request: None,
        response: (200, "EnrollmentToken[]"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/enrollment-tokens",
        summary: "Make an enrollment token (the secret is shown once)",
        caller: Caller::Person(Some(Permission::ManageDevices)),
        request: Some("TokenBody"),
        response: (201, "IssuedToken"),
        query: &[],
    },
    Route {
        method: "put",
        path: "/api/v1/models/{name}",
        summary: "Declare a device model's clinical criticality, exposure and report interval",
        caller: Caller::Person(Some(Permission::ManageDevices)),
        request: Some("ModelBody"),
        response: (204, ""),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/models/{name}/mds2",
        summary: "The model's MDS2 form (HN 1-2019), from live evidence and the vendor's declarations; CSV with format=csv or Accept: text/csv",
        caller: Caller::Person(Some(Permission::ReadDevice)),
        request: None,
        response: (200, "Mds2Form"),
        query: &["format"],
    },
    Route {
        method: "get",
        path: "/api/v1/sites",
        summary: "Sites and their device counts",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "Site[]"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/status",
        summary: "Devices by status",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "StatusCounts"),
        query: &["site"],
    },
    Route {
        method: "get",
        path: "/api/v1/security-events",
        summary: "Security events the server recorded, newest first",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "SecurityEvent[]"),
        query: &["device", "limit"],
    },
    Route {
        method: "post",
        path: "/api/v1/session",
        summary: "Sign in with user name, passphrase and a TOTP or recovery code; sets the session cookie",
        caller: Caller::Anyone,
        request: Some("SignInBody"),
        response: (201, "SessionInfo"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/session",
        summary: "Who is signed in: user, role, scope, break-glass, the CSRF token for changes",
        caller: Caller::Person(None),
        request: None,
        response: (200, "SessionInfo"),
        query: &[],
    },
    Route {
        method: "delete",
        path: "/api/v1/session",
        summary: "Sign out: the session ends on the server",
        caller: Caller::Person(None),
        request: None,
        response: (204, ""),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/setup/{token}",
        summary: "Open a one-time set-up link: for whom, and a new TOTP secret with its QR code",
        caller: Caller::Anyone,
        request: None,
        response: (200, "SetupOffer"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/setup/{token}",
        summary: "Complete a set-up: passphrase, the TOTP secret offered and a code from it; returns the recovery codes once",
        caller: Caller::Anyone,
        request: Some("SetupBody"),
        response: (200, "SetupDone"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/users",
        summary: "People, their roles and scopes",
        caller: Caller::Person(Some(Permission::ManageUsers)),
        request: None,
        response: (200, "Person[]"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/users",
        summary: "Add a person with a role (and site); returns their one-time set-up link",
        caller: Caller::Person(Some(Permission::ManageUsers)),
        request: Some("UserBody"),
        response: (201, "SetupLinkIssued"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/users/{name}/reset",
        summary: "Issue a person a new set-up link (lost authenticator or passphrase)",
        caller: Caller::Person(Some(Permission::ManageUsers)),
        request: None,
        response: (201, "SetupLinkIssued"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/users/{name}/release",
        summary: "Release an account held after 100 failed sign-ins",
        caller: Caller::Person(Some(Permission::ManageUsers)),
        request: None,
        response: (204, ""),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/tokens",
        summary: "Make an API token of your own (a subset of your role; shown once)",
        caller: Caller::Person(None),
        request: Some("ApiTokenBody"),
        response: (201, "ApiTokenIssued"),
        query: &[],
    },
    Route {
        method: "delete",
        path: "/api/v1/tokens/{id}",
        summary: "Revoke an API token (yours; an administrator: anyone's)",
        caller: Caller::Person(None),
        request: None,
        response: (204, ""),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/break-glass",
        summary: "Break-glass sessions (those awaiting review, or all with ?state=all)",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "BreakGlassRecord[]"),
        query: &["state"],
    },
    Route {
        method: "post",
        path: "/api/v1/break-glass",
        summary: "Start break-glass: raised rights for a bounded time, with a stated reason",
        caller: Caller::Person(Some(Permission::BreakGlass)),
        request: Some("BreakGlassBody"),
        response: (201, "BreakGlassRecord"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/break-glass/{id}/end",
        summary: "End an active break-glass session early",
        caller: Caller::Person(None),
        request: None,
        response: (200, "BreakGlassRecord"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/break-glass/{id}/review",
        summary: "Review a finished break-glass session (a second person), with a note",
        caller: Caller::Person(Some(Permission::ReviewBreakGlass)),
        request: Some("ReviewBody"),
        response: (200, "BreakGlassRecord"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/audit",
        summary: "The server's audit log: what people did, newest first; searched by actor (user name), action (event type), object (words in the record), since and until (UTC), a page at a time (limit, offset)",
        caller: Caller::Person(Some(Permission::ReadAudit)),
        request: None,
        response: (200, "AuditRecord[]"),
        query: &[
            "limit", "offset", "actor", "action", "object", "since", "until",
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/openapi.json",
        summary: "This document",
        caller: Caller::Anyone,
        request: None,
        response: (200, "OpenAPI"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/healthz",
        summary: "The process is alive",
        caller: Caller::Anyone,
        request: None,
        response: (200, "text"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/readyz",
        summary: "The database answers",
        caller: Caller::Anyone,
        request: None,
        response: (200, "text"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/patch-records",
        summary: "Patch records, latest change first",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "Vec<PatchSummary>"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/patch-records",
        summary: "Open a patch record from a fleet finding (advisory) or by hand",
        caller: Caller::Person(Some(Permission::EditPatchRecords)),
        request: Some("OpenBody"),
        response: (201, "PatchRecordView"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/patch-records/{id}",
        summary: "A patch record with each signature's status",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "PatchRecordView"),
        query: &[],
    },
    Route {
        method: "put",
        path: "/api/v1/patch-records/{id}/bundle",
        summary: "Attach the candidate bundle (its signature checked against DIR/trust/bundles)",
        caller: Caller::Person(Some(Permission::EditPatchRecords)),
        request: Some("bundle file"),
        response: (200, "PatchRecordView"),
        query: &[],
    },
    Route {
        method: "put",
        path: "/api/v1/patch-records/{id}/impact",
        summary: "Record the impact analysis (step 3)",
        caller: Caller::Person(Some(Permission::EditPatchRecords)),
        request: Some("ImpactBody"),
        response: (200, "PatchRecordView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/patch-records/{id}/evidence",
        summary: "Add an evidence file (a test report), content-addressed",
        caller: Caller::Person(Some(Permission::EditPatchRecords)),
        request: Some("file"),
        response: (201, "PatchRecordView"),
        query: &["name"],
    },
    Route {
        method: "post",
        path: "/api/v1/patch-records/{id}/evidence/malware-scan",
        summary: "Scan the bundle's payload on the server and add the result as evidence",
        caller: Caller::Person(Some(Permission::EditPatchRecords)),
        request: None,
        response: (201, "PatchRecordView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/patch-records/{id}/evidence/reference-install",
        summary: "Add a reference device's reported install of the bundle as evidence",
        caller: Caller::Person(Some(Permission::EditPatchRecords)),
        request: Some("ReferenceBody"),
        response: (201, "PatchRecordView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/patch-records/{id}/signatures",
        summary: "Sign electronically (passphrase and authenticator code asked again)",
        caller: Caller::Person(None),
        request: Some("SignBody"),
        response: (201, "SignatureView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/patch-records/{id}/release",
        summary: "Release: publish the bundle through the server's TUF repository",
        caller: Caller::Person(Some(Permission::Release)),
        request: None,
        response: (200, "PatchRecordView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/patch-records/{id}/defer",
        summary: "Put a record aside, with a reason",
        caller: Caller::Person(Some(Permission::EditPatchRecords)),
        request: Some("ReasonBody"),
        response: (200, "PatchRecordView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/patch-records/{id}/resume",
        summary: "Take a deferred record up again",
        caller: Caller::Person(Some(Permission::EditPatchRecords)),
        request: Some("ReasonBody"),
        response: (200, "PatchRecordView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/patch-records/{id}/withdraw",
        summary: "Give a record up, with a reason",
        caller: Caller::Person(Some(Permission::EditPatchRecords)),
        request: Some("ReasonBody"),
        response: (200, "PatchRecordView"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/patch-records/{id}/export",
        summary: "The whole record, signed by the server (verify offline with `medguard patch verify`)",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "signed document"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/evidence/{digest}",
        summary: "An evidence file, as a download",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "file"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/validated-patches",
        summary: "Released (validated) patches per device model",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "Vec<ValidatedPatch>"),
        query: &["model"],
    },
    Route {
        method: "get",
        path: "/tuf/{path}",
        summary: "The TUF repository devices update from (metadata/ and targets/)",
        caller: Caller::Device,
        request: None,
        response: (200, "TUF metadata or target"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/rollouts",
        summary: "Rollouts, newest first; filter by record",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "Vec<RolloutSummary>"),
        query: &["record"],
    },
    Route {
        method: "post",
        path: "/api/v1/rollouts",
        summary: "Start a staged rollout of a released patch: canaries, then waves",
        caller: Caller::Person(Some(Permission::ManageRollouts)),
        request: Some("StartBody"),
        response: (201, "RolloutView"),
        query: &[],
    },
    Route {
        method: "get",
        path: "/api/v1/rollouts/{id}",
        summary: "A rollout: waves' progress, each device's outcome, events",
        caller: Caller::Person(Some(Permission::ReadFleet)),
        request: None,
        response: (200, "RolloutView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/rollouts/{id}/advance",
        summary: "Open the next wave (its success threshold met)",
        caller: Caller::Person(Some(Permission::ManageRollouts)),
        request: None,
        response: (200, "RolloutView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/rollouts/{id}/pause",
        summary: "Pause a rollout, with a reason",
        caller: Caller::Person(Some(Permission::ManageRollouts)),
        request: Some("ActionBody"),
        response: (200, "RolloutView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/rollouts/{id}/resume",
        summary: "Resume a paused or stopped rollout",
        caller: Caller::Person(Some(Permission::ManageRollouts)),
        request: None,
        response: (200, "RolloutView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/rollouts/{id}/cancel",
        summary: "Cancel a rollout, with a reason",
        caller: Caller::Person(Some(Permission::ManageRollouts)),
        request: Some("ActionBody"),
        response: (200, "RolloutView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/rollouts/{id}/retry",
        summary: "Offer the patch again to the devices that failed",
        caller: Caller::Person(Some(Permission::ManageRollouts)),
        request: None,
        response: (200, "RolloutView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/rollouts/{id}/defer",
        summary: "Defer a device or a whole site, with a reason",
        caller: Caller::Person(Some(Permission::DeferDevices)),
        request: Some("ActionBody"),
        response: (200, "RolloutView"),
        query: &[],
    },
    Route {
        method: "post",
        path: "/api/v1/rollouts/{id}/exclude",
        summary: "Exclude a device, with a reason",
        caller: Caller::Person(Some(Permission::ManageRollouts)),
        request: Some("ActionBody"),
        response: (200, "RolloutView"),
        query: &[],
    },
];

fn body_schema(name: &str) -> Value {
    json!({
        "type": "object",
        "title": name,
        "description": format!("`{name}`: see the medguard-proto and medguard-fleet crate documentation"),
    })
}

/// The OpenAPI 3.1 document.
#[must_use]
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let entry = paths
            .entry(r.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        let mut op = Map::new();
        op.insert("summary".into(), r.summary.into());
        op.insert(
            "operationId".into(),
            format!(
                "{}_{}",
                r.method,
                r.path
                    .trim_start_matches('/')
                    .replace(['/', '{', '}', '.', '-'], "_")
            )
            .into(),
        );
        let mut parameters: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        parameters.extend(r.query.iter().map(|q| {
            let schema = if matches!(*q, "limit" | "offset") {
                json!({"type": "integer", "minimum": 0})
            } else {
                json!({"type": "string"})
            };
            json!({"name": q, "in": "query", "required": false, "schema": schema})
        }));
        if !parameters.is_empty() {
            op.insert("parameters".into(), parameters.into());
        }
        if let Some(req) = r.request {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": body_schema(req)}}}),
            );
        }
        let (status, body) = r.response;
        let ok = if body.is_empty() {
            json!({"description": "Done"})
        } else if body == "text" {
            json!({"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}})
        } else {
            json!({"description": "OK", "content": {"application/json": {"schema": body_schema(body)}}})
        };
        let problem = json!({"$ref": "#/components/responses/Problem"});
        let mut responses = Map::new();
        responses.insert(status.to_string(), ok);
        for code in ["400", "401", "403", "404", "409", "413", "422", "500"] {
            responses.insert(code.into(), problem.clone());
        }
        op.insert("responses".into(), responses.into());
        match r.caller {
            Caller::Anyone => {
                op.insert("security".into(), json!([]));
            }
            Caller::Device => {
                op.insert("security".into(), json!([{"deviceCertificate": []}]));
            }
            Caller::Person(permission) => {
                op.insert(
                    "security".into(),
                    json!([{"bearerToken": []}, {"sessionCookie": []}]),
                );
                if let Some(p) = permission {
                    op.insert("x-medguard-permission".into(), p.as_str().into());
                }
            }
        }
        if let Value::Object(item) = entry {
            item.insert(r.method.to_owned(), Value::Object(op));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "medguard fleet server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Devices enroll, report over mutual TLS and fetch commands; people's scripts read the fleet's security status. Errors are RFC 9457 problem documents with a stable `code`.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer", "description": "An API token of a person (`medguard server token create --user NAME`, or POST /api/v1/tokens)"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "__Host-medguard-session", "description": "A browser session (POST /api/v1/session); changes also need the X-CSRF-Token header"},
                "deviceCertificate": {"type": "mutualTLS", "description": "The device's client certificate from enrollment"},
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "code"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "instance": {"type": "string"},
                        "code": {"type": "string"},
                    },
                },
            },
            "responses": {
                "Problem": {
                    "description": "An RFC 9457 problem document",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                },
            },
        },
    })
}
