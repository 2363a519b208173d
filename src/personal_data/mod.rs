//! Personal data: how it is masked before anything is written. Every sink gets
//! evidence only through these functions.

pub mod mask;
