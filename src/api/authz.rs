//! Who may call what: the one table that names, for every RPC the server offers, who may
//! call it, and the check that applies it to each request before any handler runs.
//! Object-level checks (a pairing's regions inside the caller's scope) happen in the
//! handlers and use cases, which are given the [`Call`] the check left in the request.
//!
//! Only COORDINATOR, FUND_OFFICER and MONITOR tokens carry a scope (`Role::takes_scope`): the
//! `Scoped` rows below hold those roles to their regions and let ADMIN act anywhere;
//! SUPERVISOR and AUDITOR, in `Roles` rows, act on or read every region. A token of the
//! other roles stored with a scope is refused here, as `TOKEN_SCOPE_NOT_ALLOWED`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tonic::Request;

pub use crate::domain::access::{outside_scope, require_everywhere, require_scope, unrestricted};

use crate::{
    domain::{
        access::{Bearer, Role},
        audit::Call,
    },
    error::Error,
    store::{
        Store,
        token::{self, Refusal, TokenRow},
    },
};

/// Token rows read recently, so that a busy caller does not cost a database read per call.
///
/// The secret is still checked on every call, and expiry against the clock. A token
/// revoked through this server leaves the cache at once; one revoked elsewhere (another
/// server, the command line) stops working here within the cache's lifetime.
#[derive(Clone)]
pub struct TokenCache {
    lifetime: Duration,
    rows: Arc<Mutex<HashMap<i64, (Instant, TokenRow)>>>,
}

impl TokenCache {
    /// A cache that keeps rows for `lifetime`; zero turns it off.
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            rows: Arc::default(),
        }
    }

    /// The row of token `id`, from the cache while fresh, else from the store.
    async fn row(&self, store: &Store, id: i64) -> Result<Option<TokenRow>, Error> {
        if let Ok(rows) = self.rows.lock() {
            if let Some((read, row)) = rows.get(&id) {
                if read.elapsed() < self.lifetime {
                    return Ok(Some(row.clone()));
                }
            }
        }
        let row = token::find(store, id).await?;
        if let (Some(row), Ok(mut rows)) = (&row, self.rows.lock()) {
            if !self.lifetime.is_zero() {
                rows.insert(id, (Instant::now(), row.clone()));
            }
        }
        Ok(row)
    }

    /// Forgets token `id`, after a change to it.
    pub fn forget(&self, id: i64) {
        if let Ok(mut rows) = self.rows.lock() {
            rows.remove(&id);
        }
    }
}

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// Any valid token.
    Authenticated,
    /// A valid token with one of these roles.
    Roles(&'static [Role]),
    /// A valid token with one of these roles, acting only on objects inside its regional
    /// scope: the handler checks the object, before it looks at whether the object exists.
    Scoped(&'static [Role]),
    /// No token (the handler decides what an anonymous caller may do), or a valid token
    /// with one of these roles.
    AnonymousOr(&'static [Role]),
}

impl Access {
    /// The roles the table lets through, if it names any.
    pub fn roles(self) -> Option<&'static [Role]> {
        match self {
            Access::Roles(roles) | Access::Scoped(roles) | Access::AnonymousOr(roles) => {
                Some(roles)
            }
            Access::Public | Access::Authenticated => None,
        }
    }
}

const ADMIN: Access = Access::Roles(&[Role::Admin]);
const COORDINATION: Access = Access::Scoped(&[Role::Admin, Role::Coordinator]);
const FUNDS: Access = Access::Scoped(&[Role::Admin, Role::FundOfficer]);
const OVERSIGHT: Access = Access::Roles(&[Role::Admin, Role::Auditor]);
const OVERSEERS: Access = Access::Roles(&[Role::Admin, Role::Supervisor]);
const RECTIFIERS: Access = Access::Scoped(&[Role::Admin, Role::Coordinator]);
const COURSE: Access = Access::Scoped(&[Role::Admin, Role::Supervisor, Role::Coordinator]);
const MONITORING: Access = Access::Scoped(&[Role::Admin, Role::Monitor]);

/// Every RPC the server offers, by its path, and who may call it. A method missing here is
/// refused to everyone.
pub const TABLE: &[(&str, Access)] = &[
    ("/grpc.health.v1.Health/Check", Access::Public),
    ("/grpc.health.v1.Health/Watch", Access::Public),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        Access::Public,
    ),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        Access::Public,
    ),
    ("/duikou.v1.RegionService/GetRegion", Access::Public),
    ("/duikou.v1.RegionService/ListRegions", Access::Public),
    ("/duikou.v1.RegionService/CreateRegion", ADMIN),
    ("/duikou.v1.PairingService/CreateProgram", COORDINATION),
    (
        "/duikou.v1.PairingService/GetProgram",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.PairingService/ListPrograms",
        Access::Authenticated,
    ),
    ("/duikou.v1.PairingService/UpdateProgram", COORDINATION),
    ("/duikou.v1.PairingService/CreatePairing", COORDINATION),
    (
        "/duikou.v1.PairingService/GetPairing",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.PairingService/ListPairings",
        Access::Authenticated,
    ),
    ("/duikou.v1.PairingService/UpdatePairing", COORDINATION),
    ("/duikou.v1.PairingService/DeletePairing", COORDINATION),
    ("/duikou.v1.PairingService/UndeletePairing", COORDINATION),
    ("/duikou.v1.PairingService/SuspendPairing", COORDINATION),
    ("/duikou.v1.PairingService/ResumePairing", COORDINATION),
    ("/duikou.v1.PairingService/EndPairing", COORDINATION),
    ("/duikou.v1.ProjectService/CreateProject", COORDINATION),
    (
        "/duikou.v1.ProjectService/GetProject",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.ProjectService/ListProjects",
        Access::Authenticated,
    ),
    ("/duikou.v1.ProjectService/UpdateProject", COORDINATION),
    ("/duikou.v1.ProjectService/ApproveProject", COORDINATION),
    ("/duikou.v1.ProjectService/StartProject", COORDINATION),
    ("/duikou.v1.ProjectService/CompleteProject", COORDINATION),
    ("/duikou.v1.ProjectService/AcceptProject", COORDINATION),
    ("/duikou.v1.ProjectService/CancelProject", COORDINATION),
    ("/duikou.v1.FundService/RecordFundTransaction", FUNDS),
    ("/duikou.v1.FundService/ReverseFundTransaction", FUNDS),
    (
        "/duikou.v1.FundService/GetFundTransaction",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.FundService/ListFundTransactions",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.FundService/GetFundSummary",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.TalentExchangeService/CreateTalentExchange",
        COORDINATION,
    ),
    (
        "/duikou.v1.TalentExchangeService/GetTalentExchange",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.TalentExchangeService/ListTalentExchanges",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.TalentExchangeService/UpdateTalentExchange",
        COORDINATION,
    ),
    (
        "/duikou.v1.TalentExchangeService/DeleteTalentExchange",
        COORDINATION,
    ),
    (
        "/duikou.v1.TalentExchangeService/UndeleteTalentExchange",
        COORDINATION,
    ),
    (
        "/duikou.v1.TalentExchangeService/GetTalentSummary",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.SupervisionService/SubmitSupervisionEntry",
        Access::AnonymousOr(&[Role::Admin, Role::Supervisor]),
    ),
    (
        "/duikou.v1.SupervisionService/GetSupervisionEntry",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.SupervisionService/ListSupervisionEntries",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.SupervisionService/AcceptSupervisionEntry",
        OVERSEERS,
    ),
    (
        "/duikou.v1.SupervisionService/RejectSupervisionEntry",
        OVERSEERS,
    ),
    (
        "/duikou.v1.SupervisionService/StartRectification",
        RECTIFIERS,
    ),
    (
        "/duikou.v1.SupervisionService/ResolveSupervisionEntry",
        RECTIFIERS,
    ),
    (
        "/duikou.v1.SupervisionService/CloseSupervisionEntry",
        OVERSEERS,
    ),
    (
        "/duikou.v1.SupervisionService/ReopenSupervisionEntry",
        OVERSEERS,
    ),
    (
        "/duikou.v1.SupervisionService/AddSupervisionComment",
        COURSE,
    ),
    (
        "/duikou.v1.SupervisionService/ListSupervisionEvents",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.SupervisionService/LookupSupervisionEntry",
        Access::Public,
    ),
    (
        "/duikou.v1.SupervisionService/WatchSupervisionEvents",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.SupervisionService/GetSupervisionSummary",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.WaterQualityService/CreateMonitoringSection",
        COORDINATION,
    ),
    (
        "/duikou.v1.WaterQualityService/GetMonitoringSection",
        Access::Public,
    ),
    (
        "/duikou.v1.WaterQualityService/ListMonitoringSections",
        Access::Public,
    ),
    (
        "/duikou.v1.WaterQualityService/UpdateMonitoringSection",
        COORDINATION,
    ),
    (
        "/duikou.v1.WaterQualityService/RetireMonitoringSection",
        COORDINATION,
    ),
    (
        "/duikou.v1.WaterQualityService/RecordWaterSample",
        MONITORING,
    ),
    (
        "/duikou.v1.WaterQualityService/GetWaterSample",
        Access::Public,
    ),
    (
        "/duikou.v1.WaterQualityService/ListWaterSamples",
        Access::Public,
    ),
    (
        "/duikou.v1.WaterQualityService/RetractWaterSample",
        MONITORING,
    ),
    (
        "/duikou.v1.WaterQualityService/GetWaterQualityAssessment",
        Access::Public,
    ),
    (
        "/duikou.v1.WaterQualityService/CreateMonitoringStation",
        MONITORING,
    ),
    (
        "/duikou.v1.WaterQualityService/GetMonitoringStation",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.WaterQualityService/ListMonitoringStations",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.WaterQualityService/ResetMonitoringStationPassword",
        MONITORING,
    ),
    (
        "/duikou.v1.OrganizationService/CreateOrganization",
        COORDINATION,
    ),
    (
        "/duikou.v1.OrganizationService/GetOrganization",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.OrganizationService/ListOrganizations",
        Access::Authenticated,
    ),
    (
        "/duikou.v1.OrganizationService/UpdateOrganization",
        COORDINATION,
    ),
    (
        "/duikou.v1.OrganizationService/GetOrganizationAccountability",
        Access::Authenticated,
    ),
    ("/duikou.v1.PlanService/CreateWorkPlan", COORDINATION),
    ("/duikou.v1.PlanService/GetWorkPlan", Access::Authenticated),
    (
        "/duikou.v1.PlanService/ListWorkPlans",
        Access::Authenticated,
    ),
    ("/duikou.v1.PlanService/UpdateWorkPlan", COORDINATION),
    ("/duikou.v1.PlanService/IssueWorkPlan", COORDINATION),
    ("/duikou.v1.PlanService/CloseWorkPlan", COORDINATION),
    ("/duikou.v1.PlanService/AddPlanTask", COORDINATION),
    ("/duikou.v1.PlanService/GetPlanTask", Access::Authenticated),
    (
        "/duikou.v1.PlanService/ListPlanTasks",
        Access::Authenticated,
    ),
    ("/duikou.v1.PlanService/UpdatePlanTask", COORDINATION),
    ("/duikou.v1.PlanService/RemovePlanTask", COORDINATION),
    ("/duikou.v1.PlanService/ReportTaskProgress", COORDINATION),
    ("/duikou.v1.AccessService/CreateAccessToken", ADMIN),
    ("/duikou.v1.AccessService/ListAccessTokens", ADMIN),
    ("/duikou.v1.AccessService/RevokeAccessToken", ADMIN),
    ("/duikou.v1.AuditService/ListAuditEvents", OVERSIGHT),
    ("/duikou.v1.AuditService/GetCheckpoint", OVERSIGHT),
    ("/duikou.v1.AuditService/GetInclusionProof", OVERSIGHT),
    ("/duikou.v1.AuditService/GetConsistencyProof", OVERSIGHT),
    ("/duikou.v1.AuditService/VerifyAuditLog", OVERSIGHT),
];

/// Who may call the method at `path`, if the table names it.
pub fn access(path: &str) -> Option<Access> {
    entry(path).map(|(_, access)| access)
}

/// The table's entry for the method at `path`: its path as the table spells it, and who
/// may call it.
fn entry(path: &str) -> Option<(&'static str, Access)> {
    TABLE.iter().find(|(method, _)| *method == path).copied()
}

/// Authenticates the `authorization` header, if any, and checks the table: the call, with
/// its caller, or none for an anonymous call to a public method.
///
/// # Errors
/// UNAUTHENTICATED for a missing (where needed), malformed, unknown, expired or revoked
/// token; PERMISSION_DENIED for a role the table does not name, or a method it lacks.
pub async fn authorize(
    store: &Store,
    tokens: &TokenCache,
    path: &str,
    authorization: Option<&str>,
) -> Result<Call, Error> {
    let Some((method, access)) = entry(path) else {
        return Err(Error::PermissionDenied {
            reason: "METHOD_NOT_ALLOWED",
            message: format!("{path} is not open to any caller"),
        });
    };
    let caller = match authorization {
        None => None,
        Some(header) => {
            let bearer = Bearer::parse(header).ok_or_else(|| {
                unauthenticated(
                    "TOKEN_MALFORMED",
                    "the authorization metadata must be \"Bearer dk_…\"",
                )
            })?;
            let row = tokens.row(store, bearer.token_id).await?;
            match token::authenticate(row.as_ref(), &bearer) {
                Ok(caller) => Some(caller),
                Err(Refusal::Unknown) => {
                    return Err(unauthenticated("TOKEN_UNKNOWN", "the token is not valid"));
                }
                Err(Refusal::Expired) => {
                    return Err(unauthenticated("TOKEN_EXPIRED", "the token has expired"));
                }
                Err(Refusal::Revoked) => {
                    return Err(unauthenticated("TOKEN_REVOKED", "the token was revoked"));
                }
                Err(Refusal::ScopeNotAllowed) => {
                    return Err(unauthenticated(
                        "TOKEN_SCOPE_NOT_ALLOWED",
                        "the token carries a scope its role cannot have: revoke it and \
                         issue one without a scope",
                    ));
                }
            }
        }
    };
    let allowed = match (access, &caller) {
        (Access::Public | Access::AnonymousOr(_), None) | (Access::Public, _) => Ok(()),
        (_, None) => Err(unauthenticated(
            "TOKEN_MISSING",
            "this method needs a token: send \"authorization: Bearer dk_…\"",
        )),
        (Access::Authenticated, Some(_)) => Ok(()),
        (Access::Roles(roles) | Access::Scoped(roles) | Access::AnonymousOr(roles), Some(c))
            if roles.contains(&c.role) =>
        {
            Ok(())
        }
        (Access::Roles(_) | Access::Scoped(_) | Access::AnonymousOr(_), Some(c)) => {
            Err(Error::PermissionDenied {
                reason: "ROLE_NOT_ALLOWED",
                message: format!("the role {} may not call {path}", c.role.word()),
            })
        }
    };
    allowed.map(|()| Call::new(caller, method))
}

fn unauthenticated(reason: &'static str, message: &str) -> Error {
    Error::Unauthenticated {
        reason,
        message: message.to_owned(),
    }
}

/// The call that the authorization layer let through for this request, taken out of it.
///
/// # Errors
/// PERMISSION_DENIED when there is none (a method reached without the layer).
pub fn take_call<T>(request: &mut Request<T>) -> Result<Call, Error> {
    request
        .extensions_mut()
        .remove::<Call>()
        .ok_or_else(|| Error::PermissionDenied {
            reason: "METHOD_NOT_ALLOWED",
            message: "the method was reached without the authorization layer".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_is_taken_from_the_request_once_and_missing_without_the_layer() {
        let mut bare = Request::new(());
        assert!(matches!(
            take_call(&mut bare),
            Err(Error::PermissionDenied {
                reason: "METHOD_NOT_ALLOWED",
                ..
            })
        ));
        let method = "/duikou.v1.RegionService/GetRegion";
        let mut passed = Request::new(());
        passed.extensions_mut().insert(Call::new(None, method));
        assert_eq!(
            take_call(&mut passed).map(|c| c.method()).ok(),
            Some(method)
        );
        assert!(take_call(&mut passed).is_err(), "the call was moved out");
    }
}
