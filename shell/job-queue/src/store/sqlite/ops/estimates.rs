//! Duration estimates: each job type's running mean and variance, saved so that another
//! process (and the next start) estimates as this one did.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::store::Changes;
use crate::store::SaveEstimates;
use crate::store::sqlite::writer::Op;

impl Op for SaveEstimates {
    type Out = ();
    const WHAT: &'static str = "save duration estimates";

    fn run(&self, tx: &Connection, now: i64, _: &mut Changes) -> Result<()> {
        let Self { rows } = self;
        let mut stmt = tx.prepare_cached(
            "INSERT INTO estimates (job_type, mean_ms, var_ms2, samples, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (job_type) DO UPDATE SET mean_ms = ?2, var_ms2 = ?3, samples = ?4, updated_at = ?5",
        )?;
        for (job_type, mean, var, samples) in rows {
            stmt.execute(params![job_type, mean, var, *samples as i64, now])?;
        }
        Ok(())
    }
}
