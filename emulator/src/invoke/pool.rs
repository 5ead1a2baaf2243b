//! The pool of one function's instances.
//!
//! The pool owns instance lifecycle: it hands an idle instance to an
//! invocation (most recently used first, since it is the warmest), starts a
//! new one while under the concurrency limit, and throttles past it. An
//! instance is either idle in the pool or lent to exactly one invocation.
//!
//! Every instance belongs to a *version* of the function's deployment. A
//! redeploy (a rebuild, switching the debugger on or off, or live mode
//! forwarding a cloud sandbox's environment) makes a new
//! version: idle instances of older versions stop at once, busy ones finish
//! their invocation and then retire.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::events::InstanceEvent;
use super::instance::{Instance, OutputMode, RunResult, StartFailure};
use super::{Completed, DebugConfig, Deployment, Invocation, InvokeError, Prepared, Shared};
use crate::backend::environment::CloudEnvironment;

pub(crate) struct FunctionPool {
    shared: Arc<Shared>,
    logical_id: Arc<str>,
    deployment: RwLock<Arc<Versioned>>,
    state: Mutex<PoolState>,
    /// Wakes invocations waiting for a slot (debug mode queues instead of
    /// throttling).
    slot_freed: Notify,
    next_instance: AtomicU64,
}

/// A deployment, the settings that outlive redeploys (the debugger, live
/// mode's cloud environment), and the version number instances of this
/// combination carry.
pub(crate) struct Versioned {
    pub deployment: Deployment,
    pub debug: Option<DebugConfig>,
    pub cloud_environment: Option<Arc<CloudEnvironment>>,
    pub version: u64,
}

/// What a redeploy changes; the rest is carried over.
pub(crate) enum Change {
    Deployment(Deployment),
    Debug(Option<DebugConfig>),
    CloudEnvironment(Option<Arc<CloudEnvironment>>),
    /// Nothing: a new version of the same settings retires every instance.
    Retire,
}

impl std::ops::Deref for Versioned {
    type Target = Deployment;
    fn deref(&self) -> &Deployment {
        &self.deployment
    }
}

#[derive(Default)]
struct PoolState {
    /// Idle instances with the time they became idle.
    idle: Vec<(Arc<Instance>, Instant)>,
    /// Instances that exist: idle, busy or starting. Never above the limit.
    live: u32,
    /// Every live instance, so shutdown can stop busy ones too.
    all: Vec<Arc<Instance>>,
}

/// A slot counted in `live` before its instance exists. Dropped unfilled
/// (the instance did not start, or a bug panicked while starting it), it
/// frees the slot: otherwise the slot would count toward the concurrency
/// limit for the rest of the run.
struct ColdSlot<'a> {
    pool: &'a FunctionPool,
    filled: bool,
}

impl<'a> ColdSlot<'a> {
    fn new(pool: &'a FunctionPool) -> ColdSlot<'a> {
        ColdSlot {
            pool,
            filled: false,
        }
    }

    /// The started instance now holds the slot; the lease hands it back
    /// (`release`) when the invocation ends.
    fn fill(mut self, instance: Arc<Instance>) -> Lent<'a> {
        self.filled = true;
        Lent::new(self.pool, instance)
    }
}

impl Drop for ColdSlot<'_> {
    fn drop(&mut self) {
        if !self.filled {
            self.pool.free_slot();
        }
    }
}

/// An instance lent to one invocation. Dropped without `give_back` (a bug
/// panicked mid-invocation), it stops the instance and frees its slot, so a
/// bug costs one instance rather than one slot of the concurrency limit
/// for good.
struct Lent<'a> {
    pool: &'a FunctionPool,
    instance: Arc<Instance>,
    given_back: bool,
}

impl<'a> Lent<'a> {
    fn new(pool: &'a FunctionPool, instance: Arc<Instance>) -> Lent<'a> {
        Lent {
            pool,
            instance,
            given_back: false,
        }
    }

    fn instance(&self) -> &Arc<Instance> {
        &self.instance
    }

    fn give_back(mut self, reusable: bool) {
        self.given_back = true;
        self.pool.release(self.instance.clone(), reusable);
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if !self.given_back {
            self.pool.release(self.instance.clone(), false);
        }
    }
}

/// What `acquire` lends an invocation.
enum Lease {
    /// An idle instance of the current version, with that version.
    Warm(Arc<Instance>, Arc<Versioned>),
    /// A slot under the limit, to be filled by starting an instance.
    Cold(Arc<Versioned>),
    /// No slot now, but one will free up (debug mode queues invocations).
    Wait,
}

impl FunctionPool {
    pub fn new(shared: Arc<Shared>, deployment: Deployment) -> FunctionPool {
        FunctionPool {
            shared,
            logical_id: Arc::from(deployment.function.logical_id.as_str()),
            deployment: RwLock::new(Arc::new(Versioned {
                deployment,
                debug: None,
                cloud_environment: None,
                version: 1,
            })),
            state: Mutex::new(PoolState::default()),
            slot_freed: Notify::new(),
            next_instance: AtomicU64::new(1),
        }
    }

    pub fn logical_id(&self) -> &Arc<str> {
        &self.logical_id
    }

    pub fn deployment(&self) -> Arc<Versioned> {
        self.deployment
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn limit(&self, deployment: &Versioned) -> u32 {
        let limit = deployment
            .function
            .reserved_concurrency
            .unwrap_or(self.shared.settings.default_concurrency);
        match &deployment.debug {
            // As many instances under the debugger as it asked for (one,
            // unless live mode serves concurrent cloud invocations); past
            // that, invocations queue rather than throttle.
            Some(debug) => debug.instances.clamp(1, limit.max(1)),
            None => limit,
        }
    }

    pub async fn invoke(&self, invocation: Invocation) -> Result<Completed, InvokeError> {
        // The version is taken with the instance: a swap in between must not
        // hand an old instance the new version's settings.
        let (lent, deployment) = loop {
            // Register interest before looking, so a slot freed in between
            // is not missed.
            let freed = self.slot_freed.notified();
            match self.acquire()? {
                Lease::Warm(instance, deployment) => break (Lent::new(self, instance), deployment),
                Lease::Cold(deployment) => {
                    let slot = ColdSlot::new(self);
                    match self.start(&deployment).await {
                        Ok(Some(instance)) => break (slot.fill(instance), deployment),
                        Ok(None) => return Err(InvokeError::ShuttingDown),
                        Err(failure) => return Ok(failure.for_invocation(&invocation)),
                    }
                }
                Lease::Wait => freed.await,
            }
        };
        let RunResult {
            completed,
            reusable,
        } = lent.instance().run(invocation, &deployment.function).await;
        lent.give_back(reusable);
        Ok(completed)
    }

    fn acquire(&self) -> Result<Lease, InvokeError> {
        if self.shared.shutdown.is_cancelled() {
            return Err(InvokeError::ShuttingDown);
        }
        let deployment = self.deployment();
        let limit = self.limit(&deployment);
        let mut state = self.state();
        while let Some((instance, _)) = state.idle.pop() {
            if instance.is_alive() && instance.version() == deployment.version {
                return Ok(Lease::Warm(instance, deployment));
            }
            // A dead or outdated idle instance frees its slot.
            Self::forget(&mut state, &instance);
            instance.stop();
        }
        if state.live >= limit {
            if deployment.debug.is_some() {
                return Ok(Lease::Wait);
            }
            return Err(InvokeError::TooManyRequests {
                function: deployment.function.name.clone(),
                limit,
            });
        }
        state.live += 1;
        Ok(Lease::Cold(deployment))
    }

    fn free_slot(&self) {
        {
            let mut state = self.state();
            state.live = state.live.saturating_sub(1);
        }
        self.slot_freed.notify_one();
    }

    /// Starts an instance in a slot already counted in `live`. None when
    /// the invoker began shutting down meanwhile (the instance is stopped).
    async fn start(
        &self,
        deployment: &Arc<Versioned>,
    ) -> Result<Option<Arc<Instance>>, StartFailure> {
        let number = self.next_instance.fetch_add(1, Ordering::Relaxed);
        let instance = Instance::start(&self.shared, deployment, number, OutputMode::Shown).await?;
        let mut state = self.state();
        // An invocation outlives its caller, so it may still be starting an
        // instance while the invoker shuts down. Checked under the lock
        // that `stop_all` takes after the shutdown token is cancelled, so
        // every instance is either stopped here or stopped there.
        if self.shared.shutdown.is_cancelled() {
            drop(state);
            instance.stop();
            return Ok(None);
        }
        state.all.push(instance.clone());
        Ok(Some(instance))
    }

    fn release(&self, instance: Arc<Instance>, reusable: bool) {
        let current = self.deployment().version;
        let mut state = self.state();
        if reusable
            && instance.is_alive()
            && instance.version() == current
            && !self.shared.shutdown.is_cancelled()
        {
            state.idle.push((instance, Instant::now()));
            drop(state);
        } else {
            Self::forget(&mut state, &instance);
            drop(state);
            instance.stop();
        }
        self.slot_freed.notify_one();
    }

    fn forget(state: &mut PoolState, instance: &Arc<Instance>) {
        if let Some(position) = state.all.iter().position(|i| Arc::ptr_eq(i, instance)) {
            state.all.swap_remove(position);
            state.live = state.live.saturating_sub(1);
        }
    }

    /// Makes a new version from the current one: instances of older
    /// versions retire (idle ones now, busy ones after their invocation).
    pub fn redeploy(&self, change: Change) -> Arc<Versioned> {
        let next = {
            let mut slot = self
                .deployment
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let mut next = Versioned {
                deployment: slot.deployment.clone(),
                debug: slot.debug.clone(),
                cloud_environment: slot.cloud_environment.clone(),
                version: slot.version + 1,
            };
            match change {
                Change::Deployment(deployment) => next.deployment = deployment,
                Change::Debug(debug) => next.debug = debug,
                Change::CloudEnvironment(cloud) => next.cloud_environment = cloud,
                Change::Retire => {}
            }
            let next = Arc::new(next);
            *slot = next.clone();
            next
        };
        let outdated: Vec<Arc<Instance>> = {
            let mut state = self.state();
            let idle = std::mem::take(&mut state.idle);
            let mut outdated = Vec::new();
            for (instance, since) in idle {
                if instance.version() == next.version {
                    state.idle.push((instance, since));
                } else {
                    Self::forget(&mut state, &instance);
                    outdated.push(instance);
                }
            }
            outdated
        };
        for instance in outdated {
            instance.stop();
        }
        self.slot_freed.notify_waiters();
        let _ = self.shared.events.send(InstanceEvent::Redeployed {
            function: self.logical_id.clone(),
            version: next.version,
            code_dir: next.code_dir.clone(),
            debug: next.debug.is_some(),
        });
        next
    }

    /// Starts an instance of `deployment` as the version the next redeploy
    /// will make, and waits until it is ready, without serving it: a reload
    /// overlaps the new version's cold start with its syntax check this
    /// way. Gives None when the function is being debugged (its instance
    /// waits for a debugger), or the instance did not start or is still
    /// not ready after the init timeout; one that died during init comes
    /// back, so that its output can be shown if its version is swapped in.
    pub async fn prepare(&self, deployment: Deployment) -> Option<Prepared> {
        let current = self.deployment();
        if current.debug.is_some() || self.shared.shutdown.is_cancelled() {
            return None;
        }
        let next = Arc::new(Versioned {
            deployment,
            debug: None,
            cloud_environment: current.cloud_environment.clone(),
            version: current.version + 1,
        });
        let number = self.next_instance.fetch_add(1, Ordering::Relaxed);
        let instance = Instance::start(&self.shared, &next, number, OutputMode::HeldUntilAdopted)
            .await
            .ok()?;
        // No pool list holds the instance yet, so `stop_all` cannot reach
        // it: if this future is dropped while it starts (a reload cut short
        // by shutdown), dropping `prepared` stops it.
        let prepared = Prepared {
            instance: Some(instance.clone()),
        };
        instance.wait_ready(self.shared.settings.init_timeout).await;
        if instance.is_alive() && !instance.is_ready() {
            return None;
        }
        // A dead instance comes back too: should its version pass its
        // check, `adopt` shows why it died.
        Some(prepared)
    }

    /// Takes a prepared instance into the pool as an idle instance of the
    /// current version. It is stopped instead when a redeploy in between
    /// made another version, or when the pool is at its concurrency limit
    /// (old busy instances still count until they retire). One that died
    /// during init shows its output, since its version passed its check
    /// and the crash is news.
    pub fn adopt(&self, instance: Arc<Instance>) {
        let current = self.deployment();
        let mut state = self.state();
        let fits = state.live < self.limit(&current);
        if fits
            && instance.is_alive()
            && instance.version() == current.version
            && !self.shared.shutdown.is_cancelled()
        {
            state.live += 1;
            state.all.push(instance.clone());
            state.idle.push((instance.clone(), Instant::now()));
            drop(state);
            // A call that takes the instance first has its lines held
            // behind the init output, so the order holds.
            instance.release_output();
            self.slot_freed.notify_one();
        } else {
            drop(state);
            if !instance.is_alive() {
                instance.release_output();
            }
            instance.stop();
        }
    }

    /// Stops idle instances unused for longer than `idle_timeout`.
    pub fn reap_idle(&self, idle_timeout: Duration) {
        let expired: Vec<Arc<Instance>> = {
            let mut state = self.state();
            let idle = std::mem::take(&mut state.idle);
            let mut expired = Vec::new();
            for (instance, since) in idle {
                if since.elapsed() >= idle_timeout {
                    Self::forget(&mut state, &instance);
                    expired.push(instance);
                } else {
                    state.idle.push((instance, since));
                }
            }
            expired
        };
        if !expired.is_empty() {
            self.slot_freed.notify_waiters();
        }
        for instance in expired {
            instance.stop();
        }
    }

    /// Starts one idle instance if none exists yet.
    pub async fn prewarm(&self) {
        let deployment = self.deployment();
        {
            let mut state = self.state();
            if state.live > 0 || state.live >= self.limit(&deployment) {
                return;
            }
            state.live += 1;
        }
        let slot = ColdSlot::new(self);
        if let Ok(Some(instance)) = self.start(&deployment).await {
            let lent = slot.fill(instance);
            lent.instance()
                .wait_ready(self.shared.settings.init_timeout)
                .await;
            lent.give_back(true);
        }
    }

    /// Marks instance `id` as stopped in (or resumed from) the debugger.
    /// Returns false if this pool has no such instance.
    pub fn set_paused(&self, id: &str, paused: bool) -> bool {
        let state = self.state();
        match state.all.iter().find(|instance| instance.id() == id) {
            Some(instance) => {
                instance.set_paused(paused);
                true
            }
            None => false,
        }
    }

    /// Live instances: (idle, total).
    pub fn counts(&self) -> (usize, usize) {
        let state = self.state();
        (state.idle.len(), state.all.len())
    }

    /// Stops every instance, busy or idle, and waits for them to exit.
    pub async fn stop_all(&self) {
        let instances: Vec<Arc<Instance>> = {
            let mut state = self.state();
            state.idle.clear();
            state.live = 0;
            std::mem::take(&mut state.all)
        };
        // Invocations waiting for a slot look again and find the invoker
        // shutting down.
        self.slot_freed.notify_waiters();
        for instance in &instances {
            instance.stop();
        }
        futures::future::join_all(instances.iter().map(|i| i.exited())).await;
    }
}
