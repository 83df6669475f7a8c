//! RegionService: the shipped national list, listing, filtering and added units.

use duikou::proto::v1::{
    CreateRegionRequest, GetRegionRequest, ListRegionsRequest, Region, RegionLevel,
};
use tonic::Code;

use crate::helpers::{Fresh, assert_error, spawn, spawn_with};

fn get(name: &str) -> GetRegionRequest {
    GetRegionRequest { name: name.into() }
}

fn list(parent: &str, filter: &str, page_size: i32) -> ListRegionsRequest {
    ListRegionsRequest {
        parent: parent.into(),
        filter: filter.into(),
        page_size,
        page_token: String::new(),
    }
}

#[tokio::test]
async fn an_empty_database_loads_the_national_list_on_start() {
    let mut app = spawn_with(Fresh::Empty, |_| {}).await;

    let provinces = app
        .regions
        .list_regions(list("", "", 100))
        .await
        .unwrap()
        .into_inner();
    let township = app
        .regions
        .get_region(get("regions/420381100"))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(provinces.regions.len(), 31);
    assert_eq!(township.level, RegionLevel::Township as i32);
    assert_eq!(township.parent, "regions/420381");
}

#[tokio::test]
async fn get_region_returns_shiyan_under_hubei() {
    let mut app = spawn().await;

    let shiyan = app
        .regions
        .get_region(get("regions/420300"))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(
        shiyan,
        Region {
            name: "regions/420300".into(),
            code: "420300".into(),
            display_name: "十堰市".into(),
            level: RegionLevel::Prefecture as i32,
            parent: "regions/420000".into(),
        }
    );
}

#[tokio::test]
async fn provinces_have_an_empty_parent_and_municipalities_keep_their_district_level() {
    let mut app = spawn().await;

    let beijing = app
        .regions
        .get_region(get("regions/110000"))
        .await
        .unwrap()
        .into_inner();
    let districts = app
        .regions
        .get_region(get("regions/110100"))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(beijing.parent, "");
    assert_eq!(beijing.level, RegionLevel::Province as i32);
    assert_eq!(districts.display_name, "市辖区");
    assert_eq!(districts.parent, "regions/110000");
}

#[tokio::test]
async fn an_unknown_region_is_not_found_and_a_malformed_name_is_invalid() {
    let mut app = spawn().await;

    let missing = app
        .regions
        .get_region(get("regions/999999"))
        .await
        .unwrap_err();
    let malformed = app.regions.get_region(get("420300")).await.unwrap_err();

    assert_error(&missing, Code::NotFound, "REGION_NOT_FOUND", None);
    assert_error(
        &malformed,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("name"),
    );
}

#[tokio::test]
async fn list_regions_filters_by_level_and_by_name_substring() {
    let mut app = spawn().await;

    let counties = app
        .regions
        .list_regions(list("regions/420300", "level = COUNTY", 100))
        .await
        .unwrap()
        .into_inner();
    let danjiangkou = app
        .regions
        .list_regions(list("-", r#"display_name:"丹江口""#, 100))
        .await
        .unwrap()
        .into_inner();

    assert!(
        counties
            .regions
            .iter()
            .any(|r| r.display_name == "丹江口市")
    );
    assert!(
        counties
            .regions
            .iter()
            .all(|r| r.level == RegionLevel::County as i32)
    );
    assert_eq!(
        danjiangkou
            .regions
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["regions/420381"]
    );
}

#[tokio::test]
async fn name_filters_treat_wildcards_as_plain_text() {
    let mut app = spawn().await;

    let found = app
        .regions
        .list_regions(list("-", r#"display_name:"%""#, 10))
        .await
        .unwrap()
        .into_inner();

    assert!(found.regions.is_empty());
}

#[tokio::test]
async fn pages_of_regions_cover_the_children_once_each() {
    let mut app = spawn().await;
    let all = app
        .regions
        .list_regions(list("regions/420381", "", 1000))
        .await
        .unwrap()
        .into_inner()
        .regions;

    let mut paged = Vec::new();
    let mut request = list("regions/420381", "", 4);
    loop {
        let page = app
            .regions
            .list_regions(request.clone())
            .await
            .unwrap()
            .into_inner();
        assert!(page.regions.len() <= 4);
        paged.extend(page.regions);
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }

    assert!(all.len() > 4);
    assert_eq!(paged, all);
}

#[tokio::test]
async fn listing_under_a_missing_parent_is_not_found() {
    let mut app = spawn().await;

    let err = app
        .regions
        .list_regions(list("regions/999999", "", 10))
        .await
        .unwrap_err();

    assert_error(&err, Code::NotFound, "REGION_NOT_FOUND", None);
}

#[tokio::test]
async fn create_region_adds_a_development_zone_one_level_below_its_parent() {
    let mut app = spawn().await;

    let zone = app
        .regions
        .create_region(CreateRegionRequest {
            region_id: "420391".into(),
            region: Some(Region {
                display_name: "十堰经济技术开发区".into(),
                parent: "regions/420300".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let read = app
        .regions
        .get_region(get("regions/420391"))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(zone.level, RegionLevel::County as i32);
    assert_eq!(read, zone);
}

#[tokio::test]
async fn create_region_refuses_taken_codes_missing_parents_and_bad_input() {
    let mut app = spawn().await;
    let request = |id: &str, name: &str, parent: &str| CreateRegionRequest {
        region_id: id.into(),
        region: Some(Region {
            display_name: name.into(),
            parent: parent.into(),
            ..Default::default()
        }),
    };

    let taken = app
        .regions
        .create_region(request("420381", "重复", "regions/420300"))
        .await
        .unwrap_err();
    let orphan = app
        .regions
        .create_region(request("990101", "无上级", "regions/990100"))
        .await
        .unwrap_err();
    let bad = app
        .regions
        .create_region(request("42x", "", "420300"))
        .await
        .unwrap_err();
    let below_township = app
        .regions
        .create_region(request("420381100001", "村", "regions/420381100"))
        .await
        .unwrap_err();

    assert_error(&taken, Code::AlreadyExists, "REGION_EXISTS", None);
    assert_error(
        &orphan,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("region.parent"),
    );
    for field in ["region_id", "region.display_name", "region.parent"] {
        assert_error(&bad, Code::InvalidArgument, "INVALID_FIELD", Some(field));
    }
    assert_error(
        &below_township,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("region.parent"),
    );
    let still_missing = app
        .regions
        .get_region(get("regions/990101"))
        .await
        .unwrap_err();
    assert_eq!(still_missing.code(), Code::NotFound);
}

#[tokio::test]
async fn a_page_size_above_the_cap_is_lowered_to_a_thousand() {
    let mut app = spawn().await;

    let page = app
        .regions
        .list_regions(list("-", "", 5000))
        .await
        .unwrap()
        .into_inner();
    let next = app
        .regions
        .list_regions(ListRegionsRequest {
            page_token: page.next_page_token.clone(),
            ..list("-", "", 5000)
        })
        .await
        .unwrap()
        .into_inner();

    assert_eq!(page.regions.len(), 1000);
    assert!(!page.next_page_token.is_empty());
    assert!(next.regions[0].code > page.regions[999].code);
}
