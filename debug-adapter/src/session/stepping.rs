//! The step engine's decisions: given a step in progress and what the
//! thread looks like at a stop, what to do next. Pure: the session gathers
//! the [`Observation`] (registers, one stack word, symbols) and carries the
//! [`Next`] move out over RSP.
//!
//! `next` and `stepIn` range-step (`vCont;r`, one round trip) over the
//! current line's address ranges. Leaving them means one of:
//! - a call: the callee's first instruction, with the return address into
//!   our function on top of the stack. `next` (or `stepIn` into code
//!   without source) runs to the return address with a temporary
//!   breakpoint, and range-steps on from there; `stepIn` steps the callee's
//!   first line (its prologue) and stops at the next one.
//! - another line of the same function: stop.
//! - a return to the caller (the stack pointer reached our frame's CFA):
//!   stop there if it has source, else keep stepping out.
//!
//! `next` does not range-step when it can help it: the session decodes the
//! line's machine code and [`StepPlan::through_calls`] turns the range step
//! into one run to the line's exits (the first addresses outside its code,
//! calls not counted) with temporary breakpoints there, so calls made by
//! the line run at full speed instead of stopping at each callee's entry
//! and return. An exit reached by a deeper frame (recursion, or a callee
//! that shares the exit's code) is run past: its CFA is below the
//! stepping frame's. An exit inside the line (a return or indirect jump)
//! is single-stepped, and the step goes on from where it lands.
//!
//! `stepOut` runs to the frame's return address (and, for recursion, until
//! the stack pointer shows the frame is gone); out of an inlined function
//! it range-steps over the inlined code instead.

use std::ops::Range;

use crate::rsp::ThreadId;

/// What the session is doing with a target.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Activity {
    /// Stopped, or running with nothing to do but report the next stop.
    #[default]
    Free,
    /// A step in progress.
    Step(StepPlan),
}

/// The DAP step requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `next`: the next line, stepping over calls.
    Over,
    /// `stepIn`: into calls that have source.
    Into,
    /// `stepOut`: back to the caller.
    Out,
    /// `next`/`stepIn` with instruction granularity.
    Instruction,
}

/// A step in progress on one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPlan {
    /// The request.
    pub kind: StepKind,
    /// The stepping thread.
    pub thread: ThreadId,
    /// The address ranges of the line being stepped over.
    pub ranges: Vec<Range<u64>>,
    /// The function (or inlined function) being stepped in.
    pub function: Option<Range<u64>>,
    /// The CFA of the frame being stepped in: the stack pointer its
    /// caller had before the call.
    pub frame_cfa: u64,
    /// Running to a return address.
    pub returning: Option<Return>,
    /// `stepIn` entered a callee and is stepping over its first line.
    pub entered: bool,
    /// Moves made so far (a runaway guard).
    pub moves: u32,
    /// Running to the exits of this code (a `next` through calls).
    pub exits: Option<ExitRun>,
    /// Code of the function without source the user can see (inlined
    /// library code, line 0): `next` runs through it with the line.
    pub library: Vec<Range<u64>>,
}

/// A run to the exits of a line's code, with temporary breakpoints there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitRun {
    /// The code being run through.
    pub code: Vec<Range<u64>>,
    /// The exits: the temporary breakpoints.
    pub stops: Vec<u64>,
}

/// A temporary breakpoint at a return address, and the CFA of the frame it
/// returns from: the return happened when the stack pointer is at least
/// that (a recursive call of the same function hits the address deeper).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Return {
    /// The return address.
    pub address: u64,
    /// The returning frame's CFA.
    pub cfa: u64,
}

/// The stepping thread at a stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Its program counter.
    pub pc: u64,
    /// Its stack pointer.
    pub sp: u64,
    /// The word on top of its stack (a return address right after a call).
    pub top_of_stack: Option<u64>,
    /// Whether the pc is in code with source the user can see.
    pub has_source: bool,
    /// Whether any function level at the pc (the physical function or a
    /// caller it inlined code into) has source the user can see: a callee
    /// of ours whose first instructions are inlined library code.
    pub function_has_source: bool,
    /// When the pc is in library code inlined into code with source: the
    /// address range of that inlined call, stepped over in one move.
    pub inlined_range: Option<Range<u64>>,
    /// The CFA of the stopped frame, when the step ran to exits (to tell
    /// the stepping frame from deeper ones) and it is known.
    pub cfa: Option<u64>,
}

/// The line ranges and function of a callee, for `stepIn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalleeLine {
    /// The address ranges of its first line.
    pub ranges: Vec<Range<u64>>,
    /// Its address range.
    pub function: Option<Range<u64>>,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Range-step the thread over this range.
    RangeStep(Range<u64>),
    /// Run (all threads) with temporary breakpoints at these addresses:
    /// the exits of the code being stepped over.
    RunToExits(Vec<u64>),
    /// Run (all threads) to this address with a temporary breakpoint.
    RunTo(u64),
    /// Single-step one instruction.
    Instruction,
    /// The code has no source: find the caller (by unwinding) and run to
    /// it; the session calls [`StepPlan::step_out_to`] with what it found.
    StepOutToCaller,
    /// The step is done: report the stop.
    Report,
}

/// Most moves a step makes before it gives up and reports where it is (a
/// loop in code without source, for example).
const MAX_MOVES: u32 = 10_000;

impl StepPlan {
    /// A `next` or `stepIn` from a line.
    pub fn line(
        kind: StepKind,
        thread: ThreadId,
        ranges: Vec<Range<u64>>,
        function: Option<Range<u64>>,
        frame_cfa: u64,
    ) -> StepPlan {
        StepPlan {
            kind,
            thread,
            ranges,
            function,
            frame_cfa,
            returning: None,
            entered: false,
            moves: 0,
            exits: None,
            library: Vec::new(),
        }
    }

    /// A `stepOut` of a physical frame: run to `address` until the frame
    /// with CFA `cfa` is gone.
    pub fn out(thread: ThreadId, address: u64, cfa: u64) -> StepPlan {
        StepPlan {
            kind: StepKind::Out,
            thread,
            ranges: Vec::new(),
            function: None,
            frame_cfa: cfa,
            returning: Some(Return { address, cfa }),
            entered: false,
            moves: 0,
            exits: None,
            library: Vec::new(),
        }
    }

    /// Where the first move goes, from `pc`.
    pub fn first_move(&self, pc: u64) -> Next {
        if let Some(back) = self.returning {
            return Next::RunTo(back.address);
        }
        if self.kind == StepKind::Instruction {
            return Next::Instruction;
        }
        match self.ranges.iter().find(|range| range.contains(&pc)) {
            Some(range) => Next::RangeStep(range.clone()),
            None => Next::StepOutToCaller,
        }
    }

    /// For `next`, turns a range step over the line's code (or an inlined
    /// library call) into a run to the exits of that code, which `exits`
    /// finds (see [`crate::symbols::DebugInfo::range_exits`]). Other moves,
    /// other steps, and code whose exits are unknown are left as they are.
    /// `pc` is where the thread is.
    pub fn through_calls(
        &mut self,
        next: Next,
        pc: u64,
        exits: impl FnOnce(&[Range<u64>]) -> Option<Vec<u64>>,
    ) -> Next {
        let Next::RangeStep(range) = next else {
            // `decide` keeps the exits for a run to them, else drops them.
            return next;
        };
        self.exits = None;
        if self.kind != StepKind::Over {
            return Next::RangeStep(range);
        }
        let code = if self.ranges.contains(&range) {
            let mut code: Vec<Range<u64>> =
                self.ranges.iter().chain(&self.library).cloned().collect();
            code.sort_unstable_by_key(|range| range.start);
            code
        } else {
            vec![range.clone()]
        };
        match exits(&code) {
            // The thread is on an exit (a return): continuing would step
            // off it first and run on from wherever it went.
            Some(stops) if stops.contains(&pc) => Next::Instruction,
            Some(stops) if !stops.is_empty() => {
                self.exits = Some(ExitRun {
                    code,
                    stops: stops.clone(),
                });
                Next::RunToExits(stops)
            }
            _ => Next::RangeStep(range),
        }
    }

    /// Continues a step that had to leave code without source: run to
    /// `address`, returning from the frame with CFA `cfa`.
    pub fn step_out_to(&mut self, address: u64, cfa: u64) -> Next {
        self.returning = Some(Return { address, cfa });
        // From here on, landing anywhere with source finishes the step.
        self.ranges.clear();
        self.function = None;
        self.frame_cfa = cfa;
        Next::RunTo(address)
    }

    /// Decides the next move after the thread stopped (a finished range
    /// step, single step, or the temporary breakpoint). `callee` gives the
    /// first line of the function at an address, for `stepIn`.
    pub fn decide(
        &mut self,
        at: &Observation,
        mut callee: impl FnMut(u64) -> Option<CalleeLine>,
    ) -> Next {
        self.moves += 1;
        if self.moves > MAX_MOVES || self.kind == StepKind::Instruction {
            return Next::Report;
        }
        if let Some(run) = self.exits.take() {
            if at.cfa.is_some_and(|cfa| cfa < self.frame_cfa) {
                // A deeper frame reached an exit: run on.
                let stops = run.stops.clone();
                self.exits = Some(run);
                return Next::RunToExits(stops);
            }
            if run.code.iter().any(|range| range.contains(&at.pc)) {
                // A return or indirect jump of the code (or a breakpoint
                // inside it): one instruction further shows where it goes.
                return Next::Instruction;
            }
        }
        if let Some(back) = self.returning {
            if at.pc != back.address {
                // Something else stopped the thread (the session handles
                // breakpoints and signals before asking).
                return Next::Report;
            }
            if at.sp < back.cfa {
                // The same address in a deeper (recursive) frame.
                return Next::RunTo(back.address);
            }
            self.returning = None;
            if self.kind == StepKind::Out {
                return if at.has_source {
                    Next::Report
                } else {
                    Next::StepOutToCaller
                };
            }
            if self.ranges.is_empty() {
                // Stepping out of code without source.
                return if at.has_source {
                    Next::Report
                } else {
                    Next::StepOutToCaller
                };
            }
        }
        if let Some(range) = self.ranges.iter().find(|range| range.contains(&at.pc)) {
            return Next::RangeStep(range.clone());
        }
        let in_ours = |address: u64| {
            self.function.as_ref().is_some_and(|f| f.contains(&address))
                || self.ranges.iter().any(|range| range.contains(&address))
        };
        let in_function = self.function.as_ref().is_some_and(|f| f.contains(&at.pc));
        let at_entry = self.function.as_ref().is_some_and(|f| f.start == at.pc);
        let called = at.sp < self.frame_cfa
            && (!in_function || at_entry)
            && at.top_of_stack.is_some_and(in_ours);
        if called {
            let return_address = at.top_of_stack.unwrap_or_default();
            // After the callee returns, the stack pointer is one word above
            // where it is at the callee's first instruction.
            let callee_cfa = at.sp.saturating_add(8);
            if self.kind == StepKind::Into
                && at.function_has_source
                && !self.entered
                && let Some(line) = callee(at.pc)
            {
                if let Some(first) = line
                    .ranges
                    .iter()
                    .find(|range| range.contains(&at.pc))
                    .cloned()
                {
                    self.ranges = line.ranges;
                    self.function = line.function;
                    self.frame_cfa = callee_cfa;
                    self.entered = true;
                    return Next::RangeStep(first);
                }
                // The entry is not on a line of its own: stop there.
                return Next::Report;
            }
            self.returning = Some(Return {
                address: return_address,
                cfa: callee_cfa,
            });
            return Next::RunTo(return_address);
        }
        if in_function {
            // Code inlined into our function from sources that are not on
            // this machine (the standard library's iterators, `chars()`)
            // is stepped over line by line, as a call to it would be, so
            // the step ends on a line the user can see.
            if let Some(range) = at.inlined_range.as_ref().filter(|r| r.contains(&at.pc))
                && !at.has_source
            {
                return Next::RangeStep(range.clone());
            }
            if !at.has_source
                && let Some(line) = callee(at.pc)
                && let Some(range) = line.ranges.iter().find(|range| range.contains(&at.pc))
            {
                return Next::RangeStep(range.clone());
            }
            return Next::Report;
        }
        if at.has_source {
            Next::Report
        } else {
            Next::StepOutToCaller
        }
    }
}

#[cfg(test)]
mod tests {
    // Line ranges are lists of address ranges; one-range lists are normal.
    #![allow(clippy::single_range_in_vec_init)]
    use super::*;

    const THREAD: ThreadId = ThreadId {
        process: None,
        thread: 1,
    };

    /// A function at 0x1000..0x1100 whose line 0x1010..0x1020 is stepped,
    /// with its frame's CFA at 0x7000.
    fn plan(kind: StepKind) -> StepPlan {
        StepPlan::line(
            kind,
            THREAD,
            vec![0x1010..0x1020, 0x1040..0x1048],
            Some(0x1000..0x1100),
            0x7000,
        )
    }

    fn at(pc: u64, sp: u64, top: Option<u64>, has_source: bool) -> Observation {
        Observation {
            pc,
            sp,
            top_of_stack: top,
            has_source,
            function_has_source: has_source,
            inlined_range: None,
            cfa: None,
        }
    }

    fn no_callee(_: u64) -> Option<CalleeLine> {
        None
    }

    #[test]
    fn next_range_steps_and_stops_on_a_new_line() {
        let mut step = plan(StepKind::Over);
        assert_eq!(step.first_move(0x1012), Next::RangeStep(0x1010..0x1020));
        // Into the line's second range: keep going.
        assert_eq!(
            step.decide(&at(0x1040, 0x6f00, None, true), no_callee),
            Next::RangeStep(0x1040..0x1048)
        );
        // Another line of the function.
        assert_eq!(
            step.decide(&at(0x1048, 0x6f00, None, true), no_callee),
            Next::Report
        );
    }

    #[test]
    fn next_runs_over_calls_and_recursion() {
        let mut step = plan(StepKind::Over);
        // The first instruction of a callee, returning to 0x1015.
        assert_eq!(
            step.decide(&at(0x5000, 0x6ef8, Some(0x1015), true), no_callee),
            Next::RunTo(0x1015)
        );
        // A recursive hit of the return address, deeper on the stack.
        assert_eq!(
            step.decide(&at(0x1015, 0x6e00, None, true), no_callee),
            Next::RunTo(0x1015)
        );
        // Back in our frame: range-step the rest of the line.
        assert_eq!(
            step.decide(&at(0x1015, 0x6f00, None, true), no_callee),
            Next::RangeStep(0x1010..0x1020)
        );
        // A recursive call of the function itself (at its entry).
        assert_eq!(
            step.decide(&at(0x1000, 0x6ef8, Some(0x101a), true), no_callee),
            Next::RunTo(0x101a)
        );
    }

    #[test]
    fn next_returning_to_the_caller_stops_there_or_keeps_stepping_out() {
        let mut step = plan(StepKind::Over);
        assert_eq!(
            step.decide(&at(0x9000, 0x7000, Some(0x1), true), no_callee),
            Next::Report
        );
        let mut step = plan(StepKind::Over);
        assert_eq!(
            step.decide(&at(0x9000, 0x7000, None, false), no_callee),
            Next::StepOutToCaller
        );
        assert_eq!(step.step_out_to(0xa000, 0x7100), Next::RunTo(0xa000));
        assert_eq!(
            step.decide(&at(0xa000, 0x7100, None, true), no_callee),
            Next::Report
        );
    }

    #[test]
    fn step_in_enters_callees_with_source_and_skips_their_first_line() {
        let mut step = plan(StepKind::Into);
        let callee = |pc: u64| {
            assert_eq!(pc, 0x5000);
            Some(CalleeLine {
                ranges: [0x5000..0x5008].to_vec(),
                function: Some(0x5000..0x5100),
            })
        };
        assert_eq!(
            step.decide(&at(0x5000, 0x6ef8, Some(0x1015), true), callee),
            Next::RangeStep(0x5000..0x5008)
        );
        // A call inside the prologue (a stack probe) is stepped over.
        assert_eq!(
            step.decide(&at(0x8000, 0x6ef0, Some(0x5004), false), no_callee),
            Next::RunTo(0x5004)
        );
        assert_eq!(
            step.decide(&at(0x5004, 0x6ef8, None, true), no_callee),
            Next::RangeStep(0x5000..0x5008)
        );
        // The callee's first real line.
        assert_eq!(
            step.decide(&at(0x5008, 0x6e00, None, true), no_callee),
            Next::Report
        );
    }

    #[test]
    fn step_in_enters_callees_that_start_with_inlined_library_code() {
        let mut step = plan(StepKind::Into);
        let callee = |_: u64| {
            Some(CalleeLine {
                ranges: [0x5000..0x5004].to_vec(),
                function: Some(0x5000..0x5100),
            })
        };
        let mut entry = at(0x5000, 0x6ef8, Some(0x1015), false);
        entry.function_has_source = true;
        assert_eq!(step.decide(&entry, callee), Next::RangeStep(0x5000..0x5004));
        // More inlined library code: stepped over.
        assert_eq!(
            step.decide(&at(0x5004, 0x6e00, None, false), |_| Some(CalleeLine {
                ranges: [0x5004..0x5010].to_vec(),
                function: Some(0x5000..0x5100),
            })),
            Next::RangeStep(0x5004..0x5010)
        );
        // The callee's own line.
        assert_eq!(
            step.decide(&at(0x5010, 0x6e00, None, true), no_callee),
            Next::Report
        );
    }

    #[test]
    fn step_in_steps_over_callees_without_source() {
        let mut step = plan(StepKind::Into);
        assert_eq!(
            step.decide(&at(0x5000, 0x6ef8, Some(0x1015), false), no_callee),
            Next::RunTo(0x1015)
        );
    }

    #[test]
    fn inlined_code_without_source_is_stepped_over() {
        let mut step = plan(StepKind::Over);
        // Inlined library code inside our function: step over its line.
        let inlined = |pc: u64| {
            assert_eq!(pc, 0x1030);
            Some(CalleeLine {
                ranges: [0x1028..0x1038].to_vec(),
                function: Some(0x1000..0x1100),
            })
        };
        assert_eq!(
            step.decide(&at(0x1030, 0x6f00, None, false), inlined),
            Next::RangeStep(0x1028..0x1038)
        );
        // A whole inlined call, when the session knows its range.
        let mut inside = at(0x1030, 0x6f00, None, false);
        inside.inlined_range = Some(0x1020..0x1040);
        assert_eq!(
            step.decide(&inside, no_callee),
            Next::RangeStep(0x1020..0x1040)
        );
        // Without line information there, the step ends where it is.
        assert_eq!(
            step.decide(&at(0x1038, 0x6f00, None, false), no_callee),
            Next::Report
        );
        // Back on a line with source.
        assert_eq!(
            step.decide(&at(0x1050, 0x6f00, None, true), no_callee),
            Next::Report
        );
    }

    /// The exits a test's code has: the end of each range.
    fn ends(ranges: &[Range<u64>]) -> Option<Vec<u64>> {
        Some(ranges.iter().map(|range| range.end).collect())
    }

    #[test]
    fn next_runs_through_calls_to_the_exits_of_the_whole_line() {
        let mut step = plan(StepKind::Over);
        let first = step.first_move(0x1012);
        assert_eq!(
            step.through_calls(first, 0x1012, ends),
            Next::RunToExits(vec![0x1020, 0x1048])
        );
        // An exit reached in the stepping frame: another line, the end.
        let mut exit = at(0x1048, 0x6f00, None, true);
        exit.cfa = Some(0x7000);
        assert_eq!(step.decide(&exit, no_callee), Next::Report);
    }

    #[test]
    fn exits_reached_by_deeper_frames_are_run_past() {
        let mut step = plan(StepKind::Over);
        let first = step.first_move(0x1012);
        step.through_calls(first, 0x1012, ends);
        // Recursion: the same exit, hit by a deeper activation.
        let mut deeper = at(0x1020, 0x6000, None, true);
        deeper.cfa = Some(0x6100);
        let again = step.decide(&deeper, no_callee);
        assert_eq!(again, Next::RunToExits(vec![0x1020, 0x1048]));
        assert_eq!(
            step.through_calls(again, 0x1020, ends),
            Next::RunToExits(vec![0x1020, 0x1048])
        );
        // Then the stepping frame gets there. Without a known CFA the
        // stop counts as the stepping frame's.
        assert_eq!(
            step.decide(&at(0x1020, 0x6f00, None, true), no_callee),
            Next::Report
        );
    }

    #[test]
    fn exits_inside_the_line_are_single_stepped() {
        let mut step = plan(StepKind::Over);
        let first = step.first_move(0x1012);
        // The line ends in a return at 0x101f: its exit is the return.
        assert_eq!(
            step.through_calls(first, 0x1012, |_| Some(vec![0x101f, 0x1048])),
            Next::RunToExits(vec![0x101f, 0x1048])
        );
        let mut on_return = at(0x101f, 0x6ff8, None, true);
        on_return.cfa = Some(0x7000);
        assert_eq!(step.decide(&on_return, no_callee), Next::Instruction);
        // In the caller, with source.
        assert_eq!(
            step.decide(&at(0x9000, 0x7000, None, true), no_callee),
            Next::Report
        );
        // A `next` that starts on the return single-steps it.
        let mut step = plan(StepKind::Over);
        assert_eq!(
            step.through_calls(Next::RangeStep(0x1010..0x1020), 0x101f, |_| Some(vec![
                0x101f
            ])),
            Next::Instruction
        );
        assert_eq!(step.exits, None);
    }

    #[test]
    fn next_runs_through_library_code_with_the_line() {
        let mut step = plan(StepKind::Over);
        step.library = vec![0x1020..0x1030];
        let first = step.first_move(0x1012);
        // The line's code and the library code, in address order.
        assert_eq!(
            step.through_calls(first, 0x1012, |code| {
                assert_eq!(code, [0x1010..0x1020, 0x1020..0x1030, 0x1040..0x1048]);
                Some(vec![0x1030, 0x1048])
            }),
            Next::RunToExits(vec![0x1030, 0x1048])
        );
    }

    #[test]
    fn only_next_runs_through_calls_and_only_with_known_exits() {
        let mut step = plan(StepKind::Into);
        assert_eq!(
            step.through_calls(Next::RangeStep(0x1010..0x1020), 0x1012, ends),
            Next::RangeStep(0x1010..0x1020)
        );
        let mut step = plan(StepKind::Over);
        assert_eq!(
            step.through_calls(Next::RangeStep(0x1010..0x1020), 0x1012, |_| None),
            Next::RangeStep(0x1010..0x1020)
        );
        assert_eq!(step.exits, None);
        assert_eq!(
            step.through_calls(Next::RunTo(0x1015), 0x1012, ends),
            Next::RunTo(0x1015)
        );
        // An inlined library call runs to its own exits.
        assert_eq!(
            step.through_calls(Next::RangeStep(0x1020..0x1040), 0x1030, ends),
            Next::RunToExits(vec![0x1040])
        );
    }

    #[test]
    fn step_out_runs_to_the_return_address_of_this_frame() {
        let mut step = StepPlan::out(THREAD, 0x2000, 0x7000);
        assert_eq!(step.first_move(0x1012), Next::RunTo(0x2000));
        assert_eq!(
            step.decide(&at(0x2000, 0x6000, None, true), no_callee),
            Next::RunTo(0x2000)
        );
        assert_eq!(
            step.decide(&at(0x2000, 0x7000, None, true), no_callee),
            Next::Report
        );
        // Another stop on the way (the session handles it) ends the step.
        let mut step = StepPlan::out(THREAD, 0x2000, 0x7000);
        assert_eq!(
            step.decide(&at(0x3000, 0x7000, None, true), no_callee),
            Next::Report
        );
    }

    #[test]
    fn a_line_without_ranges_steps_out() {
        let step = StepPlan::line(StepKind::Over, THREAD, Vec::new(), None, 0x7000);
        assert_eq!(step.first_move(0x1234), Next::StepOutToCaller);
        let step = StepPlan::line(StepKind::Instruction, THREAD, Vec::new(), None, 0x7000);
        assert_eq!(step.first_move(0x1234), Next::Instruction);
    }
}
