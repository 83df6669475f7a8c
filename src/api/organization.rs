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
        plan_task::{TaskState, done_on_time, is_overdue as is_task_overdue},
        project::ProjectState,
        supervision::{State as EntryState, is_overdue, median, today},
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
        Hold, Store, accountability, by_id,
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
    let facts = accountability::facts(db, id, year).await?;
    let now = service.clock.now();
    let today = today(now);

    let tasks = LedTasks {
        led: facts.tasks.len() as i64,
        done: count(&facts.tasks, |(s, _, _)| *s == TaskState::Done),
        done_on_time: count(&facts.tasks, |(_, due, done)| done_on_time(*done, *due)),
        overdue: count(&facts.tasks, |(s, due, _)| is_task_overdue(*s, *due, today)),
    };

    let mut resolve_days: Vec<f64> = facts
        .entries
        .iter()
        .filter_map(|(_, _, seconds, _)| seconds.map(|s| s as f64 / 86_400.0))
        .collect();
    resolve_days.sort_by(f64::total_cmp);
    let supervision = AnsweredEntries {
        entries: facts.entries.len() as i64,
        by_state: by_state(
            EntryState::ALL,
            facts.entries.iter().map(|(s, ..)| *s),
            EntryState::word,
        ),
        overdue: count(&facts.entries, |(s, due, _, _)| is_overdue(*s, *due, now)),
        resolved: resolve_days.len() as i64,
        resolved_on_time: count(&facts.entries, |(.., on_time)| *on_time == Some(true)),
        median_days_to_resolve: median(&resolve_days).unwrap_or(0.0),
    };

    let budget = Sum(facts.projects.iter().map(|(_, b)| i128::from(*b)).sum());
    let projects = ImplementedProjects {
        projects: facts.projects.len() as i64,
        by_state: by_state(
            ProjectState::ALL,
            facts.projects.iter().map(|(s, _)| *s),
            ProjectState::word,
        ),
        budget: Some(wide_money(budget)?),
        allocated: Some(wide_money(facts.allocated)?),
        disbursed: Some(wide_money(facts.disbursed)?),
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

/// How many of `items` meet `test`.
fn count<T>(items: &[T], test: impl Fn(&T) -> bool) -> i64 {
    items.iter().filter(|i| test(i)).count() as i64
}

/// The count of each state of `all` among `states`, in `all`'s order, leaving out none
/// counted.
fn by_state<S: Copy + PartialEq>(
    all: &[S],
    states: impl Iterator<Item = S> + Clone,
    word: fn(S) -> &'static str,
) -> Vec<StateCount> {
    all.iter()
        .map(|&state| StateCount {
            state: word(state).to_owned(),
            count: states.clone().filter(|s| *s == state).count() as i64,
        })
        .filter(|c| c.count > 0)
        .collect()
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
