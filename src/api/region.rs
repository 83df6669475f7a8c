//! `duikou.v1.RegionService`.

use super::{audited, page_of, service};

use crate::{
    app::region::CreateRegion,
    domain::audit::Call,
    domain::{
        page::Page,
        region::{RegionCode, RegionFilter},
        text,
    },
    error::Error,
    proto::v1::{
        CreateRegionRequest, GetRegionRequest, ListRegionsRequest, ListRegionsResponse, Region,
        region_service_server::RegionService,
    },
    store::{
        Store,
        region::{self, RegionRow, Scope},
    },
};

/// Serves regions from the store.
#[derive(Clone)]
pub struct Regions {
    store: Store,
}

impl Regions {
    /// A service over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// The API form of a stored region.
pub(crate) fn to_proto(row: RegionRow) -> Region {
    Region {
        name: format!("regions/{}", row.code),
        code: row.code,
        display_name: row.display_name,
        level: row.level.number(),
        parent: row
            .parent_code
            .map(|p| format!("regions/{p}"))
            .unwrap_or_default(),
    }
}

audited!(RegionRow: |r| format!("regions/{}", r.code), to_proto(r.clone()));

fn not_found(code: &RegionCode) -> Error {
    Error::NotFound {
        reason: "REGION_NOT_FOUND",
        resource: code.name(),
    }
}

service! {
    RegionService for Regions {
        get_region(GetRegionRequest) -> Region;
        list_regions(ListRegionsRequest) -> ListRegionsResponse;
        create_region(CreateRegionRequest) -> Region;
    }
}

async fn get_region(service: &Regions, _: Call, req: GetRegionRequest) -> Result<Region, Error> {
    let code = RegionCode::from_name("name", &req.name)?;
    let row = region::find(&service.store, &code)
        .await?
        .ok_or_else(|| not_found(&code))?;
    Ok(to_proto(row))
}

async fn list_regions(
    service: &Regions,
    _: Call,
    req: ListRegionsRequest,
) -> Result<ListRegionsResponse, Error> {
    let scope = match req.parent.as_str() {
        "" => Scope::Top,
        "-" => Scope::All,
        name => Scope::ChildrenOf(RegionCode::from_name("parent", name)?),
    };
    let filter = RegionFilter::parse(&req.filter)?;
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["regions", &req.parent, &req.filter],
    )?;
    if let Scope::ChildrenOf(parent) = &scope {
        region::get(service.store.db(), parent)
            .await?
            .ok_or_else(|| not_found(parent))?;
    }
    let rows = region::list(
        service.store.db(),
        &scope,
        &filter,
        page.after.as_deref(),
        page.fetch(),
    )
    .await?;
    Ok(page_of(&page, rows, |r| r.code.clone(), to_proto))
}

async fn create_region(
    service: &Regions,
    call: Call,
    req: CreateRegionRequest,
) -> Result<Region, Error> {
    call.authenticated()?;
    let region = req.region.unwrap_or_default();
    let code = RegionCode::parse("region_id", &req.region_id);
    let parent = match region.parent.as_str() {
        "" => Ok(None),
        name => RegionCode::from_name("region.parent", name).map(Some),
    };
    Error::collect([
        Error::of(&code),
        text::check_line("region.display_name", &region.display_name, 100, true),
        Error::of(&parent),
    ])?;
    let change = CreateRegion {
        code: code?,
        display_name: region.display_name,
        parent: parent?,
    };
    let row = service.store.write(call, change).await?;
    Ok(to_proto(row))
}
