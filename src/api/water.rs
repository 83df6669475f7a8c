//! `duikou.v1.WaterQualityService`: monitoring sections, and the samples taken at them,
//! classed by GB 3838-2002 as they are recorded.
//!
//! Water quality is public information: sections and samples are read by everyone,
//! callers without a token included. Changes are checked for the caller's scope in `app`.

use chrono::{DateTime, SubsecRound, Utc};
use prost_types::Timestamp;

use super::{
    MaskRules, Named, audited, etag, filter_region_path, page_of, patch, request_key, required,
    service, timestamp,
};
use crate::{
    app::{
        self, Edit,
        station::{CreateStation, ResetPassword, Station, station_not_found},
        water::{
            CreateSection, RecordSample, Retirement, RetractSample, Sample, SampleQueue,
            SampleRequest, Samples, fields_of, sample_not_found, section_not_found,
        },
    },
    domain::{
        audit::Call,
        clock::Clock,
        monitoring::{
            self as rules, Reading, SampleFilter, SampleSource, SectionCode, SectionDraft,
            SectionFields, SectionFilter, assess, check_sample_time, format_multiple, percentage,
        },
        name,
        page::Page,
        patch::Writable,
        period::parse_date,
        region::RegionCode,
        station::{StationCode, StationFilter},
        text,
        water::{Exceedance, Part, WaterClass},
    },
    error::Error,
    proto::v1::{
        CreateMonitoringSectionRequest, CreateMonitoringStationRequest, EvaluatedParameter,
        GetMonitoringSectionRequest, GetMonitoringStationRequest, GetWaterQualityAssessmentRequest,
        GetWaterSampleRequest, ListMonitoringSectionsRequest, ListMonitoringSectionsResponse,
        ListMonitoringStationsRequest, ListMonitoringStationsResponse, ListWaterSamplesRequest,
        ListWaterSamplesResponse, MonitoringSection, MonitoringStation, ParameterMean,
        RecordWaterSampleRequest, ResetMonitoringStationPasswordRequest,
        RetireMonitoringSectionRequest, RetractWaterSampleRequest, SectionAssessment,
        SectionsOfClass, UpdateMonitoringSectionRequest, WaterExceedance, WaterQualityAssessment,
        WaterSample, WaterValue, water_quality_service_server::WaterQualityService,
    },
    store::{
        Hold, Store, by_id,
        station::{self as stations, StationRow},
        water::{self as waters, SampleQuery, SampleRow, SectionQuery, SectionRow},
    },
};

const MASK: MaskRules = MaskRules {
    name_field: "monitoring_section.name",
    collection: "monitoringSections",
    updatable: SectionFields::UPDATABLE,
    immutable: rules::IMMUTABLE,
    output_only: rules::OUTPUT_ONLY,
};

const SECTION: Named<SectionRow, MonitoringSection> = Named {
    collection: "monitoringSections",
    reply: section_to_proto,
};

/// Serves monitoring sections and water samples from the store.
#[derive(Clone)]
pub struct Waters {
    store: Store,
    /// The time samples are recorded and retracted at, and checked against.
    clock: Clock,
    /// Where RecordWaterSample requests wait to be recorded in batches.
    samples: SampleQueue,
}

impl Waters {
    /// A service over `store` reading time from `clock`; starts the task that records
    /// samples, which ends when the service is dropped.
    pub fn new(store: Store, clock: Clock) -> Self {
        let samples = SampleQueue::new(
            store.clone(),
            Samples {
                clock: clock.clone(),
            },
        );
        Self {
            store,
            clock,
            samples,
        }
    }
}

/// The API form of a stored section.
fn section_to_proto(row: SectionRow) -> MonitoringSection {
    let fields = fields_of(&row);
    MonitoringSection {
        name: name::format_id("monitoringSections", row.id),
        code: row.code,
        display_name: fields.display_name,
        water_body: fields.water_body,
        water_body_type: fields.water_body_type,
        region: RegionCode::from_stored(row.region_code).name(),
        responsible_region: RegionCode::from_stored(row.responsible_code).name(),
        responsible_unit: fields.responsible_unit,
        responsible_organization: fields.responsible_organization,
        target_class: fields.target_class,
        control_level: fields.control_level,
        upstream_section: fields.upstream_section,
        latitude: fields.latitude,
        longitude: fields.longitude,
        state: row.state.number(),
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        etag: etag(row.revision),
    }
}

/// The API form of a sample; its evaluation is made again from what it stores.
fn sample_to_proto(sample: &Sample) -> Result<WaterSample, Error> {
    let (readings, evaluation) = sample.evaluation()?;
    let Sample { row, retraction } = sample;
    Ok(WaterSample {
        name: name::format_id("waterSamples", row.id),
        section: name::format_id("monitoringSections", row.section_id),
        sample_time: Some(timestamp(row.sample_time)),
        source: row.source.number(),
        values: readings
            .iter()
            .map(|r| WaterValue {
                parameter: r.parameter.number(),
                value: r.value.to_decimal(),
                flag: r.flag.number(),
            })
            .collect(),
        water_class: row.water_class.map_or(0, |c| c.number()),
        evaluated: evaluation
            .evaluated
            .iter()
            .map(|e| EvaluatedParameter {
                parameter: e.parameter.number(),
                value: e.value.to_decimal(),
                water_class: e.class.map_or(0, |c| c.number()),
                makes_class: e.part == Part::Makes,
            })
            .collect(),
        exceedances: exceedances_to_proto(&evaluation.exceedances),
        supervision_entry: name::format_optional_id("supervisionEntries", row.supervision_entry_id),
        retracted: retraction.is_some(),
        retract_reason: retraction
            .as_ref()
            .map(|r| r.reason.clone())
            .unwrap_or_default(),
        retract_time: retraction.as_ref().map(|r| timestamp(r.retract_time)),
        create_time: Some(timestamp(row.create_time)),
        creator: row.creator_label.clone(),
    })
}

audited!(Station: |s| name::format_id("monitoringStations", s.row.id), station_to_proto(&s.row, None));

audited!(SectionRow: |s| name::format_id("monitoringSections", s.id), section_to_proto(s.clone()));

// A sample whose stored values do not read back is audited by its row's fields alone; it
// is never written so (the values are checked on the way in).
audited!(
    Sample: |s| name::format_id("waterSamples", s.row.id),
    sample_to_proto(s).unwrap_or_default()
);

/// The fields of a section that callers write, as the request sends them.
fn section_fields(s: &MonitoringSection) -> SectionFields {
    SectionFields {
        display_name: s.display_name.clone(),
        water_body: s.water_body.clone(),
        water_body_type: s.water_body_type,
        responsible_region: s.responsible_region.clone(),
        responsible_unit: s.responsible_unit.clone(),
        responsible_organization: s.responsible_organization.clone(),
        target_class: s.target_class,
        control_level: s.control_level,
        upstream_section: s.upstream_section.clone(),
        latitude: s.latitude,
        longitude: s.longitude,
    }
}

service! {
    WaterQualityService for Waters {
        create_monitoring_section(CreateMonitoringSectionRequest) -> MonitoringSection;
        get_monitoring_section(GetMonitoringSectionRequest) -> MonitoringSection;
        list_monitoring_sections(ListMonitoringSectionsRequest) -> ListMonitoringSectionsResponse;
        update_monitoring_section(UpdateMonitoringSectionRequest) -> MonitoringSection =
            SECTION.update(&MASK, |r| (r.monitoring_section, r.update_mask), patch(section_fields));
        retire_monitoring_section(RetireMonitoringSectionRequest) -> MonitoringSection =
            SECTION.write(|r| (r.name, r.etag), Edit::with(Retirement));
        record_water_sample(RecordWaterSampleRequest) -> WaterSample;
        get_water_sample(GetWaterSampleRequest) -> WaterSample;
        list_water_samples(ListWaterSamplesRequest) -> ListWaterSamplesResponse;
        retract_water_sample(RetractWaterSampleRequest) -> WaterSample;
        get_water_quality_assessment(GetWaterQualityAssessmentRequest) -> WaterQualityAssessment;
        create_monitoring_station(CreateMonitoringStationRequest) -> MonitoringStation;
        get_monitoring_station(GetMonitoringStationRequest) -> MonitoringStation;
        list_monitoring_stations(ListMonitoringStationsRequest) -> ListMonitoringStationsResponse;
        reset_monitoring_station_password(ResetMonitoringStationPasswordRequest) -> MonitoringStation;
    }
}

impl Waters {
    /// RecordWaterSample as the gRPC method runs it, for the HJ 212 listener: the same
    /// checks, the same idempotency under the request's id, the same audit event.
    ///
    /// # Errors
    /// As RecordWaterSample's.
    pub(crate) async fn record(
        &self,
        call: Call,
        req: RecordWaterSampleRequest,
    ) -> Result<WaterSample, Error> {
        record_water_sample(self, call, req).await
    }
}

async fn create_monitoring_section(
    service: &Waters,
    call: Call,
    mut req: CreateMonitoringSectionRequest,
) -> Result<MonitoringSection, Error> {
    let key = request_key(&call, &mut req, |r| &mut r.request_id);
    let s = req.monitoring_section.unwrap_or_default();
    let code = SectionCode::parse("monitoring_section.code", &s.code);
    let region = required(&s.region, "monitoring_section.region")
        .and_then(|n| RegionCode::from_name("monitoring_section.region", n));
    let draft = SectionDraft::parse(&section_fields(&s));
    Error::collect([
        Error::of(&key),
        Error::of(&code),
        Error::of(&region),
        Error::of(&draft),
    ])?;
    let create = CreateSection {
        code: code?,
        region: region?,
        draft: draft?,
    };
    let row = app::create_once(&service.store, call, key?, create).await?;
    Ok(section_to_proto(row))
}

async fn get_monitoring_section(
    service: &Waters,
    _: Call,
    req: GetMonitoringSectionRequest,
) -> Result<MonitoringSection, Error> {
    let id = name::parse_id("name", "monitoringSections", &req.name)?;
    let row = by_id::<SectionRow>(service.store.db(), id, Hold::Nothing)
        .await?
        .ok_or_else(|| section_not_found(id))?;
    Ok(section_to_proto(row))
}

async fn list_monitoring_sections(
    service: &Waters,
    _: Call,
    req: ListMonitoringSectionsRequest,
) -> Result<ListMonitoringSectionsResponse, Error> {
    let filter = SectionFilter::parse(&req.filter);
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["monitoringSections", &req.filter],
    );
    let (filter, page) = Error::all((filter, page))?;
    let query = SectionQuery {
        region_within: filter_region_path(&service.store, filter.region.as_ref()).await?,
        responsible_within: filter_region_path(&service.store, filter.responsible_region.as_ref())
            .await?,
        filter,
    };
    let rows =
        waters::list_sections(service.store.db(), &query, page.after_id()?, page.fetch()).await?;
    Ok(page_of(&page, rows, |r| r.id.to_string(), section_to_proto))
}

/// A protobuf timestamp as a time to the microsecond, both databases' precision; none for
/// one out of range.
fn time_of(t: &Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(t.nanos).ok().filter(|n| *n < 1_000_000_000)?;
    DateTime::from_timestamp(t.seconds, nanos).map(|time| time.trunc_subsecs(6))
}

async fn record_water_sample(
    service: &Waters,
    call: Call,
    mut req: RecordWaterSampleRequest,
) -> Result<WaterSample, Error> {
    let key = request_key(&call, &mut req, |r| &mut r.request_id);
    let s = req.sample.unwrap_or_default();
    let section_id = required(&s.section, "sample.section")
        .and_then(|n| name::parse_id("sample.section", "monitoringSections", n));
    let sent_time = match &s.sample_time {
        Some(t) => time_of(t)
            .map(Some)
            .ok_or_else(|| Error::invalid("sample.sample_time", "is not a valid time")),
        None => Ok(None),
    };
    let sample_time =
        sent_time.and_then(|t| check_sample_time("sample.sample_time", t, service.clock.now()));
    let source = SampleSource::from_number(s.source)
        .ok_or_else(|| Error::invalid("sample.source", "must be MANUAL or AUTOMATIC"));
    let sent: Vec<(i32, &str, i32)> = s
        .values
        .iter()
        .map(|v| (v.parameter, v.value.as_str(), v.flag))
        .collect();
    let readings = Reading::parse_list("sample.values", &sent);
    let (key, section_id, sample_time, source, readings) =
        Error::all((key, section_id, sample_time, source, readings))?;
    let request = SampleRequest {
        call,
        key,
        sample: RecordSample {
            section_id,
            sample_time,
            source,
            readings,
        },
    };
    sample_to_proto(&service.samples.post(request).await?)
}

async fn get_water_sample(
    service: &Waters,
    _: Call,
    req: GetWaterSampleRequest,
) -> Result<WaterSample, Error> {
    let id = name::parse_id("name", "waterSamples", &req.name)?;
    let db = service.store.db();
    let row = by_id::<SampleRow>(db, id, Hold::Nothing)
        .await?
        .ok_or_else(|| sample_not_found(id))?;
    let retraction = waters::retractions(db, &[id]).await?.remove(&id);
    sample_to_proto(&Sample { row, retraction })
}

async fn list_water_samples(
    service: &Waters,
    _: Call,
    req: ListWaterSamplesRequest,
) -> Result<ListWaterSamplesResponse, Error> {
    let filter = SampleFilter::parse(&req.filter);
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["waterSamples", &req.filter],
    );
    let (filter, page) = Error::all((filter, page))?;
    let after = match page.after_pair()? {
        Some((micros, id)) => Some((
            DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| Error::invalid("page_token", "is not a token this server issued"))?,
            id,
        )),
        None => None,
    };
    let db = service.store.db();
    let query = SampleQuery {
        region_within: filter_region_path(&service.store, filter.region.as_ref()).await?,
        filter,
    };
    let rows = waters::list_samples(db, &query, after, page.fetch()).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut retractions = waters::retractions(db, &ids).await?;
    let mut samples = Vec::with_capacity(rows.len());
    for row in rows {
        let retraction = retractions.remove(&row.id);
        samples.push(Sample { row, retraction });
    }
    let (samples, next_page_token) = page.close(samples, |s| {
        format!("{}_{}", s.row.sample_time.timestamp_micros(), s.row.id)
    });
    Ok(ListWaterSamplesResponse {
        water_samples: samples
            .into_iter()
            .map(|s| sample_to_proto(&s))
            .collect::<Result<_, _>>()?,
        next_page_token,
    })
}

async fn retract_water_sample(
    service: &Waters,
    call: Call,
    req: RetractWaterSampleRequest,
) -> Result<WaterSample, Error> {
    let id = name::parse_id("name", "waterSamples", &req.name);
    let reason = text::check("reason", &req.reason, 2000, true);
    let (id, ()) = Error::all((id, reason))?;
    let retract = RetractSample {
        id,
        reason: req.reason,
        clock: service.clock.clone(),
    };
    sample_to_proto(&service.store.write(call, retract).await?)
}

/// The API form of exceedances.
fn exceedances_to_proto(exceedances: &[Exceedance]) -> Vec<WaterExceedance> {
    exceedances
        .iter()
        .map(|e| WaterExceedance {
            parameter: e.parameter.number(),
            water_class: e.class.number(),
            multiple: e.multiple.map(format_multiple).unwrap_or_default(),
        })
        .collect()
}

/// The longest period an assessment covers: three years and a leap day.
const MAX_ASSESSED_DAYS: i64 = 3 * 365 + 1;

async fn get_water_quality_assessment(
    service: &Waters,
    _: Call,
    req: GetWaterQualityAssessmentRequest,
) -> Result<WaterQualityAssessment, Error> {
    let start = parse_date("period_start", &req.period_start);
    let end = parse_date("period_end", &req.period_end);
    let scope = required(&req.scope, "scope").and_then(|scope| {
        match scope.split_once('/').map(|(collection, _)| collection) {
            Some("monitoringSections") => {
                name::parse_id("scope", "monitoringSections", scope).map(Ok)
            }
            Some("regions") => RegionCode::from_name("scope", scope).map(Err),
            _ => Err(Error::invalid(
                "scope",
                "must name a monitoring section or a region, e.g. \"regions/420300\"",
            )),
        }
    });
    let (start, end, scope) = Error::all((start, end, scope))?;
    if end < start {
        return Err(Error::invalid(
            "period_end",
            "must not be before period_start",
        ));
    }
    if (end - start).num_days() >= MAX_ASSESSED_DAYS {
        return Err(Error::invalid(
            "period_end",
            "must be at most three years after period_start",
        ));
    }
    let db = service.store.db();
    let sections = match scope {
        Ok(id) => vec![
            by_id::<SectionRow>(db, id, Hold::Nothing)
                .await?
                .ok_or_else(|| section_not_found(id))?,
        ],
        Err(code) => {
            let region =
                crate::store::region::get(db, &code)
                    .await?
                    .ok_or_else(|| Error::NotFound {
                        reason: "REGION_NOT_FOUND",
                        resource: code.name(),
                    })?;
            waters::answered_within(db, &region.path).await?
        }
    };
    let ids: Vec<i64> = sections.iter().map(|s| s.id).collect();
    let mut days: std::collections::HashMap<i64, Vec<_>> = std::collections::HashMap::new();
    for (id, _, totals) in waters::days_of(&service.store, &ids, start, end).await? {
        days.entry(id).or_default().push(totals);
    }
    let mut assessed = Vec::with_capacity(sections.len());
    let (mut counted, mut meeting, mut good) = (0, 0, 0);
    let mut by_class = [0i32; 6];
    for section in &sections {
        let of_section: Vec<_> = days.get(&section.id).into_iter().flatten().collect();
        let a = assess(section.water_body_type, section.target_class, &of_section);
        let class = a.evaluation.class.filter(|_| a.valid_samples > 0);
        let meets = class.is_some_and(|c| c <= section.target_class);
        if let Some(c) = class {
            counted += 1;
            meeting += i64::from(meets);
            good += i64::from(c <= WaterClass::III);
            by_class[(c.number() - 1) as usize] += 1;
        }
        assessed.push(SectionAssessment {
            section: name::format_id("monitoringSections", section.id),
            display_name: section.display_name.clone(),
            target_class: section.target_class.number(),
            valid_samples: a.valid_samples,
            means: a
                .evaluation
                .evaluated
                .iter()
                .zip(&a.means)
                .map(|(e, (_, _, count))| ParameterMean {
                    parameter: e.parameter.number(),
                    mean: e.value.to_decimal(),
                    value_count: *count,
                    water_class: e.class.map_or(0, |c| c.number()),
                    makes_class: e.part == Part::Makes,
                })
                .collect(),
            water_class: class.map_or(0, |c| c.number()),
            meets_target: meets,
            exceedances: exceedances_to_proto(&a.evaluation.exceedances),
            exceeding_days: i32::try_from(a.exceeding_days).unwrap_or(i32::MAX),
        });
    }
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    Ok(WaterQualityAssessment {
        scope: req.scope,
        period_start: req.period_start,
        period_end: req.period_end,
        section_count: count(sections.len()),
        assessed_section_count: i32::try_from(counted).unwrap_or(i32::MAX),
        meeting_target_count: i32::try_from(meeting).unwrap_or(i32::MAX),
        class_iii_or_better_count: i32::try_from(good).unwrap_or(i32::MAX),
        share_meeting_target: percentage(meeting, counted),
        share_class_iii_or_better: percentage(good, counted),
        sections_by_class: WaterClass::ALL
            .iter()
            .zip(by_class)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| SectionsOfClass {
                water_class: c.number(),
                section_count: n,
            })
            .collect(),
        sections: assessed,
    })
}

/// The API form of a stored station, with its password when the reply is the one that
/// made it.
fn station_to_proto(row: &StationRow, password: Option<String>) -> MonitoringStation {
    MonitoringStation {
        name: name::format_id("monitoringStations", row.id),
        mn: row.mn.clone(),
        display_name: row.display_name.clone(),
        section: name::format_id("monitoringSections", row.section_id),
        monitor: name::format_id("accessTokens", row.monitor_token_id),
        password: password.unwrap_or_default(),
        create_time: Some(timestamp(row.create_time)),
        creator: row.creator_label.clone(),
    }
}

async fn create_monitoring_station(
    service: &Waters,
    call: Call,
    mut req: CreateMonitoringStationRequest,
) -> Result<MonitoringStation, Error> {
    let key = request_key(&call, &mut req, |r| &mut r.request_id);
    let s = req.monitoring_station.unwrap_or_default();
    let mn = StationCode::parse("monitoring_station.mn", &s.mn);
    let display_name = text::check_line(
        "monitoring_station.display_name",
        &s.display_name,
        100,
        false,
    );
    let section_id = required(&s.section, "monitoring_station.section")
        .and_then(|n| name::parse_id("monitoring_station.section", "monitoringSections", n));
    let monitor = if s.monitor.is_empty() {
        Ok(None)
    } else {
        name::parse_id("monitoring_station.monitor", "accessTokens", &s.monitor).map(Some)
    };
    let (key, mn, (), section_id, monitor_token_id) =
        Error::all((key, mn, display_name, section_id, monitor))?;
    let create = CreateStation {
        mn,
        display_name: s.display_name,
        section_id,
        monitor_token_id,
    };
    let station = app::create_once(&service.store, call, key, create).await?;
    Ok(station_to_proto(&station.row, station.password))
}

async fn get_monitoring_station(
    service: &Waters,
    _: Call,
    req: GetMonitoringStationRequest,
) -> Result<MonitoringStation, Error> {
    let id = name::parse_id("name", "monitoringStations", &req.name)?;
    let row = by_id::<StationRow>(service.store.db(), id, Hold::Nothing)
        .await?
        .ok_or_else(|| station_not_found(id))?;
    Ok(station_to_proto(&row, None))
}

async fn list_monitoring_stations(
    service: &Waters,
    _: Call,
    req: ListMonitoringStationsRequest,
) -> Result<ListMonitoringStationsResponse, Error> {
    let filter = StationFilter::parse(&req.filter);
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["monitoringStations", &req.filter],
    );
    let (filter, page) = Error::all((filter, page))?;
    let rows = stations::list(service.store.db(), &filter, page.after_id()?, page.fetch()).await?;
    Ok(page_of(
        &page,
        rows,
        |r| r.id.to_string(),
        |r| station_to_proto(&r, None),
    ))
}

async fn reset_monitoring_station_password(
    service: &Waters,
    call: Call,
    req: ResetMonitoringStationPasswordRequest,
) -> Result<MonitoringStation, Error> {
    let id = name::parse_id("name", "monitoringStations", &req.name)?;
    let station = service.store.write(call, ResetPassword { id }).await?;
    Ok(station_to_proto(&station.row, station.password))
}
