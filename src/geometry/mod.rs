//! Tissue geometry (to be built).
