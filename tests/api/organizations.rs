//! Organisations: registered and changed inside a scope, read by every role, their credit
//! codes checked as GB 32100-2015 says, their hierarchy kept free of loops.

use duikou::{
    domain::access::Role,
    proto::v1::{
        CreateOrganizationRequest, GetOrganizationRequest, ListOrganizationsRequest, Organization,
        UpdateOrganizationRequest, organization_service_client::OrganizationServiceClient,
    },
};
use prost_types::FieldMask;
use tonic::Code;

use crate::helpers::{Authed, assert_error, spawn};

/// OrganizationKind numbers of the API.
const GOVERNMENT_AGENCY: i32 = 1;
const ENTERPRISE: i32 = 3;

/// Credit codes whose check characters were worked out apart from the code under test.
const SHIYAN_BUREAU_CODE: &str = "11420300MB15361706";
const DANJIANGKOU_FIRM_CODE: &str = "91420381MA4F000016";

fn bureau() -> Organization {
    Organization {
        display_name: "十堰市生态环境局".into(),
        kind: GOVERNMENT_AGENCY,
        region: "regions/420300".into(),
        credit_code: SHIYAN_BUREAU_CODE.into(),
        ..Default::default()
    }
}

fn create(organization: Organization) -> CreateOrganizationRequest {
    CreateOrganizationRequest {
        organization: Some(organization),
        request_id: String::new(),
    }
}

fn update(organization: &Organization, paths: &[&str]) -> UpdateOrganizationRequest {
    UpdateOrganizationRequest {
        organization: Some(organization.clone()),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    }
}

async fn names(
    client: &mut OrganizationServiceClient<Authed>,
    filter: &str,
) -> Result<Vec<String>, tonic::Status> {
    let listed = client
        .list_organizations(ListOrganizationsRequest {
            page_size: 100,
            page_token: String::new(),
            filter: filter.to_owned(),
        })
        .await?
        .into_inner();
    Ok(listed.organizations.into_iter().map(|o| o.name).collect())
}

#[tokio::test]
async fn a_coordinator_manages_organizations_inside_its_scope_and_every_role_reads_them() {
    let app = spawn().await;
    let shiyan = app.token(Role::Coordinator, &["420300"]).await;
    let auditor = app.token(Role::Auditor, &[]).await;
    let mut as_shiyan = app.organizations_as(Some(&shiyan));

    let made = as_shiyan
        .create_organization(create(bureau()))
        .await
        .unwrap()
        .into_inner();
    let firm = as_shiyan
        .create_organization(create(Organization {
            display_name: "丹江口水务有限公司".into(),
            kind: ENTERPRISE,
            region: "regions/420381".into(),
            credit_code: DANJIANGKOU_FIRM_CODE.to_lowercase(),
            parent: made.name.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let outside = as_shiyan
        .create_organization(create(Organization {
            region: "regions/110101".into(),
            credit_code: String::new(),
            ..bureau()
        }))
        .await
        .unwrap_err();
    let taken = as_shiyan
        .create_organization(create(bureau()))
        .await
        .unwrap_err();
    let anonymous = app
        .organizations_as(None)
        .create_organization(create(bureau()))
        .await
        .unwrap_err();
    let anonymous_read = app
        .organizations_as(None)
        .get_organization(GetOrganizationRequest {
            name: made.name.clone(),
        })
        .await
        .unwrap_err();

    assert_eq!(made.credit_code, SHIYAN_BUREAU_CODE);
    assert_eq!(firm.credit_code, DANJIANGKOU_FIRM_CODE, "kept in capitals");
    assert_eq!(firm.parent, made.name);
    assert_error(&outside, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    assert_error(&taken, Code::AlreadyExists, "CREDIT_CODE_TAKEN", None);
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    assert_eq!(anonymous_read.code(), Code::Unauthenticated);

    let mut as_auditor = app.organizations_as(Some(&auditor));
    let read = as_auditor
        .get_organization(GetOrganizationRequest {
            name: firm.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, firm);
    let both = vec![made.name.clone(), firm.name.clone()];
    assert_eq!(names(&mut as_auditor, "").await.unwrap(), both);
    assert_eq!(
        names(&mut as_auditor, "region = \"regions/420300\"")
            .await
            .unwrap(),
        both,
        "a region's subtree"
    );
    assert_eq!(
        names(&mut as_auditor, "region = \"regions/420381\"")
            .await
            .unwrap(),
        vec![firm.name.clone()]
    );
    assert_eq!(
        names(&mut as_auditor, &format!("parent = \"{}\"", made.name))
            .await
            .unwrap(),
        vec![firm.name.clone()]
    );
    assert_eq!(
        names(
            &mut as_auditor,
            "kind = GOVERNMENT_AGENCY AND display_name : \"环境\""
        )
        .await
        .unwrap(),
        vec![made.name.clone()]
    );
    assert_eq!(
        names(
            &mut as_auditor,
            &format!("credit_code = \"{DANJIANGKOU_FIRM_CODE}\"")
        )
        .await
        .unwrap(),
        vec![firm.name.clone()]
    );
    let bad_code = names(&mut as_auditor, "credit_code = \"91420381MA4F000017\"")
        .await
        .unwrap_err();
    assert_error(
        &bad_code,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("filter"),
    );
    let equals_text = names(&mut as_auditor, "display_name = \"环境\"")
        .await
        .unwrap_err();
    assert_error(
        &equals_text,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("filter"),
    );
}

#[tokio::test]
async fn an_update_keeps_the_scope_the_etag_and_a_hierarchy_without_loops() {
    let app = spawn().await;
    let shiyan = app.token(Role::Coordinator, &["420300"]).await;
    let mut as_shiyan = app.organizations_as(Some(&shiyan));
    let top = app.organization(bureau()).await;
    let below = app
        .organization(Organization {
            display_name: "十堰市生态环境局丹江口分局".into(),
            region: "regions/420381".into(),
            credit_code: String::new(),
            parent: top.name.clone(),
            ..bureau()
        })
        .await;

    let renamed = as_shiyan
        .update_organization(update(
            &Organization {
                display_name: "十堰市生态环境局（更名）".into(),
                kind: ENTERPRISE,
                ..top.clone()
            },
            &["display_name"],
        ))
        .await
        .unwrap()
        .into_inner();
    let stale = as_shiyan
        .update_organization(update(&top, &["display_name"]))
        .await
        .unwrap_err();
    let to_beijing = as_shiyan
        .update_organization(update(
            &Organization {
                region: "regions/110101".into(),
                ..renamed.clone()
            },
            &["region"],
        ))
        .await
        .unwrap_err();
    let under_its_child = as_shiyan
        .update_organization(update(
            &Organization {
                parent: below.name.clone(),
                ..renamed.clone()
            },
            &["parent"],
        ))
        .await
        .unwrap_err();
    let under_itself = as_shiyan
        .update_organization(update(
            &Organization {
                parent: renamed.name.clone(),
                ..renamed.clone()
            },
            &["parent"],
        ))
        .await
        .unwrap_err();
    let code_cleared = as_shiyan
        .update_organization(update(
            &Organization {
                credit_code: String::new(),
                ..renamed.clone()
            },
            &["credit_code"],
        ))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(renamed.display_name, "十堰市生态环境局（更名）");
    assert_eq!(renamed.kind, GOVERNMENT_AGENCY, "kind is not in the mask");
    assert_ne!(renamed.etag, top.etag);
    assert_error(&stale, Code::Aborted, "ETAG_MISMATCH", None);
    assert_error(&to_beijing, Code::PermissionDenied, "OUTSIDE_SCOPE", None);
    for refused in [&under_its_child, &under_itself] {
        let message = assert_error(
            refused,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some("organization.parent"),
        );
        assert!(message.contains("below itself"), "{message}");
    }
    assert!(code_cleared.credit_code.is_empty());
    let reused = app
        .organization(Organization {
            display_name: "另一个单位".into(),
            ..bureau()
        })
        .await;
    assert_eq!(
        reused.credit_code, SHIYAN_BUREAU_CODE,
        "a cleared code is free again"
    );
}

#[tokio::test]
async fn bad_organizations_name_their_field_and_write_nothing() {
    let app = spawn().await;
    let admin = app.token(Role::Admin, &[]).await;
    let mut client = app.organizations_as(Some(&admin));
    let cases = [
        (
            Organization {
                credit_code: "11420300MB15361707".into(),
                ..bureau()
            },
            "organization.credit_code",
            "check character",
        ),
        (
            Organization {
                credit_code: "X1420300MB15361706".into(),
                ..bureau()
            },
            "organization.credit_code",
            "registration authority",
        ),
        (
            Organization {
                region: "regions/429999".into(),
                ..bureau()
            },
            "organization.region",
            "does not exist",
        ),
        (
            Organization {
                parent: "organizations/77".into(),
                ..bureau()
            },
            "organization.parent",
            "does not exist",
        ),
        (
            Organization {
                kind: 0,
                ..bureau()
            },
            "organization.kind",
            "must be",
        ),
        (
            Organization {
                display_name: String::new(),
                ..bureau()
            },
            "organization.display_name",
            "",
        ),
    ];
    for (organization, field, says) in cases {
        let refused = client
            .create_organization(create(organization))
            .await
            .unwrap_err();
        let message = assert_error(
            &refused,
            Code::InvalidArgument,
            "INVALID_FIELD",
            Some(field),
        );
        assert!(message.contains(says), "{field}: {message}");
    }
    assert!(names(&mut client, "").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_retried_create_answers_the_first_organization() {
    let app = spawn().await;
    let shiyan = app.token(Role::Coordinator, &["420300"]).await;
    let mut as_shiyan = app.organizations_as(Some(&shiyan));
    let request = CreateOrganizationRequest {
        organization: Some(bureau()),
        request_id: "org-shiyan-1".into(),
    };

    let first = as_shiyan
        .create_organization(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = as_shiyan
        .create_organization(request.clone())
        .await
        .unwrap()
        .into_inner();
    let changed = as_shiyan
        .create_organization(CreateOrganizationRequest {
            organization: Some(Organization {
                display_name: "另一个单位".into(),
                ..bureau()
            }),
            ..request
        })
        .await
        .unwrap_err();

    assert_eq!(again, first);
    assert_error(&changed, Code::InvalidArgument, "REQUEST_ID_REUSED", None);
    assert_eq!(names(&mut as_shiyan, "").await.unwrap(), vec![first.name]);
}

#[tokio::test]
async fn a_hierarchy_is_at_most_sixty_four_above_an_organization() {
    let app = spawn().await;
    let admin = app.token(Role::Admin, &[]).await;
    let mut client = app.organizations_as(Some(&admin));
    let mut chain = vec![app.organization(county_level(String::new())).await];
    // Sixty-four above the last of the chain: the most there may be.
    for _ in 0..64 {
        let parent = chain.last().unwrap().name.clone();
        chain.push(app.organization(county_level(parent)).await);
    }

    let too_deep = client
        .create_organization(create(county_level(chain[64].name.clone())))
        .await
        .unwrap_err();
    let top_below_bottom = client
        .update_organization(update(
            &Organization {
                parent: chain[64].name.clone(),
                ..chain[0].clone()
            },
            &["parent"],
        ))
        .await
        .unwrap_err();

    let message = assert_error(
        &too_deep,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("organization.parent"),
    );
    assert!(message.contains("deeper than 64"), "{message}");
    assert_error(
        &top_below_bottom,
        Code::InvalidArgument,
        "INVALID_FIELD",
        Some("organization.parent"),
    );
    assert_eq!(names(&mut client, "").await.unwrap().len(), 65);
}

/// An office in Shiyan below `parent` (or at the top).
fn county_level(parent: String) -> Organization {
    Organization {
        display_name: "办公室".into(),
        credit_code: String::new(),
        parent,
        ..bureau()
    }
}
