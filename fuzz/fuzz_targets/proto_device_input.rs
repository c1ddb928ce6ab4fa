//! Every body a device (or a server, for the agent) sends, through the one protocol parser:
//! never panic; whatever parses is valid, and survives its own serialisation unchanged
//! (round trip), so what the server stores is exactly what it judged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_proto::{
    CheckinRequest, CheckinResponse, EnrollRequest, EnrollResponse, Problem, RenewRequest,
    ReportAck, ReportBatch, Validate, limits, parse,
};

fn round_trip<T>(data: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize + Validate,
{
    let Ok(value) = parse::<T>(data, limits::MAX_BODY_BYTES) else {
        return;
    };
    let json = serde_json::to_vec(&value).expect("a parsed value serialises");
    let back = parse::<T>(&json, limits::MAX_BODY_BYTES).expect("own output parses");
    assert_eq!(serde_json::to_vec(&back).expect("serialises"), json);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 8 {
        0 => round_trip::<ReportBatch>(body),
        1 => round_trip::<EnrollRequest>(body),
        2 => round_trip::<RenewRequest>(body),
        3 => round_trip::<CheckinRequest>(body),
        4 => round_trip::<EnrollResponse>(body),
        5 => round_trip::<CheckinResponse>(body),
        6 => round_trip::<ReportAck>(body),
        _ => round_trip::<Problem>(body),
    }
});
