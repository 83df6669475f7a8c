//! The server around the services: health, limits, and graceful shutdown.

use duikou::proto::v1::GetRegionRequest;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::helpers::{Fresh, assert_error, spawn, spawn_with};

#[tokio::test]
async fn health_reports_serving_overall_and_for_each_service() {
    let app = spawn().await;
    let mut health = HealthClient::new(app.channel.clone());

    let mut services = vec![String::new()];
    services.extend(duikou::server::service_names().map(str::to_owned));
    for service in services {
        let status = health
            .check(HealthCheckRequest {
                service: service.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "duikou.v1.NoSuchService".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn past_the_concurrency_limit_requests_are_shed() {
    let mut app = spawn_with(Fresh::Prepared, |s| s.server.concurrency_limit = 0).await;

    let err = app
        .regions
        .get_region(GetRegionRequest {
            name: "regions/420300".into(),
        })
        .await
        .unwrap_err();

    assert_error(&err, Code::ResourceExhausted, "OVERLOADED", None);
}

#[tokio::test]
async fn oversized_requests_are_refused() {
    let mut app = spawn_with(Fresh::Prepared, |s| s.server.max_message_bytes = 1024).await;

    let err = app
        .regions
        .get_region(GetRegionRequest {
            name: "x".repeat(4096),
        })
        .await
        .unwrap_err();

    assert_error(&err, Code::OutOfRange, "MESSAGE_TOO_LARGE", None);
}

#[tokio::test]
async fn shutdown_finishes_cleanly() {
    let mut app = spawn().await;
    app.regions
        .get_region(GetRegionRequest {
            name: "regions/420300".into(),
        })
        .await
        .unwrap();

    let stopped = tokio::time::timeout(std::time::Duration::from_secs(30), app.stop()).await;

    assert!(matches!(stopped, Ok(Ok(()))), "{stopped:?}");
}

#[tokio::test]
async fn reflection_answers_in_v1_and_v1alpha_and_knows_the_error_details() {
    use tonic_reflection::pb::{v1, v1alpha};
    let app = spawn().await;

    let request =
        |message: v1::server_reflection_request::MessageRequest| v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(message),
        };
    let mut v1_client =
        v1::server_reflection_client::ServerReflectionClient::new(app.channel.clone());
    let mut answers = v1_client
        .server_reflection_info(tokio_stream::iter([
            request(v1::server_reflection_request::MessageRequest::ListServices(
                String::new(),
            )),
            request(
                v1::server_reflection_request::MessageRequest::FileContainingSymbol(
                    "google.rpc.BadRequest".into(),
                ),
            ),
        ]))
        .await
        .unwrap()
        .into_inner();
    let listed = answers.message().await.unwrap().unwrap().message_response;
    let details = answers.message().await.unwrap().unwrap().message_response;

    let mut v1alpha_client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(app.channel.clone());
    let mut alpha = v1alpha_client
        .server_reflection_info(tokio_stream::iter([v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
        }]))
        .await
        .unwrap()
        .into_inner();
    let alpha_listed = alpha.message().await.unwrap().unwrap().message_response;

    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) = listed
    else {
        panic!("v1 did not list services: {listed:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for service in duikou::server::service_names() {
        assert!(names.contains(&service), "{names:?}");
    }
    assert!(
        matches!(
            details,
            Some(v1::server_reflection_response::MessageResponse::FileDescriptorResponse(ref f))
                if !f.file_descriptor_proto.is_empty()
        ),
        "{details:?}"
    );
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        alpha_listed
    else {
        panic!("v1alpha did not list services: {alpha_listed:?}");
    };
    assert!(
        list.service
            .iter()
            .any(|s| s.name == "duikou.v1.PairingService")
    );
}

#[tokio::test]
async fn a_request_past_its_deadline_ends_with_deadline_exceeded() {
    let mut app = spawn_with(Fresh::Prepared, |s| s.server.request_timeout_secs = 1).await;
    let lock = app.hold_program_writes().await;

    let started = std::time::Instant::now();
    let err = app
        .pairings
        .create_program(duikou::proto::v1::CreateProgramRequest {
            program: Some(duikou::proto::v1::Program {
                display_name: "等待".into(),
                period_start: "2021-01-01".into(),
                period_end: "2022-01-01".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    let waited = started.elapsed();
    drop(lock);
    // A later write queues behind the one that timed out; once it is through, the first
    // has been settled one way or the other.
    let later = app.program().await;
    let programs = app
        .pairings
        .list_programs(duikou::proto::v1::ListProgramsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .programs;

    assert_error(&err, Code::DeadlineExceeded, "REQUEST_TIMEOUT", None);
    assert!(waited < std::time::Duration::from_secs(5), "{waited:?}");
    assert_eq!(
        programs,
        vec![later],
        "a request that timed out leaves nothing behind"
    );
}

#[tokio::test]
async fn sqlite_connections_are_set_up_for_money() {
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    let dir = tempfile::tempdir().unwrap();
    let settings = duikou::config::Settings::load(
        None,
        &duikou::config::Overrides {
            listen: None,
            database_url: Some(format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("p.db").display()
            )),
        },
    )
    .unwrap();
    let store = duikou::store::Store::connect(&settings.database)
        .await
        .unwrap();

    let mut pragmas = Vec::new();
    for pragma in [
        "journal_mode",
        "synchronous",
        "foreign_keys",
        "busy_timeout",
    ] {
        let row = store
            .db()
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                format!("PRAGMA {pragma}"),
            ))
            .await
            .unwrap()
            .unwrap();
        let value: String = row
            .try_get_by_index::<String>(0)
            .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
            .unwrap();
        pragmas.push(value);
    }

    assert_eq!(pragmas, ["wal", "2", "1", "10000"]);
}
