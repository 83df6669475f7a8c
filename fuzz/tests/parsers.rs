//! Fuzz targets for what reads callers' text and numbers: filters, page tokens, resource
//! names, money, dates, and the HJ 212-2017 packets of monitoring stations. Each must answer every input with a value or an
//! INVALID_ARGUMENT naming its field — never a panic, never another kind of error.
//!
//! `cargo test -p duikou-fuzz` replays the committed corpus (`tests/__fuzz__/<target>/`)
//! and tries random inputs; `cargo bolero test -p duikou-fuzz <target>` fuzzes one guided
//! by coverage and grows its corpus (see the README).

use bolero::check;
use duikou::{
    domain::{
        audit::AuditFilter,
        filter,
        hj212::{self, Packet, Refusal},
        ledger::LineFilter,
        money::Amount,
        name,
        page::Page,
        pairing::PairingFilter,
        period::{self, Period},
        project::ProjectFilter,
        region::{RegionCode, RegionFilter},
        secret::Secret,
        supervision_query::{EntryFilter, EntryOrder, Purpose},
        talent::TalentFilter,
    },
    error::Error,
};

/// Random inputs each target tries under `cargo test`, after its whole corpus (an
/// iteration count, unlike bolero's default of a second, never cuts the corpus short).
const RANDOM_INPUTS: usize = 2000;

/// Whether `result` is a value or a refusal a caller can act on: INVALID_ARGUMENT naming
/// one of `fields` (a field or a field under it).
fn answered<T>(result: Result<T, Error>, fields: &[&str]) -> bool {
    match result {
        Ok(_) => true,
        Err(Error::InvalidArgument { violations, .. }) => violations.iter().all(|v| {
            fields
                .iter()
                .any(|f| v.field == *f || v.field.starts_with(&format!("{f}.")))
                && !v.description.is_empty()
        }),
        Err(_) => false,
    }
}

/// The bytes as text, the way a caller's string field arrives (prost refuses invalid
/// UTF-8 before a handler sees it).
fn text(input: &[u8]) -> String {
    String::from_utf8_lossy(input).into_owned()
}

#[test]
fn filters() {
    check!()
        .with_iterations(RANDOM_INPUTS)
        .for_each(|input: &[u8]| {
            let text = text(input);
            assert!(answered(filter::parse(&text), &["filter"]));
            assert!(answered(PairingFilter::parse(&text), &["filter"]));
            assert!(answered(ProjectFilter::parse(&text), &["filter"]));
            assert!(answered(LineFilter::parse(&text), &["filter"]));
            assert!(answered(TalentFilter::parse(&text), &["filter"]));
            assert!(answered(RegionFilter::parse(&text), &["filter"]));
            assert!(answered(AuditFilter::parse(&text), &["filter"]));
            assert!(answered(
                EntryFilter::parse(&text, Purpose::List),
                &["filter"]
            ));
            assert!(answered(
                EntryFilter::parse(&text, Purpose::Watch),
                &["filter"]
            ));
            assert!(answered(EntryOrder::parse(&text), &["order_by"]));
        });
}

#[test]
fn page_tokens() {
    // One key for the whole run: a token signed with it must round-trip, anything else
    // must be refused on `page_token`.
    let Ok(key) = Secret::generate() else {
        panic!("no randomness");
    };
    check!()
        .with_iterations(RANDOM_INPUTS)
        .with_type::<(i32, String, Vec<String>)>()
        .for_each(|(size, token, parts)| {
            let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
            let opened = Page::open(&key, *size, token, &parts);
            assert!(answered(opened.clone(), &["page_size", "page_token"]));
            if let Ok(page) = opened {
                assert!(page.size >= 1 && page.size <= 1000);
                // The token of the next page reopens for the same query, with its key.
                let rows: Vec<u64> = (0..page.fetch()).collect();
                let (_, next) = page.close(rows, |n| n.to_string());
                if !next.is_empty() {
                    let again = Page::open(&key, *size, &next, &parts);
                    assert!(matches!(again, Ok(ref p) if p.after.is_some()), "{again:?}");
                }
            }
        });
}

#[test]
fn resource_names() {
    check!()
        .with_iterations(RANDOM_INPUTS)
        .with_type::<(u8, String)>()
        .for_each(|(pick, text)| {
            let collections = [
                "pairings",
                "programs",
                "projects",
                "fundTransactions",
                "talentExchanges",
                "supervisionEntries",
                "accessTokens",
            ];
            let collection = collections[usize::from(*pick) % collections.len()];
            let parsed = name::parse_id("name", collection, text);
            assert!(answered(parsed.clone(), &["name"]));
            if let Ok(id) = parsed {
                // What was read is what a server would have written.
                assert!(id > 0);
                assert_eq!(
                    name::parse_id("name", collection, &name::format_id(collection, id)).ok(),
                    Some(id)
                );
            }
            assert!(answered(RegionCode::parse("region", text), &["region"]));
        });
}

#[test]
fn money() {
    check!()
        .with_iterations(RANDOM_INPUTS)
        .with_type::<(String, i64, i32)>()
        .for_each(|(currency, units, nanos)| {
            let parsed = Amount::parse("amount", currency, *units, *nanos);
            assert!(answered(parsed.clone(), &["amount"]));
            if let Ok(amount) = parsed {
                // Exact in fen both ways, and the same sign as what was sent.
                let fen = amount.fen();
                assert!(fen > 0);
                assert_eq!(Amount::from_fen(fen).ok().map(Amount::fen), Some(fen));
                assert_eq!(
                    i128::from(*units) * 100 + i128::from(*nanos) / 10_000_000,
                    i128::from(fen)
                );
            }
        });
}

#[test]
fn dates() {
    check!()
        .with_iterations(RANDOM_INPUTS)
        .with_type::<(String, String)>()
        .for_each(|(start, end)| {
            let date = period::parse_date("date", start);
            assert!(answered(date, &["date"]));
            let parsed = Period::parse("pairing.", start, end);
            let fields = ["pairing.period_start", "pairing.period_end"];
            assert!(answered(parsed.clone(), &fields));
            if let Ok(period) = parsed {
                assert!(period.start() <= period.end());
            }
        });
}

#[test]
fn hj212_packets() {
    check!()
        .with_iterations(RANDOM_INPUTS)
        .for_each(|input: &[u8]| {
            // Any bytes: read or refused, never a panic.
            let _ = Packet::parse(input).map(|p| p.readings());
            // Any text framed as the standard says passes the frame and the CRC: a refusal
            // can only be about its fields.
            let data: String = String::from_utf8_lossy(input)
                .chars()
                .filter(|c| c.is_ascii() && !c.is_ascii_control())
                .take(hj212::MAX_DATA_BYTES)
                .collect();
            let framed = Packet::parse(&hj212::frame(&data));
            assert!(
                !matches!(framed, Err(Refusal::Frame(_) | Refusal::Crc { .. })),
                "{framed:?}"
            );
        });
}
