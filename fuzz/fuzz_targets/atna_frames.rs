//! The RFC 5425 octet-counting frame parser on arbitrary bytes: never panics, every frame it
//! returns re-frames to exactly the bytes it consumed, and feeding the same bytes to the
//! streaming decoder in two pieces yields the same messages and the same error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medguard_atna::syslog::{FrameDecoder, frame, parse_frame};

fuzz_target!(|data: &[u8]| {
    let (split, data) = match data.split_first() {
        Some((&split, rest)) => (usize::from(split), rest),
        None => return,
    };
    let max_len = 4096;

    // One-shot parse of the whole input.
    let mut messages = Vec::new();
    let mut offset = 0;
    let mut error = None;
    while offset < data.len() {
        match parse_frame(&data[offset..], max_len, offset as u64) {
            Ok(Some(found)) => {
                assert!(!found.message.is_empty() && found.message.len() <= max_len);
                assert_eq!(frame(found.message), &data[offset..offset + found.consumed]);
                messages.push(found.message.to_vec());
                offset += found.consumed;
            }
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }

    // The streaming decoder, fed in two pieces, agrees.
    let split = split.min(data.len());
    let mut decoder = FrameDecoder::new(max_len);
    let mut streamed = Vec::new();
    let mut streamed_error = None;
    for piece in [&data[..split], &data[split..]] {
        decoder.push(piece);
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => streamed.push(message),
                Ok(None) => break,
                Err(e) => {
                    streamed_error = Some(e);
                    break;
                }
            }
        }
        if streamed_error.is_some() {
            break;
        }
    }
    assert_eq!(streamed, messages);
    assert_eq!(streamed_error, error);
});
