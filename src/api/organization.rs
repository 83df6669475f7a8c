//! `duikou.v1.OrganizationService`: the organisations that take part in the cooperation,
//! each with its kind, region, credit code and parent. Every authenticated role reads
//! them; changes are checked for the caller's scope in `app`.

use super::{
    MaskRules, Named, audited, etag, filter_region_path, page_of, patch, request_key, service,
    timestamp,
};

use crate::{
    api::fund::wide_money,
    domain::{
        clock::Clock,
        money::Sum,
        supervision::{State as EntryState, median, today},
    },
    proto::v1::{
        AnsweredEntries, GetOrganizationAccountabilityRequest, ImplementedProjects, LedTasks,
        OrganizationAccountability, StateCount,
    },
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
        Hold, Store,
        accountability::{self, ProjectTotals},
        by_id,
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
    /// The time accountability is counted at.
    clock: Clock,
}

impl Organizations {
    /// A service over `store`, counting overdue work by `clock`.
    pub fn new(store: Store, clock: Clock) -> Self {
        Self { store, clock }
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
        get_organization_accountability(GetOrganizationAccountabilityRequest)
            -> OrganizationAccountability;
    }
}

async fn get_organization_accountability(
    service: &Organizations,
    _: Call,
    req: GetOrganizationAccountabilityRequest,
) -> Result<OrganizationAccountability, Error> {
    let id = name::parse_id("organization", "organizations", &req.organization);
    let year = if (0..=9999).contains(&req.year) {
        Ok(req.year)
    } else {
        Err(Error::invalid("year", "must be a year, or 0 for all years"))
    };
    let (id, year) = Error::all((id, year))?;
    let db = service.store.db();
    by_id::<OrganizationRow>(db, id, Hold::Nothing)
        .await?
        .ok_or_else(|| not_found(id))?;
    let today = today(service.clock.now());
    let facts = accountability::facts(db, id, year, today).await?;
    let t = facts.tasks;
    let tasks = LedTasks {
        led: t.led,
        done: t.done,
        done_on_time: t.done_on_time,
        overdue: t.overdue,
    };
    let middle: Vec<f64> = facts
        .middle_resolve_seconds
        .iter()
        .map(|s| *s as f64 / 86_400.0)
        .collect();
    let t = &facts.entries;
    let supervision = AnsweredEntries {
        entries: t.entries,
        by_state: t
            .by_state
            .iter()
            .filter_map(|(&n, &count)| {
                EntryState::from_number(n).map(|s| StateCount {
                    state: s.word().to_owned(),
                    count,
                })
            })
            .collect(),
        overdue: t.overdue,
        resolved: t.resolved,
        resolved_on_time: t.resolved_on_time,
        median_days_to_resolve: median(&middle).unwrap_or(0.0),
    };

    let mut by_project_state = facts.projects.clone();
    by_project_state.sort_by_key(|p| p.state.number());
    let sum = |part: fn(&ProjectTotals) -> Sum| Sum(facts.projects.iter().map(|p| part(p).0).sum());
    let projects = ImplementedProjects {
        projects: facts.projects.iter().map(|p| p.count).sum(),
        by_state: by_project_state
            .iter()
            .map(|p| StateCount {
                state: p.state.word().to_owned(),
                count: p.count,
            })
            .collect(),
        budget: Some(wide_money(sum(|p| p.budget))?),
        allocated: Some(wide_money(sum(|p| p.allocated))?),
        disbursed: Some(wide_money(sum(|p| p.disbursed))?),
    };
    Ok(OrganizationAccountability {
        organization: name::format_id("organizations", id),
        year,
        tasks: Some(tasks),
        supervision: Some(supervision),
        projects: Some(projects),
        paid: Some(wide_money(facts.paid)?),
    })
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
