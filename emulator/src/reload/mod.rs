//! Hot reload: watch the sources, rebuild what changed, swap versions
//! without dropping a request, and say what happened in one line.
//!
//! Code map:
//! - [`ignore`]: which paths never trigger a rebuild (pure).
//! - [`debounce`]: file-system events into batches (tokio time).
//! - [`stale`]: input fingerprints, so only changed units rebuild (pure
//!   apart from reading files).
//! - [`diff`]: what a template edit changed (pure).
//! - `watcher`: the notify glue; the only module that imports notify.
//! - this file: the reload loop, which owns the served app model and the
//!   state of every build unit, and drives the builder, the invoker, the
//!   gateway's route table, the queues and the event sources.
//!
//! Invariants: a build never touches the version being served (outputs are
//! new version directories or renamed into place); a failed build changes
//! nothing that serves; the invoker's redeploy lets busy instances finish
//! on their version while new invocations get the new one.

pub mod debounce;
pub mod diff;
pub mod ignore;
pub mod stale;
mod watcher;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::app::{self, App, Function, LoadOptions};
use crate::builder::{self, BuildDirs, BuildError, BuildUnit, Built};
use crate::console::Console;
use crate::event_source::{self, EventSources};
use crate::gateway::Routes;
use crate::invoke::events::InstanceEvent;
use crate::invoke::{Deployment, Invoker, Prepared};
use crate::sqs::SqsService;
pub use debounce::Debouncer;
pub use stale::Fingerprint;
pub use watcher::Root;

/// Why reloading could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("watching {} for changes: {cause}; pass --no-watch to serve without hot reload", path.display())]
    Watch { path: PathBuf, cause: String },
}

/// The fingerprint of a unit's inputs: its source tree (without the
/// template, whose edits are template reloads) and its build settings.
pub fn unit_fingerprint(unit: &BuildUnit, template: &Path) -> Fingerprint {
    let template = std::path::absolute(template).unwrap_or_else(|_| template.to_path_buf());
    stale::fingerprint(unit.source(), &unit.settings(), &[template])
}

/// One unit as built (or found current) at start.
#[derive(Debug, Clone)]
pub struct UnitBuild {
    pub unit: BuildUnit,
    pub fingerprint: Fingerprint,
    pub built: Built,
    pub elapsed: Duration,
}

/// Builds every unit whose output is stale, printing `building X ...`
/// before each build that runs. Current units are not rebuilt.
pub async fn build_units(
    units: Vec<BuildUnit>,
    dirs: &BuildDirs,
    template: &Path,
    console: &Console,
) -> Result<Vec<UnitBuild>, BuildError> {
    let mut builds = Vec::new();
    for unit in units {
        let fingerprint = unit_fingerprint(&unit, template);
        if builder::needs_build(unit.owner()) && !builder::is_current(&unit, dirs, &fingerprint.0) {
            console.line(&format!("building {} ...", unit.names()));
        }
        let started = Instant::now();
        let built = builder::build_unit(&unit, dirs, console, &fingerprint.0).await?;
        builds.push(UnitBuild {
            unit,
            fingerprint,
            built,
            elapsed: started.elapsed(),
        });
    }
    Ok(builds)
}

/// Builds what `functions` need and returns their deployments (for
/// `fogbank invoke`, which serves without reloading).
pub async fn build_functions(
    functions: &[Arc<Function>],
    dirs: &BuildDirs,
    template: &Path,
    console: &Console,
) -> Result<Vec<Deployment>, BuildError> {
    let builds = build_units(builder::units(functions)?, dirs, template, console).await?;
    Ok(builds
        .into_iter()
        .flat_map(|b| b.built.deployments)
        .collect())
}

/// What the reloader needs to know besides what it reconfigures.
#[derive(Debug, Clone)]
pub struct ReloadConfig {
    pub template: PathBuf,
    pub options: LoadOptions,
    pub dirs: BuildDirs,
    pub debounce: Debouncer,
}

/// The running parts a reload reconfigures.
#[derive(Clone)]
pub struct Served {
    pub invoker: Invoker,
    pub routes: Routes,
    pub queues: SqsService,
    /// The SQS pollers; replaced when a template edit changes mappings.
    pub event_sources: Arc<tokio::sync::Mutex<Option<EventSources>>>,
    pub console: Console,
}

/// A unit as the reloader tracks it.
struct UnitState {
    unit: BuildUnit,
    /// The inputs of the version being served.
    serving: Fingerprint,
    /// The inputs of the last failed build, so an unchanged broken tree is
    /// not rebuilt (and its error not printed again) on every save.
    failed: Option<Fingerprint>,
}

/// Starts watching and reloading until `shutdown` is cancelled.
pub fn start(
    config: ReloadConfig,
    app: App,
    builds: &[UnitBuild],
    served: Served,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, ReloadError> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let watcher = watcher::Watcher::new(sender)?;
    let template =
        std::path::absolute(&config.template).unwrap_or_else(|_| config.template.clone());
    let mut reloader = Reloader {
        template,
        config,
        app,
        units: builds
            .iter()
            .map(|b| UnitState {
                unit: b.unit.clone(),
                serving: b.fingerprint.clone(),
                failed: None,
            })
            .collect(),
        served,
        watcher,
        shutdown: shutdown.clone(),
    };
    reloader.watch()?;
    Ok(tokio::spawn(reloader.run(receiver)))
}

struct Reloader {
    config: ReloadConfig,
    /// The template, absolute.
    template: PathBuf,
    app: App,
    units: Vec<UnitState>,
    served: Served,
    watcher: watcher::Watcher,
    shutdown: CancellationToken,
}

/// A build's time as the reload line shows it: `84 ms` or `1.84 s`.
pub fn format_build_time(elapsed: Duration) -> String {
    if elapsed >= Duration::from_secs(1) {
        format!("{:.2} s", elapsed.as_secs_f64())
    } else {
        format!("{} ms", elapsed.as_millis())
    }
}

impl Reloader {
    /// The directories to watch: the template's, and every unit's source.
    fn roots(&self) -> Vec<Root> {
        let mut roots: Vec<Root> = self
            .units
            .iter()
            .filter(|state| state.unit.source().is_dir())
            .map(|state| Root {
                dir: state.unit.source().to_path_buf(),
                recursive: true,
            })
            .collect();
        if let Some(dir) = self.template.parent() {
            roots.push(Root {
                dir: dir.to_path_buf(),
                recursive: false,
            });
        }
        roots.sort();
        roots.dedup();
        roots
    }

    fn watch(&mut self) -> Result<(), ReloadError> {
        let roots = self.roots();
        self.watcher.set_roots(&roots)
    }

    async fn run(mut self, mut changes: mpsc::UnboundedReceiver<PathBuf>) {
        let debouncer = self.config.debounce;
        loop {
            let batch = tokio::select! {
                () = self.shutdown.cancelled() => return,
                batch = debouncer.next_batch(&mut changes) => batch,
            };
            let Some(batch) = batch else { return };
            // A build in progress at shutdown is abandoned (its process is
            // killed on drop) rather than holding the emulator open.
            let shutdown = self.shutdown.clone();
            let is_template = batch.contains(&self.template);
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = async {
                    if is_template {
                        self.reload_template().await;
                    } else {
                        self.rebuild_touched(&batch).await;
                    }
                } => {}
            }
            // New subdirectories (or a template naming new code) need
            // watches of their own.
            if let Err(error) = self.watch() {
                self.served.console.line(&format!("warning: {error}"));
            }
        }
    }

    /// Rebuilds the units whose sources a batch touched.
    async fn rebuild_touched(&mut self, batch: &BTreeSet<PathBuf>) {
        let touched: Vec<usize> = self
            .units
            .iter()
            .enumerate()
            .filter(|(_, state)| {
                batch
                    .iter()
                    .any(|path| path.starts_with(state.unit.source()))
            })
            .map(|(index, _)| index)
            .collect();
        let this = &*self;
        let rebuilds = touched.into_iter().map(|index| {
            let state = &this.units[index];
            let fingerprint = unit_fingerprint(&state.unit, &this.template);
            let unit = state.unit.clone();
            let skip = fingerprint == state.serving || Some(&fingerprint) == state.failed.as_ref();
            async move {
                if skip {
                    return (index, fingerprint, None);
                }
                let outcome = this.rebuild(&unit, &fingerprint, &unit.functions).await;
                (index, fingerprint, Some(outcome))
            }
        });
        let results = futures::future::join_all(rebuilds).await;
        for (index, fingerprint, outcome) in results {
            let state = &mut self.units[index];
            match outcome {
                None if fingerprint == state.serving => state.failed = None,
                None => {}
                Some(true) => {
                    state.serving = fingerprint;
                    state.failed = None;
                }
                Some(false) => state.failed = Some(fingerprint),
            }
        }
    }

    /// Builds `unit` and swaps `functions` (a subset of its functions) to
    /// the result. Returns false when the build failed; then nothing
    /// changed and the error has been printed.
    ///
    /// An interpreted function's new version starts its instance while its
    /// syntax check runs, so the first request after the swap finds a warm
    /// instance; a failed check stops that instance again.
    async fn rebuild(
        &self,
        unit: &BuildUnit,
        fingerprint: &Fingerprint,
        functions: &[Arc<Function>],
    ) -> bool {
        let console = &self.served.console;
        let invoker = &self.served.invoker;
        let started = Instant::now();
        let staged =
            match builder::stage_unit(unit, &self.config.dirs, console, &fingerprint.0).await {
                Ok(staged) => staged,
                Err(error) => {
                    self.report_failed_build(unit, &error);
                    return false;
                }
            };
        let early: Vec<Deployment> = if staged.has_pending_check() {
            staged
                .deployments()
                .iter()
                .filter(|deployment| {
                    let id = &deployment.function.logical_id;
                    functions.iter().any(|f| &f.logical_id == id) && invoker.function(id).is_some()
                })
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let prepare = futures::future::join_all(early.iter().map(|deployment| async move {
            let prepared = invoker.prepare(deployment).await;
            (deployment.function.logical_id.clone(), prepared)
        }));
        let finish = async {
            let result = staged.finish().await;
            (result, started.elapsed(), Instant::now())
        };
        let ((finished, build_time, built_at), prepared) = tokio::join!(finish, prepare);
        let built = match finished {
            Ok(built) => built,
            Err(error) => {
                // Dropping the prepared instances stops them.
                drop(prepared);
                self.report_failed_build(unit, &error);
                return false;
            }
        };
        self.swap(unit, &built, functions, build_time, built_at, prepared);
        true
    }

    fn report_failed_build(&self, unit: &BuildUnit, error: &BuildError) {
        self.served.console.line(&format!(
            "reload of {} failed; still serving the previous version: {error}",
            unit.names()
        ));
        for function in &unit.functions {
            self.served.invoker.publish(InstanceEvent::ReloadFailed {
                function: Arc::from(function.logical_id.as_str()),
                error: error.to_string(),
            });
        }
    }

    /// Serves `built` for `functions`, prints the reload line and
    /// publishes a reload event per function. The swap time includes
    /// waiting for prepared instances that were still starting when the
    /// build finished.
    fn swap(
        &self,
        unit: &BuildUnit,
        built: &Built,
        functions: &[Arc<Function>],
        build_time: Duration,
        swap_started: Instant,
        prepared: Vec<(String, Option<Prepared>)>,
    ) {
        let invoker = &self.served.invoker;
        let mut prepared: HashMap<String, Prepared> = prepared
            .into_iter()
            .filter_map(|(id, prepared)| Some((id, prepared?)))
            .collect();
        let mut versions = Vec::new();
        let mut names = Vec::new();
        for deployment in &built.deployments {
            let id = &deployment.function.logical_id;
            if !functions.iter().any(|f| &f.logical_id == id) {
                continue;
            }
            let version = if invoker.function(id).is_some() {
                match invoker.swap(deployment.clone(), prepared.remove(id)) {
                    Ok(version) => version,
                    Err(_) => continue,
                }
            } else {
                invoker.add_function(deployment.clone())
            };
            versions.push((id.clone(), version));
            names.push(id.as_str());
        }
        let swap_time = swap_started.elapsed();
        if names.is_empty() {
            return;
        }
        self.served.console.line(&format!(
            "reloaded {} (build {}, swap {} ms)",
            names.join(", "),
            format_build_time(build_time),
            swap_time.as_millis()
        ));
        for (function, version) in versions {
            invoker.publish(InstanceEvent::Reloaded {
                function: Arc::from(function.as_str()),
                version,
                code_dir: built.code_dir.clone(),
                artifact: built.artifact.clone(),
                source: unit.source().to_path_buf(),
                build: build_time,
                swap: swap_time,
            });
        }
    }

    /// Loads the template again and reconfigures what it changed.
    async fn reload_template(&mut self) {
        let console = self.served.console.clone();
        let loaded = match app::load(&self.config.template, &self.config.options) {
            Ok(loaded) => loaded,
            Err(diagnostics) => {
                console.line(&format!(
                    "template reload failed; still serving the previous template. Problems:\n{diagnostics}"
                ));
                return;
            }
        };
        for warning in &loaded.warnings {
            console.line(&warning.to_string());
        }
        let new_app = loaded.app;
        let changes = diff::diff(&self.app, &new_app);
        let units = match builder::units(new_app.functions.values()) {
            Ok(units) => units,
            Err(error) => {
                console.line(&format!(
                    "template reload failed; still serving the previous template: {error}"
                ));
                return;
            }
        };

        // Build and swap the units with new or changed functions, or
        // changed sources; leave the rest (and their warm instances) alone.
        let mut states = Vec::new();
        for unit in units {
            let fingerprint = unit_fingerprint(&unit, &self.template);
            // The same unit as before: same kind and source, sharing a
            // function (a function added to a shared CodeUri may become
            // the unit's first function without changing its inputs).
            let previous = self.units.iter().find(|s| {
                s.unit.kind == unit.kind
                    && s.unit.source() == unit.source()
                    && s.unit.functions.iter().any(|old| {
                        unit.functions
                            .iter()
                            .any(|f| f.logical_id == old.logical_id)
                    })
            });
            let source_changed = previous.is_none_or(|s| s.serving != fingerprint);
            let affected: Vec<Arc<Function>> = unit
                .functions
                .iter()
                .filter(|f| {
                    source_changed
                        || changes.added.contains(&f.logical_id)
                        || changes.changed.contains(&f.logical_id)
                        || previous.is_none_or(|s| {
                            !s.unit
                                .functions
                                .iter()
                                .any(|o| o.logical_id == f.logical_id)
                        })
                })
                .cloned()
                .collect();
            let mut state = UnitState {
                serving: previous.map_or_else(|| fingerprint.clone(), |s| s.serving.clone()),
                failed: previous.and_then(|s| s.failed.clone()),
                unit,
            };
            if !affected.is_empty() {
                if self.rebuild(&state.unit, &fingerprint, &affected).await {
                    state.serving = fingerprint;
                    state.failed = None;
                } else {
                    state.failed = Some(fingerprint);
                }
            }
            states.push(state);
        }
        for removed in &changes.removed {
            self.served.invoker.remove_function(removed);
        }
        if changes.routes {
            self.served.routes.replace(&new_app);
            for line in self.served.routes.route_lines() {
                console.line(&format!("    {line}"));
            }
        }
        for id in &changes.queues {
            if let Some(queue) = new_app.queues.get(id)
                && let Err(error) = self.served.queues.ensure_queue(queue)
            {
                console.line(&format!("warning: template reload: queue {id}: {error}"));
            }
        }
        if changes.mappings {
            let mut sources = self.served.event_sources.lock().await;
            if let Some(old) = sources.take() {
                old.stop().await;
            }
            *sources = Some(EventSources::start(
                event_source::mappings(&new_app),
                self.served.queues.clone(),
                self.served.invoker.clone(),
                console.clone(),
                &self.shutdown,
            ));
        }
        console.line(&format!("reloaded template ({})", changes.summary()));
        self.app = new_app;
        self.units = states;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn build_times_read_naturally() {
        let check = |ms: u64, expected: &str| {
            assert_eq!(format_build_time(Duration::from_millis(ms)), expected)
        };
        check(0, "0 ms");
        check(84, "84 ms");
        check(999, "999 ms");
        check(1000, "1.00 s");
        check(1840, "1.84 s");
        check(61_234, "61.23 s");
    }
}
