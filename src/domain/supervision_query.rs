//! What a supervision list or watch asks for: the filter of `ListSupervisionEntries` and
//! `WatchSupervisionEvents`, the orders a list may take, and the keyset cursor of each.

use chrono::{DateTime, NaiveDate, Utc};

use super::{
    filter::{self, Condition},
    name,
    region::RegionCode,
    supervision::{Category, Party, Severity, State},
};
use crate::error::Error;

/// The collections an entry's subject may name.
pub const SUBJECT_COLLECTIONS: [&str; 5] = [
    "pairings",
    "projects",
    "fundTransactions",
    "talentExchanges",
    "monitoringSections",
];

/// Which request a filter belongs to: a watch follows events of entries whose state keeps
/// changing, so it takes only the fields an entry never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `ListSupervisionEntries`.
    List,
    /// `WatchSupervisionEvents`.
    Watch,
}

/// The typed filter of a supervision list or watch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryFilter {
    /// `state = RECTIFYING`.
    pub state: Option<State>,
    /// `party = PUBLIC`.
    pub party: Option<Party>,
    /// `category = WATER_QUALITY`.
    pub category: Option<Category>,
    /// `severity = HIGH`.
    pub severity: Option<Severity>,
    /// `subject = "projects/12"`.
    pub subject: Option<String>,
    /// `region = "regions/420300"`: entries in that region or inside it.
    pub region: Option<RegionCode>,
    /// `overdue = true` or `overdue = false`.
    pub overdue: Option<bool>,
    /// `responsible_organization = "organizations/1"`.
    pub responsible_organization_id: Option<i64>,
}

impl EntryFilter {
    /// Parses the `filter` of a list (`purpose` List) or a watch (Watch, which refuses
    /// `state` and `overdue`).
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `filter` naming the condition at fault.
    pub fn parse(text: &str, purpose: Purpose) -> Result<Self, Error> {
        filter::read(text, |query: &mut Self, c| {
            c.equals_only()?;
            match (c.field.as_str(), purpose) {
                ("state", Purpose::List) => query.state = Some(c.word()?),
                ("party", _) => query.party = Some(c.word()?),
                ("category", _) => query.category = Some(c.word()?),
                ("severity", _) => query.severity = Some(c.word()?),
                ("subject", _) => query.subject = Some(subject(c)?),
                ("region", _) => query.region = Some(RegionCode::from_condition(c)?),
                ("overdue", Purpose::List) => {
                    query.overdue = Some(c.parse_with(|v| v.parse().ok(), "true or false")?);
                }
                ("responsible_organization", Purpose::List) => {
                    query.responsible_organization_id = Some(c.id_in("organizations")?);
                }
                (_, Purpose::List) => {
                    return Err(c.not_a_field(&[
                        "state",
                        "party",
                        "category",
                        "severity",
                        "subject",
                        "region",
                        "overdue",
                        "responsible_organization",
                    ]));
                }
                (_, Purpose::Watch) => {
                    return Err(c.error(
                        "is not a filter field of a watch; use party, category, severity, \
                         subject or region",
                    ));
                }
            }
            Ok(())
        })
    }
}

fn subject(c: &Condition) -> Result<String, Error> {
    let valid = SUBJECT_COLLECTIONS
        .iter()
        .any(|collection| name::parse_id("filter", collection, &c.value).is_ok());
    if valid {
        Ok(c.value.clone())
    } else {
        Err(c.error(
            "expects the name of a pairing, project, fund transaction, talent exchange or \
             monitoring section, like \"projects/1\"",
        ))
    }
}

/// What a list is sorted by; ties always go by creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKey {
    /// Submission time.
    CreateTime,
    /// Due date; entries without one come last in either direction.
    DueDate,
    /// Severity, LOW first.
    Severity,
}

/// The `order_by` of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryOrder {
    /// The sort key.
    pub key: OrderKey,
    /// Largest first.
    pub descending: bool,
}

/// Where a page of a list starts: the sort key and id of the last entry before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// After this submission time and id.
    CreateTime(DateTime<Utc>, i64),
    /// After this due date (none: among the entries without one) and id.
    DueDate(Option<NaiveDate>, i64),
    /// After this severity and id.
    Severity(i16, i64),
}

impl EntryOrder {
    /// Parses `order_by`: "create_time" (the default when empty), "due_date" or "severity",
    /// each optionally followed by " desc" or " asc".
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `order_by` for anything else.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let wrong = || {
            Error::invalid(
                "order_by",
                "must be create_time, due_date or severity, optionally followed by desc",
            )
        };
        let (field, direction) = match words.as_slice() {
            [] => ("create_time", None),
            [field] => (*field, None),
            [field, direction] => (*field, Some(*direction)),
            _ => return Err(wrong()),
        };
        let key = match field {
            "create_time" => OrderKey::CreateTime,
            "due_date" => OrderKey::DueDate,
            "severity" => OrderKey::Severity,
            _ => return Err(wrong()),
        };
        let descending = match direction {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => return Err(wrong()),
        };
        Ok(Self { key, descending })
    }

    /// The cursor after an entry with these values, in this order.
    pub fn cursor(
        &self,
        id: i64,
        create_time: DateTime<Utc>,
        due_date: Option<NaiveDate>,
        severity: i16,
    ) -> Cursor {
        match self.key {
            OrderKey::CreateTime => Cursor::CreateTime(create_time, id),
            OrderKey::DueDate => Cursor::DueDate(due_date, id),
            OrderKey::Severity => Cursor::Severity(severity, id),
        }
    }

    /// Reads a cursor written by [`Cursor::encode`] for this order.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on `page_token` when it does not read as one.
    pub fn decode(&self, text: &str) -> Result<Cursor, Error> {
        let malformed = || Error::invalid("page_token", "is not a token this server issued");
        let (key, id) = text.rsplit_once('~').ok_or_else(malformed)?;
        let id: i64 = id.parse().map_err(|_| malformed())?;
        Ok(match self.key {
            OrderKey::CreateTime => {
                let micros: i64 = key.parse().map_err(|_| malformed())?;
                Cursor::CreateTime(
                    DateTime::from_timestamp_micros(micros).ok_or_else(malformed)?,
                    id,
                )
            }
            OrderKey::DueDate => Cursor::DueDate(
                match key {
                    "" => None,
                    date => {
                        Some(NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| malformed())?)
                    }
                },
                id,
            ),
            OrderKey::Severity => Cursor::Severity(key.parse().map_err(|_| malformed())?, id),
        })
    }
}

impl Cursor {
    /// The text a page token carries.
    pub fn encode(&self) -> String {
        match self {
            Cursor::CreateTime(time, id) => format!("{}~{id}", time.timestamp_micros()),
            Cursor::DueDate(date, id) => format!(
                "{}~{id}",
                date.map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default()
            ),
            Cursor::Severity(severity, id) => format!("{severity}~{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_filter_reads_every_field() {
        let f = EntryFilter::parse(
            r#"state = RECTIFYING AND party = PUBLIC AND category = FUND_MISUSE AND severity = HIGH AND subject = "projects/12" AND region = "regions/420300" AND overdue = true"#,
            Purpose::List,
        )
        .unwrap();
        assert_eq!(f.state, Some(State::Rectifying));
        assert_eq!(f.party, Some(Party::Public));
        assert_eq!(f.category, Some(Category::FundMisuse));
        assert_eq!(f.severity, Some(Severity::High));
        assert_eq!(f.subject.as_deref(), Some("projects/12"));
        assert_eq!(f.region.unwrap().as_str(), "420300");
        assert_eq!(f.overdue, Some(true));
        assert_eq!(
            EntryFilter::parse("", Purpose::List).unwrap(),
            EntryFilter::default()
        );
    }

    #[test]
    fn bad_filters_are_refused_and_a_watch_takes_only_what_never_changes() {
        for bad in [
            "state = OPEN",
            "overdue = yes",
            "subject = \"regions/420300\"",
            "severity > LOW",
            "colour = red",
            "party = PUBLIC AND party = MEDIA",
        ] {
            let e = EntryFilter::parse(bad, Purpose::List).unwrap_err();
            assert!(e.to_string().contains("filter"), "{bad}: {e}");
        }
        for list_only in ["state = RESOLVED", "overdue = true"] {
            assert!(EntryFilter::parse(list_only, Purpose::List).is_ok());
            assert!(EntryFilter::parse(list_only, Purpose::Watch).is_err());
        }
    }

    #[test]
    fn orders_parse_and_cursors_round_trip() {
        assert_eq!(
            EntryOrder::parse("").unwrap(),
            EntryOrder {
                key: OrderKey::CreateTime,
                descending: false
            }
        );
        let due = EntryOrder::parse(" due_date  desc ").unwrap();
        assert_eq!(due.key, OrderKey::DueDate);
        assert!(due.descending);
        for bad in ["id", "severity up", "due_date desc x"] {
            assert!(EntryOrder::parse(bad).is_err(), "{bad}");
        }
        let time = DateTime::from_timestamp_micros(1_767_225_600_123_456).unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 5, 1);
        for order in ["create_time", "due_date", "severity desc"] {
            let order = EntryOrder::parse(order).unwrap();
            for (id, due) in [(7, date), (8, None)] {
                let cursor = order.cursor(id, time, due, 3);
                assert_eq!(order.decode(&cursor.encode()).unwrap(), cursor);
            }
        }
        assert!(due.decode("2026-13-01~4").is_err());
        assert!(due.decode("nothing").is_err());
    }
}
