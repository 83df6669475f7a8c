//! Supervision: public reports carried to closure, the steps and who may take them, the
//! reporter kept from those who may not see it, and the append-only timeline.

use duikou::{
    domain::access::Role,
    proto::v1::{
        AcceptSupervisionEntryRequest, AddSupervisionCommentRequest, CloseSupervisionEntryRequest,
        Evidence, GetSupervisionEntryRequest, ListSupervisionEventsRequest,
        LookupSupervisionEntryRequest, RejectSupervisionEntryRequest,
        ReopenSupervisionEntryRequest, ResolveSupervisionEntryRequest, StartRectificationRequest,
        SubmitSupervisionEntryRequest, SubmitSupervisionEntryResponse, SupervisionEntry,
    },
};
use prost::Message;
use tonic::{Code, Status};

use crate::helpers::{
    Fresh, TestApp, assert_error, pairing, project, spawn, spawn_with, water_report,
};

const SUBMITTED: i32 = 1;
const ACCEPTED: i32 = 2;
const REJECTED: i32 = 3;
const RECTIFYING: i32 = 4;
const RESOLVED: i32 = 5;
const CLOSED: i32 = 6;
const MEDIA: i32 = 4;

/// A due date that stays in the future.
const DUE: &str = "2099-06-30";

async fn submit(
    app: &TestApp,
    secret: Option<&str>,
    entry: SupervisionEntry,
    request_id: &str,
) -> Result<SubmitSupervisionEntryResponse, Status> {
    app.supervision_as(secret)
        .submit_supervision_entry(SubmitSupervisionEntryRequest {
            supervision_entry: Some(entry),
            request_id: request_id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn contains(message: &impl Message, text: &str) -> bool {
    message
        .encode_to_vec()
        .windows(text.len())
        .any(|w| w == text.as_bytes())
}

fn photo(name: &str) -> Evidence {
    Evidence {
        uri: format!("https://oss.example.org/dangjiangkou/{name}.jpg"),
        sha256: "ab".repeat(32),
        description: "整改后现场照片".into(),
    }
}

#[tokio::test]
async fn a_public_report_runs_its_course_to_closure_and_the_reporter_is_never_shown() {
    let app = spawn().await;
    let supervisor = app.token(Role::Supervisor, &[]).await;
    let coordinator = app.token(Role::Coordinator, &["420300"]).await;

    // Filed without a token, as the public: a tracking code comes back once.
    let filed = submit(&app, None, water_report("regions/420381"), "public-1")
        .await
        .unwrap();
    let retried = submit(&app, None, water_report("regions/420381"), "public-1")
        .await
        .unwrap();
    let entry = filed.supervision_entry.clone().unwrap();
    let code = filed.tracking_code.clone();
    assert_eq!(entry.state, SUBMITTED);
    assert_eq!(entry.region, "regions/420381");
    assert_eq!(code.len(), 23, "{code}");
    assert!(entry.reporter_redacted && entry.reporter.is_none());
    assert_eq!(retried.supervision_entry.unwrap().name, entry.name);
    assert!(retried.tracking_code.is_empty(), "the code is shown once");
    let as_media = submit(
        &app,
        None,
        SupervisionEntry {
            party: MEDIA,
            ..water_report("regions/420381")
        },
        "",
    )
    .await
    .unwrap_err();
    assert_error(&as_media, Code::PermissionDenied, "PARTY_NOT_ALLOWED", None);

    let lookup = |code: String| {
        let mut client = app.supervision_as(None);
        async move {
            client
                .lookup_supervision_entry(LookupSupervisionEntryRequest {
                    tracking_code: code,
                })
                .await
        }
    };
    let typed = code.to_lowercase().replace('-', "");
    let view = lookup(typed.clone()).await.unwrap().into_inner();
    assert_eq!((view.state, view.timeline.len()), (SUBMITTED, 1));
    assert!(view.timeline[0].actor.as_ref().unwrap().anonymous);

    // The officials carry it through.
    let mut overseer = app.supervision_as(Some(&supervisor));
    let mut rectifier = app.supervision_as(Some(&coordinator));
    let accepted = overseer
        .accept_supervision_entry(AcceptSupervisionEntryRequest {
            name: entry.name.clone(),
            responsible_unit: "丹江口市生态环境局".into(),
            due_date: DUE.into(),
            note: "转属地核查".into(),
            etag: entry.etag.clone(),
            responsible_organization: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accepted.state, ACCEPTED);
    assert_eq!(accepted.due_date, DUE);
    assert!(!accepted.overdue);
    let rectifying = rectifier
        .start_rectification(StartRectificationRequest {
            name: entry.name.clone(),
            plan: "封堵暗管，截污纳管，一个月内完成".into(),
            etag: accepted.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rectifying.state, RECTIFYING);
    let resolved = rectifier
        .resolve_supervision_entry(ResolveSupervisionEntryRequest {
            name: entry.name.clone(),
            resolution: "暗管已封堵，污水接入市政管网".into(),
            evidence: vec![photo("after")],
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resolved.state, RESOLVED);
    assert!(resolved.resolve_time.is_some());
    assert_eq!(resolved.evidence, [photo("after")]);
    let closed = overseer
        .close_supervision_entry(CloseSupervisionEntryRequest {
            name: entry.name.clone(),
            review_note: "现场复核属实，予以办结".into(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.state, CLOSED);

    // Followed by its code: the whole course, actors reduced to their roles.
    let view = lookup(code.clone()).await.unwrap().into_inner();
    assert_eq!(view.state, CLOSED);
    assert_eq!(view.responsible_unit, "丹江口市生态环境局");
    assert_eq!(view.due_date, DUE);
    let steps: Vec<(i32, i32, i32)> = view
        .timeline
        .iter()
        .map(|e| (e.step, e.actor.as_ref().unwrap().role, e.to_state))
        .collect();
    assert_eq!(
        steps,
        [
            (1, 0, SUBMITTED),
            (2, Role::Supervisor.number(), ACCEPTED),
            (4, Role::Coordinator.number(), RECTIFYING),
            (5, Role::Coordinator.number(), RESOLVED),
            (6, Role::Supervisor.number(), CLOSED),
        ]
    );
    assert!(
        view.timeline
            .iter()
            .all(|e| e.actor.as_ref().unwrap().label.is_empty())
    );
    for secret in ["张秀兰", "13800000000", "test SUPERVISOR"] {
        assert!(!contains(&view, secret), "the public view shows {secret}");
    }

    // Reopened, commented on; the full timeline keeps every event with its actor.
    let reopened = overseer
        .reopen_supervision_entry(ReopenSupervisionEntryRequest {
            name: entry.name.clone(),
            reason: "群众反映仍有异味".into(),
            due_date: String::new(),
            etag: closed.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reopened.state, RECTIFYING);
    let comment = app
        .supervision_as(Some(&coordinator))
        .add_supervision_comment(AddSupervisionCommentRequest {
            parent: entry.name.clone(),
            text: "请同步整改资金使用情况".into(),
            request_id: "comment-1".into(),
            public: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(comment.name, format!("{}/events/7", entry.name));
    let timeline = app
        .supervision
        .clone()
        .list_supervision_events(ListSupervisionEventsRequest {
            parent: entry.name.clone(),
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .supervision_events;
    assert_eq!(timeline.len(), 7);
    assert_eq!(timeline[6], comment);
    assert_eq!(timeline[6].to_state, RECTIFYING);
    assert_eq!(timeline[1].actor.as_ref().unwrap().label, "test SUPERVISOR");
    assert_eq!(
        lookup("0000-0000-0000-0000".into())
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn steps_out_of_turn_or_by_the_wrong_hands_are_refused_and_change_nothing() {
    let app = spawn().await;
    let supervisor = app.token(Role::Supervisor, &[]).await;
    let elsewhere = app.token(Role::Coordinator, &["110000"]).await;
    let fund_officer = app.token(Role::FundOfficer, &[]).await;
    let entry = submit(&app, None, water_report("regions/420381"), "")
        .await
        .unwrap()
        .supervision_entry
        .unwrap();
    let name = entry.name.clone();
    let mut overseer = app.supervision_as(Some(&supervisor));

    let close_early = overseer
        .close_supervision_entry(CloseSupervisionEntryRequest {
            name: name.clone(),
            review_note: "x".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(
        &close_early,
        Code::FailedPrecondition,
        "ILLEGAL_STATE_TRANSITION",
        None,
    );
    let start_early = app
        .supervision
        .clone()
        .start_rectification(StartRectificationRequest {
            name: name.clone(),
            plan: "x".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(
        &start_early,
        Code::FailedPrecondition,
        "ILLEGAL_STATE_TRANSITION",
        None,
    );
    let by_fund_officer = app
        .supervision_as(Some(&fund_officer))
        .reject_supervision_entry(RejectSupervisionEntryRequest {
            name: name.clone(),
            reason: "x".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(
        &by_fund_officer,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
        None,
    );
    let without_unit = overseer
        .accept_supervision_entry(AcceptSupervisionEntryRequest {
            name: name.clone(),
            responsible_unit: String::new(),
            due_date: "2020-01-01".into(),
            note: String::new(),
            etag: String::new(),
            responsible_organization: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(
        &without_unit,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("responsible_unit"),
    );
    assert_error(
        &without_unit,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("due_date"),
    );
    let stale = overseer
        .accept_supervision_entry(AcceptSupervisionEntryRequest {
            name: name.clone(),
            responsible_unit: "丹江口市生态环境局".into(),
            due_date: DUE.into(),
            note: String::new(),
            etag: "\"99\"".into(),
            responsible_organization: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    overseer
        .accept_supervision_entry(AcceptSupervisionEntryRequest {
            name: name.clone(),
            responsible_unit: "丹江口市生态环境局".into(),
            due_date: DUE.into(),
            note: String::new(),
            etag: String::new(),
            responsible_organization: String::new(),
        })
        .await
        .unwrap();
    let outside = app
        .supervision_as(Some(&elsewhere))
        .start_rectification(StartRectificationRequest {
            name: name.clone(),
            plan: "x".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(&outside, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    let resolve_without_evidence = app
        .supervision
        .clone()
        .resolve_supervision_entry(ResolveSupervisionEntryRequest {
            name: name.clone(),
            resolution: "done".into(),
            evidence: Vec::new(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(
        &resolve_without_evidence,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("evidence"),
    );

    // Only the submission and the acceptance are on the timeline.
    let timeline = app
        .supervision
        .clone()
        .list_supervision_events(ListSupervisionEventsRequest {
            parent: name.clone(),
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .supervision_events;
    let steps: Vec<i32> = timeline.iter().map(|e| e.step).collect();
    assert_eq!(steps, [1, 2]);

    // A rejection is final.
    let second = submit(&app, Some(&supervisor), water_report("regions/420381"), "")
        .await
        .unwrap()
        .supervision_entry
        .unwrap();
    let rejected = overseer
        .reject_supervision_entry(RejectSupervisionEntryRequest {
            name: second.name.clone(),
            reason: "重复举报".into(),
            etag: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rejected.state, REJECTED);
    let reopen = overseer
        .reopen_supervision_entry(ReopenSupervisionEntryRequest {
            name: second.name.clone(),
            reason: "x".into(),
            due_date: String::new(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_error(
        &reopen,
        Code::FailedPrecondition,
        "ILLEGAL_STATE_TRANSITION",
        None,
    );
}

#[tokio::test]
async fn the_reporter_is_shown_only_to_admin_auditor_and_supervisor() {
    let app = spawn().await;
    let entry = submit(&app, None, water_report("regions/420381"), "")
        .await
        .unwrap()
        .supervision_entry
        .unwrap();
    for role in Role::ALL {
        let secret = app.token(role, &[]).await;
        let got = app
            .supervision_as(Some(&secret))
            .get_supervision_entry(GetSupervisionEntryRequest {
                name: entry.name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        let sees = matches!(role, Role::Admin | Role::Auditor | Role::Supervisor);
        assert_eq!(got.reporter_redacted, !sees, "{}", role.word());
        assert_eq!(contains(&got, "张秀兰"), sees, "{}", role.word());
        assert_eq!(contains(&got, "13800000000"), sees, "{}", role.word());
    }
}

#[tokio::test]
async fn an_entry_about_a_subject_takes_its_region_from_it() {
    let mut app = spawn().await;
    let program = app.program().await;
    let p = app.pairing(pairing(&program, "110101", "420381")).await;
    let proj = app.project(project(&p, "420381001")).await;
    let supervisor = app.token(Role::Supervisor, &[]).await;
    let about = |subject: &str, region: &str| SupervisionEntry {
        party: MEDIA,
        subject: subject.into(),
        region: region.into(),
        ..water_report("")
    };

    let on_project = submit(&app, Some(&supervisor), about(&proj.name, ""), "")
        .await
        .unwrap()
        .supervision_entry
        .unwrap();
    assert_eq!(on_project.region, "regions/420381001");
    assert!(
        !on_project.reporter_redacted,
        "a SUPERVISOR sees the reporter"
    );
    let on_pairing = submit(
        &app,
        Some(&supervisor),
        about(&p.name, "regions/420381"),
        "",
    )
    .await
    .unwrap()
    .supervision_entry
    .unwrap();
    assert_eq!(on_pairing.region, "regions/420381");
    for (entry, field) in [
        (about(&p.name, "regions/110101"), "supervision_entry.region"),
        (about("projects/999", ""), "supervision_entry.subject"),
        (about("regions/420381", ""), "supervision_entry.subject"),
        (about("", ""), "supervision_entry.region"),
    ] {
        let status = submit(&app, Some(&supervisor), entry, "")
            .await
            .unwrap_err();
        assert_error(&status, Code::InvalidArgument, "INVALID_FIELD", Some(field));
    }
}

#[tokio::test]
async fn the_database_refuses_to_rewrite_a_timeline() {
    let app = spawn().await;
    submit(&app, None, water_report("regions/420381"), "")
        .await
        .unwrap();
    let update = app.sql("UPDATE supervision_events SET note = 'x'").await;
    let delete = app.sql("DELETE FROM supervision_events").await;
    assert!(update.is_err(), "UPDATE must be refused");
    assert!(delete.is_err(), "DELETE must be refused");
}

#[tokio::test]
async fn public_reports_are_limited_per_client_address() {
    let app = crate::helpers::spawn_with(crate::helpers::Fresh::Prepared, |settings| {
        settings.server.public_reports_per_hour = 2;
    })
    .await;
    let supervisor = app.token(Role::Supervisor, &[]).await;
    for _ in 0..2 {
        submit(&app, None, water_report("regions/420381"), "")
            .await
            .unwrap();
    }
    let third = submit(&app, None, water_report("regions/420381"), "")
        .await
        .unwrap_err();
    assert_error(&third, Code::ResourceExhausted, "PUBLIC_REPORT_LIMIT", None);
    // Officials with a token are not counted against the public's limit.
    submit(&app, Some(&supervisor), water_report("regions/420381"), "")
        .await
        .unwrap();
    // The refused report left nothing: two public entries and one official one.
    let store = app.store().await;
    let stored = {
        use sea_orm::{EntityTrait, PaginatorTrait};
        duikou::store::entities::supervision_entry::Entity::find()
            .count(store.db())
            .await
            .unwrap()
    };
    store.close().await.unwrap();
    assert_eq!(stored, 3);
}

/// The probe found a Tianjin fund officer's and an AUDITOR's comments in the anonymous view
/// of a Shiyan resident's report. Comments are for those in the entry's course — ADMIN, a
/// SUPERVISOR, the COORDINATOR of its region — and the public sees only those marked public.
#[tokio::test]
async fn comments_are_for_the_entry_s_course_and_internal_unless_public() {
    let app = spawn().await;
    let supervisor = app.token(Role::Supervisor, &[]).await;
    let shiyan = app.token(Role::Coordinator, &["420300"]).await;
    let tianjin = app.token(Role::Coordinator, &["120000"]).await;
    let fund_officer = app.token(Role::FundOfficer, &["420300"]).await;
    let auditor = app.token(Role::Auditor, &[]).await;
    let filed = submit(&app, None, water_report("regions/420381"), "")
        .await
        .unwrap();
    let entry = filed.supervision_entry.unwrap();
    let comment = |secret: &str, text: &str, public: bool| {
        let mut client = app.supervision_as(Some(secret));
        let request = AddSupervisionCommentRequest {
            parent: entry.name.clone(),
            text: text.into(),
            request_id: String::new(),
            public,
        };
        async move { client.add_supervision_comment(request).await }
    };

    let by_auditor = comment(&auditor, "审计意见", true).await.unwrap_err();
    let by_fund_officer = comment(&fund_officer, "资金意见", true).await.unwrap_err();
    let by_tianjin = comment(&tianjin, "天津意见", true).await.unwrap_err();
    let internal = comment(&supervisor, "内部：核实排污单位", false)
        .await
        .unwrap()
        .into_inner();
    let public = comment(&shiyan, "已安排现场核查", true)
        .await
        .unwrap()
        .into_inner();
    let view = app
        .supervision_as(None)
        .lookup_supervision_entry(LookupSupervisionEntryRequest {
            tracking_code: filed.tracking_code.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let timeline = app
        .supervision
        .clone()
        .list_supervision_events(ListSupervisionEventsRequest {
            parent: entry.name.clone(),
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .supervision_events;

    assert_error(
        &by_auditor,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
        None,
    );
    assert_error(
        &by_fund_officer,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
        None,
    );
    assert_error(&by_tianjin, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    assert!(!internal.public && public.public);
    let notes: Vec<&str> = view.timeline.iter().map(|e| e.note.as_str()).collect();
    assert_eq!(
        notes,
        ["", "已安排现场核查"],
        "the public sees the filing and one comment"
    );
    assert!(view.timeline.iter().all(|e| e.public));
    assert!(
        view.timeline[1].actor.as_ref().unwrap().label.is_empty(),
        "the public never sees an official's label"
    );
    let publics: Vec<bool> = timeline.iter().map(|e| e.public).collect();
    assert_eq!(
        publics,
        [true, false, true],
        "refused comments left no event"
    );
}

/// The probe filed evidence linking to `file://` paths. Links are `https://`, or `http://`
/// where the office turns `server.http_evidence` on.
#[tokio::test]
async fn evidence_links_only_to_the_web() {
    let strict = spawn().await;
    let lenient = spawn_with(Fresh::Prepared, |s| s.server.http_evidence = true).await;
    let with_link = |uri: &str| SupervisionEntry {
        evidence: vec![Evidence {
            uri: uri.into(),
            ..Default::default()
        }],
        ..water_report("regions/420381")
    };

    let local = submit(&strict, None, with_link("file:///etc/passwd"), "")
        .await
        .unwrap_err();
    let plain = submit(&strict, None, with_link("http://example.org/a.jpg"), "")
        .await
        .unwrap_err();
    let allowed = submit(&lenient, None, with_link("http://example.org/a.jpg"), "").await;
    let still_local = submit(&lenient, None, with_link("file:///etc/passwd"), "")
        .await
        .unwrap_err();

    for refused in [&local, &plain, &still_local] {
        assert_error(
            refused,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some("supervision_entry.evidence[0].uri"),
        );
    }
    assert!(allowed.is_ok(), "{allowed:?}");
}

/// Comments made before comments could be internal become internal: nobody chose to
/// publish them. The migration adds the column without touching the append-only timeline.
#[tokio::test]
async fn comments_made_before_the_public_flag_become_internal() {
    use migration::MigratorTrait;
    let app = spawn().await;
    let filed = submit(&app, None, water_report("regions/420381"), "")
        .await
        .unwrap();
    let entry = filed.supervision_entry.unwrap();
    app.supervision
        .clone()
        .add_supervision_comment(AddSupervisionCommentRequest {
            parent: entry.name.clone(),
            text: "旧的评论".into(),
            request_id: String::new(),
            public: true,
        })
        .await
        .unwrap();
    let store = app.store().await;
    let steps = crate::helpers::undoing("m0011_internal_comments");
    migration::Migrator::down(store.db(), Some(steps))
        .await
        .unwrap();
    migration::Migrator::up(store.db(), None).await.unwrap();
    store.close().await.unwrap();

    let view = app
        .supervision_as(None)
        .lookup_supervision_entry(LookupSupervisionEntryRequest {
            tracking_code: filed.tracking_code,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        view.timeline.len(),
        1,
        "only the filing: {:?}",
        view.timeline
    );
    assert!(view.timeline[0].public);
}

#[tokio::test]
async fn an_accepted_entry_names_its_responsible_organization_beside_the_unit() {
    let app = spawn().await;
    let supervisor = app.token(Role::Supervisor, &[]).await;
    let bureau = app
        .organization(duikou::proto::v1::Organization {
            display_name: "丹江口市生态环境局".into(),
            ..crate::helpers::county_bureau("420381")
        })
        .await;
    let app = &app;
    let filed = |n: u32| async move {
        submit(
            app,
            None,
            water_report("regions/420381"),
            &format!("org-{n}"),
        )
        .await
        .unwrap()
        .supervision_entry
        .unwrap()
    };
    let (entry, other) = (filed(1).await, filed(2).await);
    let mut overseer = app.supervision_as(Some(&supervisor));
    let accept = |entry: &SupervisionEntry, organization: &str| AcceptSupervisionEntryRequest {
        name: entry.name.clone(),
        responsible_unit: String::new(),
        due_date: DUE.into(),
        note: String::new(),
        etag: entry.etag.clone(),
        responsible_organization: organization.into(),
    };

    let unknown = overseer
        .accept_supervision_entry(accept(&entry, "organizations/77"))
        .await
        .unwrap_err();
    let neither = overseer
        .accept_supervision_entry(accept(&entry, ""))
        .await
        .unwrap_err();
    let accepted = overseer
        .accept_supervision_entry(accept(&entry, &bureau.name))
        .await
        .unwrap()
        .into_inner();
    let untouched = overseer
        .get_supervision_entry(GetSupervisionEntryRequest {
            name: other.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let answering = overseer
        .list_supervision_entries(duikou::proto::v1::ListSupervisionEntriesRequest {
            filter: format!("responsible_organization = \"{}\"", bureau.name),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .supervision_entries;

    assert_error(
        &unknown,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("responsible_organization"),
    );
    assert_error(
        &neither,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("responsible_unit"),
    );
    assert_eq!(accepted.state, ACCEPTED);
    assert_eq!(accepted.responsible_organization, bureau.name);
    assert_eq!(
        accepted.responsible_unit, "丹江口市生态环境局",
        "the unit is its name"
    );
    assert_eq!(untouched.state, SUBMITTED);
    assert!(untouched.responsible_organization.is_empty());
    assert_eq!(
        answering.iter().map(|e| &e.name).collect::<Vec<_>>(),
        vec![&entry.name]
    );
}
