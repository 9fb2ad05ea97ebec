//! One integration-test binary: real fnshim processes, real fixture children.
mod docker;
mod handlers;
mod hostile;
mod install;
mod lambda;
mod pid1;
mod platforms;
mod proxy;
mod runtime_api;
mod support;
