//! Regions: adding a unit that the national list lacks, such as a development zone, one
//! level below the region it lies in.

use crate::{
    domain::region::{RegionCode, RegionLevel},
    error::Error,
    store::{
        region::{self, NewRegion, RegionRow},
        tx::{Change, Tx},
    },
};

/// CreateRegion: a province when it has no parent, else a region one level below its
/// parent, which must exist and not be a township.
pub struct CreateRegion {
    /// Its code.
    pub code: RegionCode,
    /// Its name.
    pub display_name: String,
    /// The region it lies in; none for a province.
    pub parent: Option<RegionCode>,
}

impl Change for CreateRegion {
    type Output = RegionRow;

    async fn apply(&self, tx: &mut Tx<'_>) -> Result<RegionRow, Error> {
        let parent = match &self.parent {
            None => None,
            Some(code) => Some(region::get(tx.db(), code).await?.ok_or_else(|| {
                Error::invalid("region.parent", format!("{} does not exist", code.name()))
            })?),
        };
        let level = match &parent {
            None => RegionLevel::Province,
            Some(p) => p.level.child().ok_or_else(|| {
                Error::invalid("region.parent", "a township cannot have children")
            })?,
        };
        let row = region::insert(
            tx.db(),
            &NewRegion {
                code: &self.code,
                display_name: &self.display_name,
                level,
                parent: parent.as_ref(),
            },
        )
        .await?;
        tx.record(None, &row);
        Ok(row)
    }
}
