//! Monitoring-station queries: registering a station, finding one by its MN for the
//! ingest listener, listing them, and replacing a password.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{Set, Unchanged},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use super::{Store, constraint_error, entities::monitoring_station, rows, sqlite::point_read};
use crate::{
    domain::station::{NewPassword, StationCode, StationFilter},
    error::Error,
};

pub use monitoring_station::Model as StationRow;

/// A station to insert, its section and token already checked.
pub struct NewStation<'a> {
    /// Its MN.
    pub mn: &'a StationCode,
    /// Its display name.
    pub display_name: &'a str,
    /// The section it measures.
    pub section_id: i64,
    /// The MONITOR token it records as.
    pub monitor_token_id: i64,
    /// Its password's salt and hash.
    pub password: &'a NewPassword,
    /// Who registers it.
    pub creator_label: &'a str,
}

/// Inserts a station.
///
/// # Errors
/// ALREADY_EXISTS `STATION_MN_TAKEN` when another station has the MN.
pub async fn insert(db: &impl ConnectionTrait, new: &NewStation<'_>) -> Result<StationRow, Error> {
    let row = monitoring_station::ActiveModel {
        mn: Set(new.mn.as_str().to_owned()),
        display_name: Set(new.display_name.to_owned()),
        section_id: Set(new.section_id),
        monitor_token_id: Set(new.monitor_token_id),
        password_salt: Set(new.password.salt.clone()),
        password_hash: Set(new.password.hash.clone()),
        creator_label: Set(new.creator_label.to_owned()),
        create_time: Set(Utc::now()),
        ..Default::default()
    };
    row.insert(db).await.map_err(|e| {
        constraint_error(e, || Error::AlreadyExists {
            reason: "STATION_MN_TAKEN",
            message: format!("a monitoring station with MN {} exists", new.mn.as_str()),
        })
    })
}

/// Replaces a station's password.
pub async fn set_password(
    db: &impl ConnectionTrait,
    current: &StationRow,
    password: &NewPassword,
) -> Result<StationRow, Error> {
    let row = monitoring_station::ActiveModel {
        id: Unchanged(current.id),
        password_salt: Set(password.salt.clone()),
        password_hash: Set(password.hash.clone()),
        ..Default::default()
    };
    Ok(row.update(db).await?)
}

/// The inline read of [`by_mn`]; its columns are those of `monitoring_stations`.
const STATION_BY_MN: &str = "SELECT id, mn, display_name, section_id, monitor_token_id, \
     password_salt, password_hash, creator_label, create_time FROM monitoring_stations \
     WHERE mn = ?1";

/// The station with MN `mn`, as each packet of an ingest connection reads it: inline on
/// a SQLite file, through the pool elsewhere.
pub async fn by_mn(store: &Store, mn: &str) -> Result<Option<StationRow>, Error> {
    use monitoring_station::Column as C;
    point_read::read_one(
        store,
        STATION_BY_MN,
        [mn.to_owned()],
        |row| {
            Ok(StationRow {
                id: row.get("id")?,
                mn: row.get("mn")?,
                display_name: row.get("display_name")?,
                section_id: row.get("section_id")?,
                monitor_token_id: row.get("monitor_token_id")?,
                password_salt: row.get("password_salt")?,
                password_hash: row.get("password_hash")?,
                creator_label: row.get("creator_label")?,
                create_time: point_read::timestamp(row, "create_time")?,
            })
        },
        || async {
            Ok(monitoring_station::Entity::find()
                .filter(C::Mn.eq(mn))
                .one(store.db())
                .await?)
        },
    )
    .await
}

/// A page of the stations `filter` matches, in id order.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &StationFilter,
    after: Option<i64>,
    limit: u64,
) -> Result<Vec<StationRow>, Error> {
    use monitoring_station::Column as C;
    let mut select = monitoring_station::Entity::find();
    if let Some(id) = filter.section_id {
        select = select.filter(C::SectionId.eq(id));
    }
    if let Some(id) = filter.monitor_token_id {
        select = select.filter(C::MonitorTokenId.eq(id));
    }
    if let Some(mn) = &filter.mn {
        select = select.filter(C::Mn.eq(mn.as_str()));
    }
    rows::page_after(db, select, C::Id, after, limit).await
}
