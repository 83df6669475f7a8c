//! Organisations: registering and changing them. An organisation is managed by a caller
//! whose scope covers its region, before and after a change; its parent must exist and
//! may not end up below it.

use super::{Create, Edit};
use crate::{
    domain::{
        access::require_scope,
        name,
        organization::{OrganizationDraft, OrganizationFields},
        patch::Patch,
        region::{RegionCode, RegionPath},
        revision::check_etag,
    },
    error::Error,
    store::{
        Hold, by_id,
        organization::{self as organizations, OrganizationRow},
        region::{self, RegionRow},
        tx::{Change, Tx},
    },
};

/// NOT_FOUND for organisation `id`.
pub fn not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "ORGANIZATION_NOT_FOUND",
        resource: name::format_id("organizations", id),
    }
}

/// CreateOrganization: a new organisation in a region inside the caller's scope.
pub struct CreateOrganization(pub OrganizationDraft);

impl Create for CreateOrganization {
    type Made = OrganizationRow;

    async fn make(&self, tx: &mut Tx<'_>) -> Result<OrganizationRow, Error> {
        let region = region_in_reach(tx, &self.0).await?;
        if let Some(parent) = self.0.parent_id {
            named(tx, Some(parent), "organization.parent").await?;
            below(tx, parent, None).await?;
        }
        let row = organizations::insert(tx.db(), &self.0, &region).await?;
        Ok(row)
    }

    /// A replay is authorized as the request was: the organisation must lie in the
    /// caller's reach.
    async fn replay(&self, tx: &mut Tx<'_>, earlier: &str) -> Result<OrganizationRow, Error> {
        let id = name::parse_id("request_id", "organizations", earlier)?;
        in_reach(tx, id).await
    }
}

/// UpdateOrganization: the sent fields over the stored organisation, its region inside
/// the caller's scope before and after.
pub type UpdateOrganization = Edit<Patch<OrganizationFields>>;

impl Change for UpdateOrganization {
    type Output = OrganizationRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<OrganizationRow, Error> {
        let current = in_reach(tx, self.id).await?;
        check_etag(&self.etag, current.revision)?;
        let draft = OrganizationDraft::parse(&self.what.over(fields_of(&current)))?;
        let region = region_in_reach(tx, &draft).await?;
        if let Some(parent) = draft.parent_id {
            named(tx, Some(parent), "organization.parent").await?;
            if current.parent_id != Some(parent) {
                organizations::lock_hierarchy(tx.db()).await?;
            }
            below(tx, parent, Some(current.id)).await?;
        }
        let row = organizations::save(tx.db(), &current, &draft, &region).await?;
        tx.record(None, &row);
        Ok(row)
    }
}

/// Checks that an organisation may go right below organisation `parent`: the chain above
/// stays within [`organizations::MAX_DEPTH`], and does not hold the organisation `moved`
/// itself (an update), which would put it below itself.
///
/// # Errors
/// INVALID_ARGUMENT on `organization.parent`.
async fn below(tx: &Tx<'_>, parent: i64, moved: Option<i64>) -> Result<(), Error> {
    let Some(above) = organizations::ancestors(tx.db(), parent).await? else {
        return Err(Error::invalid(
            "organization.parent",
            format!(
                "would make the hierarchy deeper than {} levels",
                organizations::MAX_DEPTH
            ),
        ));
    };
    if let Some(id) = moved
        && (parent == id || above.contains(&id))
    {
        return Err(Error::invalid(
            "organization.parent",
            "would put the organization below itself",
        ));
    }
    Ok(())
}

/// The region a draft names, if it exists and lies inside the caller's scope.
async fn region_in_reach(tx: &Tx<'_>, draft: &OrganizationDraft) -> Result<RegionRow, Error> {
    let region = region::get(tx.db(), &draft.region).await?.ok_or_else(|| {
        Error::invalid(
            "organization.region",
            format!("{} does not exist", draft.region.name()),
        )
    })?;
    require_scope(
        tx.caller()?,
        &[&RegionPath::from_stored(region.path.clone())],
    )?;
    Ok(region)
}

/// The organisation a record names in `field`, if it names one: read-locked, so that it
/// stays while the change commits.
///
/// # Errors
/// INVALID_ARGUMENT on `field` when it does not exist.
async fn named(
    tx: &Tx<'_>,
    id: Option<i64>,
    field: &str,
) -> Result<Option<OrganizationRow>, Error> {
    let Some(id) = id else {
        return Ok(None);
    };
    let row = by_id::<OrganizationRow>(tx.db(), id, Hold::Share)
        .await?
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!("{} does not exist", name::format_id("organizations", id)),
            )
        })?;
    Ok(Some(row))
}

/// A record's link to an organisation, beside the words that name the party too.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    /// Where the fields lie, as errors name them: `"project."`, or `""` for a request's
    /// own fields.
    pub prefix: &'static str,
    /// The link's field and the words' field, as an update mask names them.
    pub fields: (&'static str, &'static str),
    /// The organisation linked, if any.
    pub id: Option<i64>,
    /// The words as they stand.
    pub words: &'a str,
}

impl Link<'_> {
    /// The words to keep: as they stand, or the organisation's name where they are empty
    /// or where an update's mask (`paths`; none on create) names a new organisation
    /// alone, so that the words follow it (an organisation taken away leaves them). The
    /// organisation must exist, and is held while the change commits.
    ///
    /// # Errors
    /// INVALID_ARGUMENT on the link's field when it does not exist.
    pub async fn words(&self, tx: &Tx<'_>, paths: &[&str]) -> Result<String, Error> {
        let (link, words) = self.fields;
        let field = format!("{}{link}", self.prefix);
        let linked = named(tx, self.id, &field).await?;
        let renamed = linked.is_some() && paths.contains(&link) && !paths.contains(&words);
        Ok(text_or_name(
            if renamed { "" } else { self.words },
            linked.as_ref(),
        ))
    }
}

/// The free text a record keeps beside its link: as sent, or, left empty, the linked
/// organisation's name, so that readers of the text alone still see who it is.
pub fn text_or_name(text: &str, organization: Option<&OrganizationRow>) -> String {
    match organization {
        Some(o) if text.trim().is_empty() => o.display_name.clone(),
        _ => text.to_owned(),
    }
}

/// Organisation `id`, locked for change, if the caller manages it. Every authenticated
/// role reads organisations, so existence comes first.
async fn in_reach(tx: &Tx<'_>, id: i64) -> Result<OrganizationRow, Error> {
    let row = by_id::<OrganizationRow>(tx.db(), id, Hold::Update)
        .await?
        .ok_or_else(|| not_found(id))?;
    require_scope(
        tx.caller()?,
        &[&RegionPath::from_stored(row.region_path.clone())],
    )?;
    Ok(row)
}

/// The fields of a stored organisation as a request would send them, for an update to
/// write over.
pub fn fields_of(row: &OrganizationRow) -> OrganizationFields {
    OrganizationFields {
        display_name: row.display_name.clone(),
        kind: row.kind.number(),
        region: RegionCode::from_stored(row.region_code.clone()).name(),
        credit_code: row.credit_code.clone().unwrap_or_default(),
        parent: name::format_optional_id("organizations", row.parent_id),
    }
}
