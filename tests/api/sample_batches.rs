//! RecordWaterSample in batches, driven as separate clients would drive it: samples sent
//! together while the section's writes are held are recorded in one batch, and each is
//! answered as it would be alone.

use std::{collections::BTreeSet, time::Duration};

use duikou::{
    domain::access::Role,
    proto::v1::{
        GetWaterQualityAssessmentRequest, MonitoringSection, RecordWaterSampleRequest, WaterSample,
        water_quality_service_client::WaterQualityServiceClient,
    },
};
use tonic::{Code, Status};

use crate::helpers::{
    Authed, TestApp, entries_on, events_of, id_of, river_section, sample_of, spawn,
};

const TOTAL_PHOSPHORUS: i32 = 8;
const STEP_SUBMIT: i32 = 1;
const STEP_WATER_SAMPLE: i32 = 9;

/// Sends `requests` on `clients` (round robin) while the writes of `section` are held, a
/// pause after each so that they queue in the order given, then lets them through: they
/// are recorded as one batch. Returns their answers in order.
async fn in_one_batch(
    app: &TestApp,
    section: &MonitoringSection,
    clients: &[WaterQualityServiceClient<Authed>],
    requests: Vec<RecordWaterSampleRequest>,
) -> Vec<Result<WaterSample, Status>> {
    let hold = app.hold_section_writes(id_of(&section.name)).await;
    // A first sample takes the batch task into the held write; the rest queue behind it.
    let blocker = tokio::spawn({
        let sample = sample_of(section, 600, &[(TOTAL_PHOSPHORUS, "0.05")]);
        let mut client = clients[0].clone();
        async move {
            client
                .record_water_sample(RecordWaterSampleRequest {
                    sample: Some(sample),
                    request_id: String::new(),
                })
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut calls = Vec::new();
    for (n, request) in requests.into_iter().enumerate() {
        let mut client = clients[n % clients.len()].clone();
        calls.push(tokio::spawn(async move {
            client
                .record_water_sample(request)
                .await
                .map(tonic::Response::into_inner)
        }));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(hold);
    blocker.await.unwrap().expect("the blocking sample");
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    answers
}

fn request(sample: WaterSample, request_id: &str) -> RecordWaterSampleRequest {
    RecordWaterSampleRequest {
        sample: Some(sample),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn samples_recorded_together_file_one_entry_number_its_events_and_count_every_one() {
    let app = spawn().await;
    let section = app.section(river_section("HB-SDH", "420381")).await;
    let monitor = app.token(Role::Monitor, &["420300"]).await;
    let beijing = app.token(Role::Monitor, &["110000"]).await;
    let mut clients = Vec::new();
    for _ in 0..8 {
        clients.push(app.waters_on_own_connection(&monitor).await);
    }
    let outsider = app.waters_on_own_connection(&beijing).await;

    // 24 exceedances and 8 samples that meet the target, one over the limit of a day and
    // more, a retry of one request id four times, and one from outside the scope.
    let mut requests = Vec::new();
    for n in 0..32 {
        let value = if n % 4 == 3 { "0.08" } else { "0.3" };
        requests.push(request(
            sample_of(&section, 100 + 60 * n, &[(TOTAL_PHOSPHORUS, value)]),
            &format!("lab-{n}"),
        ));
    }
    let retry = sample_of(&section, 50, &[(TOTAL_PHOSPHORUS, "0.3")]);
    for _ in 0..4 {
        requests.push(request(retry.clone(), "lab-retry"));
    }
    let mut all_clients = clients.clone();
    all_clients.push(outsider);
    requests.push(request(
        sample_of(&section, 40, &[(TOTAL_PHOSPHORUS, "0.3")]),
        "beijing-1",
    ));
    // The outsider's request goes last, on the outsider's client.
    let answers = {
        let mut routed = Vec::new();
        let last = requests.len() - 1;
        for (n, r) in requests.into_iter().enumerate() {
            routed.push((if n == last { 8 } else { n % 8 }, r));
        }
        let mut ordered_clients = Vec::new();
        let mut ordered = Vec::new();
        for (client, r) in routed {
            ordered_clients.push(all_clients[client].clone());
            ordered.push(r);
        }
        in_one_batch(&app, &section, &ordered_clients, ordered).await
    };

    let (outside, rest) = answers.split_last().unwrap();
    assert_eq!(
        outside.as_ref().unwrap_err().code(),
        Code::PermissionDenied,
        "{outside:?}"
    );
    let made: Vec<&WaterSample> = rest.iter().map(|a| a.as_ref().unwrap()).collect();
    let names: BTreeSet<&str> = made.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 33, "32 samples and one retried four times");
    let retried: BTreeSet<&str> = made[32..].iter().map(|s| s.name.as_str()).collect();
    assert_eq!(retried.len(), 1, "every retry gets the first sample");

    let entries = entries_on(&app, &section).await;
    assert_eq!(entries.len(), 1, "one entry for the section: {entries:?}");
    let entry = &entries[0].name;
    assert!(made.iter().all(|s| &s.supervision_entry == entry));
    let events = events_of(&app, entry).await;
    let seqs: Vec<String> = events.iter().map(|e| e.name.clone()).collect();
    assert_eq!(
        seqs.iter().collect::<BTreeSet<_>>().len(),
        events.len(),
        "events are numbered apart"
    );
    assert_eq!(events[0].step, STEP_SUBMIT);
    let noted = events
        .iter()
        .filter(|e| e.step == STEP_WATER_SAMPLE)
        .count();
    assert_eq!(noted, 32, "every sample after the first adds one event");
    assert_eq!(events.len(), 33);
    let meets = events
        .iter()
        .filter(|e| e.note.contains("meets the target"))
        .count();
    assert_eq!(meets, 8);

    // Every sample is in the day totals: the blocker, 32 and the retried one.
    let china = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let today = chrono::Utc::now().with_timezone(&china).date_naive();
    let assessed = app
        .waters_as(None)
        .get_water_quality_assessment(GetWaterQualityAssessmentRequest {
            scope: section.name.clone(),
            period_start: (today - chrono::Duration::days(3)).to_string(),
            period_end: today.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(assessed.sections[0].valid_samples, 34);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_exceedance_sees_the_upstream_sample_recorded_before_it_in_the_same_batch() {
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
    let monitor = app.token(Role::Monitor, &["420300"]).await;
    let client = app.waters_on_own_connection(&monitor).await;
    // Both sections' samples wait behind a held write at the downstream section.
    let answers = in_one_batch(
        &app,
        &downstream,
        &[client],
        vec![
            request(sample_of(&upstream, 60, &[(TOTAL_PHOSPHORUS, "0.35")]), ""),
            request(sample_of(&downstream, 30, &[(TOTAL_PHOSPHORUS, "0.3")]), ""),
        ],
    )
    .await;
    let carried = answers[1].as_ref().unwrap();
    let entry = &entries_on(&app, &downstream).await[0];
    assert_eq!(entry.name, carried.supervision_entry);
    assert_eq!(entry.region, "regions/420302", "attributed upstream");
    assert_eq!(entry.responsible_unit, "茅箭区人民政府");
    assert_eq!(entries_on(&app, &upstream).await.len(), 1);
    app.stop().await.unwrap();
}
