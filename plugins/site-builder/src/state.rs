//! What the plugin's tools and job handlers share: the site read at registration (or none)
//! and the plugin's handle to the shell.

use std::path::Path;
use std::sync::{Arc, RwLock};

use brain_plugin_api::{JobError, PluginContext, ToolError};

use crate::config::{Route, Section, Site};

/// Said by every tool and job that needs a site when `brain.toml` has none.
pub const NO_SITE: &str = "no [site] in brain.toml: add a [site] table with a title, a base_url and [[site.routes]] (`brain init` in an empty folder shows one)";

pub(crate) struct Shared {
    /// The site as read at registration, or later by `site serve` when `brain.toml`
    /// changed (`Shared::reload_site`).
    pub(crate) site: RwLock<Option<Arc<Site>>>,
    pub(crate) ctx: Arc<dyn PluginContext>,
    /// Notes lookups that every section of a generate batch shares, by batch id (see
    /// `generate::per_batch`); kept per plugin instance, so two brains never share them.
    pub(crate) batch_lookups: std::sync::Mutex<Vec<crate::generate::Remembered>>,
}

impl Shared {
    /// The brain directory, which content, templates and output are relative to.
    pub(crate) fn root(&self) -> &Path {
        &self.ctx.dirs().root
    }

    fn current(&self) -> Option<Arc<Site>> {
        self.site.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn site(&self) -> Result<Arc<Site>, ToolError> {
        self.current().ok_or_else(|| ToolError::failed(NO_SITE))
    }

    pub(crate) fn site_for_job(&self) -> Result<Arc<Site>, JobError> {
        self.current().ok_or_else(|| JobError::permanent(NO_SITE))
    }

    /// Reads `[site]` again from `brain.toml`; `Ok(true)` when it changed (and is used from
    /// now on), an error naming what is wrong with it (the site stays as it was).
    pub(crate) fn reload_site(&self) -> Result<bool, String> {
        let config = self.ctx.reload_config().map_err(|e| e.to_string())?;
        let site = Site::from_config(&config, self.root())
            .map_err(|e| e.to_string())?
            .map(Arc::new);
        let mut current = self.site.write().unwrap_or_else(|e| e.into_inner());
        if *current == site {
            return Ok(false);
        }
        *current = site;
        Ok(true)
    }

    /// A job's route and section, which may have left `brain.toml` since it was enqueued.
    pub(crate) fn section_for_job(
        &self,
        route: &str,
        section: &str,
    ) -> Result<(Arc<Site>, usize, usize), JobError> {
        let site = self.site_for_job()?;
        let r = site
            .routes
            .iter()
            .position(|r| r.id == route)
            .ok_or_else(|| JobError::permanent(format!("no route {route:?} in [site] any more")))?;
        let s = site.routes[r]
            .sections
            .iter()
            .position(|s| s.id == section)
            .ok_or_else(|| {
                JobError::permanent(format!(
                    "route {route:?} has no section {section:?} in [site] any more"
                ))
            })?;
        Ok((site, r, s))
    }
}

/// The route and section at `(r, s)` of `site`.
pub(crate) fn at(site: &Site, r: usize, s: usize) -> (&Route, &Section) {
    let route = &site.routes[r];
    (route, &route.sections[s])
}
