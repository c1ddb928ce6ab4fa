//! Deterministic pseudo-random DICOM audit messages, rich in hostile strings.

use medguard_atna::dicom::*;
use time::{OffsetDateTime, UtcOffset};

/// xorshift64*: reproducible without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

pub const HOSTILE: &[&str] = &[
    "",
    " ",
    "<",
    "&",
    "\"'",
    "]]>",
    "<!-- x -->",
    "<AuditMessage>",
    "&amp;&#0;&#x1;",
    "\u{0}",
    "\u{1}\u{8}\u{B}\u{C}\u{1F}",
    "\t\n\r",
    "\u{FFFE}\u{FFFF}",
    "é中文😀",
    "\u{7F}\u{85}\u{2028}",
    "  leading and trailing  ",
    "a\\b]c\"d=e",
    "\u{D7FF}\u{E000}\u{10FFFF}",
    "Robert'); DROP TABLE Students;--",
    "PACS-01^AE",
];

pub fn string(rng: &mut Rng) -> String {
    let mut out = String::new();
    for _ in 0..rng.below(4) {
        if rng.chance(60) {
            out.push_str(HOSTILE[rng.below(HOSTILE.len() as u64) as usize]);
        } else {
            for _ in 0..rng.below(6) {
                let c = match rng.below(4) {
                    0 => char::from_u32(rng.below(0x80) as u32),
                    1 => char::from_u32(rng.below(0x800) as u32),
                    2 => char::from_u32(rng.below(0x1_0000) as u32),
                    _ => char::from_u32(rng.below(0x11_0000) as u32),
                };
                out.push(c.unwrap_or('\u{FFFD}'));
            }
        }
    }
    out
}

fn coded(rng: &mut Rng) -> CodedValue {
    let mut value = CodedValue::new(string(rng), string(rng), string(rng));
    if rng.chance(50) {
        value = value.with_display_name(string(rng));
    }
    value
}

fn codes(rng: &mut Rng) -> Vec<CodedValue> {
    (0..rng.below(3)).map(|_| coded(rng)).collect()
}

fn date_time(rng: &mut Rng) -> OffsetDateTime {
    // Years 1 to 9999, any offset from -23:59 to +23:59.
    let min = -62_135_596_800_i64; // 0001-01-01T00:00:00Z
    let max = 253_402_214_400_i64 - 86_400 * 2; // safely before 9999-12-31 in any offset
    let seconds = min + 86_400 * 2 + rng.below((max - min - 86_400 * 4) as u64) as i64;
    let nanos = rng.below(1_000_000_000) as i128;
    let offset = UtcOffset::from_hms((rng.below(47) as i8) - 23, 0, 0).unwrap();
    let minutes = rng.below(60) as i8;
    let offset = if offset.whole_hours() < 0 {
        UtcOffset::from_hms(offset.whole_hours(), -minutes, 0).unwrap()
    } else {
        UtcOffset::from_hms(offset.whole_hours(), minutes, 0).unwrap()
    };
    OffsetDateTime::from_unix_timestamp_nanos(seconds as i128 * 1_000_000_000 + nanos)
        .unwrap()
        .to_offset(offset)
}

fn participant(rng: &mut Rng) -> ActiveParticipant {
    let mut p = ActiveParticipant::new(string(rng), rng.chance(50));
    if rng.chance(50) {
        p.alternative_user_id = Some(string(rng));
    }
    if rng.chance(50) {
        p.user_name = Some(string(rng));
    }
    p.role_id_codes = codes(rng);
    if rng.chance(60) {
        let type_code = [
            NetworkAccessPointTypeCode::MachineName,
            NetworkAccessPointTypeCode::IpAddress,
            NetworkAccessPointTypeCode::TelephoneNumber,
            NetworkAccessPointTypeCode::EmailAddress,
            NetworkAccessPointTypeCode::Uri,
        ][rng.below(5) as usize];
        p.network_access_point = Some(NetworkAccessPoint {
            type_code,
            id: string(rng),
        });
    }
    p
}

fn object(rng: &mut Rng) -> ParticipantObjectIdentification {
    let mut o = ParticipantObjectIdentification::new(coded(rng), string(rng));
    if rng.chance(60) {
        o.type_code = Some(
            [
                ParticipantObjectTypeCode::Person,
                ParticipantObjectTypeCode::SystemObject,
                ParticipantObjectTypeCode::Organization,
                ParticipantObjectTypeCode::Other,
            ][rng.below(4) as usize],
        );
    }
    if rng.chance(60) {
        o.type_code_role = Some(ParticipantObjectTypeCodeRole::ALL[rng.below(24) as usize]);
    }
    o.descriptor = match rng.below(3) {
        0 => None,
        1 => Some(ParticipantObjectDescriptor::Name(string(rng))),
        _ => Some(ParticipantObjectDescriptor::Query(string(rng).into_bytes())),
    };
    for _ in 0..rng.below(3) {
        let value = (0..rng.below(40)).map(|_| rng.below(256) as u8).collect();
        o.details.push(ParticipantObjectDetail {
            detail_type: string(rng),
            value,
        });
    }
    o
}

/// A message using every field, with values drawn from [`HOSTILE`] and random code points.
pub fn audit_message(rng: &mut Rng) -> AuditMessage {
    let outcome = [
        EventOutcomeIndicator::Success,
        EventOutcomeIndicator::MinorFailure,
        EventOutcomeIndicator::SeriousFailure,
        EventOutcomeIndicator::MajorFailure,
    ][rng.below(4) as usize];
    let mut event = EventIdentification::new(coded(rng), date_time(rng), outcome);
    event.action = match rng.below(6) {
        0 => None,
        1 => Some(EventActionCode::Create),
        2 => Some(EventActionCode::Read),
        3 => Some(EventActionCode::Update),
        4 => Some(EventActionCode::Delete),
        _ => Some(EventActionCode::Execute),
    };
    if rng.chance(50) {
        event.outcome_description = Some(string(rng));
    }
    event.event_type_codes = codes(rng);
    event.purpose_of_use = codes(rng);
    let mut source = AuditSourceIdentification::new(string(rng));
    if rng.chance(50) {
        source.enterprise_site_id = Some(string(rng));
    }
    source.source_type_codes = codes(rng);
    if rng.chance(30) {
        source
            .source_type_codes
            .push(AuditSourceType::OperatingSoftware.to_coded_value());
    }
    let mut message = AuditMessage::new(event, participant(rng), source);
    for _ in 0..rng.below(3) {
        message.push_participant(participant(rng));
    }
    for _ in 0..rng.below(4) {
        message = message.with_participant_object(object(rng));
    }
    message
}
