//! API bearer tokens for people's scripts: a 256-bit secret shown once, stored as its BLAKE3
//! digest, expiring, revocable. (The accounts issue makes each token belong to a person and
//! carry a subset of that person's role.)

use sqlx::Row as _;
use time::{Duration, OffsetDateTime};

use crate::{Fleet, FleetError, random_bytes};

/// A token as issued: the secret is shown once.
#[derive(Clone)]
pub struct ApiToken {
    /// The secret (`mgt_` and 64 hexadecimal digits).
    pub secret: String,
    /// Its record.
    pub info: ApiTokenInfo,
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiToken")
            .field("secret", &"<redacted>")
            .field("info", &self.info)
            .finish()
    }
}

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiTokenInfo {
    /// Its id.
    pub id: String,
    /// Its name (who or what uses it).
    pub name: String,
    /// Until when it is valid.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

fn hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

impl Fleet {
    /// Creates an API token named `name`, valid for `valid_for`.
    ///
    /// # Errors
    /// [`FleetError::Invalid`] for an empty name or a non-positive validity;
    /// [`FleetError::Database`].
    pub async fn create_api_token(
        &self,
        name: &str,
        valid_for: Duration,
    ) -> Result<ApiToken, FleetError> {
        crate::enroll::check_name("token name", name)?;
        if valid_for <= Duration::ZERO {
            return Err(FleetError::Invalid {
                reason: "a token needs a positive validity".into(),
            });
        }
        let now = self.now();
        let secret = format!("mgt_{}", hex::encode(random_bytes::<32>()?));
        let info = ApiTokenInfo {
            id: hex::encode(random_bytes::<8>()?),
            name: name.to_owned(),
            expires_at: now + valid_for,
        };
        sqlx::query(
            "INSERT INTO api_tokens (id, name, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&info.id)
        .bind(name)
        .bind(hash(&secret))
        .bind(now.unix_timestamp())
        .bind(info.expires_at.unix_timestamp())
        .execute(&self.store.write)
        .await?;
        Ok(ApiToken { secret, info })
    }

    /// The token `secret` names, if it is valid now.
    ///
    /// # Errors
    /// [`FleetError::Unauthorized`] for an unknown, expired or revoked token;
    /// [`FleetError::Database`].
    pub async fn check_api_token(&self, secret: &str) -> Result<ApiTokenInfo, FleetError> {
        // Only the digest is looked up, so the comparison leaks nothing about the secret.
        let row =
            sqlx::query("SELECT id, name, expires_at, revoked_at FROM api_tokens WHERE hash = $1")
                .bind(hash(secret))
                .fetch_optional(&self.store.read)
                .await?
                .ok_or(FleetError::Unauthorized)?;
        let expires: i64 = row.try_get(2)?;
        let revoked: Option<i64> = row.try_get(3)?;
        if revoked.is_some() || expires <= self.now_secs() {
            return Err(FleetError::Unauthorized);
        }
        Ok(ApiTokenInfo {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            expires_at: OffsetDateTime::from_unix_timestamp(expires)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        })
    }

    /// Revokes a token by id.
    ///
    /// # Errors
    /// [`FleetError::NotFound`], [`FleetError::Database`].
    pub async fn revoke_api_token(&self, id: &str) -> Result<(), FleetError> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(self.now_secs())
        .execute(&self.store.write)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(FleetError::NotFound {
                what: format!("API token {id}"),
            });
        }
        Ok(())
    }
}
