//! `duikou.v1.OrganizationService`: the organisations that take part in the cooperation,
//! each with its kind, region, credit code and parent. Every authenticated role reads
//! them; changes are checked for the caller's scope in `app`.

use super::{
    MaskRules, Named, audited, etag, filter_region_path, page_of, patch, request_key, service,
    timestamp,
};
use crate::{
    app::{
        self,
        organization::{CreateOrganization, fields_of, not_found},
    },
    domain::{
        audit::Call,
        name,
        organization::{self as rules, OrganizationDraft, OrganizationFields, OrganizationFilter},
        page::Page,
        patch::Writable,
    },
    error::Error,
    proto::v1::{
        CreateOrganizationRequest, GetOrganizationRequest, ListOrganizationsRequest,
        ListOrganizationsResponse, Organization, UpdateOrganizationRequest,
        organization_service_server::OrganizationService,
    },
    store::{
        Hold, Store, by_id,
        organization::{self as organizations, OrganizationQuery, OrganizationRow},
    },
};

const MASK: MaskRules = MaskRules {
    name_field: "organization.name",
    collection: "organizations",
    updatable: OrganizationFields::UPDATABLE,
    immutable: &[],
    output_only: rules::OUTPUT_ONLY,
};

const ORGANIZATION: Named<OrganizationRow, Organization> = Named {
    collection: "organizations",
    reply: organization_to_proto,
};

/// Serves organisations from the store.
#[derive(Clone)]
pub struct Organizations {
    store: Store,
}

impl Organizations {
    /// A service over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// The API form of a stored organisation.
fn organization_to_proto(row: OrganizationRow) -> Organization {
    let fields = fields_of(&row);
    Organization {
        name: name::format_id("organizations", row.id),
        display_name: fields.display_name,
        kind: fields.kind,
        region: fields.region,
        credit_code: fields.credit_code,
        parent: fields.parent,
        create_time: Some(timestamp(row.create_time)),
        update_time: Some(timestamp(row.update_time)),
        etag: etag(row.revision),
    }
}

audited!(OrganizationRow: |o| name::format_id("organizations", o.id), organization_to_proto(o.clone()));

/// The fields of an organisation that callers write, as the request sends them.
fn organization_fields(o: &Organization) -> OrganizationFields {
    OrganizationFields {
        display_name: o.display_name.clone(),
        kind: o.kind,
        region: o.region.clone(),
        credit_code: o.credit_code.clone(),
        parent: o.parent.clone(),
    }
}

service! {
    OrganizationService for Organizations {
        create_organization(CreateOrganizationRequest) -> Organization;
        get_organization(GetOrganizationRequest) -> Organization;
        list_organizations(ListOrganizationsRequest) -> ListOrganizationsResponse;
        update_organization(UpdateOrganizationRequest) -> Organization =
            ORGANIZATION.update(&MASK, |r| (r.organization, r.update_mask), patch(organization_fields));
    }
}

async fn create_organization(
    service: &Organizations,
    call: Call,
    mut req: CreateOrganizationRequest,
) -> Result<Organization, Error> {
    let key = request_key(&call, &mut req, |r| &mut r.request_id);
    let draft =
        OrganizationDraft::parse(&organization_fields(&req.organization.unwrap_or_default()));
    let (key, draft) = Error::all((key, draft))?;
    let row = app::create_once(&service.store, call, key, CreateOrganization(draft)).await?;
    Ok(organization_to_proto(row))
}

async fn get_organization(
    service: &Organizations,
    _: Call,
    req: GetOrganizationRequest,
) -> Result<Organization, Error> {
    let id = name::parse_id("name", "organizations", &req.name)?;
    let row = by_id::<OrganizationRow>(service.store.db(), id, Hold::Nothing)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(organization_to_proto(row))
}

async fn list_organizations(
    service: &Organizations,
    _: Call,
    req: ListOrganizationsRequest,
) -> Result<ListOrganizationsResponse, Error> {
    let filter = OrganizationFilter::parse(&req.filter);
    let page = Page::open(
        service.store.page_key().await?,
        req.page_size,
        &req.page_token,
        &["organizations", &req.filter],
    );
    let (filter, page) = Error::all((filter, page))?;
    let query = OrganizationQuery {
        region_within: filter_region_path(&service.store, filter.region.as_ref()).await?,
        filter,
    };
    let rows =
        organizations::list(service.store.db(), &query, page.after_id()?, page.fetch()).await?;
    Ok(page_of(
        &page,
        rows,
        |r| r.id.to_string(),
        organization_to_proto,
    ))
}
