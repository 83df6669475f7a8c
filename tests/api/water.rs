//! Water quality: sections managed inside a scope and read by everyone, samples classed on
//! write, exceedances filed into supervision once with someone to answer for them, and
//! retractions.

use duikou::{
    domain::access::Role,
    proto::v1::{
        CreateMonitoringSectionRequest, GetMonitoringSectionRequest,
        GetWaterQualityAssessmentRequest, GetWaterSampleRequest, ListMonitoringSectionsRequest,
        ListWaterSamplesRequest, MonitoringSection, RecordWaterSampleRequest,
        RejectSupervisionEntryRequest, RetireMonitoringSectionRequest, RetractWaterSampleRequest,
        UpdateMonitoringSectionRequest, WaterSample,
    },
};
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::{
    TestApp, assert_error, entries_on, events_of, river_section, sample_of, spawn,
};

const AMMONIA_NITROGEN: i32 = 7;
const TOTAL_PHOSPHORUS: i32 = 8;
const DISSOLVED_OXYGEN: i32 = 3;
const PH: i32 = 2;
const CLASS_II: i32 = 2;
const CLASS_III: i32 = 3;
const WORSE_THAN_V: i32 = 6;
const STEP_WATER_SAMPLE: i32 = 9;
const MEDIUM: i32 = 2;
const HIGH: i32 = 3;
const CRITICAL: i32 = 4;

async fn samples(app: &TestApp, filter: &str) -> Vec<WaterSample> {
    app.waters_as(None)
        .list_water_samples(ListWaterSamplesRequest {
            page_size: 1000,
            page_token: String::new(),
            filter: filter.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .water_samples
}

#[tokio::test]
async fn a_coordinator_manages_sections_inside_its_scope_and_everyone_reads_them() {
    let app = spawn().await;
    let shiyan = app.token(Role::Coordinator, &["420300"]).await;
    let mut as_shiyan = app.waters_as(Some(&shiyan));
    let create = |section: MonitoringSection| CreateMonitoringSectionRequest {
        monitoring_section: Some(section),
        request_id: String::new(),
    };
    let made = as_shiyan
        .create_monitoring_section(create(river_section("HB-SDH", "420381")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        made.responsible_region, "regions/420381",
        "defaults to its region"
    );
    assert_eq!(made.state, 1);
    let outside = as_shiyan
        .create_monitoring_section(create(river_section("BJ-1", "110101")))
        .await
        .unwrap_err();
    assert_error(&outside, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    let answered_elsewhere = MonitoringSection {
        responsible_region: "regions/110101".into(),
        ..river_section("HB-2", "420381")
    };
    let refused = as_shiyan
        .create_monitoring_section(create(answered_elsewhere))
        .await
        .unwrap_err();
    assert_error(&refused, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    let taken = as_shiyan
        .create_monitoring_section(create(river_section("HB-SDH", "420302")))
        .await
        .unwrap_err();
    assert_error(&taken, Code::AlreadyExists, "SECTION_CODE_TAKEN", None);
    let anonymous = app
        .waters_as(None)
        .create_monitoring_section(create(river_section("HB-3", "420381")))
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let read = app
        .waters_as(None)
        .get_monitoring_section(GetMonitoringSectionRequest {
            name: made.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, made);
    let listed = |filter: &str| {
        let mut client = app.waters_as(None);
        let filter = filter.to_owned();
        async move {
            client
                .list_monitoring_sections(ListMonitoringSectionsRequest {
                    page_size: 10,
                    page_token: String::new(),
                    filter,
                })
                .await
                .unwrap()
                .into_inner()
                .monitoring_sections
                .len()
        }
    };
    assert_eq!(listed("region = \"regions/420300\"").await, 1);
    assert_eq!(listed("responsible_region = \"regions/110000\"").await, 0);
    assert_eq!(
        listed("water_body = \"神定河\" AND target_class = II").await,
        1
    );
    assert_eq!(listed("control_level = COUNTY").await, 0);

    let stale = MonitoringSection {
        etag: "\"0\"".into(),
        target_class: CLASS_III,
        ..made.clone()
    };
    let mask = Some(FieldMask {
        paths: vec!["target_class".into()],
    });
    let aborted = as_shiyan
        .update_monitoring_section(UpdateMonitoringSectionRequest {
            monitoring_section: Some(stale.clone()),
            update_mask: mask.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(aborted.code(), Code::Aborted);
    let updated = as_shiyan
        .update_monitoring_section(UpdateMonitoringSectionRequest {
            monitoring_section: Some(MonitoringSection {
                etag: made.etag.clone(),
                ..stale
            }),
            update_mask: mask,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.target_class, CLASS_III);
    let code_mask = as_shiyan
        .update_monitoring_section(UpdateMonitoringSectionRequest {
            monitoring_section: Some(updated.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["code".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_error(
        &code_mask,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("update_mask"),
    );
    let own_upstream = as_shiyan
        .update_monitoring_section(UpdateMonitoringSectionRequest {
            monitoring_section: Some(MonitoringSection {
                upstream_section: made.name.clone(),
                ..updated.clone()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["upstream_section".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_error(
        &own_upstream,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("monitoring_section.upstream_section"),
    );

    let retired = as_shiyan
        .retire_monitoring_section(RetireMonitoringSectionRequest {
            name: made.name.clone(),
            etag: updated.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retired.state, 2);
    let late = app
        .record(sample_of(&retired, 5, &[(AMMONIA_NITROGEN, "0.2")]))
        .await
        .unwrap_err();
    assert_error(
        &late,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("sample.section"),
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_value_equal_to_a_limit_meets_it_and_one_just_above_files_an_entry() {
    let app = spawn().await;
    let section = app
        .section(MonitoringSection {
            responsible_region: "regions/420300".into(),
            ..river_section("HB-SDH", "420381")
        })
        .await;
    let at_limit = app
        .record(sample_of(
            &section,
            10,
            &[(AMMONIA_NITROGEN, "0.5"), (PH, "7.6")],
        ))
        .await
        .unwrap();
    assert_eq!(at_limit.water_class, CLASS_II);
    assert!(at_limit.exceedances.is_empty());
    assert!(at_limit.supervision_entry.is_empty());
    assert!(entries_on(&app, &section).await.is_empty());

    let above = app
        .record(sample_of(
            &section,
            5,
            &[(AMMONIA_NITROGEN, "0.51"), (PH, "7.6")],
        ))
        .await
        .unwrap();
    assert_eq!(above.water_class, CLASS_III);
    assert_eq!(above.exceedances.len(), 1);
    assert_eq!(above.exceedances[0].parameter, AMMONIA_NITROGEN);
    assert_eq!(above.exceedances[0].multiple, "0.02");
    let entries = entries_on(&app, &section).await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(above.supervision_entry, entry.name);
    assert_eq!(
        entry.region, "regions/420300",
        "the responsible region answers"
    );
    assert_eq!(entry.severity, MEDIUM);
    assert_eq!(entry.category, 1, "WATER_QUALITY");
    assert_eq!(entry.party, 1, "GOVERNMENT_AGENCY");
    assert_eq!(entry.responsible_unit, "十堰市生态环境局");
    assert!(
        entry
            .description
            .contains("AMMONIA_NITROGEN 0.51: class III"),
        "{}",
        entry.description
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn further_exceedances_add_to_the_open_entry_instead_of_filing_another() {
    let app = spawn().await;
    let section = app.section(river_section("HB-SDH", "420381")).await;
    let first = app
        .record(sample_of(&section, 30, &[(TOTAL_PHOSPHORUS, "0.3")]))
        .await
        .unwrap();
    let entry = first.supervision_entry.clone();
    let second = app
        .record(sample_of(&section, 20, &[(TOTAL_PHOSPHORUS, "0.5")]))
        .await
        .unwrap();
    assert_eq!(second.water_class, WORSE_THAN_V);
    assert_eq!(second.supervision_entry, entry, "no second entry");
    let meets = app
        .record(sample_of(&section, 10, &[(TOTAL_PHOSPHORUS, "0.05")]))
        .await
        .unwrap();
    assert_eq!(meets.supervision_entry, entry);
    let entries = entries_on(&app, &section).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].severity, HIGH, "class IV against II");
    let events = events_of(&app, &entry).await;
    let notes: Vec<&str> = events
        .iter()
        .filter(|e| e.step == STEP_WATER_SAMPLE)
        .map(|e| e.note.as_str())
        .collect();
    assert_eq!(notes.len(), 2, "{events:?}");
    assert!(
        notes[0].contains("TOTAL_PHOSPHORUS 0.5: class WORSE_THAN_V"),
        "{}",
        notes[0]
    );
    assert!(
        notes[1].contains("meets the target class II"),
        "{}",
        notes[1]
    );

    // Once rejected, the entry is no longer open: the next exceedance files anew.
    let rejected = app
        .supervision
        .clone()
        .reject_supervision_entry(RejectSupervisionEntryRequest {
            name: entry.clone(),
            reason: "仪器故障".into(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rejected.state, 3);
    let again = app
        .record(sample_of(&section, 5, &[(DISSOLVED_OXYGEN, "1.5")]))
        .await
        .unwrap();
    assert_ne!(again.supervision_entry, entry);
    let entries = entries_on(&app, &section).await;
    assert_eq!(entries.len(), 2);
    let newest = entries
        .iter()
        .find(|e| e.name == again.supervision_entry)
        .unwrap();
    assert_eq!(newest.severity, CRITICAL, "dissolved oxygen below class V");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_exceedance_no_worse_than_upstream_is_upstream_s_to_answer_for() {
    let app = spawn().await;
    let upstream = app
        .section(MonitoringSection {
            responsible_unit: "茅箭区人民政府".into(),
            ..river_section("HB-UP", "420302")
        })
        .await;
    let downstream = app
        .section(MonitoringSection {
            upstream_section: upstream.name.clone(),
            ..river_section("HB-DOWN", "420381")
        })
        .await;
    // Upstream's own exceedance files upstream's entry.
    app.record(sample_of(&upstream, 60, &[(TOTAL_PHOSPHORUS, "0.35")]))
        .await
        .unwrap();
    let carried = app
        .record(sample_of(&downstream, 30, &[(TOTAL_PHOSPHORUS, "0.3")]))
        .await
        .unwrap();
    let entry = &entries_on(&app, &downstream).await[0];
    assert_eq!(entry.name, carried.supervision_entry);
    assert_eq!(entry.region, "regions/420302");
    assert_eq!(entry.responsible_unit, "茅箭区人民政府");
    assert!(
        entry.description.contains("Attributed upstream"),
        "{}",
        entry.description
    );

    let other = app
        .section(MonitoringSection {
            upstream_section: upstream.name.clone(),
            ..river_section("HB-DOWN-2", "420381")
        })
        .await;
    app.record(sample_of(&other, 20, &[(TOTAL_PHOSPHORUS, "0.4")]))
        .await
        .unwrap();
    let own = &entries_on(&app, &other).await[0];
    assert_eq!(own.region, "regions/420381", "worse than upstream: its own");
    assert!(!own.description.contains("Attributed upstream"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_retracted_sample_is_marked_once_and_leaves_the_lists_that_ask() {
    let app = spawn().await;
    let monitor = app.token(Role::Monitor, &["420300"]).await;
    let section = app.section(river_section("HB-SDH", "420381")).await;
    let mut as_monitor = app.waters_as(Some(&monitor));
    let recorded = as_monitor
        .record_water_sample(RecordWaterSampleRequest {
            sample: Some(sample_of(&section, 5, &[(AMMONIA_NITROGEN, "1.2")])),
            request_id: "lab-2026-001".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!recorded.creator.is_empty());
    let retract = |reason: &str| RetractWaterSampleRequest {
        name: recorded.name.clone(),
        reason: reason.into(),
    };
    let retracted = as_monitor
        .retract_water_sample(retract("样品污染"))
        .await
        .unwrap()
        .into_inner();
    assert!(retracted.retracted);
    assert_eq!(retracted.retract_reason, "样品污染");
    let twice = as_monitor
        .retract_water_sample(retract("再次"))
        .await
        .unwrap_err();
    assert_error(
        &twice,
        Code::FailedPrecondition,
        "SAMPLE_ALREADY_RETRACTED",
        None,
    );
    let no_reason = as_monitor
        .retract_water_sample(retract(""))
        .await
        .unwrap_err();
    assert_error(
        &no_reason,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("reason"),
    );
    let got = app
        .waters_as(None)
        .get_water_sample(GetWaterSampleRequest {
            name: recorded.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, retracted);
    assert!(samples(&app, "retracted = false").await.is_empty());
    assert_eq!(samples(&app, "retracted = true").await.len(), 1);
    let events = events_of(&app, &recorded.supervision_entry).await;
    assert!(
        events
            .iter()
            .any(|e| e.note.contains("retracted: 样品污染")),
        "{events:?}"
    );
    // A retry of the first request answers the sample as it stands now.
    let replay = as_monitor
        .record_water_sample(RecordWaterSampleRequest {
            sample: Some(WaterSample {
                sample_time: recorded.sample_time,
                ..sample_of(&section, 5, &[(AMMONIA_NITROGEN, "1.2")])
            }),
            request_id: "lab-2026-001".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replay.name, recorded.name);
    assert!(replay.retracted);
    assert!(
        app.sql("UPDATE water_samples SET exceeding = false")
            .await
            .is_err(),
        "samples are never changed"
    );
    assert!(app.sql("DELETE FROM water_samples").await.is_err());
    assert!(
        app.sql("DELETE FROM water_sample_retractions")
            .await
            .is_err()
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn monitors_record_inside_their_scope_and_the_public_reads_but_never_writes() {
    let app = spawn().await;
    let section = app.section(river_section("HB-SDH", "420381")).await;
    let beijing = app.token(Role::Monitor, &["110000"]).await;
    let coordinator = app.token(Role::Coordinator, &[]).await;
    let sample = || RecordWaterSampleRequest {
        sample: Some(sample_of(&section, 5, &[(PH, "7.1")])),
        request_id: String::new(),
    };
    let outside = app
        .waters_as(Some(&beijing))
        .record_water_sample(sample())
        .await
        .unwrap_err();
    assert_error(&outside, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    let not_a_monitor = app
        .waters_as(Some(&coordinator))
        .record_water_sample(sample())
        .await
        .unwrap_err();
    assert_error(
        &not_a_monitor,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
        None,
    );
    let anonymous = app
        .waters_as(None)
        .record_water_sample(sample())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    assert!(samples(&app, "").await.is_empty(), "nothing was written");

    let recorded = app
        .record(sample_of(&section, 5, &[(PH, "7.1")]))
        .await
        .unwrap();
    assert_eq!(recorded.water_class, 1, "pH inside 6–9 is class I");
    let listed = samples(
        &app,
        &format!("section = \"{}\" AND water_class = I", section.name),
    )
    .await;
    assert_eq!(listed, vec![recorded]);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn bad_samples_name_their_field_and_write_nothing() {
    let app = spawn().await;
    let section = app.section(river_section("HB-SDH", "420381")).await;
    let future = sample_of(&section, -10, &[(PH, "7")]);
    let before_2000 = WaterSample {
        sample_time: Some(prost_types::Timestamp {
            seconds: 946_627_199,
            nanos: 0,
        }),
        ..sample_of(&section, 0, &[(PH, "7")])
    };
    let cases = [
        (
            WaterSample {
                section: "monitoringSections/999".into(),
                ..sample_of(&section, 5, &[(PH, "7")])
            },
            "sample.section",
        ),
        (
            sample_of(&section, 5, &[(PH, "7"), (PH, "7.2")]),
            "sample.values[1].parameter",
        ),
        (
            sample_of(&section, 5, &[(TOTAL_PHOSPHORUS, "-0.1")]),
            "sample.values[0].value",
        ),
        (
            sample_of(&section, 5, &[(TOTAL_PHOSPHORUS, "0.0000001")]),
            "sample.values[0].value",
        ),
        (sample_of(&section, 5, &[]), "sample.values"),
        (future, "sample.sample_time"),
        (before_2000, "sample.sample_time"),
        (
            WaterSample {
                source: 0,
                ..sample_of(&section, 5, &[(PH, "7")])
            },
            "sample.source",
        ),
    ];
    for (sample, field) in cases {
        let refused = app.record(sample).await.unwrap_err();
        assert_error(
            &refused,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some(field),
        );
    }
    let negative_ph = app
        .record(sample_of(&section, 5, &[(PH, "-1")]))
        .await
        .unwrap();
    assert_eq!(
        negative_ph.water_class, WORSE_THAN_V,
        "pH may be negative, and is then far out"
    );
    assert_eq!(
        samples(&app, "").await.len(),
        1,
        "only the good sample was written"
    );
    let entries = entries_on(&app, &section).await;
    assert_eq!(entries.len(), 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_assessment_classes_the_means_and_a_retraction_leaves_it() {
    let app = spawn().await;
    let meets = app.section(river_section("HB-A", "420381")).await;
    let fails = app.section(river_section("HB-B", "420302")).await;
    let elsewhere = app.section(river_section("BJ-C", "110101")).await;
    for value in ["0.4", "0.6"] {
        app.record(sample_of(&meets, 30, &[(AMMONIA_NITROGEN, value)]))
            .await
            .unwrap();
    }
    let bad = app
        .record(sample_of(&fails, 20, &[(TOTAL_PHOSPHORUS, "0.3")]))
        .await
        .unwrap();
    app.record(sample_of(&elsewhere, 20, &[(TOTAL_PHOSPHORUS, "0.3")]))
        .await
        .unwrap();
    let china = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let today = chrono::Utc::now().with_timezone(&china).date_naive();
    let assess = |scope: &str, start: chrono::NaiveDate| {
        let mut client = app.waters_as(None);
        let request = GetWaterQualityAssessmentRequest {
            scope: scope.into(),
            period_start: start.to_string(),
            period_end: today.to_string(),
        };
        async move { client.get_water_quality_assessment(request).await }
    };
    let yesterday = today.pred_opt().unwrap();
    let shiyan = assess("regions/420300", yesterday)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shiyan.section_count, 2, "Beijing's section is not Shiyan's");
    assert_eq!(shiyan.assessed_section_count, 2);
    assert_eq!(shiyan.meeting_target_count, 1);
    assert_eq!(shiyan.share_meeting_target, "50.00");
    assert_eq!(shiyan.share_class_iii_or_better, "50.00");
    let classes: Vec<(i32, i32)> = shiyan
        .sections_by_class
        .iter()
        .map(|c| (c.water_class, c.section_count))
        .collect();
    assert_eq!(classes, vec![(CLASS_II, 1), (4, 1)]);
    let a = &shiyan.sections[0];
    assert_eq!(a.valid_samples, 2);
    assert_eq!(
        a.means[0].mean, "0.5",
        "the mean of 0.4 and 0.6, at the class II limit"
    );
    assert_eq!(a.means[0].value_count, 2);
    assert_eq!(a.water_class, CLASS_II);
    assert!(a.meets_target);
    let b = &shiyan.sections[1];
    assert!(!b.meets_target);
    assert_eq!(b.exceeding_days, 1);
    assert_eq!(b.exceedances[0].parameter, TOTAL_PHOSPHORUS);

    app.waters
        .clone()
        .retract_water_sample(RetractWaterSampleRequest {
            name: bad.name.clone(),
            reason: "采样瓶污染".into(),
        })
        .await
        .unwrap();
    let after = assess("regions/420300", yesterday)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.assessed_section_count, 1, "the retracted sample left");
    assert_eq!(after.share_meeting_target, "100.00");
    assert_eq!(after.sections[1].valid_samples, 0);
    assert_eq!(after.sections[1].water_class, 0);

    let one = assess(&fails.name, yesterday).await.unwrap().into_inner();
    assert_eq!(one.section_count, 1);
    assert_eq!(one.share_meeting_target, "");
    let backwards = assess(
        "regions/420300",
        today.succ_opt().unwrap().succ_opt().unwrap(),
    )
    .await
    .unwrap_err();
    assert_error(
        &backwards,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("period_end"),
    );
    let nowhere = assess("regions/999999", yesterday).await.unwrap_err();
    assert_eq!(nowhere.code(), Code::NotFound);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn samples_page_by_sample_time_whatever_order_they_were_recorded_in() {
    let app = spawn().await;
    let section = app.section(river_section("HB-SDH", "420381")).await;
    let mut recorded = Vec::new();
    for minutes_ago in [10, 30, 20] {
        let sample = app
            .record(sample_of(&section, minutes_ago, &[(PH, "7.2")]))
            .await
            .unwrap();
        recorded.push(sample.name);
    }
    let page = |token: String| {
        let mut client = app.waters_as(None);
        async move {
            client
                .list_water_samples(ListWaterSamplesRequest {
                    page_size: 2,
                    page_token: token,
                    filter: String::new(),
                })
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let first = page(String::new()).await.unwrap();
    let names =
        |samples: &[WaterSample]| samples.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&first.water_samples),
        vec![recorded[1].clone(), recorded[2].clone()]
    );
    assert!(!first.next_page_token.is_empty());
    let second = page(first.next_page_token.clone()).await.unwrap();
    assert_eq!(names(&second.water_samples), vec![recorded[0].clone()]);
    assert!(second.next_page_token.is_empty());
    let forged = page(format!("{}x", first.next_page_token))
        .await
        .unwrap_err();
    assert_error(
        &forged,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("page_token"),
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_section_s_responsible_organization_answers_for_its_exceedances() {
    let app = spawn().await;
    let bureau = app
        .organization(duikou::proto::v1::Organization {
            display_name: "丹江口市生态环境局".into(),
            ..crate::helpers::county_bureau("420381")
        })
        .await;
    let section = app
        .section(MonitoringSection {
            responsible_unit: String::new(),
            responsible_organization: bureau.name.clone(),
            ..river_section("HB-ORG", "420381")
        })
        .await;
    let unknown = app
        .waters
        .clone()
        .create_monitoring_section(CreateMonitoringSectionRequest {
            monitoring_section: Some(MonitoringSection {
                responsible_organization: "organizations/77".into(),
                ..river_section("HB-ORG-2", "420381")
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();

    let exceeding = app
        .record(sample_of(&section, 30, &[(TOTAL_PHOSPHORUS, "0.3")]))
        .await
        .unwrap();
    let entries = entries_on(&app, &section).await;
    let listed = app
        .waters
        .clone()
        .list_monitoring_sections(ListMonitoringSectionsRequest {
            page_size: 10,
            page_token: String::new(),
            filter: format!("responsible_organization = \"{}\"", bureau.name),
        })
        .await
        .unwrap()
        .into_inner()
        .monitoring_sections;

    assert_eq!(
        section.responsible_unit, "丹江口市生态环境局",
        "the unit is its name"
    );
    assert_eq!(section.responsible_organization, bureau.name);
    assert_error(
        &unknown,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("monitoring_section.responsible_organization"),
    );
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].name, exceeding.supervision_entry);
    assert_eq!(entries[0].responsible_organization, bureau.name);
    assert_eq!(entries[0].responsible_unit, "丹江口市生态环境局");
    assert_eq!(listed, vec![section.clone()]);

    // Another organisation named alone in an update renames the unit after it.
    let river_office = app
        .organization(duikou::proto::v1::Organization {
            display_name: "丹江口市河湖长制办公室".into(),
            ..crate::helpers::county_bureau("420381")
        })
        .await;
    let moved = app
        .waters
        .clone()
        .update_monitoring_section(UpdateMonitoringSectionRequest {
            monitoring_section: Some(MonitoringSection {
                responsible_organization: river_office.name.clone(),
                ..section
            }),
            update_mask: Some(FieldMask {
                paths: vec!["responsible_organization".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.responsible_organization, river_office.name);
    assert_eq!(moved.responsible_unit, "丹江口市河湖长制办公室");
}
