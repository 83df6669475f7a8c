//! The baseline: a bare tonic server whose `GetRegion` returns a constant without touching
//! any database, the ceiling the duikou workloads are compared with.

use std::future::Future;

use duikou::proto::v1::{
    CreateRegionRequest, GetRegionRequest, ListRegionsRequest, ListRegionsResponse, Region,
    region_service_server::{RegionService, RegionServiceServer},
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// Serves the baseline on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_service(RegionServiceServer::new(BareRegions))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}

/// The baseline: a `RegionService` whose `GetRegion` returns a constant.
struct BareRegions;

#[tonic::async_trait]
impl RegionService for BareRegions {
    async fn get_region(
        &self,
        _request: Request<GetRegionRequest>,
    ) -> Result<Response<Region>, Status> {
        Ok(Response::new(Region {
            name: "regions/420300".to_owned(),
            code: "420300".to_owned(),
            display_name: "十堰市".to_owned(),
            level: 2,
            parent: "regions/420000".to_owned(),
        }))
    }

    async fn list_regions(
        &self,
        _request: Request<ListRegionsRequest>,
    ) -> Result<Response<ListRegionsResponse>, Status> {
        Err(Status::unimplemented("baseline serves GetRegion only"))
    }

    async fn create_region(
        &self,
        _request: Request<CreateRegionRequest>,
    ) -> Result<Response<Region>, Status> {
        Err(Status::unimplemented("baseline serves GetRegion only"))
    }
}
