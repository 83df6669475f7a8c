//! Loads the national division list, shipped with the binary, into an empty database.

use std::{collections::HashMap, io::Read};

use anyhow::{Context, bail};
use flate2::read::GzDecoder;
use sea_orm::{
    ActiveValue::Set, EntityTrait, PaginatorTrait, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use super::{Store, entities::region};
use crate::domain::region::{RegionCode, RegionLevel, RegionPath};

/// `code,name,level,parent`, parents before children; see `data/README.md`.
const NATIONAL_LIST: &[u8] = include_bytes!("../../data/regions.csv.gz");

/// Rows per INSERT: well inside the bind-parameter limits of both backends.
const BATCH: usize = 1000;

/// Reads the shipped list into rows, parents first, each with its path.
///
/// # Errors
/// When the shipped file is damaged: a bad line, or a parent that comes after its child.
pub fn national_list() -> anyhow::Result<Vec<region::Model>> {
    let mut text = String::new();
    GzDecoder::new(NATIONAL_LIST)
        .read_to_string(&mut text)
        .context("decompressing the national region list")?;
    let mut paths: HashMap<String, RegionPath> = HashMap::new();
    let mut rows = Vec::with_capacity(45_000);
    for (n, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let [code, name, level, parent] = fields[..] else {
            bail!("line {}: expected 4 fields", n + 1);
        };
        let level = RegionLevel::from_word(level)
            .with_context(|| format!("line {}: unknown level {level}", n + 1))?;
        let parent = (!parent.is_empty()).then_some(parent);
        let parent_path = match parent {
            Some(p) => Some(
                paths
                    .get(p)
                    .with_context(|| format!("line {}: parent {p} not seen yet", n + 1))?,
            ),
            None => None,
        };
        let path = RegionPath::child_of(parent_path, &RegionCode::from_stored(code.to_owned()));
        paths.insert(code.to_owned(), path.clone());
        rows.push(region::Model {
            code: code.to_owned(),
            display_name: name.to_owned(),
            level,
            parent_code: parent.map(str::to_owned),
            path: path.as_str().to_owned(),
            added: false,
        });
    }
    Ok(rows)
}

impl Store {
    /// Loads the national list when the database has no regions yet; returns how many rows
    /// it added. Safe when several servers start at once: rows already there are skipped.
    ///
    /// # Errors
    /// When the list is damaged or the database fails.
    pub async fn seed_regions(&self) -> anyhow::Result<usize> {
        if region::Entity::find().count(self.db()).await? > 0 {
            return Ok(0);
        }
        let rows = national_list()?;
        let tx = self
            .db()
            .begin_with_options(TransactionOptions {
                isolation_level: None,
                access_mode: None,
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            })
            .await?;
        for chunk in rows.chunks(BATCH) {
            let models = chunk.iter().map(|r| region::ActiveModel {
                code: Set(r.code.clone()),
                display_name: Set(r.display_name.clone()),
                level: Set(r.level),
                parent_code: Set(r.parent_code.clone()),
                path: Set(r.path.clone()),
                added: Set(false),
            });
            region::Entity::insert_many(models)
                .on_conflict_do_nothing_on([region::Column::Code])
                .exec(&tx)
                .await
                .context("inserting regions")?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_is_whole() {
        let rows = national_list().unwrap();
        assert!(rows.len() > 44_000, "{} rows", rows.len());
        let shiyan = rows.iter().find(|r| r.code == "420300").unwrap();
        assert_eq!(shiyan.display_name, "十堰市");
        assert_eq!(shiyan.parent_code.as_deref(), Some("420000"));
        assert_eq!(shiyan.path, "/420000/420300/");
        let beijing_districts = rows.iter().find(|r| r.code == "110100").unwrap();
        assert_eq!(beijing_districts.display_name, "市辖区");
    }
}
