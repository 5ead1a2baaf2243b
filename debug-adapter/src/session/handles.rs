//! DAP frame ids and variable references. They are valid while the
//! debuggee stays stopped: the session clears them whenever a target runs.

use std::collections::HashMap;

use crate::rsp::ThreadId;
use crate::symbols::ValueHandle;

use super::target::CachedVariables;

/// What a DAP frame id stands for: one function level (inlined or not) of
/// one physical frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameRef {
    /// The target.
    pub target: u32,
    /// The thread.
    pub thread: ThreadId,
    /// Index of the physical frame (0 = top).
    pub physical: usize,
    /// Function level at the frame's pc (0 = innermost inlined function).
    pub depth: usize,
}

/// The scopes of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    /// Local variables.
    Locals,
    /// Function arguments.
    Arguments,
    /// Machine registers.
    Registers,
}

/// What a variables reference stands for.
#[derive(Debug, Clone)]
pub enum VarRef {
    /// A scope of a frame.
    Scope {
        /// The frame id.
        frame: i64,
        /// Which scope.
        kind: ScopeKind,
    },
    /// The children of a value.
    Value {
        /// The frame the value was read in.
        frame: i64,
        /// The value.
        handle: ValueHandle,
    },
}

/// The id tables.
#[derive(Debug, Default)]
pub struct Handles {
    frames: Vec<FrameRef>,
    frame_ids: HashMap<FrameRef, i64>,
    vars: Vec<VarRef>,
    variables: HashMap<i64, CachedVariables>,
}

impl Handles {
    /// Forgets every id (a target ran).
    pub fn clear(&mut self) {
        self.frames.clear();
        self.frame_ids.clear();
        self.vars.clear();
        self.variables.clear();
    }

    /// Forgets the ids of one target's frames and values. Other targets'
    /// ids stay valid, since they did not run.
    pub fn clear_target(&mut self, target: u32) {
        if self.frames.iter().all(|frame| frame.target == target) {
            self.clear();
            return;
        }
        // Ids are indexes, so entries are tombstoned rather than removed.
        let dead: Vec<i64> = self
            .frame_ids
            .iter()
            .filter(|(frame, _)| frame.target == target)
            .map(|(_, id)| *id)
            .collect();
        self.frame_ids.retain(|frame, _| frame.target != target);
        for id in &dead {
            self.variables.remove(id);
        }
        for var in &mut self.vars {
            let frame = match var {
                VarRef::Scope { frame, .. } | VarRef::Value { frame, .. } => *frame,
            };
            if dead.contains(&frame) {
                *var = VarRef::Scope {
                    frame: 0,
                    kind: ScopeKind::Registers,
                };
            }
        }
    }

    /// The id of a frame, allocated on first use (ids are stable while
    /// stopped, so paged stack traces agree).
    pub fn frame_id(&mut self, frame: FrameRef) -> i64 {
        if let Some(id) = self.frame_ids.get(&frame) {
            return *id;
        }
        self.frames.push(frame);
        let id = self.frames.len() as i64;
        self.frame_ids.insert(frame, id);
        id
    }

    /// The frame behind an id.
    pub fn frame(&self, id: i64) -> Option<FrameRef> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        let frame = *self.frames.get(index)?;
        (self.frame_ids.get(&frame) == Some(&id)).then_some(frame)
    }

    /// A new variables reference.
    pub fn var_ref(&mut self, var: VarRef) -> i64 {
        self.vars.push(var);
        self.vars.len() as i64
    }

    /// What a variables reference stands for.
    pub fn var(&self, reference: i64) -> Option<&VarRef> {
        let index = usize::try_from(reference.checked_sub(1)?).ok()?;
        match self.vars.get(index)? {
            VarRef::Scope { frame: 0, .. } => None,
            var => Some(var),
        }
    }

    /// The cached variables of a frame.
    pub fn variables(&self, frame: i64) -> Option<CachedVariables> {
        self.variables.get(&frame).cloned()
    }

    /// Caches the variables of a frame.
    pub fn store_variables(&mut self, frame: i64, variables: CachedVariables) {
        self.variables.insert(frame, variables);
    }
}

/// Whether two references share the same cached variables (for tests).
#[cfg(test)]
pub fn same(a: &CachedVariables, b: &CachedVariables) -> bool {
    std::rc::Rc::ptr_eq(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(target: u32, physical: usize) -> FrameRef {
        FrameRef {
            target,
            thread: ThreadId::new(7),
            physical,
            depth: 0,
        }
    }

    #[test]
    fn ids_are_stable_and_cleared_per_target() {
        let mut handles = Handles::default();
        let a = handles.frame_id(frame(1, 0));
        let b = handles.frame_id(frame(2, 0));
        assert_eq!(handles.frame_id(frame(1, 0)), a);
        assert_eq!(handles.frame(a), Some(frame(1, 0)));
        let scope = handles.var_ref(VarRef::Scope {
            frame: a,
            kind: ScopeKind::Locals,
        });
        let other = handles.var_ref(VarRef::Scope {
            frame: b,
            kind: ScopeKind::Locals,
        });
        let variables: CachedVariables = std::rc::Rc::default();
        handles.store_variables(a, variables.clone());
        assert!(
            handles
                .variables(a)
                .is_some_and(|cached| same(&cached, &variables))
        );
        handles.clear_target(1);
        assert_eq!(handles.frame(a), None);
        assert!(handles.var(scope).is_none());
        assert!(handles.var(other).is_some());
        assert!(handles.variables(a).is_none());
        assert_eq!(handles.frame(b), Some(frame(2, 0)));
        handles.clear();
        assert_eq!(handles.frame(b), None);
        assert!(handles.var(0).is_none() && handles.var(-3).is_none());
    }
}
