//! Supervision across entries: every step by every role, overdue by a clock the test
//! moves, lists with their filters, orders and pages, summaries per scope, and watchers of
//! the timeline.

use std::time::Duration;

use chrono::{Days, NaiveDate};
use duikou::{
    domain::access::Role,
    proto::v1::{
        AcceptSupervisionEntryRequest, AddSupervisionCommentRequest, Evidence,
        GetSupervisionEntryRequest, GetSupervisionSummaryRequest, ListSupervisionEntriesRequest,
        RejectSupervisionEntryRequest, ResolveSupervisionEntryRequest, StartRectificationRequest,
        SubmitSupervisionEntryRequest, SupervisionEntry, SupervisionEvent, SupervisionSummary,
        WatchSupervisionEventsRequest,
    },
};
use tokio_stream::StreamExt;
use tonic::{Code, Streaming};

use crate::helpers::{TestApp, assert_error, id_of, pairing, project, spawn, water_report};

const ACCEPTED: i32 = 2;
const REJECTED: i32 = 3;
const RESOLVED: i32 = 5;
const MEDIA: i32 = 4;
const PUBLIC: i32 = 5;

/// Files `entry` as ADMIN.
async fn file(app: &TestApp, entry: SupervisionEntry) -> SupervisionEntry {
    app.supervision
        .clone()
        .submit_supervision_entry(SubmitSupervisionEntryRequest {
            supervision_entry: Some(entry),
            request_id: String::new(),
        })
        .await
        .expect("submit")
        .into_inner()
        .supervision_entry
        .unwrap()
}

/// Today in China by the server's clock, moved `days` on.
fn china_day(app: &TestApp, days: u64) -> NaiveDate {
    (app.clock.now() + chrono::Duration::hours(8))
        .date_naive()
        .checked_add_days(Days::new(days))
        .unwrap()
}

async fn accept(app: &TestApp, name: &str, due: NaiveDate) -> SupervisionEntry {
    app.supervision
        .clone()
        .accept_supervision_entry(AcceptSupervisionEntryRequest {
            name: name.into(),
            responsible_unit: "丹江口市生态环境局".into(),
            due_date: due.to_string(),
            note: String::new(),
            etag: String::new(),
            responsible_organization: String::new(),
        })
        .await
        .expect("accept")
        .into_inner()
}

async fn rectify(app: &TestApp, name: &str) -> SupervisionEntry {
    app.supervision
        .clone()
        .start_rectification(StartRectificationRequest {
            name: name.into(),
            plan: "封堵排污口，溯源排查".into(),
            etag: String::new(),
        })
        .await
        .expect("start rectification")
        .into_inner()
}

async fn resolve(app: &TestApp, name: &str) -> SupervisionEntry {
    app.supervision
        .clone()
        .resolve_supervision_entry(ResolveSupervisionEntryRequest {
            name: name.into(),
            resolution: "排污口已封堵".into(),
            evidence: vec![Evidence {
                uri: "https://oss.example.org/danjiangkou/after.jpg".into(),
                sha256: String::new(),
                description: "封堵后照片".into(),
            }],
            etag: String::new(),
        })
        .await
        .expect("resolve")
        .into_inner()
}

async fn list(app: &TestApp, filter: &str, order_by: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .supervision
            .clone()
            .list_supervision_entries(ListSupervisionEntriesRequest {
                page_size: 2,
                page_token,
                filter: filter.into(),
                order_by: order_by.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("list {filter:?} by {order_by:?}: {e:?}"))
            .into_inner();
        names.extend(page.supervision_entries.into_iter().map(|e| e.name));
        if page.next_page_token.is_empty() {
            return names;
        }
        page_token = page.next_page_token;
    }
}

async fn summary(app: &TestApp, scope: &str) -> SupervisionSummary {
    app.supervision
        .clone()
        .get_supervision_summary(GetSupervisionSummaryRequest {
            scope: scope.into(),
            year: 0,
        })
        .await
        .unwrap_or_else(|e| panic!("summary of {scope}: {e:?}"))
        .into_inner()
}

async fn overdue(app: &TestApp, name: &str) -> bool {
    app.supervision
        .clone()
        .get_supervision_entry(GetSupervisionEntryRequest { name: name.into() })
        .await
        .unwrap()
        .into_inner()
        .overdue
}

#[tokio::test]
async fn overdue_follows_the_clock_in_gets_lists_and_summaries() {
    let app = spawn().await;
    let soon = file(&app, water_report("regions/420381")).await.name;
    let later = file(&app, water_report("regions/420381")).await.name;
    let settled = file(&app, water_report("regions/420381")).await.name;
    let rejected = file(&app, water_report("regions/420381")).await.name;
    accept(&app, &soon, china_day(&app, 3)).await;
    rectify(&app, &soon).await;
    accept(&app, &later, china_day(&app, 10)).await;
    accept(&app, &settled, china_day(&app, 3)).await;
    rectify(&app, &settled).await;
    resolve(&app, &settled).await;
    app.supervision
        .clone()
        .reject_supervision_entry(RejectSupervisionEntryRequest {
            name: rejected.clone(),
            reason: "不属于对口协作事项".into(),
            etag: String::new(),
        })
        .await
        .unwrap();

    assert!(list(&app, "overdue = true", "").await.is_empty());
    assert_eq!(summary(&app, "regions/420381").await.overdue_count, 0);

    // Four days on, the first due date has passed (its last day is day 3).
    app.clock.advance(chrono::Duration::days(4));
    assert!(overdue(&app, &soon).await);
    assert!(!overdue(&app, &later).await);
    assert_eq!(list(&app, "overdue = true", "").await, [soon.as_str()]);
    assert_eq!(
        list(&app, "overdue = false", "").await,
        [later.clone(), settled.clone(), rejected.clone()]
    );
    assert_eq!(summary(&app, "regions/420381").await.overdue_count, 1);

    // Resolved late, it is no longer overdue, but it was not on time.
    resolve(&app, &soon).await;
    assert!(!overdue(&app, &soon).await);
    assert!(list(&app, "overdue = true", "").await.is_empty());

    // Ten more days: the second has passed too.
    app.clock.advance(chrono::Duration::days(10));
    assert_eq!(list(&app, "overdue = true", "").await, [later.as_str()]);
    let s = summary(&app, "regions/420381").await;
    assert_eq!(s.entry_count, 4);
    assert_eq!(s.overdue_count, 1);
    assert_eq!(s.resolved_count, 2);
    assert_eq!(s.resolved_on_time_count, 1);
    assert_eq!(s.on_time_share, Some(0.5));
    // One resolved within the minute it was filed, the other four days later: the median
    // is the mean of the two, just over two days.
    let median = s.median_days_to_resolution.unwrap();
    assert!((2.0..2.01).contains(&median), "{median}");
    let states: Vec<(i32, i64)> = s.by_state.iter().map(|c| (c.state, c.count)).collect();
    assert_eq!(states, [(ACCEPTED, 1), (REJECTED, 1), (RESOLVED, 2)]);
    assert_eq!(s.by_party.len(), 1);
    assert_eq!((s.by_party[0].party, s.by_party[0].count), (PUBLIC, 4));

    // An open entry without a due date (stored before due dates were required, say) is
    // not overdue, and so is among the others.
    let undated = file(&app, water_report("regions/420381")).await.name;
    accept(&app, &undated, china_day(&app, 1)).await;
    app.sql(&format!(
        "UPDATE supervision_entries SET due_date = NULL WHERE id = {}",
        undated.rsplit('/').next().unwrap()
    ))
    .await
    .unwrap();
    assert!(!list(&app, "overdue = true", "").await.contains(&undated));
    assert!(list(&app, "overdue = false", "").await.contains(&undated));
}

#[tokio::test]
async fn lists_filter_order_and_page_and_refuse_what_they_cannot_read() {
    let mut app = spawn().await;
    let program = app.program().await;
    let p = app.pairing(pairing(&program, "110101", "420381")).await;
    let proj = app.project(project(&p, "420381001")).await;
    let mut names = Vec::new();
    for (severity, category, party, subject, region) in [
        (3, 1, PUBLIC, "", "regions/420381"),
        (1, 3, MEDIA, proj.name.as_str(), ""),
        (4, 1, MEDIA, "", "regions/110101"),
        (2, 4, MEDIA, p.name.as_str(), ""),
        (4, 2, PUBLIC, "", "regions/420302"),
    ] {
        let entry = SupervisionEntry {
            severity,
            category,
            party,
            subject: subject.into(),
            region: region.into(),
            ..water_report("")
        };
        names.push(file(&app, entry).await.name);
    }
    let [a, b, c, d, e]: [&str; 5] = names
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    accept(&app, c, china_day(&app, 20)).await;
    accept(&app, a, china_day(&app, 5)).await;
    accept(&app, e, china_day(&app, 5)).await;
    rectify(&app, e).await;

    assert_eq!(list(&app, "", "").await, names);
    assert_eq!(list(&app, "", "create_time desc").await, [e, d, c, b, a]);
    assert_eq!(list(&app, "", "severity").await, [b, d, a, c, e]);
    assert_eq!(list(&app, "", "severity desc").await, [e, c, a, d, b]);
    // Undated entries last, either way.
    assert_eq!(list(&app, "", "due_date").await, [a, e, c, b, d]);
    assert_eq!(list(&app, "", "due_date desc").await, [c, e, a, d, b]);
    assert_eq!(list(&app, "state = ACCEPTED", "").await, [a, c]);
    assert_eq!(list(&app, "state = RECTIFYING", "").await, [e]);
    assert_eq!(list(&app, "party = MEDIA", "").await, [b, c, d]);
    assert_eq!(list(&app, "category = WATER_QUALITY", "").await, [a, c]);
    assert_eq!(list(&app, "severity = CRITICAL", "").await, [c, e]);
    assert_eq!(
        list(&app, &format!("subject = \"{}\"", proj.name), "").await,
        [b]
    );
    // Shiyan holds Danjiangkou (and its town) and Maojian district; Beijing holds c.
    assert_eq!(
        list(&app, "region = \"regions/420300\"", "").await,
        [a, b, d, e]
    );
    assert_eq!(
        list(
            &app,
            "region = \"regions/420300\" AND party = PUBLIC AND severity = CRITICAL",
            ""
        )
        .await,
        [e]
    );

    // The reporter is personal data, in lists as in gets.
    let coordinator = app.token(Role::Coordinator, &["420300"]).await;
    let seen = app
        .supervision_as(Some(&coordinator))
        .list_supervision_entries(ListSupervisionEntriesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.supervision_entries.len(), 5);
    assert!(
        seen.supervision_entries
            .iter()
            .all(|e| e.reporter.is_none() && e.reporter_redacted)
    );

    for (filter, order_by, field) in [
        ("state = OPEN", "", "filter"),
        ("overdue = soon", "", "filter"),
        ("region = \"regions/999999\"", "", "filter"),
        ("", "title", "order_by"),
        ("", "severity sideways", "order_by"),
    ] {
        let status = app
            .supervision
            .clone()
            .list_supervision_entries(ListSupervisionEntriesRequest {
                filter: filter.into(),
                order_by: order_by.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_error(&status, Code::InvalidArgument, "INVALID_FIELD", Some(field));
    }
    // A token from one order does not continue another.
    let first = app
        .supervision
        .clone()
        .list_supervision_entries(ListSupervisionEntriesRequest {
            page_size: 1,
            order_by: "severity".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let status = app
        .supervision
        .clone()
        .list_supervision_entries(ListSupervisionEntriesRequest {
            page_size: 1,
            page_token: first.next_page_token,
            order_by: "due_date".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_error(
        &status,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("page_token"),
    );
}

#[tokio::test]
async fn summaries_count_the_entries_of_a_pairing_project_program_or_region() {
    let mut app = spawn().await;
    let program = app.program().await;
    let p = app.pairing(pairing(&program, "110101", "420381")).await;
    let other = app.pairing(pairing(&program, "110102", "420302")).await;
    let proj = app.project(project(&p, "420381001")).await;
    let about = |subject: &str| SupervisionEntry {
        party: MEDIA,
        subject: subject.into(),
        ..water_report("")
    };
    file(&app, about(&proj.name)).await;
    file(&app, about(&proj.name)).await;
    file(&app, about(&p.name)).await;
    file(&app, about(&other.name)).await;
    file(&app, water_report("regions/420381")).await;

    let count = |s: SupervisionSummary| s.entry_count;
    assert_eq!(count(summary(&app, &proj.name).await), 2);
    assert_eq!(count(summary(&app, &p.name).await), 3);
    assert_eq!(count(summary(&app, &other.name).await), 1);
    assert_eq!(count(summary(&app, &program.name).await), 4);
    assert_eq!(count(summary(&app, "regions/420381").await), 4);
    assert_eq!(count(summary(&app, "regions/420300").await), 5);
    assert_eq!(count(summary(&app, "regions/110000").await), 0);
    let s = summary(&app, &p.name).await;
    assert_eq!(s.resolved_count, 0);
    assert_eq!(s.median_days_to_resolution, None);
    assert_eq!(s.on_time_share, None);

    let this_year = china_day(&app, 0).format("%Y").to_string().parse().unwrap();
    let in_year = |year| GetSupervisionSummaryRequest {
        scope: "regions/420300".into(),
        year,
    };
    let mut client = app.supervision.clone();
    let counted = client.get_supervision_summary(in_year(this_year)).await;
    assert_eq!(counted.unwrap().into_inner().entry_count, 5);
    let counted = client.get_supervision_summary(in_year(this_year - 1)).await;
    assert_eq!(counted.unwrap().into_inner().entry_count, 0);

    for (scope, year, code, reason) in [
        ("projects/999", 0, Code::NotFound, "PROJECT_NOT_FOUND"),
        ("regions/110000", -1, Code::InvalidArgument, "INVALID_FIELD"),
        (
            "talentExchanges/1",
            0,
            Code::InvalidArgument,
            "INVALID_FIELD",
        ),
        ("", 0, Code::InvalidArgument, "INVALID_FIELD"),
    ] {
        let status = client
            .get_supervision_summary(GetSupervisionSummaryRequest {
                scope: scope.into(),
                year,
            })
            .await
            .unwrap_err();
        assert_error(&status, code, reason, None);
    }
}

/// The next `n` events of a watch, failing after ten seconds without one.
async fn next(stream: &mut Streaming<SupervisionEvent>, n: usize) -> Vec<String> {
    let mut names = Vec::new();
    while names.len() < n {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("an event within ten seconds")
            .expect("the stream stays open")
            .expect("an event, not an error");
        names.push(event.name);
    }
    names
}

async fn watch(app: &TestApp, filter: &str, start_after: &str) -> Streaming<SupervisionEvent> {
    app.supervision
        .clone()
        .watch_supervision_events(WatchSupervisionEventsRequest {
            filter: filter.into(),
            start_after: start_after.into(),
        })
        .await
        .expect("watch")
        .into_inner()
}

async fn comment(app: &TestApp, name: &str, text: &str) -> SupervisionEvent {
    app.supervision
        .clone()
        .add_supervision_comment(AddSupervisionCommentRequest {
            parent: name.into(),
            text: text.into(),
            request_id: String::new(),
            public: false,
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn two_watchers_receive_the_same_events_in_order_and_a_third_only_its_region() {
    let app = spawn().await;
    let before = file(&app, water_report("regions/420381")).await.name;
    let supervisor = app.token(Role::Supervisor, &[]).await;
    let mut first = watch(&app, "", "").await;
    let mut second = app
        .supervision_as(Some(&supervisor))
        .watch_supervision_events(WatchSupervisionEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut beijing = watch(&app, "region = \"regions/110000\"", "").await;

    // Events from concurrent writers, in both regions.
    let mut writers = Vec::new();
    for i in 0..6 {
        let app_supervision = app.supervision.clone();
        let region = if i % 3 == 0 {
            "regions/110101"
        } else {
            "regions/420381"
        };
        writers.push(tokio::spawn(async move {
            let mut client = app_supervision;
            client
                .submit_supervision_entry(SubmitSupervisionEntryRequest {
                    supervision_entry: Some(water_report(region)),
                    request_id: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .supervision_entry
                .unwrap()
                .name
        }));
    }
    let mut filed = Vec::new();
    for writer in writers {
        filed.push(writer.await.unwrap());
    }
    comment(&app, &before, "已转交属地核查").await;

    let seen_first = next(&mut first, 7).await;
    let seen_second = next(&mut second, 7).await;
    assert_eq!(seen_first, seen_second, "both watchers see one order");
    // Each submission's event, then the comment; nothing from before the watch began.
    let mut expected: Vec<String> = filed.iter().map(|n| format!("{n}/events/1")).collect();
    expected.sort();
    let mut submitted = seen_first[..6].to_vec();
    submitted.sort();
    assert_eq!(submitted, expected);
    assert_eq!(seen_first[6], format!("{before}/events/2"));
    // The order is the one the timeline was stored in, event numbers rising per entry.
    let beijing_expected: Vec<String> = seen_first
        .iter()
        .filter(|e| {
            let entry = e.split("/events/").next().unwrap();
            filed
                .iter()
                .position(|n| n == entry)
                .is_some_and(|i| i % 3 == 0)
        })
        .cloned()
        .collect();
    assert_eq!(beijing_expected.len(), 2);
    assert_eq!(next(&mut beijing, 2).await, beijing_expected);

    // An event stored behind this server's back, as another server sharing the database
    // would store it, reaches the watchers too: they follow the stored timeline.
    let store = app.store().await;
    let id: i64 = before.rsplit('/').next().unwrap().parse().unwrap();
    let entry = duikou::store::by_id::<duikou::store::supervision::EntryRow>(
        store.db(),
        id,
        duikou::store::Hold::Nothing,
    )
    .await
    .unwrap()
    .unwrap();
    let elsewhere = duikou::store::supervision::NewEvent {
        actor_role: Some(Role::Supervisor),
        actor_label: "另一台服务器".into(),
        anonymous: false,
        step: duikou::domain::supervision::Step::Comment,
        from_state: Some(duikou::domain::supervision::State::Submitted),
        to_state: duikou::domain::supervision::State::Submitted,
        note: "从另一台服务器写入".into(),
        responsible_unit: String::new(),
        due_date: None,
        evidence: Vec::new(),
        public: false,
    };
    duikou::store::supervision::append(store.db(), &entry, elsewhere, app.clock.now())
        .await
        .unwrap();
    let third = format!("{before}/events/3");
    assert_eq!(next(&mut first, 1).await, [third.as_str()]);
    assert_eq!(next(&mut second, 1).await, [third.as_str()]);

    // Reconnecting after the second event picks up from the third.
    let mut resumed = watch(&app, "", &seen_first[1]).await;
    let mut rest = seen_first[2..].to_vec();
    rest.push(third);
    assert_eq!(next(&mut resumed, rest.len()).await, rest);

    for (filter, start_after, code, field) in [
        (
            "state = ACCEPTED",
            "",
            Code::InvalidArgument,
            Some("filter"),
        ),
        (
            "",
            "supervisionEntries/1",
            Code::InvalidArgument,
            Some("start_after"),
        ),
        ("", "supervisionEntries/999/events/1", Code::NotFound, None),
    ] {
        let status = app
            .supervision
            .clone()
            .watch_supervision_events(WatchSupervisionEventsRequest {
                filter: filter.into(),
                start_after: start_after.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{filter} {start_after}: {status:?}");
        if let Some(field) = field {
            assert_error(&status, code, "INVALID_FIELD", Some(field));
        }
    }
}

#[tokio::test]
async fn watches_beyond_the_limit_are_refused_and_end_when_the_server_stops() {
    let app = crate::helpers::spawn_with(crate::helpers::Fresh::Prepared, |s| {
        s.server.max_watchers = 2;
    })
    .await;
    let mut one = watch(&app, "", "").await;
    let two = watch(&app, "", "").await;
    let refused = app
        .supervision
        .clone()
        .watch_supervision_events(WatchSupervisionEventsRequest::default())
        .await
        .unwrap_err();
    assert_error(&refused, Code::ResourceExhausted, "WATCHER_LIMIT", None);
    // A closed watch frees its place.
    drop(two);
    let mut third = None;
    for _ in 0..50 {
        match app
            .supervision
            .clone()
            .watch_supervision_events(WatchSupervisionEventsRequest::default())
            .await
        {
            Ok(stream) => {
                third = Some(stream.into_inner());
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(third.is_some(), "a closed watch gives its place back");
    let stopping = tokio::spawn(app.stop());
    let ended = tokio::time::timeout(Duration::from_secs(10), one.next())
        .await
        .expect("the watch ends when the server stops");
    assert!(ended.as_ref().is_none_or(|r| r.is_err()), "{ended:?}");
    stopping.await.unwrap().unwrap();
}

/// The probe's one AUDITOR opened 256 watches, after which ADMIN got WATCHER_LIMIT. One
/// token and one client address each hold a share of the server's places.
#[tokio::test]
async fn one_token_or_one_address_cannot_take_every_watch() {
    let app = crate::helpers::spawn_with(crate::helpers::Fresh::Prepared, |s| {
        s.server.max_watchers = 10;
        s.server.max_watchers_per_token = 2;
        s.server.max_watchers_per_address = 3;
    })
    .await;
    let auditor = app.token(Role::Auditor, &[]).await;
    let open = |secret: Option<String>| {
        let mut client = match &secret {
            Some(secret) => app.supervision_as(Some(secret)),
            None => app.supervision.clone(),
        };
        async move {
            client
                .watch_supervision_events(WatchSupervisionEventsRequest::default())
                .await
                .map(tonic::Response::into_inner)
        }
    };

    let first = open(Some(auditor.clone())).await.unwrap();
    let _second = open(Some(auditor.clone())).await.unwrap();
    let third_for_the_token = open(Some(auditor.clone())).await.unwrap_err();
    // The ADMIN's first watch is the address's third, its second one too many.
    let _admins = open(None).await.unwrap();
    let fourth_for_the_address = open(None).await.unwrap_err();
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        if let Ok(stream) = open(Some(auditor.clone())).await {
            again = Some(stream);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert_error(
        &third_for_the_token,
        Code::ResourceExhausted,
        "WATCHER_LIMIT_PER_TOKEN",
        None,
    );
    assert_error(
        &fourth_for_the_address,
        Code::ResourceExhausted,
        "WATCHER_LIMIT_PER_ADDRESS",
        None,
    );
    assert!(
        again.is_some(),
        "a closed watch gives its token's place back"
    );
}

#[tokio::test]
async fn the_lists_migration_fills_in_what_entries_filed_before_it_hold() {
    use duikou::proto::v1::{
        CreateTalentExchangeRequest, FundTransaction, RecordFundTransactionRequest,
    };
    use migration::MigratorTrait;

    let mut app = spawn().await;
    let program = app.program().await;
    let p = app.pairing(pairing(&program, "110101", "420381")).await;
    let proj = app.project(project(&p, "420381001")).await;
    let exchange = app
        .talents
        .create_talent_exchange(CreateTalentExchangeRequest {
            talent_exchange: Some(crate::helpers::secondment(&p)),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let line = app
        .funds
        .record_fund_transaction(RecordFundTransactionRequest {
            fund_transaction: Some(FundTransaction {
                kind: 1,
                pairing: p.name.clone(),
                fiscal_year: 2025,
                amount: Some(crate::helpers::cny(100, 0)),
                source: 1,
                instrument: 1,
                value_date: "2025-01-02".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let about = |subject: &str| SupervisionEntry {
        party: MEDIA,
        subject: subject.into(),
        ..water_report("")
    };
    for subject in [&p.name, &proj.name, &exchange.name, &line.name] {
        file(&app, about(subject)).await;
    }
    let late = file(&app, water_report("regions/420381")).await.name;
    let prompt = file(&app, about(&proj.name)).await.name;
    for (name, days) in [(&late, 1), (&prompt, 30)] {
        accept(&app, name, china_day(&app, days)).await;
        rectify(&app, name).await;
    }
    resolve(&app, &prompt).await;
    app.clock.advance(chrono::Duration::days(3));
    resolve(&app, &late).await;

    let store = app.store().await;
    let all = || async {
        use sea_orm::{EntityTrait, QueryOrder};
        duikou::store::entities::supervision_entry::Entity::find()
            .order_by_asc(duikou::store::entities::supervision_entry::Column::Id)
            .all(store.db())
            .await
            .unwrap()
    };
    let written = all().await;
    assert_eq!(written[0].pairing_id, Some(id_of(&p.name)));
    assert_eq!(written[1].project_id, Some(id_of(&proj.name)));
    assert_eq!(written[4].resolved_on_time, Some(false));
    assert_eq!(written[5].resolved_on_time, Some(true));
    assert!(written[4].resolve_seconds.unwrap() >= 3 * 86_400);

    // Undone (with the migrations after it), the columns go; redone, they are filled in
    // from what the entries hold.
    let steps = crate::helpers::undoing("m0008_supervision_lists_and_summaries");
    migration::Migrator::down(store.db(), Some(steps))
        .await
        .unwrap();
    migration::Migrator::up(store.db(), None).await.unwrap();
    assert_eq!(all().await, written);
}

#[tokio::test]
async fn a_watch_ends_when_its_token_is_revoked() {
    let app = spawn().await;
    let secret = app.token(Role::Auditor, &[]).await;
    let mut stream = app
        .supervision_as(Some(&secret))
        .watch_supervision_events(WatchSupervisionEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let id = secret.split('_').nth(1).unwrap();
    app.access
        .clone()
        .revoke_access_token(duikou::proto::v1::RevokeAccessTokenRequest {
            name: format!("accessTokens/{id}"),
        })
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the watch ends within ten seconds of the revocation")
        .expect("with a status");
    assert_error(
        &ended.unwrap_err(),
        Code::Unauthenticated,
        "TOKEN_REVOKED",
        None,
    );
}

/// Takes `step` on `name` with `client`; returns the entry after it.
async fn take(
    client: &mut duikou::proto::v1::supervision_service_client::SupervisionServiceClient<
        crate::helpers::Authed,
    >,
    step: &str,
    name: &str,
    due: NaiveDate,
) -> Result<(), tonic::Status> {
    use duikou::proto::v1::{CloseSupervisionEntryRequest, ReopenSupervisionEntryRequest};
    let (name, etag) = (name.to_owned(), String::new());
    match step {
        "accept" => client
            .accept_supervision_entry(AcceptSupervisionEntryRequest {
                name,
                responsible_unit: "丹江口市生态环境局".into(),
                due_date: due.to_string(),
                note: String::new(),
                etag,
                responsible_organization: String::new(),
            })
            .await
            .map(drop),
        "reject" => client
            .reject_supervision_entry(RejectSupervisionEntryRequest {
                name,
                reason: "重复举报".into(),
                etag,
            })
            .await
            .map(drop),
        "start" => client
            .start_rectification(StartRectificationRequest {
                name,
                plan: "封堵排污口".into(),
                etag,
            })
            .await
            .map(drop),
        "resolve" => client
            .resolve_supervision_entry(ResolveSupervisionEntryRequest {
                name,
                resolution: "已封堵".into(),
                evidence: vec![Evidence {
                    uri: "https://oss.example.org/danjiangkou/after.jpg".into(),
                    sha256: String::new(),
                    description: String::new(),
                }],
                etag,
            })
            .await
            .map(drop),
        "close" => client
            .close_supervision_entry(CloseSupervisionEntryRequest {
                name,
                review_note: "复核属实".into(),
                etag,
            })
            .await
            .map(drop),
        "reopen" => client
            .reopen_supervision_entry(ReopenSupervisionEntryRequest {
                name,
                reason: "复查发现仍有排放".into(),
                due_date: String::new(),
                etag,
            })
            .await
            .map(drop),
        "comment" => client
            .add_supervision_comment(AddSupervisionCommentRequest {
                parent: name,
                text: "请尽快处理".into(),
                request_id: String::new(),
                public: false,
            })
            .await
            .map(drop),
        other => panic!("no step {other}"),
    }
}

#[tokio::test]
async fn every_step_by_every_role_is_taken_or_refused_as_the_course_says() {
    let app = spawn().await;
    let due = china_day(&app, 30);
    let mut admin = app.supervision.clone();
    // Each step, the steps that lead to the state it starts from, the state it leads to,
    // and the roles that may take it (a coordinator whose scope covers the region).
    let course: [(&str, &[&str], i32, &[Role]); 7] = [
        ("accept", &[], ACCEPTED, &[Role::Admin, Role::Supervisor]),
        ("reject", &[], REJECTED, &[Role::Admin, Role::Supervisor]),
        ("start", &["accept"], 4, &[Role::Admin, Role::Coordinator]),
        (
            "resolve",
            &["accept", "start"],
            RESOLVED,
            &[Role::Admin, Role::Coordinator],
        ),
        (
            "close",
            &["accept", "start", "resolve"],
            6,
            &[Role::Admin, Role::Supervisor],
        ),
        (
            "reopen",
            &["accept", "start", "resolve"],
            4,
            &[Role::Admin, Role::Supervisor],
        ),
        (
            "comment",
            &[],
            1,
            &[Role::Admin, Role::Supervisor, Role::Coordinator],
        ),
    ];
    for role in Role::ALL {
        let scopes: &[&str] = if role.takes_scope() { &["420300"] } else { &[] };
        let secret = app.token(role, scopes).await;
        let mut client = app.supervision_as(Some(&secret));
        // Filing: SUPERVISOR and ADMIN, with any party.
        let filed = client
            .submit_supervision_entry(SubmitSupervisionEntryRequest {
                supervision_entry: Some(SupervisionEntry {
                    party: MEDIA,
                    ..water_report("regions/420381")
                }),
                request_id: String::new(),
            })
            .await;
        let may_file = matches!(role, Role::Admin | Role::Supervisor);
        match filed {
            Ok(_) => assert!(may_file, "{role:?} filed"),
            Err(status) => {
                assert!(!may_file, "{role:?} could not file: {status:?}");
                assert_error(&status, Code::PermissionDenied, "ROLE_NOT_ALLOWED", None);
            }
        }
        for (step, before, after, roles) in course {
            let name = file(&app, water_report("regions/420381")).await.name;
            for earlier in before {
                take(&mut admin, earlier, &name, due).await.unwrap();
            }
            let get = GetSupervisionEntryRequest { name: name.clone() };
            let was = admin.get_supervision_entry(get.clone()).await.unwrap();
            let outcome = take(&mut client, step, &name, due).await;
            let now = admin.get_supervision_entry(get).await.unwrap().into_inner();
            if roles.contains(&role) {
                outcome.unwrap_or_else(|e| panic!("{step} by {role:?}: {e:?}"));
                assert_eq!(now.state, after, "{step} by {role:?}");
            } else {
                let status = outcome.expect_err(&format!("{step} by {role:?} must be refused"));
                assert_error(&status, Code::PermissionDenied, "ROLE_NOT_ALLOWED", None);
                assert_eq!(now, was.into_inner(), "a refused {step} changed nothing");
            }
        }
    }
}

#[tokio::test]
async fn a_watcher_that_reads_late_still_gets_every_event_in_order() {
    const WRITERS: usize = 16;
    const EACH: usize = 50;
    let app = spawn().await;
    let name = file(&app, water_report("regions/420381")).await.name;
    let mut keeping_up = watch(&app, "", "").await;
    // This one reads nothing until every comment is stored: what it is sent waits in the
    // stream and in its queue meanwhile. (Falling behind the shared reader altogether is
    // tested beside the watcher, in `api::supervision_feed`.)
    let mut behind = watch(&app, "", "").await;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (mut client, name) = (app.supervision.clone(), name.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..EACH {
                client
                    .add_supervision_comment(AddSupervisionCommentRequest {
                        parent: name.clone(),
                        text: format!("第{w}组第{i}条补充说明"),
                        request_id: String::new(),
                        public: false,
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    let kept = next(&mut keeping_up, WRITERS * EACH).await;
    for writer in writers {
        writer.await.unwrap();
    }
    let expected: Vec<String> = (2..=1 + WRITERS * EACH)
        .map(|n| format!("{name}/events/{n}"))
        .collect();
    assert_eq!(kept, expected, "one entry's events come in their order");
    assert_eq!(next(&mut behind, WRITERS * EACH).await, expected);
}
