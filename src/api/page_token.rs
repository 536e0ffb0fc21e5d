//! Opaque page tokens: the position of the last item returned — a log's
//! (occurred_at, id) for ListLogs, a group's (order key, id) for ListGroups,
//! a run's (latest heartbeat, id) for ListRuns — plus a fingerprint of the filter, so a token reused with another filter
//! is refused instead of silently paging something else.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::DateTime;
use uuid::Uuid;

use super::{
    error::FieldError,
    limits::{MAX_SECONDS, MIN_SECONDS},
};
use crate::domain::{PageCursor, group::GroupCursor, run::RunCursor};

/// Token layout version; bump when the layout changes.
const VERSION: u8 = 1;
/// Encoded size: version, micros (8), id (16), fingerprint (8).
const LEN: usize = 1 + 8 + 16 + 8;

/// Encodes the position after `cursor` for `filter` (any value whose Debug
/// text identifies what is being paged).
pub fn encode(cursor: PageCursor, filter: &impl std::fmt::Debug) -> String {
    let mut bytes = Vec::with_capacity(LEN);
    bytes.push(VERSION);
    bytes.extend_from_slice(&cursor.occurred_at.timestamp_micros().to_be_bytes());
    bytes.extend_from_slice(cursor.id.as_bytes());
    bytes.extend_from_slice(&fingerprint(filter).to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a token produced by [`encode`] for the same `filter`.
pub fn decode(token: &str, filter: &impl std::fmt::Debug) -> Result<PageCursor, FieldError> {
    let invalid = || {
        FieldError::new(
            "page_token",
            "not a token returned by this listing; start again without one",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    if bytes.len() != LEN || bytes[0] != VERSION {
        return Err(invalid());
    }
    let micros = i64::from_be_bytes(bytes[1..9].try_into().map_err(|_| invalid())?);
    let id = Uuid::from_slice(&bytes[9..25]).map_err(|_| invalid())?;
    let print = u64::from_be_bytes(bytes[25..33].try_into().map_err(|_| invalid())?);
    if print != fingerprint(filter) {
        return Err(FieldError::new(
            "page_token",
            "was issued for a different filter; use the same filter for every page, or start again without a token",
        ));
    }
    // Every stored time lies within years 1–9999 (checked at ingest), so a
    // token outside them was not issued by diagd (and PostgreSQL would
    // refuse some of those times).
    let occurred_at = DateTime::from_timestamp_micros(micros)
        .filter(|t| (MIN_SECONDS..=MAX_SECONDS).contains(&t.timestamp()))
        .ok_or_else(invalid)?;
    Ok(PageCursor { occurred_at, id })
}

/// Layout version of group tokens (a different first byte from log tokens).
const GROUP_VERSION: u8 = 2;
/// Encoded size: version, key (8), id (8), fingerprint (8).
const GROUP_LEN: usize = 1 + 8 + 8 + 8;

/// Encodes the position after `cursor` for the ListGroups `request`.
pub fn encode_group(cursor: GroupCursor, request: &impl std::fmt::Debug) -> String {
    let mut bytes = Vec::with_capacity(GROUP_LEN);
    bytes.push(GROUP_VERSION);
    bytes.extend_from_slice(&cursor.key.to_be_bytes());
    bytes.extend_from_slice(&cursor.id.to_be_bytes());
    bytes.extend_from_slice(&fingerprint(request).to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a token produced by [`encode_group`] for the same `request`.
pub fn decode_group(
    token: &str,
    request: &impl std::fmt::Debug,
) -> Result<GroupCursor, FieldError> {
    let invalid = || {
        FieldError::new(
            "page_token",
            "not a token returned by this listing; start again without one",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    if bytes.len() != GROUP_LEN || bytes[0] != GROUP_VERSION {
        return Err(invalid());
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range]
            .try_into()
            .map(i64::from_be_bytes)
            .map_err(|_| invalid())
    };
    let (key, id, print) = (number(1..9)?, number(9..17)?, number(17..25)? as u64);
    if print != fingerprint(request) {
        return Err(FieldError::new(
            "page_token",
            "was issued for a different filter or order; keep them for every page, or start again without a token",
        ));
    }
    Ok(GroupCursor { key, id })
}

/// Layout version of run tokens.
const RUN_VERSION: u8 = 3;

/// Encodes the position after `cursor` (a run's latest heartbeat and id)
/// for `request`.
pub fn encode_run(cursor: &RunCursor, request: &impl std::fmt::Debug) -> String {
    let mut bytes = Vec::with_capacity(1 + 8 + 8 + cursor.run_id.len());
    bytes.push(RUN_VERSION);
    bytes.extend_from_slice(&cursor.last_heartbeat_micros.to_be_bytes());
    bytes.extend_from_slice(&fingerprint(request).to_be_bytes());
    bytes.extend_from_slice(cursor.run_id.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a token produced by [`encode_run`] for the same `request`.
pub fn decode_run(token: &str, request: &impl std::fmt::Debug) -> Result<RunCursor, FieldError> {
    let invalid = || {
        FieldError::new(
            "page_token",
            "not a token returned by this listing; start again without one",
        )
    };
    // A run id is at most 256 bytes.
    if token.len() > 512 {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    if bytes.len() < 17 || bytes[0] != RUN_VERSION {
        return Err(invalid());
    }
    let micros = i64::from_be_bytes(bytes[1..9].try_into().map_err(|_| invalid())?);
    let print = u64::from_be_bytes(bytes[9..17].try_into().map_err(|_| invalid())?);
    if print != fingerprint(request) {
        return Err(FieldError::new(
            "page_token",
            "was issued for a different filter; use the same filter for every page, or start again without a token",
        ));
    }
    DateTime::from_timestamp_micros(micros)
        .filter(|t| (MIN_SECONDS..=MAX_SECONDS).contains(&t.timestamp()))
        .ok_or_else(invalid)?;
    let run_id = String::from_utf8(bytes[17..].to_vec()).map_err(|_| invalid())?;
    Ok(RunCursor {
        last_heartbeat_micros: micros,
        run_id,
    })
}

/// A stable 64-bit FNV-1a hash of the filter's contents.
fn fingerprint(filter: &impl std::fmt::Debug) -> u64 {
    let text = format!("{filter:?}");
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LogFilter, Severity};

    #[test]
    fn a_token_round_trips_for_its_filter_only() {
        let filter = LogFilter {
            severities: vec![Severity::High],
            ..LogFilter::default()
        };
        let cursor = PageCursor {
            occurred_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
        };
        let token = encode(cursor, &filter);
        assert_eq!(decode(&token, &filter).unwrap(), cursor);
        let other = LogFilter::default();
        assert!(
            decode(&token, &other)
                .unwrap_err()
                .reason
                .contains("different filter")
        );
        assert_eq!(decode("garbage!", &filter).unwrap_err().field, "page_token");
    }

    #[test]
    fn a_token_outside_years_1_to_9999_is_refused() {
        let filter = LogFilter::default();
        for (year, accepted) in [
            (-10_000, false),
            (0, false),
            (1, true),
            (9999, true),
            (10_000, false),
            (200_000, false),
        ] {
            let occurred_at = chrono::NaiveDate::from_ymd_opt(year, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc();
            let token = encode(
                PageCursor {
                    occurred_at,
                    id: Uuid::now_v7(),
                },
                &filter,
            );
            let decoded = decode(&token, &filter);
            assert_eq!(decoded.is_ok(), accepted, "year {year}: {decoded:?}");
            if let Err(e) = decoded {
                assert_eq!(e.field, "page_token");
            }
        }
    }
}

/// Live-tail cursors: `t` + txid + seq, base64url.
pub mod tail {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    use crate::{api::error::FieldError, domain::TailCursor};

    const TAG: u8 = b't';

    /// The opaque form of a tail position.
    pub fn encode(cursor: TailCursor) -> String {
        let mut bytes = Vec::with_capacity(17);
        bytes.push(TAG);
        bytes.extend_from_slice(&cursor.txid.to_be_bytes());
        bytes.extend_from_slice(&cursor.seq.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads a cursor produced by [`encode`].
    pub fn decode(field: &str, token: &str) -> Result<TailCursor, FieldError> {
        let invalid = || FieldError::new(field, "not a cursor sent by SubscribeLogs");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if bytes.len() != 17 || bytes[0] != TAG {
            return Err(invalid());
        }
        let txid = i64::from_be_bytes(bytes[1..9].try_into().map_err(|_| invalid())?);
        let seq = i64::from_be_bytes(bytes[9..17].try_into().map_err(|_| invalid())?);
        // Transaction ids and insertion sequences are never negative.
        if txid < 0 || seq < 0 {
            return Err(invalid());
        }
        Ok(TailCursor { txid, seq })
    }
}
