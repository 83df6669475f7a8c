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

    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
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
