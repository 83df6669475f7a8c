//! Water quality: registering and changing monitoring sections, recording samples (each
//! classed on write, and an exceedance filed into supervision in the same transaction),
//! and retracting a wrong sample.
//!
//! Sections are managed by a caller whose scope covers both the region they lie in and
//! the region that answers for them; samples are recorded by one whose scope covers the
//! region they lie in. A sample holds its section's row for the rest of its transaction,
//! so that the samples of one section, their day totals and the section's open entry
//! change one at a time, on every server of a database.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};

use super::{
    Create, Edit,
    batch::{BatchQueue, Batched},
    organization::Link,
    supervision::event_by,
};
use crate::{
    domain::{
        access::{Caller, require_scope},
        audit::Call,
        clock::Clock,
        monitoring::{
            DayTotals, Position, Reading, SampleSource, SectionCode, SectionDraft, SectionFields,
            SectionState, attributable_upstream, attribution_window, describe_exceedances,
            severity_of,
        },
        name,
        patch::Patch,
        region::{RegionCode, RegionPath},
        request_id::RequestKey,
        revision::check_etag,
        supervision::{Category, Party, State, Step, today},
        water::{Evaluation, Measure, WaterClass, WaterParameter, evaluate},
    },
    error::Error,
    store::{
        Hold, by_id,
        region::{self, RegionRow},
        supervision::{self as entries, Appended, EntryRow, NewEntry, NewEvent, OpenWaterEntry},
        tx::{Change, Tx},
        water::{
            self as waters, NewSample, RetractionRow, SampleRow, SampleWrites, SectionChange,
            SectionRow,
        },
    },
};

/// NOT_FOUND for section `id`.
pub fn section_not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "MONITORING_SECTION_NOT_FOUND",
        resource: name::format_id("monitoringSections", id),
    }
}

/// NOT_FOUND for sample `id`.
pub fn sample_not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "WATER_SAMPLE_NOT_FOUND",
        resource: name::format_id("waterSamples", id),
    }
}

/// Checks that `caller` manages section `row`: both its regions lie in the caller's scope.
///
/// # Errors
/// PERMISSION_DENIED `OUTSIDE_SCOPE`.
fn require_manager(caller: &Caller, row: &SectionRow) -> Result<(), Error> {
    require_scope(
        caller,
        &[
            &RegionPath::from_stored(row.region_path.clone()),
            &RegionPath::from_stored(row.responsible_path.clone()),
        ],
    )
}

/// CreateMonitoringSection: a new ACTIVE section in regions inside the caller's scope.
pub struct CreateSection {
    /// Its code.
    pub code: SectionCode,
    /// Where it lies.
    pub region: RegionCode,
    /// The fields that callers write.
    pub draft: SectionDraft,
}

impl Create for CreateSection {
    type Made = SectionRow;

    async fn make(&self, tx: &mut Tx<'_>) -> Result<SectionRow, Error> {
        let region = region_row(tx, &self.region, "monitoring_section.region").await;
        let responsible = match &self.draft.responsible_region {
            Some(code) => region_row(tx, code, "monitoring_section.responsible_region").await,
            None => region.clone(),
        };
        let upstream = match self.draft.upstream_id {
            Some(id) => upstream_row(tx, id).await.map(|_| ()),
            None => Ok(()),
        };
        let (region, responsible, ()) = Error::all((region, responsible, upstream))?;
        require_scope(
            tx.caller()?,
            &[
                &RegionPath::from_stored(region.path.clone()),
                &RegionPath::from_stored(responsible.path.clone()),
            ],
        )?;
        let draft = with_unit(tx, &self.draft, &[]).await?;
        waters::insert_section(tx.db(), &self.code, &region, &responsible, &draft).await
    }

    /// A replay is authorized as the request was: the section must lie in the caller's
    /// reach.
    async fn replay(&self, tx: &mut Tx<'_>, earlier: &str) -> Result<SectionRow, Error> {
        let id = name::parse_id("request_id", "monitoringSections", earlier)?;
        section_in_reach(tx, id).await
    }
}

/// UpdateMonitoringSection: the sent fields over an active section, its regions inside
/// the caller's scope before and after.
pub type UpdateSection = Edit<Patch<SectionFields>>;

impl Change for UpdateSection {
    type Output = SectionRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<SectionRow, Error> {
        let current = active_for_update(tx, self.id, &self.etag).await?;
        let draft = SectionDraft::parse(&self.what.over(fields_of(&current)))?;
        let responsible = match &draft.responsible_region {
            Some(code) => region_row(tx, code, "monitoring_section.responsible_region").await?,
            None => region_of(tx, &current).await?,
        };
        require_scope(
            tx.caller()?,
            &[&RegionPath::from_stored(responsible.path.clone())],
        )?;
        if let Some(upstream) = draft.upstream_id {
            upstream_row(tx, upstream).await?;
            if waters::upstream_chain(tx.db(), upstream, current.id)
                .await?
                .contains(&current.id)
            {
                return Err(Error::invalid(
                    "monitoring_section.upstream_section",
                    "would make the section upstream of itself",
                ));
            }
        }
        let draft = with_unit(tx, &draft, &self.what.paths).await?;
        let change = SectionChange {
            draft: Some((draft, responsible)),
            state: None,
        };
        save(tx, &current, change).await
    }
}

/// `draft` with its responsible organisation checked, and its unit that organisation's
/// name where the draft leaves it empty, or where an update's mask (`paths`; none on
/// create) names a new organisation alone.
async fn with_unit(
    tx: &Tx<'_>,
    draft: &SectionDraft,
    paths: &[&str],
) -> Result<SectionDraft, Error> {
    let responsible_unit = Link {
        prefix: "monitoring_section.",
        fields: ("responsible_organization", "responsible_unit"),
        id: draft.responsible_organization_id,
        words: &draft.responsible_unit,
    }
    .words(tx, paths)
    .await?;
    Ok(SectionDraft {
        responsible_unit,
        ..draft.clone()
    })
}

/// RetireMonitoringSection: ACTIVE → RETIRED.
#[derive(Debug, Clone, Copy)]
pub struct Retirement;

/// RetireMonitoringSection of a section.
pub type RetireSection = Edit<Retirement>;

impl Change for RetireSection {
    type Output = SectionRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<SectionRow, Error> {
        let current = active_for_update(tx, self.id, &self.etag).await?;
        let change = SectionChange {
            draft: None,
            state: Some(SectionState::Retired),
        };
        save(tx, &current, change).await
    }
}

/// Writes a change to a section and records it.
async fn save(
    tx: &mut Tx<'_>,
    current: &SectionRow,
    change: SectionChange,
) -> Result<SectionRow, Error> {
    let row = waters::save_section(tx.db(), current, change).await?;
    tx.record(None, &row);
    Ok(row)
}

/// A stored region named in `field`.
async fn region_row(tx: &Tx<'_>, code: &RegionCode, field: &str) -> Result<RegionRow, Error> {
    region::get(tx.db(), code)
        .await?
        .ok_or_else(|| Error::invalid(field, format!("{} does not exist", code.name())))
}

/// The stored region a section's region code names, when the draft leaves the responsible
/// region to it.
async fn region_of(tx: &Tx<'_>, section: &SectionRow) -> Result<RegionRow, Error> {
    region::get(
        tx.db(),
        &RegionCode::from_stored(section.region_code.clone()),
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("section {} lies in no stored region", section.id).into())
}

/// The section named as upstream, read-locked so that it stays while the change commits.
async fn upstream_row(tx: &Tx<'_>, id: i64) -> Result<SectionRow, Error> {
    by_id::<SectionRow>(tx.db(), id, Hold::Share)
        .await?
        .ok_or_else(|| {
            Error::invalid(
                "monitoring_section.upstream_section",
                format!(
                    "{} does not exist",
                    name::format_id("monitoringSections", id)
                ),
            )
        })
}

/// Section `id`, locked for change, if the caller manages it. Sections are public, so
/// existence comes first.
async fn section_in_reach(tx: &Tx<'_>, id: i64) -> Result<SectionRow, Error> {
    let row = by_id::<SectionRow>(tx.db(), id, Hold::Update)
        .await?
        .ok_or_else(|| section_not_found(id))?;
    require_manager(tx.caller()?, &row)?;
    Ok(row)
}

/// An active section the caller manages, locked for change, at the revision the caller
/// read.
async fn active_for_update(tx: &Tx<'_>, id: i64, sent_etag: &str) -> Result<SectionRow, Error> {
    let row = section_in_reach(tx, id).await?;
    check_etag(sent_etag, row.revision)?;
    if row.state == SectionState::Retired {
        return Err(Error::precondition(
            "MONITORING_SECTION_RETIRED",
            format!(
                "{} is retired and cannot change",
                name::format_id("monitoringSections", id)
            ),
        ));
    }
    Ok(row)
}

/// The fields of a stored section as a request would send them, for an update to write
/// over.
pub fn fields_of(row: &SectionRow) -> SectionFields {
    let responsible_region = if row.responsible_code == row.region_code {
        String::new()
    } else {
        RegionCode::from_stored(row.responsible_code.clone()).name()
    };
    let position = row
        .latitude_micro
        .zip(row.longitude_micro)
        .map(|(latitude, longitude)| Position {
            latitude,
            longitude,
        });
    SectionFields {
        display_name: row.display_name.clone(),
        water_body: row.water_body.clone(),
        water_body_type: row.water_body_type.number(),
        responsible_region,
        responsible_unit: row.responsible_unit.clone(),
        responsible_organization: name::format_optional_id(
            "organizations",
            row.responsible_organization_id,
        ),
        target_class: row.target_class.number(),
        control_level: row.control_level.number(),
        upstream_section: name::format_optional_id("monitoringSections", row.upstream_section_id),
        latitude: position.map(Position::latitude_degrees),
        longitude: position.map(Position::longitude_degrees),
    }
}

/// A sample as its methods answer it: the recorded row and its retraction, if any.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The sample.
    pub row: SampleRow,
    /// Its retraction.
    pub retraction: Option<RetractionRow>,
}

impl Sample {
    /// The evaluation the sample was given when recorded, made again from its values and
    /// the section's water body type and target of that time.
    ///
    /// # Errors
    /// INTERNAL when its stored values do not read back.
    pub fn evaluation(&self) -> Result<(Vec<Reading>, Evaluation), Error> {
        let readings = Reading::load_list(&self.row.readings)?;
        let evaluation = evaluate(
            self.row.water_body_type,
            self.row.target_class,
            &Reading::evaluated(&readings),
        );
        Ok((readings, evaluation))
    }
}

/// RecordWaterSample: a sample at an active section inside the caller's scope, classed,
/// with its exceedance filed into supervision.
#[derive(Debug, Clone)]
pub struct RecordSample {
    /// The section's id.
    pub section_id: i64,
    /// When it was taken, already checked against the clock.
    pub sample_time: DateTime<Utc>,
    /// Laboratory or station.
    pub source: SampleSource,
    /// The values.
    pub readings: Vec<Reading>,
}

/// One RecordWaterSample request: the sample, the call that sent it and its request key.
#[derive(Debug, Clone)]
pub struct SampleRequest {
    /// The call: its caller must reach the section, and the sample's audit event names it.
    pub call: Call,
    /// The request key, if the request sent an id.
    pub key: Option<RequestKey>,
    /// The sample.
    pub sample: RecordSample,
}

/// The queue of RecordWaterSample requests, and the task that records them in batches.
pub type SampleQueue = BatchQueue<Samples>;

/// Water samples, recorded in batches: a batch reads the sections its samples are taken
/// at, their open entries and day totals once, takes the samples one after another in
/// memory (each checked, classed and answered on its own), and writes the samples, the
/// events they add to open entries and the day totals at once. An exceedance that files
/// a new entry first writes what the batch holds so far, so that it sees, as a sample
/// recorded alone would, every sample before it, upstream ones included.
pub struct Samples {
    /// The time samples are recorded at.
    pub clock: Clock,
}

impl Batched for Samples {
    type Request = SampleRequest;
    type Made = Sample;

    const NAME: &'static str = "water sample batch";
    const COLLECTION: &'static str = "waterSamples";

    fn call(request: &SampleRequest) -> &Call {
        &request.call
    }

    fn key(request: &SampleRequest) -> Option<&RequestKey> {
        request.key.as_ref()
    }

    async fn make(
        &self,
        tx: &mut Tx<'_>,
        fresh: &[&SampleRequest],
    ) -> Result<Vec<Result<Sample, Error>>, Error> {
        let now = self.clock.now().trunc_subsecs(6);
        let mut book = SampleBook::load(tx, fresh).await?;
        let mut refused = Vec::with_capacity(fresh.len());
        for index in 0..fresh.len() {
            refused.push(book.take(tx, fresh, index, now).await?.err());
        }
        book.flush(tx, fresh, now).await?;
        let mut made: HashMap<usize, SampleRow> = book.made.into_iter().collect();
        Ok(refused
            .into_iter()
            .enumerate()
            .map(|(index, refusal)| match refusal {
                Some(error) => Err(error),
                None => made
                    .remove(&index)
                    .map(|row| Sample {
                        row,
                        retraction: None,
                    })
                    .ok_or_else(|| anyhow::anyhow!("a sample of a batch went unwritten").into()),
            })
            .collect())
    }

    /// Each sample, once its caller is found still to reach its section.
    async fn replay(
        &self,
        tx: &mut Tx<'_>,
        replays: &[(&SampleRequest, i64)],
    ) -> Result<Vec<Result<Sample, Error>>, Error> {
        let ids: Vec<i64> = replays.iter().map(|(_, id)| *id).collect();
        let mut retractions = waters::retractions(tx.db(), &ids).await?;
        let mut answers = Vec::with_capacity(replays.len());
        for (item, id) in replays {
            let row = by_id::<SampleRow>(tx.db(), *id, Hold::Nothing).await?;
            answers.push(row.ok_or_else(|| sample_not_found(*id)).and_then(|row| {
                require_scope(
                    item.call.authenticated()?,
                    &[&RegionPath::from_stored(row.region_path.clone())],
                )?;
                let retraction = retractions.remove(id);
                Ok(Sample { row, retraction })
            }));
        }
        Ok(answers)
    }
}

/// An open entry as a batch holds it: as read or filed, with its event count as stored,
/// and the events the batch has yet to append.
struct Open {
    entry: OpenWaterEntry,
    events: Vec<NewEvent>,
}

/// A sample a batch has taken and yet to write: its request's index and what it stores.
struct Taken {
    index: usize,
    section_id: i64,
    class: Option<WaterClass>,
    exceeding: bool,
    entry_id: Option<i64>,
}

/// A sample checked against what its batch holds, before it is taken.
struct Checked {
    section_id: i64,
    evaluated: Vec<(WaterParameter, Measure)>,
    evaluation: Evaluation,
    /// Its day in China.
    day: NaiveDate,
    /// Its day's totals with it counted in.
    totals: DayTotals,
    /// The event it adds to its section's open entry, if the section has one.
    note: Option<NewEvent>,
}

/// What a batch of samples reads once and changes as it takes its samples.
struct SampleBook {
    /// The sections sampled, as read (and locked) in this transaction.
    sections: HashMap<i64, SectionRow>,
    /// Each section's open entry, by section.
    open: HashMap<i64, Open>,
    /// The totals of the (section, day) pairs sampled, and whether the batch changed them.
    days: HashMap<(i64, NaiveDate), (DayTotals, bool)>,
    /// Taken and not yet written.
    taken: Vec<Taken>,
    /// Written: each request's index and its stored row.
    made: Vec<(usize, SampleRow)>,
}

impl SampleBook {
    /// Reads the sections `fresh` names, their open entries and the day totals of the
    /// samples' days.
    async fn load(tx: &Tx<'_>, fresh: &[&SampleRequest]) -> Result<Self, Error> {
        let mut ids: Vec<i64> = fresh.iter().map(|r| r.sample.section_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut keys: Vec<(i64, NaiveDate)> = fresh
            .iter()
            .map(|r| (r.sample.section_id, today(r.sample.sample_time)))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let read = waters::sampling(tx.db(), &ids, &keys).await?;
        let sections: HashMap<i64, SectionRow> =
            read.sections.into_iter().map(|row| (row.id, row)).collect();
        let (entries, stored) = (read.entries, read.days);
        let mut open = HashMap::new();
        // In id order: a section's latest open entry is the one that stays.
        for entry in entries {
            open.insert(
                entry.section_id,
                Open {
                    entry,
                    events: Vec::new(),
                },
            );
        }
        let days = keys
            .into_iter()
            .filter(|(id, _)| sections.contains_key(id))
            .map(|key| (key, (stored.get(&key).cloned().unwrap_or_default(), false)))
            .collect();
        Ok(Self {
            sections,
            open,
            days,
            taken: Vec::new(),
            made: Vec::new(),
        })
    }

    /// Takes request `index` of `fresh`: checks, classes and counts its sample, and files
    /// its exceedance or notes it on the section's open entry. The inner result is the
    /// request's own refusal; the outer one fails the batch.
    async fn take(
        &mut self,
        tx: &mut Tx<'_>,
        fresh: &[&SampleRequest],
        index: usize,
        now: DateTime<Utc>,
    ) -> Result<Result<(), Error>, Error> {
        let item = fresh[index];
        let checked = item
            .call
            .authenticated()
            .and_then(|caller| Ok((caller, self.check(caller, &item.sample)?)));
        let (caller, checked) = match checked {
            Ok(checked) => checked,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let Checked {
            section_id,
            evaluated,
            evaluation,
            day,
            totals,
            note,
        } = checked;
        let entry_id = match (note, self.open.get_mut(&section_id)) {
            (Some(event), Some(open)) => {
                open.events.push(event);
                Some(open.entry.id)
            }
            (_, Some(_)) => None,
            (_, None) if evaluation.exceedances.is_empty() || evaluation.class.is_none() => None,
            (_, None) => {
                // The new entry's attribution reads the samples before it: write them first.
                self.flush(tx, fresh, now).await?;
                let section = self
                    .sections
                    .get(&section_id)
                    .ok_or_else(|| anyhow::anyhow!("a taken sample's section is not held"))?;
                let sample = Observation {
                    section,
                    sample_time: item.sample.sample_time,
                    evaluated: &evaluated,
                    evaluation: &evaluation,
                };
                let row = file_entry(tx, &item.call, caller, &sample, now).await?;
                let entry = OpenWaterEntry {
                    id: row.id,
                    section_id,
                    state: row.state,
                    event_count: row.event_count,
                };
                self.open.insert(
                    section_id,
                    Open {
                        entry,
                        events: Vec::new(),
                    },
                );
                Some(row.id)
            }
        };
        self.days.insert((section_id, day), (totals, true));
        self.taken.push(Taken {
            index,
            section_id,
            class: evaluation.class,
            exceeding: !evaluation.exceedances.is_empty(),
            entry_id,
        });
        Ok(Ok(()))
    }

    /// Checks `sample` for `caller` against what the batch holds, classes it, counts it
    /// into its day's totals (not yet kept) and, when its section has an open entry, makes
    /// the event it adds there.
    fn check(&self, caller: &Caller, sample: &RecordSample) -> Result<Checked, Error> {
        let id = sample.section_id;
        let section = sampling_at(caller, self.sections.get(&id), id, "sample.section")?;
        let evaluated = Reading::evaluated(&sample.readings);
        let evaluation = evaluate(section.water_body_type, section.target_class, &evaluated);
        let day = today(sample.sample_time);
        let mut totals = self
            .days
            .get(&(id, day))
            .map(|(t, _)| t.clone())
            .unwrap_or_default();
        totals.count(&sample.readings, !evaluation.exceedances.is_empty(), 1)?;
        let observed = Observation {
            section,
            sample_time: sample.sample_time,
            evaluated: &evaluated,
            evaluation: &evaluation,
        };
        let note = match (self.open.get(&id), observed.note_for_open()) {
            (Some(open), Some(note)) => {
                let state = open.entry.state;
                let to = Step::WaterSample.apply(Some(state))?;
                Some(NewEvent {
                    note,
                    ..event_by(Some(caller), Step::WaterSample, Some(state), to)
                })
            }
            _ => None,
        };
        Ok(Checked {
            section_id: id,
            evaluated,
            evaluation,
            day,
            totals,
            note,
        })
    }

    /// Writes what the batch has taken and not yet written: the samples, the events they
    /// add to open entries, and the day totals they changed.
    async fn flush(
        &mut self,
        tx: &Tx<'_>,
        fresh: &[&SampleRequest],
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let taken = std::mem::take(&mut self.taken);
        let mut new = Vec::with_capacity(taken.len());
        for t in &taken {
            let item = fresh[t.index];
            let section = self
                .sections
                .get(&t.section_id)
                .ok_or_else(|| anyhow::anyhow!("a taken sample's section is not held"))?;
            new.push(NewSample {
                section,
                sample_time: item.sample.sample_time,
                source: item.sample.source,
                readings: &item.sample.readings,
                class: t.class,
                exceeding: t.exceeding,
                entry_id: t.entry_id,
                creator_label: &item.call.authenticated()?.label,
            });
        }
        let appended: Vec<Appended> = self
            .open
            .values_mut()
            .filter(|open| !open.events.is_empty())
            .map(|open| {
                let events = std::mem::take(&mut open.events);
                let appended = Appended {
                    entry_id: open.entry.id,
                    count: open.entry.event_count,
                    events,
                };
                open.entry.event_count = open
                    .entry
                    .event_count
                    .saturating_add(i32::try_from(appended.events.len()).unwrap_or(i32::MAX));
                appended
            })
            .collect();
        let days: Vec<((i64, NaiveDate), &DayTotals)> = self
            .days
            .iter_mut()
            .filter(|(_, (_, changed))| *changed)
            .map(|(key, (totals, changed))| {
                *changed = false;
                (*key, &*totals)
            })
            .collect();
        let writes = SampleWrites {
            samples: new,
            appended,
            days,
        };
        let rows = waters::write_samples(tx.db(), &writes, now).await?;
        self.made.extend(taken.iter().map(|t| t.index).zip(rows));
        Ok(())
    }
}

/// The active section `id` that samples are taken at, as `found`, named in `field`, when
/// it lies in the caller's scope.
///
/// # Errors
/// INVALID_ARGUMENT on `field` for a missing or retired section; PERMISSION_DENIED
/// `OUTSIDE_SCOPE`.
fn sampling_at<'s>(
    caller: &Caller,
    found: Option<&'s SectionRow>,
    id: i64,
    field: &str,
) -> Result<&'s SectionRow, Error> {
    let named = || name::format_id("monitoringSections", id);
    let section =
        found.ok_or_else(|| Error::invalid(field, format!("{} does not exist", named())))?;
    require_scope(
        caller,
        &[&RegionPath::from_stored(section.region_path.clone())],
    )?;
    if section.state == SectionState::Retired {
        return Err(Error::invalid(
            field,
            format!("{} is retired and takes no samples", named()),
        ));
    }
    Ok(section)
}

/// The active section `id` that samples are taken at, named in `field`, held as `hold`
/// says, when it lies in the caller's scope.
///
/// # Errors
/// As [`sampling_at`].
pub(super) async fn sampled_section(
    tx: &Tx<'_>,
    id: i64,
    field: &str,
    hold: Hold,
) -> Result<SectionRow, Error> {
    let found = by_id::<SectionRow>(tx.db(), id, hold).await?;
    sampling_at(tx.caller()?, found.as_ref(), id, field).cloned()
}

/// A sample being recorded, as supervision sees it.
struct Observation<'a> {
    section: &'a SectionRow,
    sample_time: DateTime<Utc>,
    evaluated: &'a [(WaterParameter, Measure)],
    evaluation: &'a Evaluation,
}

impl Observation<'_> {
    /// The sample's time and class in words, for a timeline.
    fn summary(&self) -> String {
        let class = self
            .evaluation
            .class
            .map_or("no class".to_owned(), |c| format!("class {}", c.word()));
        format!(
            "sample of {} at {}: {class}",
            self.section.display_name,
            self.sample_time.to_rfc3339()
        )
    }

    /// What the sample adds to the section's open entry: a further exceedance, or that it
    /// meets the target; nothing when it has no class.
    fn note_for_open(&self) -> Option<String> {
        let target = self.section.target_class;
        if !self.evaluation.exceedances.is_empty() {
            Some(format!(
                "{}, worse than the target class {}: {}",
                self.summary(),
                target.word(),
                describe_exceedances(self.evaluation, target)
            ))
        } else if self.evaluation.class.is_some() {
            Some(format!(
                "{}, meets the target class {}",
                self.summary(),
                target.word()
            ))
        } else {
            None
        }
    }
}

/// Files an exceedance of a section without an open entry into supervision, by `call`:
/// an entry for the responsible region, or the upstream section's when the exceedance is
/// no worse than upstream's sample of the 24 hours before.
async fn file_entry(
    tx: &mut Tx<'_>,
    call: &Call,
    caller: &Caller,
    sample: &Observation<'_>,
    now: DateTime<Utc>,
) -> Result<EntryRow, Error> {
    let (section, evaluation) = (sample.section, sample.evaluation);
    let target = section.target_class;
    let class = evaluation
        .class
        .ok_or_else(|| anyhow::anyhow!("an exceedance without a class"))?;
    let (mut place, mut unit, mut organization) = (
        (
            section.responsible_code.clone(),
            section.responsible_path.clone(),
        ),
        section.responsible_unit.clone(),
        section.responsible_organization_id,
    );
    let mut description = format!(
        "{}, worse than the target class {}: {}.",
        sample.summary(),
        target.word(),
        describe_exceedances(evaluation, target)
    );
    if let Some(upstream) = attributed_upstream(tx, sample).await? {
        place = (
            upstream.responsible_code.clone(),
            upstream.responsible_path.clone(),
        );
        unit = upstream.responsible_unit.clone();
        organization = upstream.responsible_organization_id;
        description.push_str(&format!(
            " Attributed upstream to {} ({}, {}): its sample of the 24 hours before was no \
             better in any exceeding item.",
            upstream.display_name,
            upstream.code,
            name::format_id("monitoringSections", upstream.id)
        ));
    }
    let subject = name::format_id("monitoringSections", section.id);
    let title = format!(
        "{} ({}): class {}, target {}",
        section.display_name,
        section.code,
        class.word(),
        target.word()
    );
    let new = NewEntry {
        party: Party::GovernmentAgency,
        subject: &subject,
        region_code: place.0,
        region_path: place.1,
        pairing_id: None,
        project_id: None,
        category: Category::WaterQuality,
        severity: severity_of(class, target),
        title: &title,
        description: &description,
        evidence: &[],
        reporter_name: "",
        reporter_contact: "",
        tracking_hash: None,
        responsible_unit: &unit,
        responsible_organization_id: organization,
        water_section_id: Some(section.id),
    };
    let row = entries::insert(tx.db(), &new, now).await?;
    let event = NewEvent {
        note: description.clone(),
        responsible_unit: unit.clone(),
        ..event_by(Some(caller), Step::Submit, None, State::Submitted)
    };
    let row = EntryRow {
        event_count: entries::append(tx.db(), &row, event, now).await?.seq,
        ..row
    };
    tx.record_for(call, None, &row);
    Ok(row)
}

/// The upstream section an exceedance is attributed to: the section's upstream one, when
/// its latest classed sample of the 24 hours before is no better in any exceeding item.
async fn attributed_upstream(
    tx: &Tx<'_>,
    sample: &Observation<'_>,
) -> Result<Option<SectionRow>, Error> {
    let Some(upstream_id) = sample.section.upstream_section_id else {
        return Ok(None);
    };
    let from = sample.sample_time - attribution_window();
    let Some(theirs) =
        waters::latest_classed(tx.db(), upstream_id, from, sample.sample_time).await?
    else {
        return Ok(None);
    };
    let upstream_values = Reading::evaluated(&Reading::load_list(&theirs.readings)?);
    if !attributable_upstream(
        &sample.evaluation.exceedances,
        sample.evaluated,
        &upstream_values,
    ) {
        return Ok(None);
    }
    by_id::<SectionRow>(tx.db(), upstream_id, Hold::Nothing).await
}

/// Adds a WATER_SAMPLE event with `note` to the open entry `entry`, by `caller`.
async fn note_on(
    tx: &Tx<'_>,
    caller: &Caller,
    entry: &EntryRow,
    note: String,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let state = entry.state;
    let to = Step::WaterSample.apply(Some(state))?;
    let event = NewEvent {
        note,
        ..event_by(Some(caller), Step::WaterSample, Some(state), to)
    };
    entries::append(tx.db(), entry, event, now).await?;
    Ok(())
}

/// RetractWaterSample: marks one sample retracted, once, with its reason; it leaves its
/// day's totals, and its open entry is told.
pub struct RetractSample {
    /// The sample's id.
    pub id: i64,
    /// Why it is wrong.
    pub reason: String,
    /// The time it is retracted at.
    pub clock: Clock,
}

impl Change for RetractSample {
    type Output = Sample;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<Sample, Error> {
        let now = self.clock.now();
        let caller = tx.caller()?;
        let row = by_id::<SampleRow>(tx.db(), self.id, Hold::Nothing)
            .await?
            .ok_or_else(|| sample_not_found(self.id))?;
        require_scope(caller, &[&RegionPath::from_stored(row.region_path.clone())])?;
        // The section's row orders this retraction with the section's other samples.
        by_id::<SectionRow>(tx.db(), row.section_id, Hold::Update).await?;
        let retraction =
            waters::insert_retraction(tx.db(), row.id, &self.reason, &caller.label, now).await?;
        let readings = Reading::load_list(&row.readings)?;
        let day = today(row.sample_time);
        waters::count_in_day(tx.db(), row.section_id, day, &readings, row.exceeding, -1).await?;
        if let Some(entry_id) = row.supervision_entry_id {
            let entry = by_id::<EntryRow>(tx.db(), entry_id, Hold::Update).await?;
            if let Some(entry) = entry.filter(|e| e.state.is_open()) {
                let note = format!(
                    "{} retracted: {}",
                    name::format_id("waterSamples", row.id),
                    self.reason
                );
                note_on(tx, caller, &entry, note, now).await?;
            }
        }
        let sample = Sample {
            row,
            retraction: Some(retraction),
        };
        tx.record(None, &sample);
        Ok(sample)
    }
}
