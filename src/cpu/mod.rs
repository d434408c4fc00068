//! CPU solver (to be built).
