//! One handler per DAP request, grouped by concern. Each is a method of
//! [`super::Session`] taking the request's arguments (the `dap` crate's
//! types) and answering with a [`super::Reply`] or an error message.

mod breakpoints;
mod execution;
mod inspect;
mod lifecycle;
mod memory;
