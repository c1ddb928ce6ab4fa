//! The record and its state machine.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::signature::{ElectronicSignature, Meaning};

/// Where a patch is in its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchState {
    /// Opened from findings: the risk is known (steps 1–2).
    Assessed,
    /// A candidate bundle is attached and its impact analysed (step 3).
    ImpactAnalysed,
    /// Validated, with evidence, and signed by a validator (step 4).
    Validated,
    /// Approved for release by a release approver, another person (step 4).
    Approved,
    /// In the TUF repository, listed as validated for its models (step 5).
    Released,
    /// Being installed by a staged rollout (step 6).
    RollingOut,
    /// Every targeted device confirmed, rolled back or excluded with a reason (step 6).
    Confirmed,
    /// Put aside for now; resumes where it was.
    Deferred,
    /// Given up.
    Withdrawn,
    /// Replaced by another record.
    Superseded,
}

impl PatchState {
    /// The name used in storage and the API.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Assessed => "assessed",
            Self::ImpactAnalysed => "impact-analysed",
            Self::Validated => "validated",
            Self::Approved => "approved",
            Self::Released => "released",
            Self::RollingOut => "rolling-out",
            Self::Confirmed => "confirmed",
            Self::Deferred => "deferred",
            Self::Withdrawn => "withdrawn",
            Self::Superseded => "superseded",
        }
    }

    /// No change is possible any more.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, Self::Confirmed | Self::Withdrawn | Self::Superseded)
    }

    /// Before release: the content may still change (which voids signatures), and it may
    /// still be signed.
    #[must_use]
    pub fn is_editable(self) -> bool {
        matches!(
            self,
            Self::Assessed | Self::ImpactAnalysed | Self::Validated | Self::Approved
        )
    }
}

/// A person, as the record shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Their account id.
    pub id: String,
    /// Their printed name (§11.50(a)(1)).
    pub printed_name: String,
}

/// A fleet finding the record answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRef {
    /// The advisory id.
    pub advisory: String,
    /// Its aliases (CVE ids).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `ecosystem name version` of the affected component.
    pub component: String,
    /// Devices with this finding open when the record was opened.
    pub devices: u64,
    /// The priority the risk assessment gave.
    pub priority: String,
    /// The risk assessment's sentences.
    #[serde(default)]
    pub rationale: Vec<String>,
}

/// Devices a bundle reaches, per site and model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reach {
    /// The site.
    pub site: String,
    /// The model.
    pub model: String,
    /// Devices.
    pub devices: u64,
}

/// The candidate bundle, as the server read it (its signature checked on upload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleSummary {
    /// BLAKE3 of the bundle file, hex.
    pub digest: String,
    /// Its version.
    pub version: String,
    /// The device models it is for.
    pub models: Vec<String>,
    /// The key id of the vendor key that signed it.
    pub signer: String,
    /// Its file operations, one line each (`add /opt/viewer/lib/libx.so.2`).
    pub operations: Vec<String>,
    /// The system profile's diff: added, removed, changed entries.
    pub profile_diff: (u64, u64, u64),
    /// The COTS components it changes (`name old -> new`).
    #[serde(default)]
    pub components_changed: Vec<String>,
    /// The devices it reaches.
    #[serde(default)]
    pub reach: Vec<Reach>,
}

/// The structured impact analysis (step 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImpactAnalysis {
    /// The clinical functions the change touches.
    pub clinical_functions: String,
    /// Its impact on safety and effectiveness.
    pub safety_and_effectiveness: String,
    /// The regression tests planned.
    pub regression_tests: String,
    /// Its effect on performance.
    pub performance: String,
    /// Who wrote it.
    pub author: Person,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// What a piece of evidence is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EvidenceKind {
    /// A file: a test report, a protocol.
    TestReport {
        /// Its name.
        name: String,
        /// Its media type.
        media_type: String,
        /// Its size in bytes.
        size: u64,
    },
    /// A malware scan of the bundle's payload, run by the server.
    MalwareScan {
        /// The bundle scanned (BLAKE3, hex).
        bundle: String,
        /// Files scanned.
        files: u64,
        /// Matches found (0: clean).
        findings: u64,
        /// The rules and signature lists used.
        rules: String,
    },
    /// An install on a reference device, reported by its agent.
    ReferenceInstall {
        /// The device.
        device: String,
        /// The bundle installed (BLAKE3, hex).
        bundle: String,
        /// The outcome (`installed`, `rolled-back`...).
        outcome: String,
        /// Whether every self-test passed.
        self_tests_passed: bool,
        /// Whether the tree verified intact against the new profile afterwards.
        verification_intact: bool,
    },
}

/// One piece of validation evidence, content-addressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// BLAKE3 of its content (the file, or the report), hex.
    pub digest: String,
    /// What it is.
    #[serde(flatten)]
    pub kind: EvidenceKind,
    /// Who added it.
    pub added_by: Person,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// One change of state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// From.
    pub from: Option<PatchState>,
    /// To.
    pub to: PatchState,
    /// Who.
    pub by: Person,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Why.
    pub reason: String,
}

/// Why a change was refused. Nothing is changed by a refused call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The state machine does not allow this from here.
    #[error("a record that is {from} cannot {action}")]
    NotAllowed {
        /// The current state.
        from: &'static str,
        /// What was asked.
        action: &'static str,
    },
    /// Impact analysis needs a bundle.
    #[error("attach the candidate bundle before the impact analysis")]
    BundleMissing,
    /// Validation needs its evidence.
    #[error("validation needs {missing}")]
    EvidenceMissing {
        /// What is missing.
        missing: &'static str,
    },
    /// A malware scan of the bundle found something.
    #[error("the malware scan of the bundle found {findings} matches: it cannot be validated")]
    MalwareFound {
        /// How many.
        findings: u64,
    },
    /// Separation of duties.
    #[error("{who} cannot sign {meaning}: {why}")]
    SeparationOfDuties {
        /// The signer's printed name.
        who: String,
        /// The meaning.
        meaning: &'static str,
        /// The rule.
        why: &'static str,
    },
    /// Release needs both signatures, valid.
    #[error("release needs valid \"validated\" and \"approved\" signatures")]
    SignaturesMissing,
    /// A value is missing or empty.
    #[error("{field} is empty")]
    Empty {
        /// The field.
        field: &'static str,
    },
}

/// A patch record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchRecord {
    /// Its id.
    pub id: String,
    /// What it is about.
    pub title: String,
    /// Where it is.
    pub state: PatchState,
    /// Where it was before it was deferred.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred_from: Option<PatchState>,
    /// The findings it answers.
    pub findings: Vec<FindingRef>,
    /// The candidate bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<BundleSummary>,
    /// The impact analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<ImpactAnalysis>,
    /// Validation evidence.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// Electronic signatures, in the order made (void ones stay, shown as void).
    #[serde(default)]
    pub signatures: Vec<ElectronicSignature>,
    /// The TUF target name it was released as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_as: Option<String>,
    /// The rollout installing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<String>,
    /// The record that replaced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// Every change of state.
    pub history: Vec<Transition>,
}

/// What signatures bind to: everything a signer judged, not the bookkeeping after it.
#[derive(Serialize)]
struct SignedContent<'a> {
    id: &'a str,
    title: &'a str,
    findings: &'a [FindingRef],
    bundle: &'a Option<BundleSummary>,
    impact: &'a Option<ImpactAnalysis>,
    evidence: &'a [Evidence],
}

impl PatchRecord {
    /// Opens a record (step 1–2 done: the findings are known).
    ///
    /// # Errors
    /// [`PatchError::Empty`] for an empty id or title.
    pub fn open(
        id: &str,
        title: &str,
        findings: Vec<FindingRef>,
        by: &Person,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<Self, PatchError> {
        if id.trim().is_empty() {
            return Err(PatchError::Empty { field: "id" });
        }
        if title.trim().is_empty() {
            return Err(PatchError::Empty { field: "title" });
        }
        Ok(Self {
            id: id.to_owned(),
            title: title.to_owned(),
            state: PatchState::Assessed,
            deferred_from: None,
            findings,
            bundle: None,
            impact: None,
            evidence: Vec::new(),
            signatures: Vec::new(),
            released_as: None,
            rollout: None,
            superseded_by: None,
            history: vec![Transition {
                from: None,
                to: PatchState::Assessed,
                by: by.clone(),
                at: now,
                reason: reason.to_owned(),
            }],
        })
    }

    /// The BLAKE3 digest (hex) of what signatures bind to: id, title, findings, bundle,
    /// impact analysis, evidence.
    #[must_use]
    pub fn content_digest(&self) -> String {
        let content = SignedContent {
            id: &self.id,
            title: &self.title,
            findings: &self.findings,
            bundle: &self.bundle,
            impact: &self.impact,
            evidence: &self.evidence,
        };
        // Serialising plain structs and vectors cannot fail.
        let bytes = serde_json::to_vec(&content).unwrap_or_default();
        blake3::hash(&bytes).to_hex().to_string()
    }

    fn move_to(&mut self, to: PatchState, by: &Person, now: OffsetDateTime, reason: &str) {
        self.history.push(Transition {
            from: Some(self.state),
            to,
            by: by.clone(),
            at: now,
            reason: reason.to_owned(),
        });
        self.state = to;
    }

    fn editable(&self, action: &'static str) -> Result<(), PatchError> {
        if self.state.is_editable() {
            Ok(())
        } else {
            Err(PatchError::NotAllowed {
                from: self.state.as_str(),
                action,
            })
        }
    }

    /// After an edit, a validated or approved record goes back to impact analysed: its
    /// signatures no longer match, so it must be validated again.
    fn after_edit(&mut self, by: &Person, now: OffsetDateTime, what: &str) {
        let back_to = if self.impact.is_some() {
            PatchState::ImpactAnalysed
        } else {
            PatchState::Assessed
        };
        if matches!(self.state, PatchState::Validated | PatchState::Approved) {
            self.move_to(
                back_to,
                by,
                now,
                &format!("{what} changed after signing: the signatures are void"),
            );
        } else if self.state == PatchState::ImpactAnalysed && back_to == PatchState::Assessed {
            self.move_to(back_to, by, now, &format!("{what} changed"));
        }
    }

    /// Attaches (or replaces) the candidate bundle.
    ///
    /// # Errors
    /// [`PatchError::NotAllowed`] once released.
    pub fn attach_bundle(
        &mut self,
        bundle: BundleSummary,
        by: &Person,
        now: OffsetDateTime,
    ) -> Result<(), PatchError> {
        self.editable("change its bundle")?;
        let replaced = self.bundle.is_some();
        self.bundle = Some(bundle);
        if replaced {
            // A different bundle needs its own impact analysis.
            self.impact = None;
        }
        self.after_edit(by, now, "the bundle");
        Ok(())
    }

    /// Records the impact analysis (step 3).
    ///
    /// # Errors
    /// [`PatchError::BundleMissing`], [`PatchError::NotAllowed`], [`PatchError::Empty`].
    pub fn record_impact(
        &mut self,
        analysis: ImpactAnalysis,
        now: OffsetDateTime,
    ) -> Result<(), PatchError> {
        self.editable("change its impact analysis")?;
        if self.bundle.is_none() {
            return Err(PatchError::BundleMissing);
        }
        for (field, text) in [
            ("clinical_functions", &analysis.clinical_functions),
            (
                "safety_and_effectiveness",
                &analysis.safety_and_effectiveness,
            ),
            ("regression_tests", &analysis.regression_tests),
            ("performance", &analysis.performance),
        ] {
            if text.trim().is_empty() {
                return Err(PatchError::Empty { field });
            }
        }
        let by = analysis.author.clone();
        let had = self.impact.is_some();
        self.impact = Some(analysis);
        if had {
            self.after_edit(&by, now, "the impact analysis");
        }
        if self.state == PatchState::Assessed {
            self.move_to(PatchState::ImpactAnalysed, &by, now, "impact analysed");
        }
        Ok(())
    }

    /// Adds validation evidence (step 4); the same content twice is kept once.
    ///
    /// # Errors
    /// [`PatchError::NotAllowed`] before the impact analysis or after release.
    pub fn add_evidence(
        &mut self,
        evidence: Evidence,
        now: OffsetDateTime,
    ) -> Result<(), PatchError> {
        self.editable("take evidence")?;
        if self.state == PatchState::Assessed {
            return Err(PatchError::NotAllowed {
                from: self.state.as_str(),
                action: "take evidence before its impact analysis",
            });
        }
        if self.evidence.iter().any(|e| e.digest == evidence.digest) {
            return Ok(());
        }
        let by = evidence.added_by.clone();
        self.evidence.push(evidence);
        self.after_edit(&by, now, "the evidence");
        Ok(())
    }

    /// The signatures still valid: bound to the current content.
    pub(crate) fn valid(&self, meaning: Meaning) -> Option<&ElectronicSignature> {
        let digest = self.content_digest();
        self.signatures
            .iter()
            .rev()
            .find(|s| s.meaning == meaning && s.content_digest == digest && s.record_id == self.id)
    }

    /// Checks that `signer` may sign `meaning` now, and what it changes.
    pub(crate) fn may_sign(&self, meaning: Meaning, signer: &Person) -> Result<(), PatchError> {
        let refuse = |why| PatchError::SeparationOfDuties {
            who: signer.printed_name.clone(),
            meaning: meaning.as_str(),
            why,
        };
        let impact_author = self.impact.as_ref().map(|i| &i.author.id);
        if self
            .valid(meaning)
            .is_some_and(|s| s.signer.id == signer.id)
        {
            return Err(refuse("they already signed it"));
        }
        match meaning {
            Meaning::Validated => {
                if self.state != PatchState::ImpactAnalysed {
                    return Err(PatchError::NotAllowed {
                        from: self.state.as_str(),
                        action: "be signed as validated",
                    });
                }
                let bundle = self.bundle.as_ref().map(|b| b.digest.as_str());
                let scans: Vec<u64> = self
                    .evidence
                    .iter()
                    .filter_map(|e| match &e.kind {
                        EvidenceKind::MalwareScan {
                            bundle: b,
                            findings,
                            ..
                        } if Some(b.as_str()) == bundle => Some(*findings),
                        _ => None,
                    })
                    .collect();
                if let Some(&findings) = scans.iter().find(|f| **f > 0) {
                    return Err(PatchError::MalwareFound { findings });
                }
                if scans.is_empty() {
                    return Err(PatchError::EvidenceMissing {
                        missing: "a malware scan of the bundle's payload",
                    });
                }
                let installed = self.evidence.iter().any(|e| {
                    matches!(&e.kind, EvidenceKind::ReferenceInstall { bundle: b, outcome, self_tests_passed: true, verification_intact: true, .. }
                        if Some(b.as_str()) == bundle && outcome == "installed")
                });
                if !installed {
                    return Err(PatchError::EvidenceMissing {
                        missing: "a reference install with passing self-tests and an intact tree afterwards",
                    });
                }
                if impact_author == Some(&signer.id) {
                    return Err(refuse(
                        "the author of the impact analysis cannot validate it",
                    ));
                }
            }
            Meaning::Approved => {
                if self.state != PatchState::Validated {
                    return Err(PatchError::NotAllowed {
                        from: self.state.as_str(),
                        action: "be signed as approved",
                    });
                }
                if self
                    .valid(Meaning::Validated)
                    .is_some_and(|v| v.signer.id == signer.id)
                {
                    return Err(refuse("the validator cannot also approve"));
                }
                if impact_author == Some(&signer.id) {
                    return Err(refuse(
                        "the author of the impact analysis cannot approve it",
                    ));
                }
            }
            Meaning::Authored => {
                self.editable("be signed")?;
                if impact_author != Some(&signer.id) {
                    return Err(refuse(
                        "only the author of the impact analysis signs it as authored",
                    ));
                }
            }
            Meaning::Reviewed => {
                self.editable("be signed")?;
                if impact_author == Some(&signer.id) {
                    return Err(refuse("an author cannot review their own analysis"));
                }
            }
        }
        Ok(())
    }

    /// Moves the record after a signature of `meaning` was added.
    pub(crate) fn signed(&mut self, meaning: Meaning, signer: &Person, now: OffsetDateTime) {
        match meaning {
            Meaning::Validated => {
                self.move_to(PatchState::Validated, signer, now, "signed as validated")
            }
            Meaning::Approved => {
                self.move_to(
                    PatchState::Approved,
                    signer,
                    now,
                    "signed as approved for release",
                );
            }
            Meaning::Authored | Meaning::Reviewed => {}
        }
    }

    /// Releases the record (step 5) as TUF target `target`.
    ///
    /// # Errors
    /// [`PatchError::NotAllowed`] unless approved; [`PatchError::SignaturesMissing`] unless
    /// both signatures are valid for the current content.
    pub fn release(
        &mut self,
        target: &str,
        by: &Person,
        now: OffsetDateTime,
    ) -> Result<(), PatchError> {
        if self.state != PatchState::Approved {
            return Err(PatchError::NotAllowed {
                from: self.state.as_str(),
                action: "be released",
            });
        }
        if self.valid(Meaning::Validated).is_none() || self.valid(Meaning::Approved).is_none() {
            return Err(PatchError::SignaturesMissing);
        }
        self.released_as = Some(target.to_owned());
        self.move_to(
            PatchState::Released,
            by,
            now,
            &format!("released as {target}"),
        );
        Ok(())
    }

    /// A staged rollout starts installing it.
    ///
    /// # Errors
    /// [`PatchError::NotAllowed`] unless released.
    pub fn start_rollout(
        &mut self,
        rollout: &str,
        by: &Person,
        now: OffsetDateTime,
    ) -> Result<(), PatchError> {
        if self.state != PatchState::Released {
            return Err(PatchError::NotAllowed {
                from: self.state.as_str(),
                action: "be rolled out",
            });
        }
        self.rollout = Some(rollout.to_owned());
        self.move_to(
            PatchState::RollingOut,
            by,
            now,
            &format!("rollout {rollout} started"),
        );
        Ok(())
    }

    /// Every targeted device is confirmed, rolled back or excluded (step 6).
    ///
    /// # Errors
    /// [`PatchError::NotAllowed`] unless rolling out.
    pub fn confirm(
        &mut self,
        by: &Person,
        now: OffsetDateTime,
        summary: &str,
    ) -> Result<(), PatchError> {
        if self.state != PatchState::RollingOut {
            return Err(PatchError::NotAllowed {
                from: self.state.as_str(),
                action: "be confirmed",
            });
        }
        self.move_to(PatchState::Confirmed, by, now, summary);
        Ok(())
    }

    /// Puts the record aside, with a reason.
    ///
    /// # Errors
    /// [`PatchError::NotAllowed`] when final or already deferred.
    pub fn defer(
        &mut self,
        by: &Person,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<(), PatchError> {
        if self.state.is_final() || self.state == PatchState::Deferred {
            return Err(PatchError::NotAllowed {
                from: self.state.as_str(),
                action: "be deferred",
            });
        }
        if reason.trim().is_empty() {
            return Err(PatchError::Empty { field: "reason" });
        }
        self.deferred_from = Some(self.state);
        self.move_to(PatchState::Deferred, by, now, reason);
        Ok(())
    }

    /// Takes a deferred record up again where it was.
    ///
    /// # Errors
    /// [`PatchError::NotAllowed`] unless deferred.
    pub fn resume(
        &mut self,
        by: &Person,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<(), PatchError> {
        let Some(back) = self
            .deferred_from
            .filter(|_| self.state == PatchState::Deferred)
        else {
            return Err(PatchError::NotAllowed {
                from: self.state.as_str(),
                action: "be resumed",
            });
        };
        self.deferred_from = None;
        self.move_to(back, by, now, reason);
        Ok(())
    }

    /// Gives the record up, with a reason.
    ///
    /// # Errors
    /// [`PatchError::NotAllowed`] when final.
    pub fn withdraw(
        &mut self,
        by: &Person,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<(), PatchError> {
        if self.state.is_final() {
            return Err(PatchError::NotAllowed {
                from: self.state.as_str(),
                action: "be withdrawn",
            });
        }
        if reason.trim().is_empty() {
            return Err(PatchError::Empty { field: "reason" });
        }
        self.move_to(PatchState::Withdrawn, by, now, reason);
        Ok(())
    }

    /// Marks the record replaced by `other`.
    ///
    /// # Errors
    /// [`PatchError::NotAllowed`] when final.
    pub fn supersede(
        &mut self,
        other: &str,
        by: &Person,
        now: OffsetDateTime,
    ) -> Result<(), PatchError> {
        if self.state.is_final() {
            return Err(PatchError::NotAllowed {
                from: self.state.as_str(),
                action: "be superseded",
            });
        }
        self.superseded_by = Some(other.to_owned());
        self.move_to(
            PatchState::Superseded,
            by,
            now,
            &format!("superseded by {other}"),
        );
        Ok(())
    }
}
