//! The pool of one function's instances.
//!
//! The pool owns instance lifecycle: it hands an idle instance to an
//! invocation (most recently used first, since it is the warmest), starts a
//! new one while under the concurrency limit, and throttles past it. An
//! instance is either idle in the pool or lent to exactly one invocation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use super::instance::{Instance, RunResult};
use super::{Completed, Deployment, Invocation, InvokeError, Shared};

pub(crate) struct FunctionPool {
    shared: Arc<Shared>,
    logical_id: Arc<str>,
    deployment: RwLock<Arc<Versioned>>,
    state: Mutex<PoolState>,
    next_instance: AtomicU64,
}

/// A deployment and the version number instances of it carry.
pub(crate) struct Versioned {
    pub deployment: Deployment,
    pub version: u64,
}

impl std::ops::Deref for Versioned {
    type Target = Deployment;
    fn deref(&self) -> &Deployment {
        &self.deployment
    }
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Arc<Instance>>,
    /// Instances that exist: idle, busy or starting. Never above the limit.
    live: u32,
    /// Every live instance, so shutdown can stop busy ones too.
    all: Vec<Arc<Instance>>,
}

/// What `acquire` lends an invocation.
enum Lease {
    Warm(Arc<Instance>),
    /// A slot under the limit, to be filled by starting an instance.
    Cold(Arc<Versioned>),
}

impl FunctionPool {
    pub fn new(shared: Arc<Shared>, deployment: Deployment) -> FunctionPool {
        FunctionPool {
            shared,
            logical_id: Arc::from(deployment.function.logical_id.as_str()),
            deployment: RwLock::new(Arc::new(Versioned {
                deployment,
                version: 1,
            })),
            state: Mutex::new(PoolState::default()),
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
        deployment
            .function
            .reserved_concurrency
            .unwrap_or(self.shared.settings.default_concurrency)
    }

    pub async fn invoke(&self, invocation: Invocation) -> Result<Completed, InvokeError> {
        let instance = match self.acquire()? {
            Lease::Warm(instance) => instance,
            Lease::Cold(deployment) => match self.start(&deployment).await {
                Ok(instance) => instance,
                Err(completed) => {
                    self.state().live -= 1;
                    return Ok(completed.for_invocation(&invocation));
                }
            },
        };
        let deployment = self.deployment();
        let RunResult { completed, reusable } = instance.run(invocation, &deployment.function).await;
        self.release(instance, reusable);
        Ok(completed)
    }

    fn acquire(&self) -> Result<Lease, InvokeError> {
        let deployment = self.deployment();
        let limit = self.limit(&deployment);
        let mut state = self.state();
        while let Some(instance) = state.idle.pop() {
            if instance.is_alive() && instance.version() == deployment.version {
                return Ok(Lease::Warm(instance));
            }
            // A dead or outdated idle instance frees its slot.
            Self::forget(&mut state, &instance);
            instance.stop();
        }
        if state.live >= limit {
            return Err(InvokeError::TooManyRequests {
                function: deployment.function.name.clone(),
                limit,
            });
        }
        state.live += 1;
        Ok(Lease::Cold(deployment))
    }

    /// Starts an instance in a slot already counted in `live`.
    async fn start(&self, deployment: &Arc<Versioned>) -> Result<Arc<Instance>, super::instance::StartFailure> {
        let number = self.next_instance.fetch_add(1, Ordering::Relaxed);
        let instance = Instance::start(&self.shared, deployment, number).await?;
        self.state().all.push(instance.clone());
        Ok(instance)
    }

    fn release(&self, instance: Arc<Instance>, reusable: bool) {
        let current = self.deployment().version;
        let mut state = self.state();
        if reusable && instance.is_alive() && instance.version() == current && !self.shared.shutdown.is_cancelled() {
            state.idle.push(instance);
        } else {
            Self::forget(&mut state, &instance);
            drop(state);
            instance.stop();
        }
    }

    fn forget(state: &mut PoolState, instance: &Arc<Instance>) {
        if let Some(position) = state.all.iter().position(|i| Arc::ptr_eq(i, instance)) {
            state.all.swap_remove(position);
            state.live = state.live.saturating_sub(1);
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
        match self.start(&deployment).await {
            Ok(instance) => {
                instance.wait_ready(self.shared.settings.init_timeout).await;
                self.release(instance, true);
            }
            Err(_) => self.state().live -= 1,
        }
    }

    /// Stops every instance, busy or idle, and waits for them to exit.
    pub async fn stop_all(&self) {
        let instances: Vec<Arc<Instance>> = {
            let mut state = self.state();
            state.idle.clear();
            state.live = 0;
            std::mem::take(&mut state.all)
        };
        for instance in &instances {
            instance.stop();
        }
        futures::future::join_all(instances.iter().map(|i| i.exited())).await;
    }
}
