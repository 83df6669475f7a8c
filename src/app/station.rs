//! Automatic monitoring stations: registering one for a section, bound to the MONITOR
//! token its packets are recorded as, and giving one a new password. A password is
//! handed back once, in the reply that made it; the store keeps its salted hash.

use super::{Create, water::sampled_section};
use crate::{
    domain::{
        access::{Caller, Role, require_scope},
        name,
        region::RegionPath,
        station::{NewPassword, StationCode},
    },
    error::Error,
    store::{
        Hold, by_id,
        station::{self as stations, NewStation, StationRow},
        token::{self, TokenRow},
        tx::{Change, Tx},
        water::SectionRow,
    },
};

/// NOT_FOUND for station `id`.
pub fn station_not_found(id: i64) -> Error {
    Error::NotFound {
        reason: "MONITORING_STATION_NOT_FOUND",
        resource: name::format_id("monitoringStations", id),
    }
}

/// A station as its methods answer it, with its password in the one reply that made it.
#[derive(Debug, Clone)]
pub struct Station {
    /// The stored station.
    pub row: StationRow,
    /// Its new password; none in every later reply.
    pub password: Option<String>,
}

/// CreateMonitoringStation: a station of an active section inside the caller's scope,
/// recording as a MONITOR token whose scope covers the section.
pub struct CreateStation {
    /// Its MN.
    pub mn: StationCode,
    /// Its display name, checked.
    pub display_name: String,
    /// The section it measures.
    pub section_id: i64,
    /// The token it records as; none for the caller's own.
    pub monitor_token_id: Option<i64>,
}

impl Create for CreateStation {
    type Made = Station;

    async fn make(&self, tx: &mut Tx<'_>) -> Result<Station, Error> {
        let caller = tx.caller()?;
        let section = sampled_section(
            tx,
            self.section_id,
            "monitoring_station.section",
            Hold::Share,
        )
        .await?;
        let region = RegionPath::from_stored(section.region_path.clone());
        let monitor = monitor_token(tx, caller, self.monitor_token_id).await?;
        let serving = token::caller_of(&monitor).map_err(|refusal| {
            Error::invalid(
                "monitoring_station.monitor",
                format!(
                    "{} no longer serves ({refusal:?})",
                    name::format_id("accessTokens", monitor.id)
                ),
            )
        })?;
        if serving.role != Role::Monitor || !serving.scope.covers(&region) {
            return Err(Error::invalid(
                "monitoring_station.monitor",
                format!(
                    "must be a MONITOR token whose scope covers {}; {} is not",
                    name::format_id("monitoringSections", section.id),
                    name::format_id("accessTokens", monitor.id)
                ),
            ));
        }
        let password = NewPassword::generate()?;
        let row = stations::insert(
            tx.db(),
            &NewStation {
                mn: &self.mn,
                display_name: &self.display_name,
                section_id: section.id,
                monitor_token_id: monitor.id,
                password: &password,
                creator_label: &caller.label,
            },
        )
        .await?;
        Ok(Station {
            row,
            password: Some(password.password),
        })
    }

    /// A replay is authorized as the request was, and carries no password: the store
    /// holds none to give.
    async fn replay(&self, tx: &mut Tx<'_>, earlier: &str) -> Result<Station, Error> {
        let id = name::parse_id("request_id", "monitoringStations", earlier)?;
        let row = in_reach(tx, id, Hold::Nothing).await?;
        Ok(Station {
            row,
            password: None,
        })
    }
}

/// The token a new station records as: the one named, or the caller's own. A MONITOR
/// binds stations to itself alone, so that nobody records in another's name.
async fn monitor_token(
    tx: &Tx<'_>,
    caller: &Caller,
    named: Option<i64>,
) -> Result<TokenRow, Error> {
    let id = match (named, caller.role) {
        (Some(id), Role::Monitor) if id != caller.token_id => {
            return Err(Error::PermissionDenied {
                reason: "NOT_OWN_TOKEN",
                message: "a MONITOR registers stations that record as its own token".to_owned(),
            });
        }
        (Some(id), _) => id,
        (None, Role::Monitor) => caller.token_id,
        (None, _) => {
            return Err(Error::invalid(
                "monitoring_station.monitor",
                "is required: the MONITOR token the station records as, \"accessTokens/{id}\"",
            ));
        }
    };
    by_id::<TokenRow>(tx.db(), id, Hold::Share)
        .await?
        .ok_or_else(|| {
            Error::invalid(
                "monitoring_station.monitor",
                format!("{} does not exist", name::format_id("accessTokens", id)),
            )
        })
}

/// Station `id`, held as `hold` says, if its section lies in the caller's scope.
async fn in_reach(tx: &Tx<'_>, id: i64, hold: Hold) -> Result<StationRow, Error> {
    let row = by_id::<StationRow>(tx.db(), id, hold)
        .await?
        .ok_or_else(|| station_not_found(id))?;
    let section = by_id::<SectionRow>(tx.db(), row.section_id, Hold::Nothing)
        .await?
        .ok_or_else(|| anyhow::anyhow!("station {id} measures no stored section"))?;
    require_scope(
        tx.caller()?,
        &[&RegionPath::from_stored(section.region_path)],
    )?;
    Ok(row)
}

/// ResetMonitoringStationPassword: a new password for a station in the caller's scope.
pub struct ResetPassword {
    /// The station's id.
    pub id: i64,
}

impl Change for ResetPassword {
    type Output = Station;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<Station, Error> {
        let current = in_reach(tx, self.id, Hold::Update).await?;
        let password = NewPassword::generate()?;
        let row = stations::set_password(tx.db(), &current, &password).await?;
        let station = Station {
            row,
            password: Some(password.password),
        };
        tx.record(None, &station);
        Ok(station)
    }
}
