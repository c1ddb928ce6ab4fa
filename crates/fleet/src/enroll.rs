//! Enrollment tokens, device certificates, and the authentication of device requests.
//!
//! A token is a 256-bit secret shown once; only its BLAKE3 digest is stored, so a copy of the
//! database enrolls nothing. A device's identity is the id in its certificate; its key is
//! fixed at enrollment (a renewal must use the same key, since the server checks the device's
//! audit checkpoints with it); re-enrolling (a re-imaged device, same serial in the same site)
//! keeps the device's id and history and revokes its earlier certificates.

use medguard_proto::{DeviceId, EnrollRequest, EnrollResponse, IssuedCertificate, RenewRequest};
use sqlx::Row as _;
use time::{Duration, OffsetDateTime};

use crate::events::SecurityEventInput;
use crate::{Fleet, FleetError, random_bytes};

/// A token as issued: the secret, shown once.
#[derive(Clone)]
pub struct IssuedToken {
    /// The secret to give the device's installer.
    pub secret: String,
    /// What it allows.
    pub token: EnrollmentToken,
    /// True when the site did not exist and was created for it.
    pub site_created: bool,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("secret", &"<redacted>")
            .field("token", &self.token)
            .finish()
    }
}

/// An enrollment token's terms.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EnrollmentToken {
    /// Its id (not the secret).
    pub id: String,
    /// The site devices enrolled with it join.
    pub site: String,
    /// The device model they are recorded as, if fixed.
    pub model: Option<String>,
    /// Until when it may be used.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Uses left.
    pub uses_left: i64,
}

/// A device whose request carried a valid certificate of a known, unrevoked device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedDevice {
    /// Its id.
    pub id: DeviceId,
    /// Its site.
    pub site: String,
    /// Its model.
    pub model: Option<String>,
    /// The serial number of the certificate it used.
    pub certificate_serial: String,
    /// Its Ed25519 public key (32 bytes).
    pub public_key: [u8; 32],
}

fn token_hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

fn secs(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn from_secs(s: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(s).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A site or model name: what people type and read; no control characters, not empty.
pub(crate) fn check_name(kind: &str, name: &str) -> Result<(), FleetError> {
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(FleetError::Invalid {
            reason: format!("{kind} {name:?}: a name of 1 to 200 printable characters"),
        });
    }
    Ok(())
}

impl Fleet {
    /// Issues an enrollment token for `site` (created if it does not exist), optionally fixing
    /// the device model, valid for `valid_for` and `uses` enrollments.
    ///
    /// # Errors
    /// [`FleetError::Invalid`] for a bad site or model name, zero uses or a non-positive
    /// validity; [`FleetError::Database`].
    pub async fn create_enrollment_token(
        &self,
        site: &str,
        model: Option<&str>,
        valid_for: Duration,
        uses: u32,
    ) -> Result<IssuedToken, FleetError> {
        check_name("site", site)?;
        if let Some(m) = model {
            check_name("model", m)?;
        }
        if uses == 0 || valid_for <= Duration::ZERO {
            return Err(FleetError::Invalid {
                reason: "a token needs at least one use and a positive validity".into(),
            });
        }
        let now = self.now();
        let secret = format!("mge_{}", hex::encode(random_bytes::<32>()?));
        let id = hex::encode(random_bytes::<8>()?);
        let expires_at = now + valid_for;
        let mut tx = self.store.write.begin().await?;
        let created = sqlx::query(
            "INSERT INTO sites (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(site)
        .bind(secs(now))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        sqlx::query(
            "INSERT INTO enrollment_tokens (id, hash, site, model, expires_at, uses_left, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(token_hash(&secret))
        .bind(site)
        .bind(model)
        .bind(secs(expires_at))
        .bind(i64::from(uses))
        .bind(secs(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(IssuedToken {
            secret,
            token: EnrollmentToken {
                id,
                site: site.to_owned(),
                model: model.map(str::to_owned),
                expires_at,
                uses_left: i64::from(uses),
            },
            site_created: created,
        })
    }

    /// Enrolls a device: checks the token (known, not expired, a use left), issues its
    /// certificate from its certificate request, and records it. A device with the same
    /// serial number in the same site is the same device re-enrolled: it keeps its id and
    /// history, its earlier certificates are revoked.
    ///
    /// # Errors
    /// [`FleetError::TokenUnknown`], [`FleetError::TokenExpired`], [`FleetError::TokenSpent`],
    /// [`FleetError::BadCertificateRequest`], [`FleetError::Database`]. A refusal uses no
    /// token and is recorded as a security event.
    pub async fn enroll(
        &self,
        request: &EnrollRequest,
        address: Option<&str>,
    ) -> Result<EnrollResponse, FleetError> {
        let result = self.enroll_inner(request).await;
        let (outcome, detail, device) = match &result {
            Ok(r) => (
                "success",
                format!(
                    "{} {} enrolled in site {}",
                    if r.reenrolled {
                        "re-enrolled"
                    } else {
                        "new device"
                    },
                    request.facts.hostname,
                    r.site
                ),
                Some(r.device_id.to_string()),
            ),
            Err(e) => ("refused", format!("{}: {e}", request.facts.hostname), None),
        };
        self.record_event(SecurityEventInput {
            kind: "device-enrollment",
            outcome,
            actor: None,
            device_id: device.as_deref(),
            address,
            detail: &detail,
        })
        .await?;
        result
    }

    async fn enroll_inner(&self, request: &EnrollRequest) -> Result<EnrollResponse, FleetError> {
        let now = self.now();
        let hash = token_hash(request.token.expose());
        let mut tx = self.store.write.begin().await?;
        let row = sqlx::query(
            "SELECT site, model, expires_at, uses_left FROM enrollment_tokens WHERE hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(FleetError::TokenUnknown)?;
        let site: String = row.try_get(0)?;
        let token_model: Option<String> = row.try_get(1)?;
        let expires_at: i64 = row.try_get(2)?;
        let uses_left: i64 = row.try_get(3)?;
        if expires_at <= secs(now) {
            return Err(FleetError::TokenExpired);
        }
        if uses_left <= 0 {
            return Err(FleetError::TokenSpent);
        }
        // The device may be known already: same serial in the same site.
        let existing = match request
            .facts
            .serial
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            Some(serial) => sqlx::query("SELECT id FROM devices WHERE site = $1 AND serial = $2")
                .bind(&site)
                .bind(serial)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get::<String, _>(0))
                .transpose()?,
            None => None,
        };
        let reenrolled = existing.is_some();
        let device_id = match existing {
            Some(id) => DeviceId::parse(&id).map_err(|e| FleetError::Corrupt {
                what: "device id".into(),
                reason: e.to_string(),
            })?,
            None => DeviceId::from_random_bytes(random_bytes::<16>()?),
        };
        let certificate = self
            .ca
            .issue_device_certificate(
                &request.csr_pem,
                &device_id,
                now,
                self.settings.device_certificate_validity,
            )
            .map_err(|e| match e {
                medguard_pki::PkiError::BadRequest { reason } => {
                    FleetError::BadCertificateRequest { reason }
                }
                other => FleetError::Pki { source: other },
            })?;
        // Spend one use; the condition keeps two concurrent enrollments from both taking the
        // last one.
        let spent = sqlx::query(
            "UPDATE enrollment_tokens SET uses_left = uses_left - 1 WHERE hash = $1 AND uses_left > 0",
        )
        .bind(&hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if spent == 0 {
            return Err(FleetError::TokenSpent);
        }
        let model = token_model.or_else(|| request.facts.model.clone());
        let public_key = hex::encode(certificate.public_key);
        if reenrolled {
            // The device's reports stay stored under their sequence numbers, so the count goes
            // on: a re-imaged agent asks for `last_stored_seq` at check-in and numbers its
            // reports after it (resetting it here made them conflict with the stored ones).
            sqlx::query(
                "UPDATE devices SET model = $2, name = $3, os = $4, agent_version = $5, \
                 public_key = $6, revoked_at = NULL, revoked_reason = NULL \
                 WHERE id = $1",
            )
            .bind(device_id.as_str())
            .bind(&model)
            .bind(&request.facts.hostname)
            .bind(&request.facts.os)
            .bind(&request.facts.agent_version)
            .bind(&public_key)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE certificates SET revoked_at = $2 WHERE device_id = $1 AND revoked_at IS NULL",
            )
            .bind(device_id.as_str())
            .bind(secs(now))
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "INSERT INTO devices (id, site, model, name, serial, os, agent_version, public_key, enrolled_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(device_id.as_str())
            .bind(&site)
            .bind(&model)
            .bind(&request.facts.hostname)
            .bind(&request.facts.serial)
            .bind(&request.facts.os)
            .bind(&request.facts.agent_version)
            .bind(&public_key)
            .bind(secs(now))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO certificates (serial, device_id, not_before, not_after) VALUES ($1, $2, $3, $4)",
        )
        .bind(&certificate.serial)
        .bind(device_id.as_str())
        .bind(secs(certificate.not_before))
        .bind(secs(certificate.not_after))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(EnrollResponse {
            device_id,
            site,
            model,
            certificate: self.issued(&certificate),
            ca_pem: self.ca.certificate_pem().to_owned(),
            reenrolled,
        })
    }

    fn issued(&self, c: &medguard_pki::DeviceCertificate) -> IssuedCertificate {
        // Renew after two thirds of the lifetime: a device that is off for a third of it
        // still comes back with a valid certificate.
        let lifetime = c.not_after - c.not_before;
        IssuedCertificate {
            certificate_pem: c.certificate_pem.clone(),
            serial: c.serial.clone(),
            not_before: c.not_before,
            not_after: c.not_after,
            renew_after: c.not_before + lifetime * 2 / 3,
        }
    }

    /// Issues a new certificate to an authenticated device, for the same key.
    ///
    /// # Errors
    /// [`FleetError::BadCertificateRequest`] for a malformed request or one for another key;
    /// [`FleetError::Database`].
    pub async fn renew(
        &self,
        device: &AuthenticatedDevice,
        request: &RenewRequest,
    ) -> Result<IssuedCertificate, FleetError> {
        let now = self.now();
        let certificate = self
            .ca
            .issue_device_certificate(
                &request.csr_pem,
                &device.id,
                now,
                self.settings.device_certificate_validity,
            )
            .map_err(|e| match e {
                medguard_pki::PkiError::BadRequest { reason } => {
                    FleetError::BadCertificateRequest { reason }
                }
                other => FleetError::Pki { source: other },
            })?;
        if certificate.public_key != device.public_key {
            return Err(FleetError::BadCertificateRequest {
                reason: "a renewal keeps the device's key; a new key needs a new enrollment".into(),
            });
        }
        sqlx::query(
            "INSERT INTO certificates (serial, device_id, not_before, not_after) VALUES ($1, $2, $3, $4)",
        )
        .bind(&certificate.serial)
        .bind(device.id.as_str())
        .bind(secs(certificate.not_before))
        .bind(secs(certificate.not_after))
        .execute(&self.store.write)
        .await?;
        Ok(self.issued(&certificate))
    }

    /// Authenticates a device request by the certificate its TLS connection presented: it
    /// must chain to this fleet's CA and be valid now, and its device must be known, not
    /// revoked, and hold that certificate unrevoked. Every refusal is a security event.
    ///
    /// # Errors
    /// [`FleetError::CertificateRequired`], [`FleetError::CertificateRefused`],
    /// [`FleetError::UnknownDevice`], [`FleetError::DeviceRevoked`],
    /// [`FleetError::CertificateRevoked`], [`FleetError::Database`].
    pub async fn authenticate_device(
        &self,
        certificate_der: Option<&[u8]>,
        address: Option<&str>,
    ) -> Result<AuthenticatedDevice, FleetError> {
        let result = self.authenticate_inner(certificate_der).await;
        if let Err(e) = &result
            && !matches!(e, FleetError::Database { .. })
        {
            self.record_event(SecurityEventInput {
                kind: "device-authentication",
                outcome: "refused",
                actor: None,
                device_id: match e {
                    FleetError::UnknownDevice { device } | FleetError::DeviceRevoked { device } => {
                        Some(device.as_str())
                    }
                    _ => None,
                },
                address,
                detail: &e.to_string(),
            })
            .await?;
        }
        result
    }

    async fn authenticate_inner(
        &self,
        certificate_der: Option<&[u8]>,
    ) -> Result<AuthenticatedDevice, FleetError> {
        let der = certificate_der.ok_or(FleetError::CertificateRequired)?;
        let certified = medguard_pki::certified_device(self.ca.certificate_pem(), der, self.now())
            .map_err(|e| FleetError::CertificateRefused {
                reason: match e {
                    medguard_pki::PkiError::BadCertificate { reason } => reason,
                    other => other.to_string(),
                },
            })?;
        let row = sqlx::query(
            "SELECT d.site, d.model, d.revoked_at, d.public_key, c.revoked_at, c.serial \
             FROM devices d LEFT JOIN certificates c ON c.device_id = d.id AND c.serial = $2 \
             WHERE d.id = $1",
        )
        .bind(certified.device_id.as_str())
        .bind(&certified.serial)
        .fetch_optional(&self.store.read)
        .await?
        .ok_or_else(|| FleetError::UnknownDevice {
            device: certified.device_id.to_string(),
        })?;
        let device_revoked: Option<i64> = row.try_get(2)?;
        if device_revoked.is_some() {
            return Err(FleetError::DeviceRevoked {
                device: certified.device_id.to_string(),
            });
        }
        // A certificate this database never recorded (another server's CA key, a restore from
        // an old backup) is as good as revoked.
        let certificate_revoked: Option<i64> = row.try_get(4)?;
        let key: String = row.try_get(3)?;
        let known = row.try_get::<Option<String>, _>(5)?.is_some();
        if !known || certificate_revoked.is_some() || key != hex::encode(certified.public_key) {
            return Err(FleetError::CertificateRevoked {
                serial: certified.serial,
            });
        }
        Ok(AuthenticatedDevice {
            id: certified.device_id,
            site: row.try_get(0)?,
            model: row.try_get(1)?,
            certificate_serial: certified.serial,
            public_key: certified.public_key,
        })
    }

    /// Revokes a device: its next request, to any server process, is refused until it is
    /// enrolled again with a new token.
    ///
    /// # Errors
    /// [`FleetError::NotFound`], [`FleetError::Database`].
    pub async fn revoke_device(
        &self,
        device: &str,
        reason: &str,
        actor: Option<&str>,
    ) -> Result<(), FleetError> {
        let now = self.now_secs();
        let mut tx = self.store.write.begin().await?;
        let changed = sqlx::query(
            "UPDATE devices SET revoked_at = $2, revoked_reason = $3, status = 'revoked' WHERE id = $1",
        )
        .bind(device)
        .bind(now)
        .bind(reason)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(FleetError::NotFound {
                what: format!("device {device}"),
            });
        }
        sqlx::query(
            "UPDATE certificates SET revoked_at = $2 WHERE device_id = $1 AND revoked_at IS NULL",
        )
        .bind(device)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.record_event(SecurityEventInput {
            kind: "device-revocation",
            outcome: "success",
            actor,
            device_id: Some(device),
            address: None,
            detail: reason,
        })
        .await
    }

    /// The enrollment tokens still usable.
    ///
    /// # Errors
    /// [`FleetError::Database`].
    pub async fn enrollment_tokens(&self) -> Result<Vec<EnrollmentToken>, FleetError> {
        let rows = sqlx::query(
            "SELECT id, site, model, expires_at, uses_left FROM enrollment_tokens \
             WHERE expires_at > $1 AND uses_left > 0 ORDER BY expires_at",
        )
        .bind(self.now_secs())
        .fetch_all(&self.store.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EnrollmentToken {
                    id: r.try_get(0)?,
                    site: r.try_get(1)?,
                    model: r.try_get(2)?,
                    expires_at: from_secs(r.try_get(3)?),
                    uses_left: r.try_get(4)?,
                })
            })
            .collect()
    }
}
